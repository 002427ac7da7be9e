// Package compress is a [caches.Codec] that compresses another codec's
// bytes when they reach a size threshold, with S2 or Zstandard
// (github.com/klauspost/compress).
//
// # Stored format
//
// A stored value is one of:
//
//	<inner bytes>            the inner codec's bytes, verbatim, when they
//	                         do not start with the byte 0xC1
//	0xC1 0x00 <inner bytes>  the inner codec's bytes, uncompressed
//	0xC1 's'  <S2 block>     the inner codec's bytes, S2 block format
//	                         (no checksum)
//	0xC1 'z'  <Zstd frame>   the inner codec's bytes, one Zstandard frame
//	                         (with its content checksum)
//
// 0xC1 can start neither JSON text (it is never a byte of UTF-8) nor
// MessagePack (the specification reserves it as "never used"), so a value
// that the inner codec ([caches.JSON], [msgpack.Codec]) wrote before
// compression was turned on reads as it is, and values below the threshold
// are stored exactly as the inner codec alone would store them, readable by
// a reader without this package. An inner codec whose bytes may start with
// 0xC1 still round-trips: such bytes are written behind 0xC1 0x00 (but
// what that codec stored alone, before compression, then misreads). Reading
// accepts both algorithms whatever the configured one, so a family can
// switch algorithms without losing its stored values.
//
// Compressed bytes are kept only when they are shorter: a value that does
// not shrink is stored as its inner bytes.
//
// [msgpack.Codec]: https://pkg.go.dev/github.com/gocaches/caches/codecs/msgpack#Codec
package compress

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gocaches/caches"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Algorithm is a compression algorithm.
type Algorithm uint8

const (
	// S2 is the S2 block format (a faster Snappy extension): the cheapest
	// in CPU, the default.
	S2 Algorithm = iota
	// Zstd is Zstandard at its default level: smaller output, more CPU.
	Zstd
)

// Format bytes; see the package documentation.
const (
	marker     = 0xC1
	methodNone = 0x00
	methodS2   = 's'
	methodZstd = 'z'
)

// Options configure [New]. The zero value compresses with S2 every value
// whose inner encoding is at least 1 KiB.
type Options struct {
	// Threshold is the size of the inner codec's bytes from which a value
	// is compressed. Default (zero or negative): 1024 bytes.
	Threshold int
	// Algorithm compresses values at or above Threshold. Default: S2.
	Algorithm Algorithm
	// MaxSize is the largest decompressed value Unmarshal accepts, which
	// bounds the memory a corrupt or hostile stored value can claim.
	// Default (zero or negative): 512 MiB, Redis's largest string.
	MaxSize int
}

// Codec compresses the bytes of another codec; see the package
// documentation for the stored format. It is safe for concurrent use.
type Codec struct {
	inner     caches.Codec
	threshold int
	algorithm Algorithm
	maxSize   int
	zenc      func() (*zstd.Encoder, error)
	zdec      func() (*zstd.Decoder, error)
}

// New returns a Codec that compresses inner's bytes ([caches.JSON] when
// inner is nil) as opts say.
func New(inner caches.Codec, opts Options) *Codec {
	if inner == nil {
		inner = caches.JSON
	}
	if opts.Threshold <= 0 {
		opts.Threshold = 1024
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = 512 << 20
	}
	return &Codec{
		inner:     inner,
		threshold: opts.Threshold,
		algorithm: opts.Algorithm,
		maxSize:   opts.MaxSize,
		zenc: sync.OnceValues(func() (*zstd.Encoder, error) {
			return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
		}),
		zdec: sync.OnceValues(func() (*zstd.Decoder, error) {
			return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(opts.MaxSize)))
		}),
	}
}

// Marshal encodes v with the inner codec and compresses the result when it
// reaches the threshold and shrinks.
func (c *Codec) Marshal(v any) ([]byte, error) {
	b, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) >= c.threshold {
		z, err := c.compress(b)
		if err != nil {
			return nil, err
		}
		if len(z) < len(b) {
			return z, nil
		}
	}
	if len(b) > 0 && b[0] == marker {
		return append([]byte{marker, methodNone}, b...), nil
	}
	return b, nil
}

// compress returns b compressed with the configured algorithm, behind the
// marker and the method byte.
func (c *Codec) compress(b []byte) ([]byte, error) {
	if c.algorithm == Zstd {
		enc, err := c.zenc()
		if err != nil {
			return nil, fmt.Errorf("compress: zstd: %w", err)
		}
		return enc.EncodeAll(b, []byte{marker, methodZstd}), nil
	}
	dst := make([]byte, 2, 2+s2.MaxEncodedLen(len(b)))
	dst[0], dst[1] = marker, methodS2
	return dst[:2+len(s2.Encode(dst[2:], b))], nil
}

// Errors of Unmarshal, wrapped with details.
var (
	// ErrCorrupt: the stored bytes are not a valid compressed value.
	ErrCorrupt = errors.New("compress: corrupt value")
	// ErrTooLarge: the value would decompress past Options.MaxSize.
	ErrTooLarge = errors.New("compress: decompressed value larger than MaxSize")
)

// Unmarshal decompresses data when it is marked compressed, then decodes it
// with the inner codec into v.
func (c *Codec) Unmarshal(data []byte, v any) error {
	b, err := c.decompress(data)
	if err != nil {
		return err
	}
	return c.inner.Unmarshal(b, v)
}

// decompress returns the inner codec's bytes of a stored value.
func (c *Codec) decompress(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != marker {
		return data, nil
	}
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: marker without method", ErrCorrupt)
	}
	body := data[2:]
	if len(body) == 0 && data[1] != methodNone {
		return nil, fmt.Errorf("%w: method 0x%02x without data", ErrCorrupt, data[1])
	}
	switch data[1] {
	case methodNone:
		return body, nil
	case methodS2:
		return c.decodeS2(body)
	case methodZstd:
		return c.decodeZstd(body)
	default:
		return nil, fmt.Errorf("%w: unknown method 0x%02x", ErrCorrupt, data[1])
	}
}

func (c *Codec) decodeS2(body []byte) ([]byte, error) {
	n, err := s2.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("%w: s2: %v", ErrCorrupt, err)
	}
	if n > c.maxSize {
		return nil, fmt.Errorf("%w: s2 block of %d bytes", ErrTooLarge, n)
	}
	b, err := s2.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: s2: %v", ErrCorrupt, err)
	}
	return b, nil
}

func (c *Codec) decodeZstd(body []byte) ([]byte, error) {
	dec, err := c.zdec()
	if err != nil {
		return nil, fmt.Errorf("compress: zstd: %w", err)
	}
	b, err := dec.DecodeAll(body, nil)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, fmt.Errorf("%w: zstd: %v", ErrTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
	}
	return b, nil
}

package compress_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/codecs/compress"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// bytesCodec stores a []byte as itself, so tests choose the inner bytes,
// 0xC1 first included.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (bytesCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = bytes.Clone(data)
	return nil
}

func TestMarshalForm(t *testing.T) {
	random := make([]byte, 4096)
	rand.Read(random)
	text := []byte(strings.Repeat("all work and no play ", 200))
	for _, alg := range []compress.Algorithm{compress.S2, compress.Zstd} {
		c := compress.New(bytesCodec{}, compress.Options{Threshold: 100, Algorithm: alg})
		method := map[compress.Algorithm]string{compress.S2: "\xc1s", compress.Zstd: "\xc1z"}[alg]
		tests := []struct {
			name   string
			in     []byte
			prefix string // what the stored bytes start with
			same   bool   // stored exactly as the inner bytes
		}{
			{"empty", []byte{}, "", true},
			{"below threshold", text[:99], "all", true},
			{"at threshold", text[:100], method, false},
			{"above threshold", text, method, false},
			{"incompressible", random, string(random[:1]), true},
			{"marker byte below threshold", []byte("\xc1abc"), "\xc1\x00\xc1abc", false},
			{"marker byte incompressible", append([]byte{0xc1}, random...), "\xc1\x00\xc1", false},
		}
		for _, tt := range tests {
			if tt.name == "incompressible" && random[0] == 0xc1 {
				continue // marked, checked by the case below
			}
			stored, err := c.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(stored), tt.prefix) || tt.same != bytes.Equal(stored, tt.in) {
				t.Errorf("%v %s: stored %q…, want prefix %q (verbatim: %v)", alg, tt.name, stored[:min(len(stored), 8)], tt.prefix, tt.same)
			}
			if !tt.same && len(stored) > len(tt.in)+2 {
				t.Errorf("%v %s: stored %d bytes for %d", alg, tt.name, len(stored), len(tt.in))
			}
			var got []byte
			if err := c.Unmarshal(stored, &got); err != nil || !bytes.Equal(got, tt.in) {
				t.Errorf("%v %s: round trip gave %d bytes, %v", alg, tt.name, len(got), err)
			}
		}
	}
}

// TestReadsEitherAlgorithm: a family that switches algorithms reads what
// the other one wrote.
func TestReadsEitherAlgorithm(t *testing.T) {
	in := map[string]string{"text": strings.Repeat("abc", 1000)}
	s2c := compress.New(caches.JSON, compress.Options{})
	zc := compress.New(caches.JSON, compress.Options{Algorithm: compress.Zstd})
	for _, pair := range [][2]*compress.Codec{{s2c, zc}, {zc, s2c}} {
		b, err := pair[0].Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]string
		if err := pair[1].Unmarshal(b, &out); err != nil || out["text"] != in["text"] {
			t.Errorf("reading %q…: %v", b[:2], err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	c := compress.New(bytesCodec{}, compress.Options{MaxSize: 1 << 20})
	big := bytes.Repeat([]byte{'a'}, 2<<20)
	text := []byte(strings.Repeat("all work and no play ", 200))
	zenc, _ := zstd.NewWriter(nil)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"marker alone", []byte{0xc1}, compress.ErrCorrupt},
		{"unknown method", []byte{0xc1, 'q', 1, 2}, compress.ErrCorrupt},
		{"s2 empty", []byte{0xc1, 's'}, compress.ErrCorrupt},
		{"s2 garbage", []byte{0xc1, 's', 0x05, 0xff, 0xff}, compress.ErrCorrupt},
		{"s2 truncated", s2Block(t, text)[:10], compress.ErrCorrupt},
		{"s2 past MaxSize", s2Block(t, big), compress.ErrTooLarge},
		{"s2 claims 4 GiB", []byte{0xc1, 's', 0xff, 0xff, 0xff, 0xff, 0x0f, 0}, compress.ErrTooLarge},
		{"zstd empty", []byte{0xc1, 'z'}, compress.ErrCorrupt},
		{"zstd garbage", []byte{0xc1, 'z', 0x28, 0xb5, 0x2f, 0xfd, 0, 0}, compress.ErrCorrupt},
		{"zstd past MaxSize", zenc.EncodeAll(big, []byte{0xc1, 'z'}), compress.ErrTooLarge},
	}
	for _, tt := range tests {
		var out []byte
		err := c.Unmarshal(tt.data, &out)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func s2Block(t *testing.T, b []byte) []byte {
	t.Helper()
	return append([]byte{0xc1, 's'}, s2.Encode(nil, b)...)
}

// FuzzUnmarshal: no input panics; whatever decodes re-encodes to a value
// that decodes to the same.
func FuzzUnmarshal(f *testing.F) {
	c := compress.New(caches.JSON, compress.Options{Threshold: 8, MaxSize: 1 << 20})
	zc := compress.New(caches.JSON, compress.Options{Threshold: 8, Algorithm: compress.Zstd, MaxSize: 1 << 20})
	for _, v := range []any{map[string]int{"a": 1}, []string{strings.Repeat("x", 100)}, "plain"} {
		b, _ := c.Marshal(v)
		f.Add(b)
		b, _ = zc.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xc1, 0x00, '1'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := c.Unmarshal(data, &v); err != nil {
			return
		}
		b, err := zc.Marshal(v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		var again any
		if err := c.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", v, err)
		}
	})
}

// TestConcurrent: one Codec serves many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	for _, alg := range []compress.Algorithm{compress.S2, compress.Zstd} {
		c := compress.New(caches.JSON, compress.Options{Threshold: 64, Algorithm: alg})
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				in := map[string]string{"text": strings.Repeat(strconv.Itoa(g), 500)}
				for range 100 {
					b, err := c.Marshal(in)
					var out map[string]string
					if err == nil {
						err = c.Unmarshal(b, &out)
					}
					if err == nil && out["text"] != in["text"] {
						err = errors.New("round trip changed the value")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%v: %v", alg, err)
		}
	}
}

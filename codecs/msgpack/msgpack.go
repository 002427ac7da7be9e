// Package msgpack is a MessagePack [caches.Codec], built on
// github.com/vmihailenco/msgpack/v5.
//
// Struct fields are named by their msgpack tag, or by their json tag when
// they have none (so `json:"name"` and `json:"-"` apply as with the default
// JSON codec), or by the Go field name. A value stored by this codec reads
// back as the same Go value; bytes that are not one whole MessagePack value
// (corrupt, truncated, or followed by more bytes) are an error, which the
// caches report as a [*caches.DecodeError] naming the key. A time.Time
// reads back as the same instant in the local time zone (MessagePack's
// timestamp keeps no zone).
//
// Like every codec, it serves only the types the caches do not store raw:
// strings, []byte, integers, floats and bools never go through it.
package msgpack

import (
	"bytes"
	"fmt"

	"github.com/gocaches/caches"
	"github.com/vmihailenco/msgpack/v5"
)

// Codec is the MessagePack [caches.Codec]. It is safe for concurrent use.
var Codec caches.Codec = codec{}

// structTag is the tag naming struct fields that have no msgpack tag.
const structTag = "json"

type codec struct{}

// Marshal returns the MessagePack encoding of v.
func (codec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.SetCustomStructTag(structTag)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes data, which must hold exactly one MessagePack value,
// into v. Bytes that are not one ([ErrCorrupt]) are refused before
// decoding, so what decoding allocates stays proportional to len(data).
func (codec) Unmarshal(data []byte, v any) error {
	if err := check(data); err != nil {
		return err
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag(structTag)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("msgpack: %w", err)
	}
	return nil
}

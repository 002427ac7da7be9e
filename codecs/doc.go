// Package codecs is the module of the opt-in codecs of
// github.com/gocaches/caches, kept apart so that the core module keeps its
// few dependencies:
//
//   - [github.com/gocaches/caches/codecs/msgpack]: MessagePack.
//   - [github.com/gocaches/caches/codecs/compress]: compression (S2 or
//     Zstandard) of another codec's bytes above a size threshold.
//
// Set one as a family's [caches.Options.Codec]. Values of the kinds the
// caches store raw (strings, []byte, integers, floats, bools) never go
// through a codec.
package codecs

package compress_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/codecs/compress"
	"github.com/gocaches/caches/codecs/msgpack"
)

type Page struct {
	URL  string `json:"url"`
	HTML string `json:"html"`
}

func Example() {
	ctx := context.Background()
	// MessagePack, compressed with Zstandard from 1 KiB on.
	codec := compress.New(msgpack.Codec, compress.Options{Threshold: 1024, Algorithm: compress.Zstd})
	pages := caches.NewKeyCache[Page](caches.Options{Prefix: "example:page", Codec: codec})

	page := Page{URL: "/", HTML: strings.Repeat("<p>hello</p>", 1000)}
	_ = pages.Key("/").Set(ctx, page)
	got, _ := pages.Key("/").Get(ctx)

	stored, _ := codec.Marshal(page)
	plain, _ := msgpack.Codec.Marshal(page)
	fmt.Println(got.HTML == page.HTML, len(plain), "bytes stored as", len(stored))
	// Output: true 12015 bytes stored as 53
}

package codecs_test

import (
	"fmt"
	"testing"

	"github.com/gocaches/caches"
)

// BenchmarkCodec encodes and decodes an Order of a few lines (about 300
// bytes of JSON) and of 200 lines (about 9 KB) with each codec, and reports
// the stored size as bytes/value next to the time of one round trip.
func BenchmarkCodec(b *testing.B) {
	codecs := append([]struct {
		name  string
		codec caches.Codec
	}{{"json", caches.JSON}}, codecCases...)
	for _, lines := range []int{3, 200} {
		v := order(lines)
		for _, cc := range codecs {
			b.Run(fmt.Sprintf("lines=%d/%s", lines, cc.name), func(b *testing.B) {
				stored, err := cc.codec.Marshal(v)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					data, err := cc.codec.Marshal(v)
					if err != nil {
						b.Fatal(err)
					}
					var out Order
					if err := cc.codec.Unmarshal(data, &out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(stored)), "bytes/value")
			})
		}
	}
}

package redisbackend

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkPipelines compares the adapter's three paths for single
// commands at 1, 8, 64 and 256 callers: the library's own pipeline, go-redis's
// automatic pipeline and the pool (one round trip per call). A GET-heavy mix
// (a SET every tenth call) over 10,000 keys of 100 bytes.
func BenchmarkPipelines(b *testing.B) {
	srv := realRedis.Get(b)
	ctx := context.Background()
	value := strings.Repeat("v", 100)
	for _, mode := range []struct {
		name string
		o    Options
	}{{"own", Options{Own: true}}, {"go-redis", Options{}}, {"pool", Options{NoAutoPipeline: true}}} {
		be, err := New(redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 256}), true, mode.o)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 10_000 {
			if err := be.Set(ctx, fmt.Sprint("k", i), value, 0); err != nil {
				b.Fatal(err)
			}
		}
		keys := make([]string, 10_000)
		for i := range keys {
			keys[i] = fmt.Sprint("k", i)
		}
		for _, callers := range []int{1, 8, 64, 256} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, callers), func(b *testing.B) {
				var next atomic.Int64
				var wg sync.WaitGroup
				var failed atomic.Value
				b.ReportAllocs()
				if be.pipe != nil {
					be.pipe.writes.Store(0)
					be.pipe.written.Store(0)
				}
				b.ResetTimer()
				for range callers {
					wg.Go(func() {
						for {
							i := int(next.Add(1))
							if i > b.N {
								return
							}
							k := keys[i%len(keys)]
							var err error
							if i%10 == 9 {
								err = be.Set(ctx, k, value, 0)
							} else {
								var v string
								v, _, err = be.Get(ctx, k)
								if err == nil && v != value {
									err = fmt.Errorf("%s holds %q", k, v)
								}
							}
							if err != nil {
								failed.Store(err)
								return
							}
						}
					})
				}
				wg.Wait()
				if be.pipe != nil {
					b.ReportMetric(float64(be.pipe.written.Swap(0))/float64(max(1, be.pipe.writes.Swap(0))), "cmds/write")
				}
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
			})
		}
		be.Close()
	}
}

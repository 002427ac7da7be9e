package caches

import (
	"context"
	"strconv"
	"testing"

	"github.com/gocaches/caches/internal/poll"
	"github.com/redis/go-redis/v9"
)

// BenchmarkNearHotGet reads 100 hot keys from 64 goroutines (parallelism
// 32 on 2 processors): through a near cache on Redis, straight from Redis,
// and from the in-process store, the ceiling of a local copy.
func BenchmarkNearHotGet(b *testing.B) {
	srv := realRedis.Get(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	redisConn := NewRedisConn(client)
	defer redisConn.Close()
	memConn := NewMemoryConn(MemoryOptions{})
	defer memConn.Close()
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"near", Options{Prefix: "bnear", Conn: redisConn, Near: &NearOptions{}}},
		{"redis", Options{Prefix: "bplain", Conn: redisConn}},
		{"memory", Options{Prefix: "bmem", Conn: memConn}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			kc := NewKeyCache[string](bc.opts)
			ctx := context.Background()
			keys := make([]Key[string], 100)
			for i := range keys {
				keys[i] = kc.Key(i)
				if err := keys[i].Set(ctx, "value-"+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
				_, _ = keys[i].Get(ctx)
			}
			if bc.opts.Near != nil {
				waitLiveB(b, kc)
				for i := range keys {
					_, _ = keys[i].Get(ctx)
				}
			}
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := keys[i%len(keys)].Get(ctx); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

func waitLiveB(b *testing.B, f Family) {
	if !poll.Until(5e9, 5e6, func() bool { s, ok := f.base().NearStats(); return ok && s.Live }) {
		b.Fatal("near cache never went live")
	}
}

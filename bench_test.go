package caches

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts the round trips a go-redis client makes.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchBackends runs f on the in-process store and on the real
// redis-server; rt is nil for the in-process store.
func benchBackends(b *testing.B, f func(b *testing.B, conn *Conn, rt *roundTrips)) {
	b.Run("memstore", func(b *testing.B) {
		conn := NewMemoryConn(MemoryOptions{})
		defer conn.Close()
		f(b, conn, nil)
	})
	b.Run("redis", func(b *testing.B) {
		srv := realRedis.Get(b)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer client.Close()
		rt := &roundTrips{}
		client.AddHook(rt)
		f(b, NewRedisConn(client), rt)
	})
}

// reportRoundTrips reports round trips per operation since start.
func reportRoundTrips(b *testing.B, rt *roundTrips, start int64) {
	if rt != nil {
		b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "roundtrips/op")
	}
}

// BenchmarkHitPath compares a Memoize hit with the KeyCache get it is
// measured against: same key shape, value already cached.
func BenchmarkHitPath(b *testing.B) {
	benchBackends(b, func(b *testing.B, conn *Conn, rt *roundTrips) {
		ctx := context.Background()
		opts := Options{Prefix: "bench", Conn: conn}
		keys := NewKeyCache[string](opts)
		if err := keys.Key("user-42").Set(ctx, "payload of a typical size, a few dozen bytes"); err != nil {
			b.Fatal(err)
		}
		memo := Memoize(func(ctx context.Context, id string) (string, error) {
			return "payload of a typical size, a few dozen bytes", nil
		}, MemoOptions[string]{Options: Options{Prefix: "memo", Conn: conn}})
		if _, err := memo.Call(ctx, "user-42"); err != nil {
			b.Fatal(err)
		}
		b.Run("KeyCache.Get", func(b *testing.B) {
			b.ReportAllocs()
			start := rtCount(rt)
			for i := 0; i < b.N; i++ {
				if _, err := keys.Key("user-42").Get(ctx); err != nil {
					b.Fatal(err)
				}
			}
			reportRoundTrips(b, rt, start)
		})
		// A result that took 5 ms to compute: its hits also read the clock
		// and draw for early refresh.
		slowKey, _ := memo.Key("user-slow")
		entry := formatEntry(false, 5, time.Now().Add(time.Hour).UnixMilli(), "payload of a typical size, a few dozen bytes")
		if err := conn.b.Set(ctx, slowKey, entry, time.Hour); err != nil {
			b.Fatal(err)
		}
		b.Run("Memo.Call(slow-fn)", func(b *testing.B) {
			b.ReportAllocs()
			start := rtCount(rt)
			for i := 0; i < b.N; i++ {
				if _, err := memo.Call(ctx, "user-slow"); err != nil {
					b.Fatal(err)
				}
			}
			reportRoundTrips(b, rt, start)
		})
		b.Run("Memo.Call", func(b *testing.B) {
			b.ReportAllocs()
			start := rtCount(rt)
			for i := 0; i < b.N; i++ {
				if _, err := memo.Call(ctx, "user-42"); err != nil {
					b.Fatal(err)
				}
			}
			reportRoundTrips(b, rt, start)
			if memo.Stats().Loads != 1 {
				b.Fatalf("the benchmark measured misses: %+v", memo.Stats())
			}
		})
	})
}

func rtCount(rt *roundTrips) int64 {
	if rt == nil {
		return 0
	}
	return rt.n.Load()
}

// BenchmarkInvalidate measures the invalidation of a family of 100,000 keys
// on the real server (the filling is not timed).
func BenchmarkInvalidate(b *testing.B) {
	srv := realRedis.Get(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	ctx := context.Background()
	fam := NewKeyCache[int](Options{Prefix: "inval", Conn: NewRedisConn(client)})
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := fillFamily(ctx, client, "inval", 100_000); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := fam.Invalidate(ctx)
		if err != nil || n != 100_000 {
			b.Fatalf("invalidated %d keys: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k-keys")
}

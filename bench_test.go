package caches

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
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

// BenchmarkBatch compares KeyCache.GetMany and SetMany of 1,000 keys with
// raw go-redis pipelines doing the same work, on a single server and on the
// 3-master cluster. roundtrips/op counts the round trips to the servers
// (per node on the cluster).
func BenchmarkBatch(b *testing.B) {
	const n = 1000
	b.Run("single", func(b *testing.B) {
		srv := realRedis.Get(b)
		rt := &roundTrips{}
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer client.Close()
		client.AddHook(rt)
		benchBatch(b, client, NewRedisConn(client), rt, n)
	})
	b.Run("cluster", func(b *testing.B) {
		cl := realCluster.Get(b)
		rt := &roundTrips{}
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
		defer client.Close()
		client.OnNewNode(func(c *redis.Client) { c.AddHook(rt) })
		benchBatch(b, client, NewRedisConn(client), rt, n)
	})
}

func benchBatch(b *testing.B, client redis.UniversalClient, conn *Conn, rt *roundTrips, n int) {
	ctx := context.Background()
	fam := NewKeyCache[string](Options{Prefix: "batch", Conn: conn, TTL: time.Hour})
	handles := make([]Key[string], n)
	entries := make([]Entry[string], n)
	keys := make([]string, n)
	for i := range handles {
		handles[i] = fam.Key(i)
		entries[i] = Entry[string]{Key: handles[i], Value: "value-" + strconv.Itoa(i)}
		keys[i] = handles[i].String()
	}
	if err := fam.SetMany(ctx, entries...); err != nil {
		b.Fatal(err)
	}
	run := func(name string, op func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			start := rt.n.Load()
			for i := 0; i < b.N; i++ {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
			reportRoundTrips(b, rt, start)
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
	run("GetMany", func() error {
		_, found, err := fam.GetMany(ctx, handles...)
		if err == nil && slices.Contains(found, false) {
			err = errors.New("a key is missing")
		}
		return err
	})
	run("raw-pipelined-GET", func() error {
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k)
			}
			return nil
		})
		return err
	})
	run("SetMany", func() error { return fam.SetMany(ctx, entries...) })
	run("raw-pipelined-SET", func() error {
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				p.Set(ctx, k, entries[i].Value, time.Hour)
			}
			return nil
		})
		return err
	})
}

// BenchmarkAutoPipeline compares a KeyCache get and set and a Memoize hit
// on a real redis-server through the library's own pipeline (a DSN's
// connection, "own"), go-redis's automatic pipeline (NewRedisConn,
// "pipeline") and the connection pool (RedisOptions.NoAutoPipeline,
// "pool"), from exactly 1, 8, 64 and 256 goroutines, each doing
// b.N/goroutines operations.
func BenchmarkAutoPipeline(b *testing.B) {
	srv := realRedis.Get(b)
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts RedisOptions
		dsn  string // opened with Open instead, when set
	}{
		{"own", RedisOptions{}, "redis://" + srv.Addr + "?pool_size=256"},
		{"pipeline", RedisOptions{}, ""},
		{"pool", RedisOptions{NoAutoPipeline: true}, ""},
	} {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 256})
		conn, err := NewRedisConnWithOptions(client, mode.opts)
		if mode.dsn != "" {
			conn, err = Open(mode.dsn)
		}
		if err != nil {
			b.Fatal(err)
		}
		keys := NewKeyCache[string](Options{Prefix: "ap", Conn: conn})
		memo := Memoize(func(_ context.Context, i int) (string, error) {
			return "payload of a typical size, a few dozen bytes", nil
		}, MemoOptions[int]{Options: Options{Prefix: "apmemo", Conn: conn}})
		for i := range 1000 {
			if err := keys.Key(i).Set(ctx, "payload of a typical size, a few dozen bytes"); err != nil {
				b.Fatal(err)
			}
			if _, err := memo.Call(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		for _, callers := range []int{1, 8, 64, 256} {
			b.Run(fmt.Sprintf("get/%s/%d", mode.name, callers), func(b *testing.B) {
				runCallers(b, callers, func(i int) error {
					_, err := keys.Key(i % 1000).Get(ctx)
					return err
				})
			})
			b.Run(fmt.Sprintf("memo-hit/%s/%d", mode.name, callers), func(b *testing.B) {
				runCallers(b, callers, func(i int) error {
					_, err := memo.Call(ctx, i%1000)
					return err
				})
			})
			b.Run(fmt.Sprintf("set/%s/%d", mode.name, callers), func(b *testing.B) {
				runCallers(b, callers, func(i int) error {
					return keys.Key(i%1000).Set(ctx, "payload of a typical size, a few dozen bytes")
				})
			})
		}
		conn.Close()
		client.Close()
	}
}

// runCallers runs op b.N times from exactly n goroutines and fails b on
// the first error.
func runCallers(b *testing.B, n int, op func(i int) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

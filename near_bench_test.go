package caches

import (
	"context"
	"strconv"
	"testing"
	"time"

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

// nearProfile is a JSON value of a typical size: what a Memo of a lookup
// returns.
type nearProfile struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Admin bool   `json:"admin"`
}

// BenchmarkNearHit measures one near hit of each kind, on one goroutine:
// KeyCache.Get of a string and of a JSON struct, and Memo.Call of both (a
// result computed in 5 ms, whose hits also draw for early refresh).
func BenchmarkNearHit(b *testing.B) {
	srv := realRedis.Get(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	conn := NewRedisConn(client)
	defer conn.Close()
	for name, read := range nearHitReads(b, conn) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nearHitReads returns reads that the near cache of conn answers locally:
// each has been filled, and the cache is live.
func nearHitReads(tb testing.TB, conn *Conn) map[string]func() error {
	tb.Helper()
	ctx := context.Background()
	near := &NearOptions{}
	strs := NewKeyCache[string](Options{Prefix: "nhit-str", Conn: conn, Near: near})
	profiles := NewKeyCache[nearProfile](Options{Prefix: "nhit-json", Conn: conn, Near: near})
	p := nearProfile{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com"}
	memoStr := Memoize(func(context.Context, string) (string, error) { return "payload of a typical size", nil },
		MemoOptions[string]{Options: Options{Prefix: "nhit-mstr", Conn: conn, Near: near}})
	memoJSON := Memoize(func(context.Context, int) (nearProfile, error) { return p, nil },
		MemoOptions[int]{Options: Options{Prefix: "nhit-mjson", Conn: conn, Near: near}})
	slow, err := memoStr.Key("slow")
	if err != nil {
		tb.Fatal(err)
	}
	entry := formatEntry(false, 5, time.Now().Add(time.Hour).UnixMilli(), "payload of a typical size")
	if err := conn.b.Set(ctx, slow, entry, time.Hour); err != nil {
		tb.Fatal(err)
	}
	if err := strs.Key(1).Set(ctx, "value of a typical size"); err != nil {
		tb.Fatal(err)
	}
	if err := profiles.Key(1).Set(ctx, p); err != nil {
		tb.Fatal(err)
	}
	str, profile := strs.Key(1), profiles.Key(1) // handles built once, as the README advises
	reads := map[string]func() error{
		"KeyCache.Get/string":      func() error { _, err := str.Get(ctx); return err },
		"KeyCache.Get/json":        func() error { _, err := profile.Get(ctx); return err },
		"Memo.Call/string":         func() error { _, err := memoStr.Call(ctx, "fast"); return err },
		"Memo.Call/string-slow-fn": func() error { _, err := memoStr.Call(ctx, "slow"); return err },
		"Memo.Call/json":           func() error { _, err := memoJSON.Call(ctx, 1); return err },
	}
	fams := []Family{strs, profiles, memoStr, memoJSON}
	for range 2 { // the first reads open the near caches, the next fill them
		for name, read := range reads {
			if err := read(); err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
		}
		for _, f := range fams {
			waitNearLive(tb, f)
		}
	}
	before := make([]NearStats, len(fams))
	for i, f := range fams {
		before[i], _ = f.base().NearStats()
	}
	for name, read := range reads {
		if err := read(); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	for i, f := range fams {
		if after, _ := f.base().NearStats(); after.Misses != before[i].Misses {
			tb.Fatalf("%s: a read missed the near cache: %+v", f.base().prefix, after)
		}
	}
	return reads
}

func waitNearLive(tb testing.TB, f Family) {
	tb.Helper()
	if !poll.Until(5e9, 5e6, func() bool { s, ok := f.base().NearStats(); return ok && s.Live }) {
		tb.Fatal("near cache never went live")
	}
}

package caches

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// The per-operation benchmarks: every hot operation of every cache and of
// Memoize, on the in-process store and on a real redis-server (started by
// benchBackends), from one goroutine (BenchmarkOps) and from GOMAXPROCS
// goroutines (BenchmarkOpsParallel). On Redis they report the round trips
// per operation. bench/ (a module of its own) compares these operations
// with raw go-redis and other cache libraries; bench/run runs both.

// opBench is one operation. prep (untimed) prepares n operations: the
// collections every goroutine works on, and for the operations that
// remove what they read, n members or keys to remove. do runs the i-th
// operation (i unique across goroutines) in goroutine g's collection.
type opBench struct {
	name string
	prep func(n int) error
	do   func(g, i int) error
	// unique: do needs a distinct i per operation (it removes item i).
	unique bool
}

// opGoroutines is how many collections prep makes: goroutine g works on
// collection g % opGoroutines, so parallel goroutines use distinct keys.
const opGoroutines = 16

var errOpResult = errors.New("unexpected result")

// expectOp turns a wrong result into an error, so that no benchmark times
// an operation that did not do its work.
func expectOp(ok bool, err error) error {
	if err != nil {
		return err
	}
	if !ok {
		return errOpResult
	}
	return nil
}

// opBenches returns the operations over conn. The values are short
// strings (the common case), JSON for one struct type.
func opBenches(conn *Conn) []opBench {
	ctx := context.Background()
	const ttl = time.Hour
	payload := "payload of a typical size, a few dozen bytes"
	opts := func(prefix string) Options { return Options{Prefix: prefix, TTL: ttl, Conn: conn} }
	b := conn.b
	ten := make([]string, 10)
	tenMap := map[string]string{}
	one := map[string]int64{}
	for i := range ten {
		ten[i] = "m" + strconv.Itoa(i)
		tenMap[ten[i]] = payload
		one[ten[i]] = 1
	}
	items := func(n int) []string { // the n items removed by unique operations
		out := make([]string, n)
		for i := range out {
			out[i] = "i" + strconv.Itoa(i)
		}
		return out
	}
	var removed []string

	kc := NewKeyCache[string](opts("ops:kc"))
	keys := make([]Key[string], opGoroutines)
	for g := range keys {
		keys[g] = kc.Key("user", g)
	}
	missing := make([]Key[string], opGoroutines)
	for g := range missing {
		missing[g] = kc.Key("missing", g)
	}
	var popKeys []Key[string]
	fillKeys := func(n int) error {
		popKeys = make([]Key[string], n)
		for i := range popKeys {
			popKeys[i] = kc.Key("pop", i)
		}
		for _, k := range popKeys {
			if err := b.Set(ctx, k.key, payload, ttl); err != nil {
				return err
			}
		}
		return nil
	}
	setKeys := func(int) error {
		for _, k := range keys {
			if err := k.Set(ctx, payload); err != nil {
				return err
			}
		}
		return nil
	}
	ki := NewKeyCache[int64](opts("ops:ki"))
	type profile struct {
		ID    int64    `json:"id"`
		Name  string   `json:"name"`
		Email string   `json:"email"`
		Tags  []string `json:"tags"`
	}
	pv := profile{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Tags: []string{"math", "engines"}}
	kj := NewKeyCache[profile](opts("ops:kj"))

	dc := NewDictCache[string, string](opts("ops:dc"))
	di := NewDictCache[string, int64](opts("ops:di"))
	setDicts := func(int) error {
		for g := 0; g < opGoroutines; g++ {
			if err := dc.Key(g).SetMany(ctx, tenMap); err != nil {
				return err
			}
		}
		return nil
	}
	sc := NewSetCache[string](opts("ops:sc"))
	setSets := func(int) error {
		for g := 0; g < opGoroutines; g++ {
			if _, err := sc.Key(g).Add(ctx, ten...); err != nil {
				return err
			}
		}
		return nil
	}
	zc := NewSortedSetCache[string](opts("ops:zc"))
	setZSets := func(int) error {
		for g := 0; g < opGoroutines; g++ {
			for i, m := range ten {
				if _, err := zc.Key(g).Add(ctx, m, float64(i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	cc := NewCounterCache[string](opts("ops:cc"))
	setCounters := func(int) error {
		for g := 0; g < opGoroutines; g++ {
			if err := cc.Key(g).Update(ctx, one); err != nil {
				return err
			}
		}
		return nil
	}
	// fillBig fills one big collection with n items through add.
	fillBig := func(add func(items []string) error) func(n int) error {
		return func(n int) error {
			removed = items(n)
			for start := 0; start < n; start += 1000 {
				if err := add(removed[start:min(n, start+1000)]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	bigDict, bigSet, bigZSet := dc.Key("big"), sc.Key("big"), zc.Key("big")

	memo := Memoize(func(ctx context.Context, id int) (string, error) { return payload, nil },
		MemoOptions[int]{Options: opts("ops:memo")})
	warmMemo := func(int) error {
		for g := 0; g < opGoroutines; g++ {
			if _, err := memo.Call(ctx, g); err != nil {
				return err
			}
		}
		return nil
	}

	return []opBench{
		// KeyCache.
		{name: "KeyCache.Get", prep: setKeys, do: func(g, _ int) error {
			v, err := keys[g].Get(ctx)
			return expectOp(v == payload, err)
		}},
		{name: "KeyCache.Key(id).Get", prep: setKeys, do: func(g, _ int) error {
			v, err := kc.Key("user", g).Get(ctx)
			return expectOp(v == payload, err)
		}},
		{name: "KeyCache.Get(miss)", do: func(g, _ int) error {
			_, err := missing[g].Get(ctx)
			return expectOp(err == ErrNotFound, nil)
		}},
		{name: "KeyCache.Set", do: func(g, _ int) error { return keys[g].Set(ctx, payload) }},
		{name: "KeyCache.Add", prep: setKeys, do: func(g, _ int) error {
			ok, err := keys[g].Add(ctx, payload)
			return expectOp(!ok, err)
		}},
		{name: "KeyCache.Has", prep: setKeys, do: func(g, _ int) error {
			ok, err := keys[g].Has(ctx)
			return expectOp(ok, err)
		}},
		{name: "KeyCache.TTL", prep: setKeys, do: func(g, _ int) error {
			d, err := keys[g].TTL(ctx)
			return expectOp(d > 0, err)
		}},
		{name: "KeyCache.Pop", prep: fillKeys, unique: true, do: func(_, i int) error {
			v, err := popKeys[i].Pop(ctx)
			return expectOp(v == payload, err)
		}},
		{name: "KeyCache.Delete", prep: fillKeys, unique: true, do: func(_, i int) error {
			ok, err := popKeys[i].Delete(ctx)
			return expectOp(ok, err)
		}},
		{name: "KeyCache.Incr", do: func(g, _ int) error {
			_, err := ki.Key(g).Incr(ctx, 1)
			return err
		}},
		{name: "KeyCache.Get(JSON)", prep: func(int) error {
			for g := 0; g < opGoroutines; g++ {
				if err := kj.Key(g).Set(ctx, pv); err != nil {
					return err
				}
			}
			return nil
		}, do: func(g, _ int) error {
			v, err := kj.Key(g).Get(ctx)
			return expectOp(v.ID == pv.ID, err)
		}},
		{name: "KeyCache.Set(JSON)", do: func(g, _ int) error { return kj.Key(g).Set(ctx, pv) }},

		// DictCache: ten fields per hash.
		{name: "Dict.Get", prep: setDicts, do: func(g, _ int) error {
			v, err := dc.Key(g).Get(ctx, ten[3])
			return expectOp(v == payload, err)
		}},
		{name: "Dict.Set", do: func(g, _ int) error { return dc.Key(g).Set(ctx, ten[3], payload) }},
		{name: "Dict.GetMany(10)", prep: setDicts, do: func(g, _ int) error {
			m, err := dc.Key(g).GetMany(ctx, ten...)
			return expectOp(len(m) == 10, err)
		}},
		{name: "Dict.SetMany(10)", do: func(g, _ int) error { return dc.Key(g).SetMany(ctx, tenMap) }},
		{name: "Dict.Add", prep: setDicts, do: func(g, _ int) error {
			ok, err := dc.Key(g).Add(ctx, ten[3], payload)
			return expectOp(!ok, err)
		}},
		{name: "Dict.Has", prep: setDicts, do: func(g, _ int) error {
			ok, err := dc.Key(g).Has(ctx, ten[3])
			return expectOp(ok, err)
		}},
		{name: "Dict.Len", prep: setDicts, do: func(g, _ int) error {
			n, err := dc.Key(g).Len(ctx)
			return expectOp(n == 10, err)
		}},
		{name: "Dict.Map(10)", prep: setDicts, do: func(g, _ int) error {
			m, err := dc.Key(g).Map(ctx)
			return expectOp(len(m) == 10, err)
		}},
		{name: "Dict.Pop", unique: true, prep: fillBig(func(items []string) error {
			fv := make([]string, 0, 2*len(items))
			for _, it := range items {
				fv = append(fv, it, payload)
			}
			_, err := b.HSet(ctx, bigDict.key, ttl, fv...)
			return err
		}), do: func(_, i int) error {
			v, err := bigDict.Pop(ctx, removed[i])
			return expectOp(v == payload, err)
		}},
		{name: "Dict.Delete", unique: true, prep: fillBig(func(items []string) error {
			fv := make([]string, 0, 2*len(items))
			for _, it := range items {
				fv = append(fv, it, payload)
			}
			_, err := b.HSet(ctx, bigDict.key, ttl, fv...)
			return err
		}), do: func(_, i int) error {
			n, err := bigDict.Delete(ctx, removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "Dict.Incr", do: func(g, _ int) error {
			_, err := di.Key(g).Incr(ctx, ten[3], 1)
			return err
		}},

		// SetCache: ten members per set.
		{name: "Set.Add", prep: setSets, do: func(g, _ int) error {
			n, err := sc.Key(g).Add(ctx, ten[3])
			return expectOp(n == 0, err)
		}},
		{name: "Set.Has", prep: setSets, do: func(g, _ int) error {
			ok, err := sc.Key(g).Has(ctx, ten[3])
			return expectOp(ok, err)
		}},
		{name: "Set.HasMany(10)", prep: setSets, do: func(g, _ int) error {
			oks, err := sc.Key(g).HasMany(ctx, ten...)
			return expectOp(len(oks) == 10 && oks[9], err)
		}},
		{name: "Set.Len", prep: setSets, do: func(g, _ int) error {
			n, err := sc.Key(g).Len(ctx)
			return expectOp(n == 10, err)
		}},
		{name: "Set.Members(10)", prep: setSets, do: func(g, _ int) error {
			ms, err := sc.Key(g).Members(ctx)
			return expectOp(len(ms) == 10, err)
		}},
		{name: "Set.Discard", unique: true, prep: fillBig(func(items []string) error {
			_, err := b.SAdd(ctx, bigSet.key, ttl, items...)
			return err
		}), do: func(_, i int) error {
			n, err := bigSet.Discard(ctx, removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "Set.Pop", unique: true, prep: fillBig(func(items []string) error {
			_, err := b.SAdd(ctx, bigSet.key, ttl, items...)
			return err
		}), do: func(int, int) error {
			_, err := bigSet.Pop(ctx)
			return err
		}},

		// SortedSetCache: ten members scored 0 … 9 per sorted set.
		{name: "ZSet.Add", prep: setZSets, do: func(g, _ int) error {
			added, err := zc.Key(g).Add(ctx, ten[3], 3)
			return expectOp(!added, err)
		}},
		{name: "ZSet.Incr", do: func(g, _ int) error {
			_, err := zc.Key("incr", g).Incr(ctx, ten[3], 1)
			return err
		}},
		{name: "ZSet.Score", prep: setZSets, do: func(g, _ int) error {
			s, err := zc.Key(g).Score(ctx, ten[3])
			return expectOp(s == 3, err)
		}},
		{name: "ZSet.Rank", prep: setZSets, do: func(g, _ int) error {
			r, err := zc.Key(g).Rank(ctx, ten[3])
			return expectOp(r == 3, err)
		}},
		{name: "ZSet.Len", prep: setZSets, do: func(g, _ int) error {
			n, err := zc.Key(g).Len(ctx)
			return expectOp(n == 10, err)
		}},
		{name: "ZSet.Count", prep: setZSets, do: func(g, _ int) error {
			n, err := zc.Key(g).Count(ctx, Scores(2, 6))
			return expectOp(n == 5, err)
		}},
		{name: "ZSet.Range(10)", prep: setZSets, do: func(g, _ int) error {
			r, err := zc.Key(g).Range(ctx, 0, 9)
			return expectOp(len(r) == 10, err)
		}},
		{name: "ZSet.RangeByScore(10)", prep: setZSets, do: func(g, _ int) error {
			r, err := zc.Key(g).RangeByScore(ctx, AllScores, 0, 10)
			return expectOp(len(r) == 10, err)
		}},
		{name: "ZSet.Remove", unique: true, prep: fillBig(func(items []string) error {
			scores := make([]float64, len(items))
			_, err := b.ZAdd(ctx, bigZSet.key, ttl, backend.ZAddUpsert, zs(items, scores)...)
			return err
		}), do: func(_, i int) error {
			n, err := bigZSet.Remove(ctx, removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "ZSet.PopMin", unique: true, prep: fillBig(func(items []string) error {
			scores := make([]float64, len(items))
			_, err := b.ZAdd(ctx, bigZSet.key, ttl, backend.ZAddUpsert, zs(items, scores)...)
			return err
		}), do: func(int, int) error {
			_, _, err := bigZSet.PopMin(ctx)
			return err
		}},

		// CounterCache: ten counts per counter.
		{name: "Counter.Incr", do: func(g, _ int) error {
			_, err := cc.Key(g).Incr(ctx, ten[3], 1)
			return err
		}},
		{name: "Counter.Get", prep: setCounters, do: func(g, _ int) error {
			n, err := cc.Key(g).Get(ctx, ten[0])
			return expectOp(n > 0, err)
		}},
		{name: "Counter.Update(10)", do: func(g, _ int) error { return cc.Key(g).Update(ctx, one) }},
		{name: "Counter.Total(10)", prep: setCounters, do: func(g, _ int) error {
			n, err := cc.Key(g).Total(ctx)
			return expectOp(n > 0, err)
		}},

		// Memoize: a hit.
		{name: "Memo.Call(hit)", prep: warmMemo, do: func(g, _ int) error {
			v, err := memo.Call(ctx, g)
			return expectOp(v == payload, err)
		}},
	}
}

// BenchmarkOps runs every operation from one goroutine.
func BenchmarkOps(b *testing.B) {
	benchBackends(b, func(b *testing.B, conn *Conn, rt *roundTrips) {
		for _, o := range opBenches(conn) {
			b.Run(o.name, func(b *testing.B) {
				if o.prep != nil {
					if err := o.prep(b.N); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := rtCount(rt)
				for i := 0; i < b.N; i++ {
					if err := o.do(0, i); err != nil {
						b.Fatalf("%s: %v", o.name, err)
					}
				}
				b.StopTimer()
				reportRoundTrips(b, rt, start)
			})
		}
	})
}

// BenchmarkOpsParallel runs every operation from GOMAXPROCS goroutines,
// each on its own key (the operations that remove items share one
// collection and take distinct items).
func BenchmarkOpsParallel(b *testing.B) {
	benchBackends(b, func(b *testing.B, conn *Conn, rt *roundTrips) {
		for _, o := range opBenches(conn) {
			b.Run(o.name, func(b *testing.B) {
				if o.prep != nil {
					if err := o.prep(b.N); err != nil {
						b.Fatal(err)
					}
				}
				var goroutines, next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				start := rtCount(rt)
				b.RunParallel(func(pb *testing.PB) {
					g := int(goroutines.Add(1)-1) % opGoroutines
					for i := 0; pb.Next(); i++ {
						if o.unique {
							i = int(next.Add(1) - 1)
						}
						if err := o.do(g, i); err != nil {
							b.Errorf("%s: %v", o.name, err)
							return
						}
					}
				})
				b.StopTimer()
				reportRoundTrips(b, rt, start)
			})
		}
	})
}

package caches

import (
	"context"
	"errors"
	"slices"
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

// opPayload is the value the operations store: a short string, the common
// case (one operation of each kind stores JSON of a struct instead).
const opPayload = "payload of a typical size, a few dozen bytes"

// opTTL is the TTL of every family of the operations.
const opTTL = time.Hour

// opBenches returns the operations over conn, cache type by cache type.
func opBenches(conn *Conn) []opBench {
	f := newOpFixture(conn)
	return slices.Concat(f.keyOps(), f.keyJSONOps(), f.dictOps(), f.setOps(), f.sortedSetOps(), f.counterOps(), f.memoOps())
}

// opFixture is what the operations share: the connection, the members
// and fields of the small collections, and the items of the big collection
// that the removing operations take.
type opFixture struct {
	conn    *Conn
	ten     []string          // the ten members or fields of a small collection: m0 … m9
	tenMap  map[string]string // each of ten to opPayload
	one     map[string]int64  // each of ten to 1
	removed []string          // the items of the big collection, set by fillBig
}

func newOpFixture(conn *Conn) *opFixture {
	f := &opFixture{conn: conn, ten: make([]string, 10), tenMap: map[string]string{}, one: map[string]int64{}}
	for i := range f.ten {
		f.ten[i] = "m" + strconv.Itoa(i)
		f.tenMap[f.ten[i]] = opPayload
		f.one[f.ten[i]] = 1
	}
	return f
}

func (f *opFixture) opts(prefix string) Options {
	return Options{Prefix: prefix, TTL: opTTL, Conn: f.conn}
}

// eachGoroutine returns a prep that runs fill on the collection of every
// goroutine.
func eachGoroutine(fill func(g int) error) func(int) error {
	return func(int) error {
		for g := 0; g < opGoroutines; g++ {
			if err := fill(g); err != nil {
				return err
			}
		}
		return nil
	}
}

// fillBig returns a prep that fills one big collection with n items,
// "i0" … "i<n-1>", through add, a thousand at a time, and keeps them in
// f.removed for the operations that remove them.
func (f *opFixture) fillBig(add func(items []string) error) func(n int) error {
	return func(n int) error {
		f.removed = make([]string, n)
		for i := range f.removed {
			f.removed[i] = "i" + strconv.Itoa(i)
		}
		for start := 0; start < n; start += 1000 {
			if err := add(f.removed[start:min(n, start+1000)]); err != nil {
				return err
			}
		}
		return nil
	}
}

// keyOps are the operations of KeyCache on short strings: one key per
// goroutine, and n keys for Pop and Delete to remove.
func (f *opFixture) keyOps() []opBench {
	ctx := context.Background()
	kc := NewKeyCache[string](f.opts("ops:kc"))
	keys := make([]Key[string], opGoroutines)
	missing := make([]Key[string], opGoroutines)
	for g := range keys {
		keys[g], missing[g] = kc.Key("user", g), kc.Key("missing", g)
	}
	setKeys := eachGoroutine(func(g int) error { return keys[g].Set(ctx, opPayload) })
	var popKeys []Key[string]
	fillKeys := func(n int) error {
		popKeys = make([]Key[string], n)
		for i := range popKeys {
			popKeys[i] = kc.Key("pop", i)
			if err := f.conn.b.Set(ctx, popKeys[i].key, opPayload, opTTL); err != nil {
				return err
			}
		}
		return nil
	}
	ki := NewKeyCache[int64](f.opts("ops:ki"))
	return []opBench{
		{name: "KeyCache.Get", prep: setKeys, do: func(g, _ int) error {
			v, err := keys[g].Get(ctx)
			return expectOp(v == opPayload, err)
		}},
		{name: "KeyCache.Key(id).Get", prep: setKeys, do: func(g, _ int) error {
			v, err := kc.Key("user", g).Get(ctx)
			return expectOp(v == opPayload, err)
		}},
		{name: "KeyCache.Get(miss)", do: func(g, _ int) error {
			_, err := missing[g].Get(ctx)
			return expectOp(err == ErrNotFound, nil)
		}},
		{name: "KeyCache.Set", do: func(g, _ int) error { return keys[g].Set(ctx, opPayload) }},
		{name: "KeyCache.Add", prep: setKeys, do: func(g, _ int) error {
			ok, err := keys[g].Add(ctx, opPayload)
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
			return expectOp(v == opPayload, err)
		}},
		{name: "KeyCache.Delete", prep: fillKeys, unique: true, do: func(_, i int) error {
			ok, err := popKeys[i].Delete(ctx)
			return expectOp(ok, err)
		}},
		{name: "KeyCache.Incr", do: func(g, _ int) error {
			_, err := ki.Key(g).Incr(ctx, 1)
			return err
		}},
	}
}

// keyJSONOps are the operations of KeyCache on a struct, stored as JSON.
func (f *opFixture) keyJSONOps() []opBench {
	ctx := context.Background()
	type profile struct {
		ID    int64    `json:"id"`
		Name  string   `json:"name"`
		Email string   `json:"email"`
		Tags  []string `json:"tags"`
	}
	pv := profile{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Tags: []string{"math", "engines"}}
	kj := NewKeyCache[profile](f.opts("ops:kj"))
	return []opBench{
		{name: "KeyCache.Get(JSON)", prep: eachGoroutine(func(g int) error { return kj.Key(g).Set(ctx, pv) }), do: func(g, _ int) error {
			v, err := kj.Key(g).Get(ctx)
			return expectOp(v.ID == pv.ID, err)
		}},
		{name: "KeyCache.Set(JSON)", do: func(g, _ int) error { return kj.Key(g).Set(ctx, pv) }},
	}
}

// dictOps are the operations of DictCache: ten fields per hash, and a big
// hash for Pop and Delete.
func (f *opFixture) dictOps() []opBench {
	ctx := context.Background()
	ten := f.ten
	dc := NewDictCache[string, string](f.opts("ops:dc"))
	di := NewDictCache[string, int64](f.opts("ops:di"))
	setDicts := eachGoroutine(func(g int) error { return dc.Key(g).SetMany(ctx, f.tenMap) })
	bigDict := dc.Key("big")
	fillBigDict := f.fillBig(func(items []string) error {
		fv := make([]string, 0, 2*len(items))
		for _, it := range items {
			fv = append(fv, it, opPayload)
		}
		_, err := f.conn.b.HSet(ctx, bigDict.key, opTTL, fv...)
		return err
	})
	return []opBench{
		{name: "Dict.Get", prep: setDicts, do: func(g, _ int) error {
			v, err := dc.Key(g).Get(ctx, ten[3])
			return expectOp(v == opPayload, err)
		}},
		{name: "Dict.Set", do: func(g, _ int) error { return dc.Key(g).Set(ctx, ten[3], opPayload) }},
		{name: "Dict.GetMany(10)", prep: setDicts, do: func(g, _ int) error {
			m, err := dc.Key(g).GetMany(ctx, ten...)
			return expectOp(len(m) == 10, err)
		}},
		{name: "Dict.SetMany(10)", do: func(g, _ int) error { return dc.Key(g).SetMany(ctx, f.tenMap) }},
		{name: "Dict.Add", prep: setDicts, do: func(g, _ int) error {
			ok, err := dc.Key(g).Add(ctx, ten[3], opPayload)
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
		{name: "Dict.Pop", unique: true, prep: fillBigDict, do: func(_, i int) error {
			v, err := bigDict.Pop(ctx, f.removed[i])
			return expectOp(v == opPayload, err)
		}},
		{name: "Dict.Delete", unique: true, prep: fillBigDict, do: func(_, i int) error {
			n, err := bigDict.Delete(ctx, f.removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "Dict.Incr", do: func(g, _ int) error {
			_, err := di.Key(g).Incr(ctx, ten[3], 1)
			return err
		}},
	}
}

// setOps are the operations of SetCache: ten members per set, and a big set
// for Discard and Pop.
func (f *opFixture) setOps() []opBench {
	ctx := context.Background()
	ten := f.ten
	sc := NewSetCache[string](f.opts("ops:sc"))
	setSets := eachGoroutine(func(g int) error { _, err := sc.Key(g).Add(ctx, ten...); return err })
	bigSet := sc.Key("big")
	fillBigSet := f.fillBig(func(items []string) error {
		_, err := f.conn.b.SAdd(ctx, bigSet.key, opTTL, items...)
		return err
	})
	return []opBench{
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
		{name: "Set.Discard", unique: true, prep: fillBigSet, do: func(_, i int) error {
			n, err := bigSet.Discard(ctx, f.removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "Set.Pop", unique: true, prep: fillBigSet, do: func(int, int) error {
			_, err := bigSet.Pop(ctx)
			return err
		}},
	}
}

// sortedSetOps are the operations of SortedSetCache: ten members scored
// 0 … 9 per sorted set, and a big sorted set for Remove and PopMin.
func (f *opFixture) sortedSetOps() []opBench {
	ctx := context.Background()
	ten := f.ten
	zc := NewSortedSetCache[string](f.opts("ops:zc"))
	setZSets := eachGoroutine(func(g int) error {
		for i, m := range ten {
			if _, err := zc.Key(g).Add(ctx, m, float64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	bigZSet := zc.Key("big")
	fillBigZSet := f.fillBig(func(items []string) error {
		scores := make([]float64, len(items))
		_, err := f.conn.b.ZAdd(ctx, bigZSet.key, opTTL, backend.ZAddUpsert, zs(items, scores)...)
		return err
	})
	return []opBench{
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
		{name: "ZSet.Remove", unique: true, prep: fillBigZSet, do: func(_, i int) error {
			n, err := bigZSet.Remove(ctx, f.removed[i])
			return expectOp(n == 1, err)
		}},
		{name: "ZSet.PopMin", unique: true, prep: fillBigZSet, do: func(int, int) error {
			_, _, err := bigZSet.PopMin(ctx)
			return err
		}},
	}
}

// counterOps are the operations of CounterCache: ten counts per counter.
func (f *opFixture) counterOps() []opBench {
	ctx := context.Background()
	ten := f.ten
	cc := NewCounterCache[string](f.opts("ops:cc"))
	setCounters := eachGoroutine(func(g int) error { return cc.Key(g).Update(ctx, f.one) })
	return []opBench{
		{name: "Counter.Incr", do: func(g, _ int) error {
			_, err := cc.Key(g).Incr(ctx, ten[3], 1)
			return err
		}},
		{name: "Counter.Get", prep: setCounters, do: func(g, _ int) error {
			n, err := cc.Key(g).Get(ctx, ten[0])
			return expectOp(n > 0, err)
		}},
		{name: "Counter.Update(10)", do: func(g, _ int) error { return cc.Key(g).Update(ctx, f.one) }},
		{name: "Counter.Total(10)", prep: setCounters, do: func(g, _ int) error {
			n, err := cc.Key(g).Total(ctx)
			return expectOp(n > 0, err)
		}},
	}
}

// memoOps is a hit of Memoize.
func (f *opFixture) memoOps() []opBench {
	ctx := context.Background()
	memo := Memoize(func(ctx context.Context, id int) (string, error) { return opPayload, nil },
		MemoOptions[int]{Options: f.opts("ops:memo")})
	warmMemo := eachGoroutine(func(g int) error { _, err := memo.Call(ctx, g); return err })
	return []opBench{
		{name: "Memo.Call(hit)", prep: warmMemo, do: func(g, _ int) error {
			v, err := memo.Call(ctx, g)
			return expectOp(v == opPayload, err)
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

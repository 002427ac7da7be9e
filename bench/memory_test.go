package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/memstore"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
	gocache "github.com/patrickmn/go-cache"
)

// rwMap is the floor: a map guarded by a sync.RWMutex, with no expiry, no
// eviction and no statistics.
type rwMap struct {
	mu sync.RWMutex
	m  map[string]string
}

func (r *rwMap) get(k string) (string, bool) {
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	return v, ok
}

func (r *rwMap) set(k, v string) {
	r.mu.Lock()
	r.m[k] = v
	r.mu.Unlock()
}

// memKeys is how many keys the in-process benchmarks cycle through.
const memKeys = 1024

// BenchmarkMemory compares the in-process store with the in-process caches
// Go programs use, on 1,024 short strings that expire in an hour: a
// KeyCache over the memstore (a kept handle, and Key(id) built per call),
// the memstore alone, go-cache, golang-lru's expirable LRU, otter,
// ristretto and a map guarded by a sync.RWMutex. "(parallel)" runs the
// same gets from GOMAXPROCS goroutines (the run script sets 2).
func BenchmarkMemory(b *testing.B) {
	ctx := context.Background()
	ids := names("user-", memKeys)
	keys := names("kc:user-", memKeys) // ids under the KeyCache's prefix

	conn := caches.NewMemoryConn(caches.MemoryOptions{})
	defer conn.Close()
	kc := caches.NewKeyCache[string](caches.Options{Prefix: "kc", TTL: ttl, Conn: conn})
	handles := make([]caches.Key[string], memKeys)
	for i := range handles {
		handles[i] = kc.Key(ids[i])
		if err := handles[i].Set(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	st := memstore.New(memstore.Options{})
	defer st.Close()
	gc := gocache.New(ttl, 10*time.Minute)
	lru := expirable.NewLRU[string, string](2*memKeys, nil, ttl)
	ot := otter.Must(&otter.Options[string, string]{MaximumSize: 2 * memKeys, ExpiryCalculator: otter.ExpiryWriting[string, string](ttl)})
	rist, err := ristretto.NewCache(&ristretto.Config[string, string]{NumCounters: 100 * memKeys, MaxCost: 1 << 30, BufferItems: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer rist.Close()
	floor := &rwMap{m: map[string]string{}}
	for _, k := range keys {
		if err := st.Set(ctx, k, payload, ttl); err != nil {
			b.Fatal(err)
		}
		gc.Set(k, payload, gocache.DefaultExpiration)
		lru.Add(k, payload)
		ot.Set(k, payload)
		rist.SetWithTTL(k, payload, 1, ttl)
		floor.set(k, payload)
	}
	rist.Wait()

	var ristMisses atomic.Int64 // ristretto may refuse to admit a key; a miss is not an error
	gets := []impl{
		{name: "ours", op: func(i int) error {
			s, err := handles[i%memKeys].Get(ctx)
			return expect(s == payload, err)
		}},
		{name: "ours-Key(id)", op: func(i int) error {
			s, err := kc.Key(ids[i%memKeys]).Get(ctx)
			return expect(s == payload, err)
		}},
		{name: "memstore", op: func(i int) error {
			s, ok, err := st.Get(ctx, keys[i%memKeys])
			return expect(ok && s == payload, err)
		}},
		{name: "go-cache", pairWith: "ours", op: func(i int) error {
			v, ok := gc.Get(keys[i%memKeys])
			return expect(ok && v.(string) == payload, nil)
		}},
		{name: "golang-lru", op: func(i int) error {
			v, ok := lru.Get(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
		{name: "otter", op: func(i int) error {
			v, ok := ot.GetIfPresent(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
		{name: "ristretto", op: func(i int) error {
			if v, ok := rist.Get(keys[i%memKeys]); !ok {
				ristMisses.Add(1)
			} else if v != payload {
				return errUnexpected
			}
			return nil
		}},
		{name: "rwmutex-map", pairWith: "memstore", op: func(i int) error {
			v, ok := floor.get(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
	}
	warmUp(b, gets[2].op)
	compare(b, "Get", nil, gets...)
	compareParallel(b, "Get(parallel)", gets...)

	compare(b, "Set", nil,
		impl{name: "ours", op: func(i int) error { return handles[i%memKeys].Set(ctx, payload) }},
		impl{name: "ours-Key(id)", op: func(i int) error { return kc.Key(ids[i%memKeys]).Set(ctx, payload) }},
		impl{name: "memstore", op: func(i int) error { return st.Set(ctx, keys[i%memKeys], payload, ttl) }},
		impl{name: "go-cache", op: func(i int) error {
			gc.Set(keys[i%memKeys], payload, gocache.DefaultExpiration)
			return nil
		}},
		impl{name: "golang-lru", op: func(i int) error {
			lru.Add(keys[i%memKeys], payload)
			return nil
		}},
		impl{name: "otter", op: func(i int) error {
			ot.Set(keys[i%memKeys], payload)
			return nil
		}},
		impl{name: "ristretto", op: func(i int) error {
			rist.SetWithTTL(keys[i%memKeys], payload, 1, ttl)
			return nil
		}},
		impl{name: "rwmutex-map", op: func(i int) error {
			floor.set(keys[i%memKeys], payload)
			return nil
		}},
	)
	if n := ristMisses.Load(); n > 0 {
		b.Logf("ristretto missed %d gets (keys it did not admit)", n)
	}
}

// compareParallel is compare with the operations run by b.RunParallel:
// GOMAXPROCS goroutines, each walking the keys from its own offset.
func compareParallel(b *testing.B, op string, impls ...impl) {
	b.Run(op, func(b *testing.B) {
		order := append([]impl(nil), impls...)
		if reversed {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, im := range order {
			b.Run(im.name, func(b *testing.B) {
				var goroutines atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(goroutines.Add(1)) * 257
					for pb.Next() {
						if err := im.op(i); err != nil {
							b.Errorf("%s: %v", im.name, err)
							return
						}
						i++
					}
				})
			})
		}
	})
}

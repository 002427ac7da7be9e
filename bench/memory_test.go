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
	m := newMemCaches(b)
	defer m.close()
	gets := m.gets()
	warmUp(b, gets[2].op)
	compare(b, "Get", nil, gets...)
	compareParallel(b, "Get(parallel)", gets...)
	compare(b, "Set", nil, m.sets()...)
	if n := m.ristMisses.Load(); n > 0 {
		b.Logf("ristretto missed %d gets (keys it did not admit)", n)
	}
}

// memCaches is every in-process cache compared, each holding payload under
// the same memKeys keys.
type memCaches struct {
	ctx     context.Context
	ids     []string
	keys    []string // ids under the KeyCache's prefix
	conn    *caches.Conn
	kc      *caches.KeyCache[string]
	handles []caches.Key[string]
	st      *memstore.Store
	gc      *gocache.Cache
	lru     *expirable.LRU[string, string]
	ot      *otter.Cache[string, string]
	rist    *ristretto.Cache[string, string]
	floor   *rwMap
	// ristMisses counts ristretto's misses: it may refuse to admit a key,
	// and a miss is not an error.
	ristMisses atomic.Int64
}

func newMemCaches(b *testing.B) *memCaches {
	m := &memCaches{ctx: context.Background(), ids: names("user-", memKeys), keys: names("kc:user-", memKeys)}
	m.conn = caches.NewMemoryConn(caches.MemoryOptions{})
	m.kc = caches.NewKeyCache[string](caches.Options{Prefix: "kc", TTL: ttl, Conn: m.conn})
	m.st = memstore.New(memstore.Options{})
	m.gc = gocache.New(ttl, 10*time.Minute)
	m.lru = expirable.NewLRU[string, string](2*memKeys, nil, ttl)
	m.ot = otter.Must(&otter.Options[string, string]{MaximumSize: 2 * memKeys, ExpiryCalculator: otter.ExpiryWriting[string, string](ttl)})
	rist, err := ristretto.NewCache(&ristretto.Config[string, string]{NumCounters: 100 * memKeys, MaxCost: 1 << 30, BufferItems: 64})
	if err != nil {
		m.close()
		b.Fatal(err)
	}
	m.rist = rist
	m.floor = &rwMap{m: map[string]string{}}
	if err := m.fill(); err != nil {
		m.close()
		b.Fatal(err)
	}
	return m
}

// fill stores payload under every key in every cache.
func (m *memCaches) fill() error {
	m.handles = make([]caches.Key[string], memKeys)
	for i := range m.handles {
		m.handles[i] = m.kc.Key(m.ids[i])
		if err := m.handles[i].Set(m.ctx, payload); err != nil {
			return err
		}
	}
	for _, k := range m.keys {
		if err := m.st.Set(m.ctx, k, payload, ttl); err != nil {
			return err
		}
		m.gc.Set(k, payload, gocache.DefaultExpiration)
		m.lru.Add(k, payload)
		m.ot.Set(k, payload)
		m.rist.SetWithTTL(k, payload, 1, ttl)
		m.floor.set(k, payload)
	}
	m.rist.Wait()
	return nil
}

func (m *memCaches) close() {
	m.conn.Close()
	m.st.Close()
	if m.rist != nil {
		m.rist.Close()
	}
}

// gets is the i-th get of every cache; the memstore's is third.
func (m *memCaches) gets() []impl {
	ctx, keys := m.ctx, m.keys
	return []impl{
		{name: "ours", op: func(i int) error {
			s, err := m.handles[i%memKeys].Get(ctx)
			return expect(s == payload, err)
		}},
		{name: "ours-Key(id)", op: func(i int) error {
			s, err := m.kc.Key(m.ids[i%memKeys]).Get(ctx)
			return expect(s == payload, err)
		}},
		{name: "memstore", op: func(i int) error {
			s, ok, err := m.st.Get(ctx, keys[i%memKeys])
			return expect(ok && s == payload, err)
		}},
		{name: "go-cache", pairWith: "ours", op: func(i int) error {
			v, ok := m.gc.Get(keys[i%memKeys])
			return expect(ok && v.(string) == payload, nil)
		}},
		{name: "golang-lru", op: func(i int) error {
			v, ok := m.lru.Get(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
		{name: "otter", op: func(i int) error {
			v, ok := m.ot.GetIfPresent(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
		{name: "ristretto", op: func(i int) error {
			if v, ok := m.rist.Get(keys[i%memKeys]); !ok {
				m.ristMisses.Add(1)
			} else if v != payload {
				return errUnexpected
			}
			return nil
		}},
		{name: "rwmutex-map", pairWith: "memstore", op: func(i int) error {
			v, ok := m.floor.get(keys[i%memKeys])
			return expect(ok && v == payload, nil)
		}},
	}
}

// sets is the i-th set of every cache.
func (m *memCaches) sets() []impl {
	ctx, keys := m.ctx, m.keys
	return []impl{
		{name: "ours", op: func(i int) error { return m.handles[i%memKeys].Set(ctx, payload) }},
		{name: "ours-Key(id)", op: func(i int) error { return m.kc.Key(m.ids[i%memKeys]).Set(ctx, payload) }},
		{name: "memstore", op: func(i int) error { return m.st.Set(ctx, keys[i%memKeys], payload, ttl) }},
		{name: "go-cache", op: func(i int) error {
			m.gc.Set(keys[i%memKeys], payload, gocache.DefaultExpiration)
			return nil
		}},
		{name: "golang-lru", op: func(i int) error {
			m.lru.Add(keys[i%memKeys], payload)
			return nil
		}},
		{name: "otter", op: func(i int) error {
			m.ot.Set(keys[i%memKeys], payload)
			return nil
		}},
		{name: "ristretto", op: func(i int) error {
			m.rist.SetWithTTL(keys[i%memKeys], payload, 1, ttl)
			return nil
		}},
		{name: "rwmutex-map", op: func(i int) error {
			m.floor.set(keys[i%memKeys], payload)
			return nil
		}},
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

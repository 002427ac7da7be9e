package memstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/backend/backendtest"
)

// recount recomputes a key's footprint from its value alone, without the
// running totals the store keeps.
func recount(e *entry) int64 {
	n := entryOverhead + len(e.key)
	switch e.kind {
	case kindString:
		n += len(e.str)
	case kindHash:
		for f, v := range e.hash.all() {
			n += elementOverhead + len(f) + len(v)
		}
	case kindSet:
		for m := range e.set.all() {
			n += elementOverhead + len(m)
		}
	case kindZSet:
		for m := range e.zset.scores {
			n += elementOverhead + scoreSize + len(m)
		}
	}
	return int64(n)
}

// checkAccounting fails the test unless every entry's, shard's and the
// bound's accounting equals a recomputation from scratch.
func checkAccounting(t *testing.T, s *Store, when string) {
	t.Helper()
	var keys, bytes int64
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		var shardBytes int64
		for k, e := range sh.items {
			if want := recount(e); e.size != want {
				t.Fatalf("%s: key %q accounts %d bytes, recomputed %d", when, k, e.size, want)
			}
			shardBytes += e.size
		}
		if sh.bytes != shardBytes {
			t.Fatalf("%s: shard %d accounts %d bytes, its keys %d", when, i, sh.bytes, shardBytes)
		}
		keys += int64(len(sh.items))
		bytes += shardBytes
		sh.mu.RUnlock(rs)
	}
	if got := s.UsedBytes(); got != bytes {
		t.Fatalf("%s: UsedBytes %d, recomputed %d", when, got, bytes)
	}
	if b := s.bound; b != nil && (b.keys.Load() != keys || b.bytes.Load() != bytes) {
		t.Fatalf("%s: bound totals %d keys %d bytes, recomputed %d keys %d bytes",
			when, b.keys.Load(), b.bytes.Load(), keys, bytes)
	}
}

// TestAccounting runs every command at random, with expiries, deletions by
// pattern and evictions, and checks after each step that the accounted
// sizes equal a recomputation from scratch.
func TestAccounting(t *testing.T) {
	for _, opts := range []Options{
		{ExpiryInterval: -1},
		{ExpiryInterval: -1, MaxBytes: 600, EvictionSamples: 2},
		{ExpiryInterval: -1, MaxKeys: 3},
	} {
		t.Run(fmt.Sprintf("MaxKeys=%d,MaxBytes=%d", opts.MaxKeys, opts.MaxBytes), func(t *testing.T) {
			clock := newFakeClock()
			opts.Now = clock.Now
			s := New(opts)
			defer s.Close()
			seed := uint64(time.Now().UnixNano())
			rng := rand.New(rand.NewPCG(seed, 1))
			for step := range 6000 {
				g := backendtest.NewGen(seed, uint64(step))
				switch rng.IntN(50) {
				case 0:
					clock.Advance(time.Duration(rng.IntN(3)) * time.Hour) // expire without reclaiming
				case 1:
					s.FastForward(time.Duration(rng.IntN(2)) * time.Hour)
				case 2:
					_, err := s.DeleteMatching(bg, []string{"a", "[bc]", "*"}[rng.IntN(3)], nil, 1)
					must(t, err)
				case 3:
					_, _, _, err := s.HPopRandom(bg, g.Key())
					_ = err
				default:
					backendtest.Ops[rng.IntN(len(backendtest.Ops))].Run(bg, g, s)
				}
				checkAccounting(t, s, fmt.Sprintf("seed %d step %d", seed, step))
			}
			t.Logf("%d evictions", s.Evictions())
			if s.bound != nil && s.Evictions() == 0 {
				t.Error("no eviction happened")
			}
			s.reap(s.nowMs()+int64(24*time.Hour/time.Millisecond), -1)
			checkAccounting(t, s, "after reaping")
			must(t, s.Close())
			equal(t, "UsedBytes after Close", s.UsedBytes(), int64(0))
			checkAccounting(t, s, "after Close")
		})
	}
}

func TestFootprint(t *testing.T) {
	s, _ := newTestStore(t)
	must(t, s.Set(bg, "k", "12345", 0))
	_, err := s.HSet(bg, "h", 0, "f", "vv", "g", "")
	must(t, err)
	_, err = s.SAdd(bg, "set", 0, "a", "bb")
	must(t, err)
	_, err = s.ZAdd(bg, "z", 0, backend.ZAddUpsert, zs([]string{"m"}, []float64{1})...)
	must(t, err)
	want := int64(entryOverhead+1+5) +
		int64(entryOverhead+1+2*elementOverhead+1+2+1) +
		int64(entryOverhead+3+2*elementOverhead+1+2) +
		int64(entryOverhead+1+elementOverhead+scoreSize+1)
	equal(t, "UsedBytes", s.UsedBytes(), want)
}

func TestMaxKeys(t *testing.T) {
	s := New(Options{MaxKeys: 100, ExpiryInterval: -1})
	defer s.Close()
	for i := range 2000 {
		k := fmt.Sprint("k", i)
		var err error
		switch i % 4 {
		case 0:
			err = s.Set(bg, k, "v", 0)
		case 1:
			_, err = s.HSet(bg, k, 0, "f", "v")
		case 2:
			_, err = s.SAdd(bg, k, 0, "m")
		case 3:
			_, err = s.ZAdd(bg, k, 0, backend.ZAddUpsert, zs([]string{"m"}, []float64{1})...)
		}
		must(t, err)
		if n, _ := s.memStats(); n > 100 {
			t.Fatalf("after %d writes the store holds %d keys", i+1, n)
		}
		if _, ok, _ := s.HGet(bg, k, "f"); i%4 == 1 && !ok {
			t.Fatalf("the key just written, %s, was evicted", k)
		}
	}
	equal(t, "DBSize", s.DBSize(), 100)
	equal(t, "Evictions", s.Evictions(), uint64(1900))
}

// TestEvictionReclaimsExpiredFirst shows that expired keys met by sampling
// are reclaimed, not counted as evictions.
func TestEvictionReclaimsExpiredFirst(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Now: clock.Now, MaxKeys: 10, ExpiryInterval: -1, EvictionSamples: 20})
	defer s.Close()
	for i := range 10 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", time.Second))
	}
	clock.Advance(2 * time.Second)
	must(t, s.Set(bg, "new", "v", 0))
	equal(t, "Evictions", s.Evictions(), uint64(0))
	if n, _ := s.memStats(); n != 10 {
		t.Errorf("%d keys held", n)
	}
}

// TestLRU shows approximate LRU at work: keys read again and again survive
// waves of evictions far more often than keys left untouched.
func TestLRU(t *testing.T) {
	s, _ := newBoundedStore(t, Options{MaxKeys: 1000})
	for i := range 1000 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
	}
	for round := range 4 {
		s.FastForward(time.Second)
		for i := range 100 { // the hot keys: k0 to k99
			if _, ok, _ := s.Get(bg, fmt.Sprint("k", i)); !ok && round == 0 {
				t.Fatal("miss")
			}
		}
		s.FastForward(time.Second)
		for i := range 100 {
			must(t, s.Set(bg, fmt.Sprint("new", round, ":", i), "v", 0))
		}
	}
	equal(t, "Evictions", s.Evictions(), uint64(400))
	var hot, cold int
	for i := range 1000 {
		if ok, _ := s.Exists(bg, fmt.Sprint("k", i)); ok && i < 100 {
			hot++
		} else if ok {
			cold++
		}
	}
	t.Logf("survivors: %d of 100 hot keys, %d of 900 cold ones", hot, cold)
	if hot < 90 {
		t.Errorf("only %d of 100 recently read keys survived", hot)
	}
	if cold > 900*8/10 {
		t.Errorf("%d of 900 untouched keys survived", cold)
	}
}

// newBoundedStore returns a store on a fake clock without reaper, with the
// bounds of opts, closed when the test ends.
func newBoundedStore(t testing.TB, opts Options) (*Store, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	opts.Now, opts.ExpiryInterval = clock.Now, -1
	s := New(opts)
	t.Cleanup(func() { _ = s.Close() })
	return s, clock
}

func TestMaxBytes(t *testing.T) {
	const limit = 1 << 20
	s, _ := newBoundedStore(t, Options{MaxBytes: limit})
	big := strings.Repeat("x", 64<<10)
	for i := range 100 {
		k := fmt.Sprint("big", i)
		must(t, s.Set(bg, k, big, 0))
		if used := s.UsedBytes(); used > limit {
			t.Fatalf("after %d writes %d bytes are used", i+1, used)
		}
		if ok, _ := s.Exists(bg, k); !ok {
			t.Fatalf("the key just written, %s, was evicted", k)
		}
	}
	per := int64(entryOverhead + len("big00") + len(big))
	if n := int64(s.DBSize()); n != limit/per {
		t.Errorf("%d keys held, want %d", n, limit/per)
	}
	// A growing collection evicts other keys.
	for i := range 15 {
		_, err := s.HSet(bg, "h", 0, fmt.Sprint("f", i), big)
		must(t, err)
		if used := s.UsedBytes(); used > limit {
			t.Fatalf("%d bytes used", used)
		}
	}
	n, _ := s.HLen(bg, "h")
	equal(t, "fields of the growing hash", n, int64(15))
	equal(t, "keys besides the hash", s.DBSize()-1, 0)
	// A value larger than the bound evicts everything, itself last.
	must(t, s.Set(bg, "huge", strings.Repeat("y", 2*limit), 0))
	equal(t, "DBSize after a value over the bound", s.DBSize(), 0)
	equal(t, "UsedBytes", s.UsedBytes(), int64(0))
}

// TestBoundConcurrent writes from several goroutines to a bounded store;
// under -race it checks the eviction's locking.
func TestBoundConcurrent(t *testing.T) {
	s := New(Options{MaxKeys: 200, MaxBytes: 40000, Shards: 8, ExpiryInterval: time.Millisecond})
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 3000 {
				k := fmt.Sprint("k", rng.IntN(1000))
				var err error
				switch rng.IntN(5) {
				case 0:
					err = s.Set(bg, k, strings.Repeat("v", rng.IntN(100)), time.Duration(rng.IntN(3))*time.Millisecond)
				case 1:
					_, err = s.SAdd(bg, k, 0, fmt.Sprint(i))
				case 2:
					_, _, err = s.Get(bg, k)
				case 3:
					_, err = s.Del(bg, k)
				case 4:
					_, err = s.SCombineStore(bg, backend.Union, k, 0, k, fmt.Sprint("k", rng.IntN(1000)))
				}
				if err != nil && err != ErrWrongType {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Reclaim every key that has expired now, so that the background reaper
	// has nothing left to delete while the accounting is recomputed shard by
	// shard (the store's clock lags by up to a few milliseconds under load).
	s.FastForward(time.Second)
	if n, _ := s.memStats(); n > 200 || s.UsedBytes() > 40000 {
		t.Errorf("%d keys, %d bytes held", n, s.UsedBytes())
	}
	checkAccounting(t, s, "after the writers")
}

// TestUnboundedKeepsNoLRU shows that an unbounded store does not track
// accesses, and that a bounded one does.
func TestUnboundedKeepsNoLRU(t *testing.T) {
	s, _ := newTestStore(t)
	must(t, s.Set(bg, "k", "v", 0))
	if e := s.shard("k").items["k"]; e.access.Load() != 0 || s.Evictions() != 0 {
		t.Error("an unbounded store stamps accesses")
	}
	b, _ := newBoundedStore(t, Options{MaxKeys: 10})
	must(t, b.Set(bg, "k", "v", 0))
	b.FastForward(time.Minute)
	_, _, _ = b.Get(bg, "k")
	if e := b.shard("k").items["k"]; e.access.Load() != b.nowMs() {
		t.Errorf("access %d, want %d", e.access.Load(), b.nowMs())
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = b.Get(bg, "k") }); n != 0 {
		t.Errorf("Get on a bounded store allocates %v times", n)
	}
}

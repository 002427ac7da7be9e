package memstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// benchKeys fills a store with n string keys, half of them with a TTL.
func benchKeys(b *testing.B, n int) (*Store, []string) {
	return benchKeysIn(b, n, Options{ExpiryInterval: -1})
}

// benchKeysIn fills a store configured by opts with n string keys, half of
// them with a TTL.
func benchKeysIn(b *testing.B, n int, opts Options) (*Store, []string) {
	b.Helper()
	s := New(opts)
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint("key:", i)
		if err := s.Set(bg, keys[i], "value", time.Duration(i%2)*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys
}

func BenchmarkGet(b *testing.B) {
	s, keys := benchKeys(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := s.Get(bg, keys[i&1023]); !ok || err != nil {
			b.Fatal("miss")
		}
	}
}

// BenchmarkGetBounded is BenchmarkGet on a bounded store, whose reads
// record their access for LRU eviction.
func BenchmarkGetBounded(b *testing.B) {
	s, keys := benchKeysIn(b, 1024, Options{ExpiryInterval: -1, MaxKeys: 1 << 20})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := s.Get(bg, keys[i&1023]); !ok || err != nil {
			b.Fatal("miss")
		}
	}
}

// BenchmarkSetEvicting writes new keys to a full store, each write evicting
// a key.
func BenchmarkSetEvicting(b *testing.B) {
	s, _ := benchKeysIn(b, 1024, Options{ExpiryInterval: -1, MaxKeys: 1024})
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprint("new:", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Set(bg, keys[i&4095], "value", 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave saves 10000 keys of each kind.
func BenchmarkSave(b *testing.B) {
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "bench.snap"), ExpiryInterval: -1, SavePoints: []SavePoint{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	for i := range 10000 {
		k := fmt.Sprint(i)
		_ = s.Set(bg, "s"+k, "value", time.Hour)
		_, _ = s.HSet(bg, "h"+k, 0, "f", k)
		_, _ = s.SAdd(bg, "set"+k, 0, k)
		_, _ = s.ZAdd(bg, "z"+k, 0, backend.ZAddUpsert, zs([]string{k}, []float64{float64(i)})...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s, keys := benchKeys(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, ok, err := s.Get(bg, keys[i&1023]); !ok || err != nil {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkSet(b *testing.B) {
	s, keys := benchKeys(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Set(bg, keys[i&1023], "value", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZAddZPop(b *testing.B) {
	s, _ := benchKeys(b, 0)
	members := make([]string, 1024)
	for i := range members {
		members[i] = fmt.Sprint("m", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ZAdd(bg, "z", 0, backend.ZAddUpsert, zs(members[i&1023:i&1023+1], []float64{float64(i % 977)})...); err != nil {
			b.Fatal(err)
		}
		if i%4 == 3 {
			if _, _, err := splitZ(s.ZPop(bg, "z", 1, false)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestGetDoesNotAllocate enforces the hot-path requirement of BenchmarkGet.
func TestGetDoesNotAllocate(t *testing.T) {
	s, _ := newTestStore(t)
	must(t, s.Set(bg, "a", "value", 0))
	must(t, s.Set(bg, "b", "value", time.Hour))
	for _, k := range []string{"a", "b", "missing"} {
		if n := testing.AllocsPerRun(100, func() { _, _, _ = s.Get(bg, k) }); n != 0 {
			t.Errorf("Get(%q) allocates %v times", k, n)
		}
	}
}

package caches

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryDSNOptions(t *testing.T) {
	dir := t.TempDir()
	c, err := Open("memory://?max_keys=100&max_bytes=64kb&eviction_samples=3#bounded")
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "bounded", c.Name())

	for _, bad := range []struct{ dsn, want string }{
		{"memory://?max_keys=many", "invalid max_keys"},
		{"memory://?max_bytes=12tb", "invalid max_bytes"},
		{"memory://?save=60", "invalid save"},
		{"memory://?save=60:1", "save needs file"},
		{"memory://?size=1", `unknown option "size"`},
	} {
		_, err := Open(bad.dsn)
		require.ErrorContains(t, err, bad.want, bad.dsn)
	}
	c2, err := Open("memory://?file=" + filepath.Join(dir, "c.db") + "&save=900:1,60:1000")
	require.NoError(t, err)
	require.NoError(t, c2.Close())
}

func TestMemoryBound(t *testing.T) {
	ctx := context.Background()
	// LRU needs time to pass between accesses (Redis's LRU clock ticks once
	// a second); the test moves the clock 10 ms per write.
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := OpenMemory(MemoryOptions{Now: clock, MaxKeys: 100})
	require.NoError(t, err)
	defer c.Close()
	fam := NewKeyCache[int](Options{Prefix: "b", Conn: c})
	hot := fam.Key("hot")
	require.NoError(t, hot.Set(ctx, 1))
	for i := 0; i < 1000; i++ {
		mu.Lock()
		now = now.Add(10 * time.Millisecond)
		mu.Unlock()
		require.NoError(t, fam.Key(i).Set(ctx, i))
		if i%10 == 0 {
			_, err := hot.Get(ctx) // keep it recently used
			require.NoError(t, err, "the hot key survives eviction (i=%d)", i)
		}
	}
	st, ok := c.MemoryStats()
	require.True(t, ok)
	require.LessOrEqual(t, st.Keys, 100)
	require.GreaterOrEqual(t, st.Evictions, uint64(900))
	require.Equal(t, st.Evictions, fam.Stats().Evictions, "every eviction is counted in the family's stats")
	other := NewKeyCache[int](Options{Prefix: "bb", Conn: c})
	require.Zero(t, other.Stats().Evictions, "a family whose keys were not evicted")
	_, ok = NewRedisConn(nil).MemoryStats()
	require.False(t, ok)
}

// TestMemoryPersistence saves a store with TTLs, reopens it later on the
// clock, and checks what survived; a corrupt file is reported and kept.
func TestMemoryPersistence(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "cache.db")
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts := MemoryOptions{Now: clock, File: file, SavePoints: []SavePoint{}}

	c, err := OpenMemory(opts)
	require.NoError(t, err)
	o := Options{Prefix: "p", Conn: c, TTL: time.Hour}
	require.NoError(t, NewKeyCache[string](o).Key("short").SetTTL(ctx, "v", time.Minute))
	require.NoError(t, NewKeyCache[string](o).Key("long").Set(ctx, "v"))
	require.NoError(t, NewDictCache[string, int](o).Key("d").Set(ctx, "f", 7))
	_, err = NewSortedSetCache[string](o).Key("z").Add(ctx, "m", 2.5)
	require.NoError(t, err)
	require.NoError(t, c.Close(), "Close saves")

	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	c, err = OpenMemory(opts)
	require.NoError(t, err)
	o.Conn = c
	_, err = NewKeyCache[string](o).Key("short").Get(ctx)
	require.ErrorIs(t, err, ErrNotFound, "its deadline passed while the store was closed")
	ttl, err := NewKeyCache[string](o).Key("long").TTL(ctx)
	require.NoError(t, err)
	require.Equal(t, 30*time.Minute, ttl, "deadlines are absolute")
	v, err := NewDictCache[string, int](o).Key("d").Get(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, 7, v)
	s, err := NewSortedSetCache[string](o).Key("z").Score(ctx, "m")
	require.NoError(t, err)
	require.Equal(t, 2.5, s)
	require.NoError(t, NewKeyCache[string](o).Key("new").Set(ctx, "x"))
	require.NoError(t, c.Save())
	require.NoError(t, c.Close())

	data, err := os.ReadFile(file)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(file, data, 0o600))
	_, err = OpenMemory(opts)
	require.ErrorContains(t, err, file, "the error names the file")
	after, _ := os.ReadFile(file)
	require.True(t, bytes.Equal(data, after), "a corrupt file is kept as it was")

	t.Setenv("CACHES_DSN_P", "memory://?file="+file+"#persisted")
	require.NoError(t, Close())
	defer Close()
	err = Configure()
	require.ErrorContains(t, err, "CACHES_DSN_P")
	require.ErrorContains(t, err, file)
}

func TestMemoryAutoSave(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "auto.db")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := OpenMemory(MemoryOptions{Now: clock, File: file, SavePoints: []SavePoint{{Changes: 3, Within: time.Minute}}})
	require.NoError(t, err)
	defer c.Close()
	k := NewKeyCache[int](Options{Prefix: "a", Conn: c})
	for i := 0; i < 3; i++ {
		require.NoError(t, k.Key(i).Set(ctx, i))
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	st, _ := c.MemoryStats()
	require.Equal(t, int64(3), st.Changes)
	waitFor(t, "the save point fires", func() bool {
		st, _ := c.MemoryStats()
		return st.Changes == 0
	})
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Positive(t, info.Size())
}

// TestMemoryFileLocked shows that a second in-process store on a file held
// by a live one is refused, naming the file, and that saves leave the file
// with mode 0600.
func TestMemoryFileLocked(t *testing.T) {
	clearEnv(t)
	file := filepath.Join(t.TempDir(), "held.db")
	first, err := Open("memory://?file=" + file)
	require.NoError(t, err)
	_, err = Open("memory://?file=" + file + "#second")
	require.ErrorContains(t, err, file)
	require.ErrorContains(t, err, "another store holds the file")
	t.Setenv("CACHES_DSN_HELD", "memory://?file="+file+"#held")
	err = Configure()
	require.ErrorContains(t, err, "CACHES_DSN_HELD")
	require.ErrorContains(t, err, "another store holds the file")

	require.NoError(t, first.Save())
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NoError(t, first.Close())
	again, err := OpenMemory(MemoryOptions{File: file})
	require.NoError(t, err, "Close let go of the file")
	require.NoError(t, again.Close())
}

// TestSavePointIsOurs shows that SavePoint is a type of this package, whose
// fields go doc lists, not an alias of the in-process store's.
func TestSavePointIsOurs(t *testing.T) {
	require.Equal(t, "github.com/gocaches/caches", reflect.TypeFor[SavePoint]().PkgPath())
}

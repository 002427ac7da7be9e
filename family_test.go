package caches

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestInvalidateDependencyChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		orgs := NewKeyCache[string](e.opts("orgs"))
		teams := NewDictCache[string, int](e.opts("teams"))
		users := NewSetCache[string](e.opts("users"))
		other := NewKeyCache[string](e.opts("orgs2"))
		glob := NewKeyCache[string](e.opts("org*"))
		require.NoError(t, teams.DependsOn(orgs))
		require.NoError(t, users.DependsOn(teams))

		for i := 0; i < 30; i++ {
			require.NoError(t, orgs.Key(i).Set(ctx, "o"))
			require.NoError(t, teams.Key(i).Set(ctx, "t", i))
			_, err := users.Key(i, "members").Add(ctx, "u")
			require.NoError(t, err)
		}
		require.NoError(t, orgs.Key().Set(ctx, "the key with no arguments is the prefix"))
		require.NoError(t, other.Key(1).Set(ctx, "a family whose prefix extends orgs"))
		require.NoError(t, glob.Key(1).Set(ctx, "a prefix with a glob character"))

		n, err := users.Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 30, n, "a leaf takes only itself")
		has, _ := teams.Key(0).Has(ctx, "t")
		require.True(t, has)

		for i := 0; i < 30; i++ {
			_, err := users.Key(i, "members").Add(ctx, "u")
			require.NoError(t, err)
		}
		n, err = orgs.Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 91, n, "orgs (31), teams (30) and users (30), transitively")
		require.Equal(t, uint64(1), orgs.Stats().Invalidations)
		require.Equal(t, uint64(1), teams.Stats().Invalidations)
		require.Equal(t, uint64(2), users.Stats().Invalidations, "once directly, once through orgs")
		require.Equal(t, uint64(60), users.Stats().InvalidatedKeys)
		_, err = orgs.Key(3).Get(ctx)
		require.ErrorIs(t, err, ErrNotFound)
		l, _ := users.Key(3, "members").Len(ctx)
		require.Zero(t, l)
		v, err := other.Key(1).Get(ctx)
		require.NoError(t, err, "orgs2:1 is not a key of orgs")
		require.NotEmpty(t, v)

		n, err = glob.Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n, `"org*" is matched literally`)
		_, err = other.Key(1).Get(ctx)
		require.NoError(t, err, "org* did not match orgs2")

		_, err = NewKeyCache[string](e.opts("")).Invalidate(ctx)
		require.ErrorContains(t, err, "without prefix")
	})
}

func TestDependsOnRefusesCycles(t *testing.T) {
	a := NewKeyCache[int](Options{Prefix: "cycle-a"})
	b := NewKeyCache[int](Options{Prefix: "cycle-b"})
	c := NewKeyCache[int](Options{Prefix: "cycle-c"})
	require.NoError(t, b.DependsOn(a))
	require.NoError(t, c.DependsOn(b))
	err := a.DependsOn(c)
	require.ErrorContains(t, err, "dependency cycle")
	require.ErrorContains(t, err, `"cycle-c"`)
	require.ErrorContains(t, a.DependsOn(a), "dependency cycle")
	deps.mu.Lock()
	defer deps.mu.Unlock()
	require.Empty(t, deps.nodes[weak.Make(c.family)].dependents, "a refused declaration changes nothing")
}

func TestHooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var mu sync.Mutex
		source := map[string]string{"1": "one", "2": "two"}
		var loads atomic.Int32
		release := make(chan struct{})
		failWrite := errors.New("source refused")
		users := NewKeyCache[string](e.opts("hooked")).WithHooks(Hooks[string]{
			Load: func(ctx context.Context, k Key[string]) (string, error) {
				loads.Add(1)
				<-release
				mu.Lock()
				defer mu.Unlock()
				v, ok := source[k.Args()[0].(string)]
				if !ok {
					return "", errors.New("no such user")
				}
				return v, nil
			},
			Write: func(ctx context.Context, k Key[string], v string) error {
				if v == "bad" {
					return failWrite
				}
				mu.Lock()
				defer mu.Unlock()
				source[k.Args()[0].(string)] = v
				return nil
			},
			Remove: func(ctx context.Context, k Key[string]) error {
				mu.Lock()
				defer mu.Unlock()
				delete(source, k.Args()[0].(string))
				return nil
			},
			Validate: func(k Key[string], v string) bool { return v != "stale" },
		})

		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := users.Key("1").Get(ctx)
				require.NoError(t, err)
				require.Equal(t, "one", v)
			}()
		}
		waitFor(t, "the loader runs", func() bool { return loads.Load() == 1 })
		waitFor(t, "every caller waits for it", func() bool { return users.loads.waiters("hooked:1") == 19 })
		close(release)
		wg.Wait()
		require.Equal(t, int32(1), loads.Load(), "concurrent misses load once")
		raw, ok, _ := e.b.Get(ctx, "hooked:1")
		require.True(t, ok, "the loaded value is stored")
		require.Equal(t, "one", raw)

		_, err := users.Key("404").Get(ctx)
		require.ErrorContains(t, err, "no such user", "a failing loader's error is returned")
		has, _ := users.Key("404").Has(ctx)
		require.False(t, has, "and nothing is stored")

		require.NoError(t, users.Key("3").Set(ctx, "three"))
		mu.Lock()
		require.Equal(t, "three", source["3"], "write-through")
		mu.Unlock()
		err = users.Key("3").Set(ctx, "bad")
		require.ErrorIs(t, err, failWrite)
		v, _ := users.Key("3").Get(ctx)
		require.Equal(t, "three", v, "a refused write leaves the cache as it was")

		_, err = users.Key("3").Delete(ctx)
		require.NoError(t, err)
		mu.Lock()
		_, inSource := source["3"]
		mu.Unlock()
		require.False(t, inSource, "Delete removes from the source first")

		require.NoError(t, e.b.Set(ctx, "hooked:2", "stale", 0))
		loads.Store(0)
		v, err = users.Key("2").Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "two", v, "a rejected value is a miss, reloaded")
		require.Equal(t, int32(1), loads.Load())
	})
}

func (g *flightGroup[T]) waiters(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		return f.waiters
	}
	return -1
}

func TestFamilyStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fam := NewKeyCache[int](e.opts("stats"))
		fam.Key(1).Get(ctx)
		fam.Key(1).Set(ctx, 1)
		fam.Key(1).Get(ctx)
		fam.Key(1).Get(ctx)
		fam.Key(1).Delete(ctx)
		require.NoError(t, e.b.Set(ctx, "stats:bad", "x", 0))
		fam.Key("bad").Get(ctx)
		require.Equal(t, Stats{Hits: 2, Misses: 1, Sets: 1, Deletes: 1, Errors: 1}, fam.Stats())
	})
}

// TestInvalidateLargeFamilyOnRedis invalidates 100,000 keys on the real
// server and checks, with the slow log set to 10 ms, that no command of the
// invalidation blocked the server that long. The slow log measures wall
// time, so a server descheduled on a loaded machine logs commands that did
// not block it: the test fails only when each of three invalidations logs a
// slow command, which a design that blocks the server (KEYS, one DEL of the
// whole family) always does.
func TestInvalidateLargeFamilyOnRedis(t *testing.T) {
	e := redisEnv(t)
	ctx := context.Background()
	client := e.conn.b.(*redisbackend.Backend).Client().(*redis.Client)
	require.NoError(t, client.ConfigSet(ctx, "slowlog-log-slower-than", "10000").Err())
	defer client.ConfigSet(ctx, "slowlog-log-slower-than", "10000")
	var slow []redis.SlowLog
	for attempt := 1; attempt <= 3; attempt++ {
		slow = invalidateLargeFamily(t, client, e.conn)
		if len(slow) == 0 {
			return
		}
		t.Logf("attempt %d: %d slow commands, the first %v for %s", attempt, len(slow), slow[0].Args, slow[0].Duration)
	}
	for _, s := range slow {
		t.Errorf("a command blocked the server for %s: %v", s.Duration, s.Args)
	}
}

// invalidateLargeFamily fills a family of 100,000 keys, invalidates it with
// the slow log reset, checks that exactly the family went, and returns the
// slow log's entries.
func invalidateLargeFamily(t *testing.T, client *redis.Client, conn *Conn) []redis.SlowLog {
	t.Helper()
	ctx := context.Background()
	const keys = 100_000
	require.NoError(t, fillFamily(ctx, client, "big", keys))
	require.NoError(t, client.Set(ctx, "bigger:1", "another family", 0).Err())
	require.NoError(t, client.SlowLogReset(ctx).Err())
	start := time.Now()
	n, err := NewKeyCache[int](Options{Prefix: "big", Conn: conn}).Invalidate(ctx)
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, keys, n)
	slow, err := client.SlowLogGet(ctx, 100).Result()
	require.NoError(t, err)
	t.Logf("invalidated %d keys in %s (BenchmarkInvalidate measures it); %d commands took 10 ms or more", n, elapsed, len(slow))
	size, _ := client.DBSize(ctx).Result()
	require.Equal(t, int64(1), size, "only the other family's key is left")
	return slow
}

// fillFamily writes n keys prefix:0 … prefix:n-1, pipelined.
func fillFamily(ctx context.Context, c *redis.Client, prefix string, n int) error {
	for start := 0; start < n; start += 10_000 {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < start+10_000 && i < n; i++ {
				p.Set(ctx, prefix+":"+strconv.Itoa(i), i, time.Hour)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TestInvalidateNonUTF8Prefix invalidates families whose prefixes are not
// valid UTF-8: each loses exactly its own keys, and families whose keys a
// rune-wise escaping (the bad byte turned into U+FFFD) or a one-byte
// wildcard would match keep theirs.
func TestInvalidateNonUTF8Prefix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fams := map[string]*KeyCache[int]{}
		for _, p := range []string{"a\xff", "a\uFFFD", "a\xfe", "a", "caf\xc3\xa9\xe2\x82*", "caf\xc3\xa9\uFFFD\uFFFD*", "caf\xc3\xa9xx*", `b\E`, "b?E"} {
			fams[p] = NewKeyCache[int](e.opts(p))
			for i := range 5 {
				require.NoError(t, fams[p].Key(i).Set(ctx, i))
			}
			require.NoError(t, fams[p].Key().Set(ctx, -1))
		}
		for _, p := range []string{"a\xff", "caf\xc3\xa9\xe2\x82*", `b\E`} {
			n, err := fams[p].Invalidate(ctx)
			require.NoError(t, err)
			require.Equal(t, 6, n, "family %q loses its own keys", p)
		}
		for p, f := range fams {
			gone := p == "a\xff" || p == "caf\xc3\xa9\xe2\x82*" || p == `b\E`
			for i := range 5 {
				has, err := f.Key(i).Has(ctx)
				require.NoError(t, err)
				require.Equal(t, !gone, has, "key %q", f.Key(i).String())
			}
		}
	})
}

// TestDroppedFamiliesAreCollected creates 20,000 families per "request" on
// one in-process connection, with dependencies between them and on
// long-lived families, and drops them: the garbage collector reclaims them,
// the connection's and the dependency graph's records of them go, and the
// long-lived families keep their dependencies, including one declared
// through a dropped family.
func TestDroppedFamiliesAreCollected(t *testing.T) {
	ctx := context.Background()
	conn := NewMemoryConn(MemoryOptions{MaxKeys: 100_000})
	t.Cleanup(func() { conn.Close() })
	base := NewKeyCache[int](Options{Prefix: "base", Conn: conn})
	leaf := NewKeyCache[int](Options{Prefix: "leaf", Conn: conn})
	throughDropped := NewKeyCache[int](Options{Prefix: "through", Conn: conn})
	require.NoError(t, leaf.DependsOn(base))
	before := familyRecords(conn)

	start := time.Now()
	perRequestFamilies(t, conn, base, throughDropped, 20_000)
	t.Logf("20,000 families created in %s", time.Since(start))
	require.NotEqual(t, before, familyRecords(conn), "the families were recorded")
	want := before
	want.nodes++ // through, which depends on base once mid is gone
	want.edges++
	collected := poll.Until(30*time.Second, 10*time.Millisecond, func() bool {
		runtime.GC()
		return familyRecords(conn) == want
	})
	require.True(t, collected, "records %+v, want %+v", familyRecords(conn), want)

	for _, f := range []*KeyCache[int]{base, leaf, throughDropped} {
		require.NoError(t, f.Key(1).Set(ctx, 1))
	}
	n, err := base.Invalidate(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "base, its live dependent and the one declared through a dropped family")
	for _, f := range []*KeyCache[int]{base, leaf, throughDropped} {
		has, _ := f.Key(1).Has(ctx)
		require.False(t, has, "%s was invalidated", f.describe())
	}
}

// perRequestFamilies creates n families on conn, as a handler creating its
// families per request would, each depending on base (some through another
// of them, some memoized), and one that through depends on; all of them are
// dropped when it returns.
func perRequestFamilies(t *testing.T, conn *Conn, base, through Family, n int) {
	ctx := context.Background()
	mid := NewKeyCache[int](Options{Prefix: "mid", Conn: conn})
	require.NoError(t, mid.DependsOn(base))
	require.NoError(t, through.base().DependsOn(mid))
	var prev Family = base
	for i := range n {
		o := Options{Prefix: "req" + strconv.Itoa(i%1000) + ":" + strconv.Itoa(i), Conn: conn}
		var f Family
		if i%10 == 0 {
			m := Memoize(func(ctx context.Context, s string) (string, error) { return s, nil }, MemoOptions[string]{Options: o})
			_, err := m.Call(ctx, "x")
			require.NoError(t, err)
			f = m
		} else {
			k := NewKeyCache[int](o)
			require.NoError(t, k.Key(1).Set(ctx, i))
			f = k
		}
		require.NoError(t, f.base().DependsOn(prev))
		if prev = f; i%3 == 0 {
			prev = base
		}
	}
}

// records counts what the library keeps about families: the connection's
// records by prefix (and of prefixes extending others) and the dependency
// graph's nodes and edges.
type records struct{ prefixes, families, extended, nodes, edges int }

func familyRecords(c *Conn) records {
	var r records
	c.families.mu.RLock()
	r.prefixes = len(c.families.byPrefix)
	for _, fs := range c.families.byPrefix {
		r.families += len(fs)
	}
	for _, ps := range c.families.extended {
		r.extended += len(ps)
	}
	c.families.mu.RUnlock()
	deps.mu.Lock()
	defer deps.mu.Unlock()
	r.nodes = len(deps.nodes)
	for _, n := range deps.nodes {
		r.edges += len(n.dependents)
	}
	return r
}

// TestPrefixOverlap declares two families on one connection in turn: when
// one's prefix (the hash tag applied) is the other's followed by ':' (or by
// a lease's or a dependents record's suffix), the second is refused and its operations say
// why, naming both prefixes; the first works.
func TestPrefixOverlap(t *testing.T) {
	for _, tc := range []struct {
		first, second Options
		refused       bool
	}{
		{Options{Prefix: "user"}, Options{Prefix: "user:eu"}, true},
		{Options{Prefix: "user:eu"}, Options{Prefix: "user"}, true},
		{Options{Prefix: "a"}, Options{Prefix: "a:b:c"}, true},
		{Options{Prefix: "a:b:c"}, Options{Prefix: "a"}, true},
		{Options{Prefix: "user"}, Options{Prefix: "user:"}, true},
		{Options{Prefix: "user", HashTag: true}, Options{Prefix: "{user}:eu"}, true},
		{Options{Prefix: "{user}:eu"}, Options{Prefix: "user", HashTag: true}, true},
		{Options{Prefix: "x"}, Options{Prefix: "x%lease"}, true},
		{Options{Prefix: "x%lease"}, Options{Prefix: "x"}, true},
		{Options{Prefix: "x"}, Options{Prefix: "x%deps"}, true},
		{Options{Prefix: "x%deps"}, Options{Prefix: "x"}, true},
		{Options{Prefix: "user", HashTag: true}, Options{Prefix: "user:eu", HashTag: true}, false},
		{Options{Prefix: "user"}, Options{Prefix: "{user}:eu"}, false},
		{Options{Prefix: "user"}, Options{Prefix: "users"}, false},
		{Options{Prefix: "user"}, Options{Prefix: "user-eu"}, false},
		{Options{Prefix: "user"}, Options{Prefix: "user"}, false},
		{Options{Prefix: "user:eu"}, Options{Prefix: "user:us"}, false},
		{Options{}, Options{Prefix: "user"}, false},
		{Options{Prefix: "user"}, Options{}, false},
	} {
		name := func(o Options) string {
			if o.HashTag {
				return fmt.Sprintf("%q tagged", o.Prefix)
			}
			return fmt.Sprintf("%q", o.Prefix)
		}
		t.Run(name(tc.first)+" then "+name(tc.second), func(t *testing.T) {
			ctx := context.Background()
			conn := NewMemoryConn(MemoryOptions{})
			t.Cleanup(func() { conn.Close() })
			tc.first.Conn, tc.second.Conn = conn, conn
			first := NewKeyCache[int](tc.first)
			second := NewKeyCache[int](tc.second)
			require.NoError(t, first.Key(1).Set(ctx, 1))
			err := second.Key(2).Set(ctx, 2)
			if !tc.refused {
				require.NoError(t, err)
				return
			}
			requireOverlap(t, err, first.prefix, second.prefix)
			_, err = second.Invalidate(ctx)
			requireOverlap(t, err, first.prefix, second.prefix)
			has, err := first.Key(1).Has(ctx)
			require.NoError(t, err)
			require.True(t, has, "the first family is untouched")
		})
	}
}

func requireOverlap(t *testing.T, err error, a, b string) {
	t.Helper()
	require.ErrorIs(t, err, ErrPrefixOverlap)
	require.ErrorContains(t, err, strconv.Quote(a))
	require.ErrorContains(t, err, strconv.Quote(b))
}

// TestPrefixOverlapScope checks where the overlap rule applies: per
// connection, to families given their connection and to those that find
// it by name (checked at first use), to memoized functions, and only to
// families the program still holds.
func TestPrefixOverlapScope(t *testing.T) {
	ctx := context.Background()
	t.Run("per connection", func(t *testing.T) {
		one, two := NewMemoryConn(MemoryOptions{}), NewMemoryConn(MemoryOptions{})
		t.Cleanup(func() { one.Close(); two.Close() })
		require.NoError(t, NewKeyCache[int](Options{Prefix: "user", Conn: one}).Key(1).Set(ctx, 1))
		require.NoError(t, NewKeyCache[int](Options{Prefix: "user:eu", Conn: two}).Key(1).Set(ctx, 1))
	})
	t.Run("by name", func(t *testing.T) {
		conn := NewMemoryConn(MemoryOptions{})
		t.Cleanup(func() { conn.Close() })
		require.NoError(t, Register("overlap-test", conn))
		t.Cleanup(func() { Unregister("overlap-test") })
		named := NewKeyCache[int](Options{Prefix: "user:eu", Connection: "overlap-test"})
		direct := NewKeyCache[int](Options{Prefix: "user", Conn: conn})
		require.NoError(t, direct.Key(1).Set(ctx, 1), "the named family was not used yet")
		requireOverlap(t, named.Key(1).Set(ctx, 1), "user", "user:eu")
		_, err := NewDictCache[string, int](Options{Prefix: "user:us", Connection: "overlap-test"}).Key(1).Len(ctx)
		requireOverlap(t, err, "user", "user:us")
	})
	t.Run("memoized", func(t *testing.T) {
		conn := NewMemoryConn(MemoryOptions{})
		t.Cleanup(func() { conn.Close() })
		require.NoError(t, Register("overlap-memo", conn))
		t.Cleanup(func() { Unregister("overlap-memo") })
		require.NoError(t, NewKeyCache[int](Options{Prefix: "user", Conn: conn}).Key(1).Set(ctx, 1))
		var calls atomic.Int32
		fn := func(ctx context.Context, s string) (string, error) { calls.Add(1); return s, nil }
		for _, o := range []Options{{Prefix: "user:eu", Conn: conn}, {Prefix: "user:eu", Connection: "overlap-memo"}} {
			_, err := Memoize(fn, MemoOptions[string]{Options: o}).Call(ctx, "x")
			requireOverlap(t, err, "user", "user:eu")
		}
		require.Zero(t, calls.Load(), "a refused Memo does not compute")
	})
	t.Run("dropped families are forgotten", func(t *testing.T) {
		conn := NewMemoryConn(MemoryOptions{})
		t.Cleanup(func() { conn.Close() })
		func() {
			require.NoError(t, NewKeyCache[int](Options{Prefix: "user", Conn: conn}).Key(1).Set(ctx, 1))
		}()
		var err error
		forgotten := poll.Until(10*time.Second, 10*time.Millisecond, func() bool {
			runtime.GC()
			err = NewKeyCache[int](Options{Prefix: "user:eu", Conn: conn}).Key(1).Set(ctx, 1)
			return err == nil
		})
		require.True(t, forgotten, "still refused: %v", err)
	})
}

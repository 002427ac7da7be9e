package caches

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTTLJitterValidation(t *testing.T) {
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	tests := []struct {
		name      string
		ttl, jit  time.Duration
		wantError string // "": valid
	}{
		{"none", time.Hour, 0, ""},
		{"below the TTL", time.Hour, time.Hour - time.Millisecond, ""},
		{"below the default TTL", 0, DefaultTTL - time.Minute, ""},
		{"negative", time.Hour, -time.Second, `caches: family "jit": Options.TTLJitter -1s is negative`},
		{"the TTL", time.Hour, time.Hour, `Options.TTLJitter 1h0m0s must be less than the TTL, 1h0m0s`},
		{"beyond the TTL", time.Minute, time.Hour, `Options.TTLJitter 1h0m0s must be less than the TTL, 1m0s`},
		{"the default TTL", 0, DefaultTTL, `Options.TTLJitter 2h0m0s must be less than the TTL, 2h0m0s`},
		{"no expiry", NoExpiry, time.Second, `Options.TTLJitter 1s needs a TTL; Options.TTL is NoExpiry`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKeyCache[string](Options{Prefix: "jit", TTL: tt.ttl, TTLJitter: tt.jit, Conn: conn}).Key(1)
			err := k.Set(t.Context(), "v")
			if tt.wantError == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantError)
			_, err = NewSortedSetCache[string](Options{Prefix: "jitz", TTL: tt.ttl, TTLJitter: tt.jit, Conn: conn}).Key(1).Add(t.Context(), "m", 1)
			require.ErrorContains(t, err, "Options.TTLJitter", "every family type refuses it")
		})
	}
}

// sequence returns a random source that yields n-1, n-2, … (mod n): the
// largest jitter first, then one millisecond less each time.
func sequence() func(n int64) int64 {
	var i int64
	return func(n int64) int64 {
		i++
		return (n - i%n) % n
	}
}

// TestTTLJitterEveryWrite checks, with a deterministic random source, that
// every write that refreshes the family's TTL draws a jittered TTL, and
// that a TTL given in the call is kept exactly.
func TestTTLJitterEveryWrite(t *testing.T) {
	const ttl, jitter = time.Hour, 10 * time.Minute
	const most = ttl - jitter + time.Millisecond // the TTL with the largest jitter drawn
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		opts := func(prefix string) Options {
			o := e.opts(prefix)
			o.TTL, o.TTLJitter = ttl, jitter
			return o
		}
		largest := func(f *family) { f.randN = func(n int64) int64 { return n - 1 } }
		requireTTL := func(h handle, want time.Duration, op string) {
			t.Helper()
			got, err := h.TTL(ctx)
			require.NoError(t, err, op)
			require.InDelta(t, float64(want), float64(got), float64(2*time.Second), "%s: TTL of %s", op, h.key)
		}

		keys := NewKeyCache[int](opts("jk"))
		largest(keys.family)
		writes := map[string]func(Key[int]) error{
			"Set":  func(k Key[int]) error { return k.Set(ctx, 1) },
			"Add":  func(k Key[int]) error { _, err := k.Add(ctx, 1); return err },
			"Incr": func(k Key[int]) error { _, err := k.Incr(ctx, 1); return err },
			"GetOrLoad": func(k Key[int]) error {
				_, err := k.GetOrLoad(ctx, func(context.Context) (int, error) { return 1, nil })
				return err
			},
		}
		for op, write := range writes {
			k := keys.Key(op)
			require.NoError(t, write(k), op)
			requireTTL(k.handle, most, op)
		}
		require.NoError(t, keys.Key("exact").SetTTL(ctx, 1, ttl))
		requireTTL(keys.Key("exact").handle, ttl, "SetTTL keeps its TTL")

		keys.family.randN = sequence()
		var entries []Entry[int]
		for i := range 3 {
			entries = append(entries, Entry[int]{Key: keys.Key("many", i), Value: i})
		}
		require.NoError(t, keys.SetMany(ctx, entries...))
		for i, en := range entries {
			requireTTL(en.Key.handle, most+time.Duration(i)*time.Millisecond, "SetMany draws each key's TTL")
		}

		dicts := NewDictCache[string, int](opts("jd"))
		largest(dicts.family)
		d := dicts.Key(1)
		for op, write := range map[string]func() error{
			"Dict.Set":     func() error { return d.Set(ctx, "a", 1) },
			"Dict.SetMany": func() error { return d.SetMany(ctx, map[string]int{"b": 2}) },
			"Dict.Add":     func() error { _, err := d.Add(ctx, "c", 3); return err },
			"Dict.Incr":    func() error { _, err := d.Incr(ctx, "a", 1); return err },
		} {
			_, err := d.Persist(ctx)
			require.NoError(t, err)
			require.NoError(t, write(), op)
			requireTTL(d.handle, most, op)
		}

		setOpts := opts("js")
		setOpts.HashTag = true // set algebra across handles needs one slot on a cluster
		sets := NewSetCache[string](setOpts)
		largest(sets.family)
		s := sets.Key(1)
		_, err := s.Add(ctx, "m")
		require.NoError(t, err)
		requireTTL(s.handle, most, "Set.Add")
		_, err = sets.Key(2).StoreUnion(ctx, s)
		require.NoError(t, err)
		requireTTL(sets.Key(2).handle, most, "Set.StoreUnion")

		zsets := NewSortedSetCache[string](opts("jz"))
		largest(zsets.family)
		z := zsets.Key(1)
		_, err = z.Add(ctx, "m", 1)
		require.NoError(t, err)
		requireTTL(z.handle, most, "SortedSet.Add")
		_, err = z.Persist(ctx)
		require.NoError(t, err)
		_, err = z.Incr(ctx, "m", 1)
		require.NoError(t, err)
		requireTTL(z.handle, most, "SortedSet.Incr")

		counters := NewCounterCache[string](opts("jc"))
		largest(counters.family)
		c := counters.Key(1)
		for op, write := range map[string]func() error{
			"Counter.Incr":   func() error { _, err := c.Incr(ctx, "a", 1); return err },
			"Counter.Set":    func() error { return c.Set(ctx, "b", 2) },
			"Counter.Update": func() error { return c.Update(ctx, map[string]int64{"c": 3}) },
		} {
			_, err := c.Persist(ctx)
			require.NoError(t, err)
			require.NoError(t, write(), op)
			requireTTL(c.handle, most, op)
		}

		memo := Memoize(func(_ context.Context, id int) (string, error) { return strconv.Itoa(id), nil },
			MemoOptions[int]{Options: opts("jm")})
		largest(memo.family)
		_, err = memo.Call(ctx, 7)
		require.NoError(t, err)
		key, err := memo.Key(7)
		require.NoError(t, err)
		requireTTL(handle{f: memo.family, key: key}, most, "Memoize")
		raw, _, err := e.b.Get(ctx, key)
		require.NoError(t, err)
		entry, ok := parseEntry(raw)
		require.True(t, ok)
		expiry, err := strconv.ParseInt(entry.expiry, 10, 64)
		require.NoError(t, err)
		require.InDelta(t, float64(e.now().Add(most).UnixMilli()), float64(expiry), float64(2*time.Second/time.Millisecond),
			"the stored expiry is the TTL drawn")
	})
}

// TestTTLJitterSpread checks, with the real random source, that keys
// written together get TTLs spread over (TTL-TTLJitter, TTL], one by one
// and in one SetMany.
func TestTTLJitterSpread(t *testing.T) {
	const ttl, jitter, n = time.Hour, 30 * time.Minute, 100
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o := e.opts("spread")
		o.TTL, o.TTLJitter = ttl, jitter
		keys := NewKeyCache[int](o)
		entries := make([]Entry[int], n)
		for i := range entries {
			entries[i] = Entry[int]{Key: keys.Key("many", i), Value: i}
			require.NoError(t, keys.Key("one", i).Set(ctx, i))
		}
		require.NoError(t, keys.SetMany(ctx, entries...))
		for _, group := range []string{"one", "many"} {
			seen := map[time.Duration]bool{}
			for i := range n {
				got, err := keys.Key(group, i).TTL(ctx)
				require.NoError(t, err)
				require.Greater(t, got, ttl-jitter-5*time.Second, "%s %d", group, i)
				require.LessOrEqual(t, got, ttl, "%s %d", group, i)
				seen[got.Truncate(time.Second)] = true
			}
			require.Greater(t, len(seen), n/2, "%s: TTLs spread over the jitter (%d distinct seconds of %d keys)", group, len(seen), n)
		}
	})
}

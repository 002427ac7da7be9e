package caches

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counted wraps a loader: it counts its calls.
func counted[T any](calls *atomic.Int32, v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { calls.Add(1); return v, nil }
}

func TestDictOrLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewDictCache[string, int](Options{Prefix: "dol", TTL: time.Minute, Conn: e.conn})
		var calls atomic.Int32
		load := counted(&calls, map[string]int{"a": 1, "b": 2})
		v, err := c.Key(1).GetOrLoad(ctx, "b", load)
		require.NoError(t, err)
		require.Equal(t, 2, v)
		m, err := c.Key(1).Map(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"a": 1, "b": 2}, m, "the whole hash stored")
		ttl, err := c.Key(1).TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, time.Minute, ttl, float64(5*time.Second))

		_, err = c.Key(1).GetOrLoad(ctx, "zz", load)
		require.ErrorIs(t, err, ErrNotFound, "a field missing from an existing hash")
		m, err = c.Key(1).MapOrLoad(ctx, load)
		require.NoError(t, err)
		require.Len(t, m, 2)
		require.Equal(t, int32(1), calls.Load(), "hits do not load")

		_, err = c.Key(2).GetOrLoad(ctx, "zz", load)
		require.ErrorIs(t, err, ErrNotFound, "a field missing from the loaded map")
		m, err = c.Key(3).MapOrLoad(ctx, load)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"a": 1, "b": 2}, m)
		require.Equal(t, int32(3), calls.Load())
		require.Equal(t, uint64(3), c.Stats().Loads)

		boom := errors.New("boom")
		_, err = c.Key(4).MapOrLoad(ctx, func(context.Context) (map[string]int, error) { return nil, boom })
		require.ErrorIs(t, err, boom)
		m, err = c.Key(5).MapOrLoad(ctx, counted(&calls, map[string]int{}))
		require.NoError(t, err)
		require.Empty(t, m)
		for _, k := range []int{4, 5} {
			ok, err := e.b.Exists(ctx, c.Key(k).String())
			require.NoError(t, err)
			require.False(t, ok, "nothing stored for a failed or empty load")
		}
	})
}

func TestSetOrLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewSetCache[int](Options{Prefix: "sol", TTL: time.Minute, Conn: e.conn})
		var calls atomic.Int32
		load := counted(&calls, []int{1, 2, 3})
		ok, err := c.Key("u").HasOrLoad(ctx, 2, load)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = c.Key("u").HasOrLoad(ctx, 9, load)
		require.NoError(t, err)
		require.False(t, ok, "not a member of the stored set")
		m, err := c.Key("u").MembersOrLoad(ctx, load)
		require.NoError(t, err)
		require.ElementsMatch(t, []int{1, 2, 3}, m)
		require.Equal(t, int32(1), calls.Load())
		m, err = c.Key("v").MembersOrLoad(ctx, load)
		require.NoError(t, err)
		require.ElementsMatch(t, []int{1, 2, 3}, m)
		ttl, err := c.Key("v").TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, time.Minute, ttl, float64(5*time.Second))
		ok, err = c.Key("w").HasOrLoad(ctx, 9, load)
		require.NoError(t, err)
		require.False(t, ok, "not a member of the loaded set")
		require.Equal(t, int32(3), calls.Load())
	})
}

func TestSortedSetOrLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewSortedSetCache[string](Options{Prefix: "zol", TTL: time.Minute, Conn: e.conn})
		var calls atomic.Int32
		load := counted(&calls, []Scored[string]{{"c", 3}, {"a", 1}, {"b", 1}})
		top, err := c.Key(1).RangeOrLoad(ctx, 0, 1, load)
		require.NoError(t, err)
		require.Equal(t, []Scored[string]{{"a", 1}, {"b", 1}}, top, "ordered as Redis orders them")
		all, err := c.Key(1).RangeOrLoad(ctx, 0, -1, load)
		require.NoError(t, err)
		require.Len(t, all, 3)
		none, err := c.Key(1).RangeOrLoad(ctx, 10, 20, load)
		require.NoError(t, err)
		require.Empty(t, none, "an empty range of an existing set")
		require.Equal(t, int32(1), calls.Load())
		ttl, err := c.Key(1).TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, time.Minute, ttl, float64(5*time.Second))
	})
}

// TestCollectionLoadCoalesces: concurrent misses of one hash call the
// loader once.
func TestCollectionLoadCoalesces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := NewDictCache[string, int](e.opts("dol-co"))
		d := c.Key(1)
		var calls atomic.Int32
		release := make(chan struct{})
		load := func(context.Context) (map[string]int, error) {
			calls.Add(1)
			<-release
			return map[string]int{"a": 1}, nil
		}
		const n = 8
		results := make(chan int, n)
		for range n {
			go func() {
				v, err := d.GetOrLoad(context.Background(), "a", load)
				if err != nil {
					v = -1
				}
				results <- v
			}()
		}
		waitFor(t, "every caller joined the load", func() bool {
			c.loads.mu.Lock()
			defer c.loads.mu.Unlock()
			f := c.loads.calls[d.key]
			return f != nil && f.waiters == n-1
		})
		close(release)
		for range n {
			require.Equal(t, 1, <-results)
		}
		require.Equal(t, int32(1), calls.Load())
	})
}

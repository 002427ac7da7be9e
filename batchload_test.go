package caches

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// source is a loader of GetManyOrLoad over ids 1..10 (a missing id is not
// found), recording what it was asked.
type source struct {
	calls atomic.Int32
	asked chan []int64
}

func (s *source) load(_ context.Context, missing []Key[string]) ([]Entry[string], error) {
	s.calls.Add(1)
	var ids []int64
	var out []Entry[string]
	for _, k := range missing {
		id, err := Arg[int64](k, 0)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
		if id <= 10 {
			out = append(out, Entry[string]{Key: k, Value: "v" + k.String()})
		}
	}
	if s.asked != nil {
		s.asked <- ids
	}
	return out, nil
}

func TestGetManyOrLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewKeyCache[string](Options{Prefix: "gmol", TTL: time.Minute, Conn: e.conn})
		require.NoError(t, c.Key(1).Set(ctx, "cached"))
		src := &source{asked: make(chan []int64, 1)}
		handles := []Key[string]{c.Key(1), c.Key(2), c.Key(11), c.Key(3), c.Key(2)}
		values, found, err := c.GetManyOrLoad(ctx, handles, src.load)
		require.NoError(t, err)
		require.Equal(t, []int64{2, 11, 3}, <-src.asked, "the missing keys, each once")
		require.Equal(t, []bool{true, true, false, true, true}, found)
		require.Equal(t, []string{"cached", "vgmol:2", "", "vgmol:3", "vgmol:2"}, values)

		ttl, err := c.Key(3).TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, time.Minute, ttl, float64(5*time.Second), "stored with the family's TTL")
		values, found, err = c.GetManyOrLoad(ctx, handles, src.load)
		require.NoError(t, err)
		require.Equal(t, []int64{11}, <-src.asked, "only the key the source lacks")
		require.Equal(t, []bool{true, true, false, true, true}, found)
		require.Equal(t, "vgmol:3", values[3])
		require.Equal(t, uint64(2), c.Stats().Loads)
	})
}

func TestGetManyOrLoadErrors(t *testing.T) {
	ctx := t.Context()
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	c := NewKeyCache[string](Options{Prefix: "gmol-err", Conn: conn})
	boom := errors.New("boom")
	_, _, err := c.GetManyOrLoad(ctx, []Key[string]{c.Key(1)}, func(context.Context, []Key[string]) ([]Entry[string], error) {
		return nil, boom
	})
	require.ErrorIs(t, err, boom)
	_, _, err = c.GetManyOrLoad(ctx, []Key[string]{c.Key(1)}, func(context.Context, []Key[string]) ([]Entry[string], error) {
		return []Entry[string]{{Key: c.Key(2), Value: "x"}}, nil
	})
	require.ErrorContains(t, err, "not given")
	ok, err := c.Key(2).Has(ctx)
	require.NoError(t, err)
	require.False(t, ok, "nothing stored")
	other := NewKeyCache[string](Options{Prefix: "gmol-other", Conn: conn})
	_, _, err = c.GetManyOrLoad(ctx, []Key[string]{other.Key(1)}, (&source{}).load)
	require.ErrorContains(t, err, "another family")
	require.Panics(t, func() {
		c.GetManyOrLoad(ctx, []Key[string]{c.Key(5)}, func(context.Context, []Key[string]) ([]Entry[string], error) {
			panic("loader panic")
		})
	}, "a panic reaches the caller")
}

// TestGetManyOrLoadFallsBack: a failed read is served by the loader and
// nothing stored, unless Strict.
func TestGetManyOrLoadFallsBack(t *testing.T) {
	for _, strict := range []bool{false, true} {
		conn := NewMemoryConn(MemoryOptions{})
		c := NewKeyCache[string](Options{Prefix: "gmol-fallback", Conn: conn}).WithHooks(Hooks[string]{Strict: strict})
		require.NoError(t, conn.b.Close())
		src := &source{}
		values, found, err := c.GetManyOrLoad(t.Context(), []Key[string]{c.Key(1), c.Key(12)}, src.load)
		if strict {
			require.ErrorIs(t, err, ErrClosed)
			require.Zero(t, src.calls.Load())
			continue
		}
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, found)
		require.Equal(t, "vgmol-fallback:1", values[0])
	}
}

// TestGetManyOrLoadCoalesces: a batch joins a single GetOrLoad of one of
// its keys in flight, and a single GetOrLoad of a key the batch is loading
// joins the batch; every function runs once.
func TestGetManyOrLoadCoalesces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := NewKeyCache[string](Options{Prefix: "gmol-co", Conn: e.conn})
		release := make(chan struct{})
		var singles atomic.Int32
		single := func(context.Context) (string, error) { singles.Add(1); <-release; return "single", nil }
		done := make(chan string, 2)
		go func() { v, _ := c.Key(1).GetOrLoad(context.Background(), single); done <- v }()
		waitFor(t, "the single load runs", func() bool { return singles.Load() == 1 })

		src := &source{asked: make(chan []int64, 1)}
		batch := func(ctx context.Context, missing []Key[string]) ([]Entry[string], error) {
			<-release
			return src.load(ctx, missing)
		}
		type result struct {
			values []string
			err    error
		}
		batchDone := make(chan result, 1)
		go func() {
			v, _, err := c.GetManyOrLoad(context.Background(), []Key[string]{c.Key(1), c.Key(2)}, batch)
			batchDone <- result{v, err}
		}()
		waitFor(t, "the batch joined the single load", func() bool { return c.waiters(c.Key(1).key) == 1 })
		go func() { v, _ := c.Key(2).GetOrLoad(context.Background(), single); done <- v }()
		waitFor(t, "a single GetOrLoad joined the batch", func() bool { return c.waiters(c.Key(2).key) == 1 })
		close(release)
		r := <-batchDone
		require.NoError(t, r.err)
		require.Equal(t, []string{"single", "vgmol-co:2"}, r.values)
		require.ElementsMatch(t, []string{"single", "vgmol-co:2"}, []string{<-done, <-done})
		require.Equal(t, []int64{2}, <-src.asked, "the batch loaded only the key not in flight")
		require.Equal(t, int32(1), singles.Load())
	})
}

// waiters returns how many callers joined key's running load, or -1.
func (c *KeyCache[V]) waiters(key string) int {
	c.loads.mu.Lock()
	defer c.loads.mu.Unlock()
	if f, ok := c.loads.calls[key]; ok {
		return f.waiters
	}
	return -1
}

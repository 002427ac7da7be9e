package caches

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGetOrLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewKeyCache[string](Options{Prefix: "gol", TTL: time.Minute, Conn: e.conn})
		calls := 0
		load := func(context.Context) (string, error) { calls++; return "computed", nil }
		v, err := c.Key(1).GetOrLoad(ctx, load)
		require.NoError(t, err)
		require.Equal(t, "computed", v)
		v, err = c.Key(1).GetOrLoad(ctx, load)
		require.NoError(t, err)
		require.Equal(t, "computed", v)
		require.Equal(t, 1, calls, "the second call is a hit")
		ttl, err := c.Key(1).TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, time.Minute, ttl, float64(5*time.Second), "stored with the family's TTL")
		s := c.Stats()
		require.Equal(t, uint64(1), s.Loads)
		require.Equal(t, uint64(1), s.Misses)
		require.Equal(t, uint64(2), s.Hits, "the second GetOrLoad and TTL")
	})
}

// TestGetOrLoadCoalesces shows that concurrent misses of one key call the
// function once.
func TestGetOrLoadCoalesces(t *testing.T) {
	t.Parallel()
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	c := NewKeyCache[int](Options{Prefix: "gol-coalesce", Conn: conn})
	k := c.Key(1)
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, error) { <-release; return int(calls.Add(1)), nil }
	const n = 8
	results := make(chan int, n)
	for range n {
		go func() {
			v, _ := k.GetOrLoad(context.Background(), load)
			results <- v
		}()
	}
	waitFor(t, "every caller joined the load", func() bool {
		c.loads.mu.Lock()
		defer c.loads.mu.Unlock()
		f := c.loads.calls[k.key]
		return f != nil && f.waiters == n-1
	})
	close(release)
	for range n {
		require.Equal(t, 1, <-results)
	}
	require.Equal(t, int32(1), calls.Load())
}

// TestLoadFallsBackWhenTheBackendFails: read-through serves from the
// source when the cache fails, unless Strict.
func TestLoadFallsBackWhenTheBackendFails(t *testing.T) {
	for _, strict := range []bool{false, true} {
		conn := NewMemoryConn(MemoryOptions{})
		c := NewKeyCache[string](Options{Prefix: "fallback", Conn: conn}).WithHooks(Hooks[string]{
			Load:   func(context.Context, Key[string]) (string, error) { return "source", nil },
			Strict: strict,
		})
		require.NoError(t, conn.b.Close()) // the store fails under an open Conn
		v, err := c.Key(1).Get(t.Context())
		if strict {
			require.ErrorIs(t, err, ErrClosed)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, "source", v)
		require.Equal(t, uint64(1), c.Stats().Errors, "the backend failure counted")
		v, err = c.Key(2).GetOrLoad(t.Context(), func(context.Context) (string, error) { return "fn", nil })
		require.NoError(t, err)
		require.Equal(t, "fn", v)
	}
}

// TestGetOrLoadLeaseAcrossProcesses: with Hooks.Lease, two processes (two
// connections to one store) missing one key call the function once.
func TestGetOrLoadLeaseAcrossProcesses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		release := make(chan struct{})
		load := func(context.Context) (string, error) { calls.Add(1); <-release; return "once", nil }
		hooks := Hooks[string]{Lease: true, LeasePoll: time.Millisecond}
		one := NewKeyCache[string](e.opts("gol-lease")).WithHooks(hooks)
		two := NewKeyCache[string](Options{Prefix: "gol-lease", Conn: e.second(t)}).WithHooks(hooks)

		results := make(chan string, 2)
		go func() { v, _ := one.Key(7).GetOrLoad(context.Background(), load); results <- v }()
		waitFor(t, "process one loads", func() bool { return calls.Load() == 1 })
		go func() { v, _ := two.Key(7).GetOrLoad(context.Background(), load); results <- v }()
		waitFor(t, "process two waits for the lease", func() bool { return two.Stats().LeaseWaits == 1 })
		close(release)
		require.Equal(t, "once", <-results)
		require.Equal(t, "once", <-results)
		require.Equal(t, int32(1), calls.Load(), "one call across both processes")
		require.Zero(t, two.Stats().Loads)
		held, err := e.b.Exists(context.Background(), leaseKey(one.Key(7).String()))
		require.NoError(t, err)
		require.False(t, held, "the owner released its lease")
	})
}

// TestGetOrLoadLeaseOnRealRedis: two Conns on one real redis-server, as two
// processes, with many callers each: the function runs once.
func TestGetOrLoadLeaseOnRealRedis(t *testing.T) {
	e := redisEnv(t)
	var calls atomic.Int32
	load := func(context.Context) (int, error) { calls.Add(1); return 42, nil }
	hooks := Hooks[int]{Lease: true, LeasePoll: time.Millisecond}
	fams := []*KeyCache[int]{
		NewKeyCache[int](e.opts("gol-lease-real")).WithHooks(hooks),
		NewKeyCache[int](Options{Prefix: "gol-lease-real", Conn: e.second(t)}).WithHooks(hooks),
	}
	const perProcess = 16
	errs := make(chan error, 2*perProcess)
	for i := range 2 * perProcess {
		go func() {
			v, err := fams[i%2].Key("k").GetOrLoad(t.Context(), load)
			if err == nil && v != 42 {
				err = fmt.Errorf("got %d", v)
			}
			errs <- err
		}()
	}
	for range 2 * perProcess {
		require.NoError(t, <-errs)
	}
	require.Equal(t, int32(1), calls.Load())
}

package caches

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/coarsetime"
	"github.com/gocaches/caches/internal/poll"
	"github.com/stretchr/testify/require"
)

// slowSquare squares n after spinning for two milliseconds, so that Memoize
// records a compute time and its hits read the clock for early refresh.
func slowSquare(_ context.Context, n int) (int, error) {
	for start := time.Now(); time.Since(start) < 2*time.Millisecond; {
	}
	return n * n, nil
}

// memoHits runs a miss and then hits of a memoized slow function on conn,
// and reports whether the coarse clock ran during the hits.
func memoHits(t *testing.T, conn *Conn, hits int) (clockRan bool) {
	t.Helper()
	ctx := context.Background()
	square := Memoize(slowSquare, MemoOptions[int]{Options: Options{Prefix: "idle", Conn: conn, TTL: time.Hour}})
	for i := range hits + 1 {
		v, err := square.Call(ctx, 7)
		require.NoError(t, err)
		require.Equal(t, 49, v)
		clockRan = clockRan || (i > 0 && coarsetime.Running())
	}
	require.EqualValues(t, hits, square.Stats().Hits)
	return clockRan
}

// TestCoarseClockOnlyInProcess shows that the coarse clock runs only where
// it pays: Memoize's hits on a Redis connection read time.Now and leave it
// parked, while hits on the in-process store (on the real clock) read the
// store's coarse clock, which parks again once they stop.
func TestCoarseClockOnlyInProcess(t *testing.T) {
	parked := func() bool { return !coarsetime.Running() }
	for name, env := range map[string]func(*testing.T) *env{"miniredis": miniEnv, "redis": redisEnv} {
		t.Run(name, func(t *testing.T) {
			require.True(t, poll.Until(5*time.Second, time.Millisecond, parked), "the coarse clock never parked")
			require.False(t, memoHits(t, env(t).conn, 500), "hits on a Redis connection started the coarse clock")
		})
	}
	t.Run("in-process", func(t *testing.T) {
		conn := NewMemoryConn(MemoryOptions{})
		defer conn.Close()
		require.True(t, memoHits(t, conn, 500), "hits on the in-process store did not start the coarse clock")
		require.True(t, poll.Until(5*time.Second, time.Millisecond, parked), "the coarse clock did not park once unread")
	})
}

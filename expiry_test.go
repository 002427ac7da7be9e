package caches

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maxTTL is what TTL reports for a key whose remaining time a Duration
// cannot hold.
const maxTTL = time.Duration(math.MaxInt64)

// TestExpireAtFarFuture: a deadline after 2262 (where a Unix time in
// nanoseconds overflows) keeps the key with that deadline on every backend,
// and TTL reports a remaining time a Duration cannot hold as the largest
// Duration.
func TestExpireAtFarFuture(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		keys := NewKeyCache[string](e.opts("far"))
		cases := []struct {
			name string
			at   time.Time
			want time.Duration // the TTL; 0: the remaining time
		}{
			{"2300", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 0},
			{"3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), maxTTL},
			{"beyond unix ms", time.Unix(1<<62, 0), maxTTL},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := keys.Key(c.name)
				require.NoError(t, k.Set(ctx, "v"))
				ok, err := k.ExpireAt(ctx, c.at)
				require.NoError(t, err)
				require.True(t, ok)
				has, err := k.Has(ctx)
				require.NoError(t, err)
				require.True(t, has, "the key is kept")
				ttl, err := k.TTL(ctx)
				require.NoError(t, err)
				if c.want == 0 {
					require.InDelta(t, float64(c.at.Sub(e.now())), float64(ttl), float64(5*time.Second))
				} else {
					require.Equal(t, c.want, ttl)
				}
				e.advance(t, time.Hour)
				has, err = k.Has(ctx)
				require.NoError(t, err)
				require.True(t, has, "the key is still there an hour later")
			})
		}

		k := keys.Key("past")
		require.NoError(t, k.Set(ctx, "v"))
		ok, err := k.ExpireAt(ctx, time.Unix(-1<<62, 0))
		require.NoError(t, err)
		require.True(t, ok)
		has, err := k.Has(ctx)
		require.NoError(t, err)
		require.False(t, has, "a deadline in the far past deletes the key")
	})
}

// TestExpireHugeDuration: Expire with the largest Duration keeps the key,
// and TTL reports about that Duration.
func TestExpireHugeDuration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[string](e.opts("huge")).Key("k")
		require.NoError(t, k.Set(ctx, "v"))
		ok, err := k.Expire(ctx, maxTTL)
		require.NoError(t, err)
		require.True(t, ok)
		ttl, err := k.TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, float64(maxTTL), float64(ttl), float64(5*time.Second))
		require.NoError(t, k.SetTTL(ctx, "w", maxTTL))
		ttl, err = k.TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, float64(maxTTL), float64(ttl), float64(5*time.Second))
	})
}

// TestTTLOfServerDeadline: a deadline another client set beyond what a
// Duration holds (redis-cli PEXPIREAT key 9223372036854775807) reads as the
// largest Duration.
func TestTTLOfServerDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[string](e.opts("srv")).Key("k")
		require.NoError(t, k.Set(ctx, "v"))
		if rb, ok := e.b.(*redisBackend); ok {
			require.NoError(t, rb.c.Do(ctx, "pexpireat", k.key, int64(math.MaxInt64)).Err())
		} else {
			_, err := e.second(t).b.PExpireAt(ctx, k.key, time.UnixMilli(math.MaxInt64))
			require.NoError(t, err)
		}
		ttl, err := k.TTL(ctx)
		require.NoError(t, err)
		require.Equal(t, maxTTL, ttl)
	})
}

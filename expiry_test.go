package caches

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redisbackend"
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
		if rb, ok := e.b.(*redisbackend.Backend); ok {
			require.NoError(t, rb.Client().Do(ctx, "pexpireat", k.key, int64(math.MaxInt64)).Err())
		} else {
			_, err := e.second(t).b.PExpireAt(ctx, k.key, time.UnixMilli(math.MaxInt64))
			require.NoError(t, err)
		}
		ttl, err := k.TTL(ctx)
		require.NoError(t, err)
		require.Equal(t, maxTTL, ttl)
	})
}

// TestNoExpiryPerCall: NoExpiry as a per-call TTL stores without expiry;
// other non-positive TTLs delete.
func TestNoExpiryPerCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		keys := NewKeyCache[string](e.ttlOpts("noexp"))
		k := keys.Key("k")
		require.NoError(t, k.Set(ctx, "v1"))
		require.NoError(t, k.SetTTL(ctx, "v2", NoExpiry))
		v, err := k.Get(ctx)
		require.NoError(t, err, "SetTTL with NoExpiry stores the value")
		require.Equal(t, "v2", v)
		requireNoExpiry(t, k.handle)
		e.advance(t, 2*time.Hour)
		v, err = k.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "v2", v)

		for _, d := range []time.Duration{0, -2, math.MinInt64} {
			require.NoError(t, k.Set(ctx, "v"))
			require.NoError(t, k.SetTTL(ctx, "w", d))
			_, err = k.Get(ctx)
			require.ErrorIs(t, err, ErrNotFound, "SetTTL with %v deletes", d)
		}

		require.NoError(t, k.Set(ctx, "v3"))
		ok, err := k.Expire(ctx, NoExpiry)
		require.NoError(t, err)
		require.True(t, ok, "Expire reports that the key exists")
		requireNoExpiry(t, k.handle)
		ok, err = k.Expire(ctx, NoExpiry)
		require.NoError(t, err)
		require.True(t, ok, "a key without expiry exists too")
		requireNoExpiry(t, k.handle)
		v, err = k.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "v3", v)

		missing := keys.Key("missing")
		ok, err = missing.Expire(ctx, NoExpiry)
		require.NoError(t, err)
		require.False(t, ok)
		has, err := missing.Has(ctx)
		require.NoError(t, err)
		require.False(t, has, "Expire creates nothing")

		d := NewDictCache[string, int](e.ttlOpts("noexpdict")).Key("d")
		require.NoError(t, d.Set(ctx, "f", 1))
		ok, err = d.Expire(ctx, NoExpiry)
		require.NoError(t, err)
		require.True(t, ok)
		requireNoExpiry(t, d.handle)

		for _, dur := range []time.Duration{0, -2} {
			require.NoError(t, k.Set(ctx, "v"))
			ok, err = k.Expire(ctx, dur)
			require.NoError(t, err)
			require.True(t, ok)
			has, err = k.Has(ctx)
			require.NoError(t, err)
			require.False(t, has, "Expire with %v deletes", dur)
		}
	})
}

// TestMemoizeErrorTTLNoExpiry: MemoOptions.ErrorTTL set to NoExpiry caches
// errors without expiry; another negative value caches none.
func TestMemoizeErrorTTLNoExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fn := func(ctx context.Context, id string) (string, error) { return "", errors.New("db down") }
		o := MemoOptions[string]{Options: e.ttlOpts("negforever"), ErrorTTL: NoExpiry}
		m := Memoize(fn, o)
		_, err := m.Call(ctx, "a")
		require.EqualError(t, err, "db down")
		_, err = m.Call(ctx, "a")
		var ce *CachedError
		require.ErrorAs(t, err, &ce, "the error is cached")
		key, err := m.Key("a")
		require.NoError(t, err)
		ttl, ok, err := e.b.PTTL(ctx, key)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, time.Duration(-1), ttl, "the cached error has no expiry")

		o = MemoOptions[string]{Options: e.ttlOpts("negnone"), ErrorTTL: -2}
		none := Memoize(fn, o)
		for range 2 {
			_, err = none.Call(ctx, "a")
			require.EqualError(t, err, "db down", "errors are not cached")
		}
	})
}

// requireNoExpiry checks that h's key exists without an expiry.
func requireNoExpiry(t *testing.T, h handle) {
	t.Helper()
	ttl, err := h.TTL(context.Background())
	require.NoError(t, err)
	require.Equal(t, NoExpiry, ttl, "TTL of %s", h.key)
}

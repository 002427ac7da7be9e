package caches

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHandleDependents: the entries derived from one profile, declared by
// one process, go when another process invalidates that profile; other
// profiles' entries stay.
func TestHandleDependents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		profiles := NewKeyCache[string](Options{Prefix: "dep-profile", TTL: time.Minute, Conn: e.conn})
		other := e.second(t)
		feeds := NewDictCache[string, int](Options{Prefix: "dep-feed", TTL: time.Hour, Conn: other})
		pages := NewKeyCache[string](Options{Prefix: "dep-page", Conn: other})
		recos := Memoize(func(_ context.Context, id int) (string, error) { return "reco", nil },
			MemoOptions[int]{Options: Options{Prefix: "dep-reco", Conn: other}})
		for _, id := range []int{1, 2} {
			require.NoError(t, profiles.Key(id).Set(ctx, "p"))
			require.NoError(t, feeds.Key(id).Set(ctx, "n", id))
			require.NoError(t, pages.Key(id).Set(ctx, "html"))
			_, err := recos.Call(ctx, id)
			require.NoError(t, err)
			require.NoError(t, feeds.Key(id).DependsOn(ctx, profiles.Key(id)))
			require.NoError(t, recos.Handle(id).DependsOn(ctx, profiles.Key(id)))
			require.NoError(t, pages.Key(id).DependsOn(ctx, feeds.Key(id)), "a dependent of a dependent")
		}
		require.NoError(t, pages.Key(1).DependsOn(ctx, profiles.Key(1)), "declared twice through two paths")
		ttl, ok, err := e.b.PTTL(ctx, dependentsKey(profiles.Key(1).String()))
		require.True(t, ok)
		require.NoError(t, err)
		require.InDelta(t, DefaultTTL, ttl, float64(5*time.Second), "the record lives as long as the longest TTL (the pages')")

		n, err := profiles.Key(int64(1)).Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 4, n, "the profile, its feed, its reco and the feed's page")
		for _, h := range []Handle{profiles.Key(1), feeds.Key(1), pages.Key(1), recos.Handle(1)} {
			ok, err := e.b.Exists(ctx, h.String())
			require.NoError(t, err)
			require.False(t, ok, h.String())
		}
		for _, h := range []Handle{profiles.Key(2), feeds.Key(2), pages.Key(2), recos.Handle(2)} {
			ok, err := e.b.Exists(ctx, h.String())
			require.NoError(t, err)
			require.True(t, ok, h.String())
		}
		for _, h := range []Handle{profiles.Key(1), feeds.Key(1)} {
			ok, err := e.b.Exists(ctx, dependentsKey(h.String()))
			require.NoError(t, err)
			require.False(t, ok, "the record of %s went too", h)
		}
		n, err = profiles.Key(1).Invalidate(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing left")
	})
}

// TestHandleDependentsCycle: a cycle of declarations is walked once.
func TestHandleDependentsCycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		c := NewKeyCache[int](e.opts("dep-cycle"))
		for i := range 3 {
			require.NoError(t, c.Key(i).Set(ctx, i))
			require.NoError(t, c.Key((i+1)%3).DependsOn(ctx, c.Key(i)))
		}
		n, err := c.Key(0).Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
	})
}

// TestInvalidateDependents: refreshing what depends on a family leaves the
// family's own data.
func TestInvalidateDependents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		profiles := NewKeyCache[string](e.opts("depf-profile"))
		recos := Memoize(func(_ context.Context, id int) (string, error) { return "reco", nil },
			MemoOptions[int]{Options: e.opts("depf-reco")})
		pages := NewKeyCache[string](e.opts("depf-page"))
		require.NoError(t, recos.DependsOn(profiles))
		require.NoError(t, pages.DependsOn(recos))
		require.NoError(t, profiles.Key(1).Set(ctx, "p"))
		require.NoError(t, pages.Key(1).Set(ctx, "html"))
		_, err := recos.Call(ctx, 1)
		require.NoError(t, err)

		n, err := profiles.InvalidateDependents(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the reco and the page")
		v, err := profiles.Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "p", v, "the family's own data stays")
		_, err = recos.Call(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, uint64(2), recos.Stats().Loads, "the reco computed again")
	})
}

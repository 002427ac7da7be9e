package cachestest_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachestest"
	"github.com/stretchr/testify/require"
)

func TestNewMovesTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := cachestest.New(t)
	sessions := caches.NewKeyCache[string](caches.Options{Prefix: "s", TTL: time.Minute, Conn: st.Conn})
	require.NoError(t, sessions.Key("a").Set(ctx, "v"))

	st.Clock.Advance(59 * time.Second)
	v, err := sessions.Key("a").Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "v", v)

	st.Clock.Advance(2 * time.Second)
	_, err = sessions.Key("a").Get(ctx)
	require.ErrorIs(t, err, caches.ErrNotFound, "expired once the clock passed the TTL")
}

func TestNewIsolated(t *testing.T) {
	for _, name := range []string{"first", "second", "third"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := cachestest.New(t)
			k := caches.NewKeyCache[string](caches.Options{Prefix: "iso", Conn: st.Conn}).Key("shared")
			stored, err := k.Add(ctx, name)
			require.NoError(t, err)
			require.True(t, stored, "each test starts with an empty store")
			v, _ := k.Get(ctx)
			require.Equal(t, name, v)
		})
	}
}

func TestUseRegistersByName(t *testing.T) {
	ctx := context.Background()
	st := cachestest.Use(t, "cachestest-users")
	users := caches.NewKeyCache[int](caches.Options{Prefix: "u", Connection: "cachestest-users"})
	require.NoError(t, users.Key(1).Set(ctx, 7))
	c, err := caches.Connection("cachestest-users")
	require.NoError(t, err)
	require.Same(t, st.Conn, c)

	st.Clock.Set(st.Clock.Now().Add(caches.DefaultTTL + time.Second))
	_, err = users.Key(1).Get(ctx)
	require.ErrorIs(t, err, caches.ErrNotFound)
}

func TestUseCleanup(t *testing.T) {
	t.Run("inner", func(t *testing.T) { cachestest.Use(t, "cachestest-temp") })
	_, err := caches.Connection("cachestest-temp")
	require.ErrorIs(t, err, caches.ErrUnknownConnection, "the name is released when the test ends")
}

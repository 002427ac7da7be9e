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

// TestUseWhateverTheShellHolds shows that Use works when the developer's
// shell defines the connection, even wrongly, and gives it back afterwards.
func TestUseWhateverTheShellHolds(t *testing.T) {
	for _, c := range []struct{ dsn, after string }{
		{"redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0"},
		{"redis://127.0.0.1:1/0?no_such_option=1", "no_such_option"},
	} {
		t.Run(c.dsn, func(t *testing.T) {
			t.Setenv("CACHES_DSN", c.dsn)
			caches.Close()
			t.Cleanup(func() { caches.Close() })
			t.Run("inner", func(t *testing.T) {
				st := cachestest.Use(t, "")
				k := caches.NewKeyCache[int](caches.Options{Prefix: "shell"}).Key(1)
				require.NoError(t, k.Set(t.Context(), 1))
				conn, err := caches.Connection("")
				require.NoError(t, err)
				require.Same(t, st.Conn, conn)
			})
			conn, err := caches.Connection("")
			if err != nil {
				require.ErrorContains(t, err, c.after, "the shell's bad DSN is reported again")
				return
			}
			require.Contains(t, conn.String(), c.after, "the shell's connection is back")
		})
	}
}

// TestStoreContextMovesMemoize shows that the store's clock moves
// Memoize's expiry without wiring: a result expires on the test's clock.
func TestStoreContextMovesMemoize(t *testing.T) {
	t.Parallel()
	calls := 0
	m := caches.Memoize(func(context.Context, int) (int, error) { calls++; return calls, nil },
		caches.MemoOptions[int]{Options: caches.Options{Prefix: "cachestest-memo", TTL: time.Minute}})
	st := cachestest.New(t)
	ctx := st.Context(t.Context())
	v, err := m.Call(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	v, _ = m.Call(ctx, 1)
	require.Equal(t, 1, v, "a hit")
	st.Clock.Advance(2 * time.Minute)
	v, err = m.Call(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 2, v, "expired on the test's clock, computed again")
}

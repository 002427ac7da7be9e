package profiles

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachestest"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

var realRedis redistest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.ReportSkips()
	realRedis.Stop()
	caches.Close()
	os.Exit(code)
}

// exercise runs the application under ctx as test number i would, and
// checks that it saw nothing but its own data.
func exercise(t *testing.T, ctx context.Context, i int) {
	t.Helper()
	name := fmt.Sprintf("user-%d", i)
	require.NoError(t, Save(ctx, Profile{ID: 1, Name: name}, name, "shared"))
	for range i + 1 {
		p, err := Get(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, name, p.Name, "the test's own profile")
	}
	n, err := Views(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, int64(i+1), n, "the test's own views only")
	labels, err := Tags(ctx, 1)
	require.NoError(t, err)
	slices.Sort(labels)
	require.Equal(t, []string{"shared", name}, labels, "All iterates the test's own set")
	g, err := Greeting(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "hello, "+name, g, "Memoize computed and stored in the test's own store")
}

// TestInMemoryParallel runs the package-level families of the application
// in parallel tests, each with a store of its own.
func TestInMemoryParallel(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			st := cachestest.New(t)
			ctx := st.Context(t.Context())
			exercise(t, ctx, i)

			st.Clock.Advance(2 * time.Hour) // past the profile's TTL, no sleeping
			_, err := Get(ctx, 1)
			require.ErrorIs(t, err, caches.ErrNotFound, "expired on the test's clock")
			g, err := Greeting(ctx, 1)
			require.NoError(t, err)
			require.Equal(t, "hello, stranger", g, "the memoized greeting expired on the test's clock too")
		})
	}
}

// TestInMemoryInvalidateStaysInTheStore shows that Invalidate under one
// test's context deletes that store's keys only.
func TestInMemoryInvalidateStaysInTheStore(t *testing.T) {
	t.Parallel()
	a, b := cachestest.New(t), cachestest.New(t)
	actx, bctx := a.Context(t.Context()), b.Context(t.Context())
	require.NoError(t, Save(actx, Profile{ID: 1, Name: "a"}))
	require.NoError(t, Save(bctx, Profile{ID: 1, Name: "b"}))
	_, err := Greeting(actx, 1)
	require.NoError(t, err)
	n, err := Forget(actx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "a's profile and the greeting that depends on it")
	_, err = Get(actx, 1)
	require.ErrorIs(t, err, caches.ErrNotFound)
	p, err := Get(bctx, 1)
	require.NoError(t, err)
	require.Equal(t, "b", p.Name, "the other store keeps its keys")
}

// TestOnRedisParallel runs the same tests against one real Redis, each in
// a namespace of its own.
func TestOnRedisParallel(t *testing.T) {
	srv := realRedis.Get(t)
	conn, err := caches.Open("redis://" + srv.Addr + "/0")
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { raw.Close() })
	require.NoError(t, raw.Set(t.Context(), "profile:1", "outside every namespace", 0).Err())

	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				sp := cachestest.Namespace(t, conn)
				ctx := sp.Context(t.Context())
				exercise(t, ctx, i)

				stored, err := raw.Get(ctx, sp.Prefix+"profile:1").Result()
				require.NoError(t, err)
				require.JSONEq(t, fmt.Sprintf(`{"id":1,"name":"user-%d"}`, i), stored, "the key lives in the namespace")
				n, err := Forget(ctx)
				require.NoError(t, err)
				require.Equal(t, 2, n, "the namespace's profile and greeting, nothing else")
				_, err = Get(ctx, 1)
				require.ErrorIs(t, err, caches.ErrNotFound)
			})
		}
	})
	v, err := raw.Get(t.Context(), "profile:1").Result()
	require.NoError(t, err)
	require.Equal(t, "outside every namespace", v, "no Invalidate left its namespace")
	left, err := raw.Keys(t.Context(), "test:*").Result()
	require.NoError(t, err)
	require.Empty(t, left, "each test's cleanup deleted its namespace")
}

package caches

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testClock is a clock a test moves.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

func TestWithConnRoutesRegistryFamilies(t *testing.T) {
	t.Parallel()
	a, b := NewMemoryConn(MemoryOptions{}), NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { a.Close(); b.Close() })
	own := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { own.Close() })
	byName := NewKeyCache[string](Options{Prefix: "bound"})
	explicit := NewKeyCache[string](Options{Prefix: "bound", Conn: own})
	actx, bctx := WithConn(t.Context(), a), WithConn(t.Context(), b)

	require.NoError(t, byName.Key(1).Set(actx, "a"))
	require.NoError(t, byName.Key(1).Set(bctx, "b"))
	for ctx, want := range map[context.Context]string{actx: "a", bctx: "b"} {
		v, err := byName.Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, want, v)
	}
	require.NoError(t, explicit.Key(1).Set(actx, "own"))
	v, err := explicit.Key(1).Get(bctx)
	require.NoError(t, err)
	require.Equal(t, "own", v, "a family with Options.Conn keeps its connection")

	overlap := NewKeyCache[string](Options{Prefix: "bound:x"})
	require.ErrorIs(t, overlap.Key(1).Set(actx, "x"), ErrPrefixOverlap, "prefixes are checked on the bound connection")
}

// TestWithConnLoadsApart shows that concurrent loads of one key under two
// bound connections are not coalesced: each store gets its own.
func TestWithConnLoadsApart(t *testing.T) {
	t.Parallel()
	type who struct{}
	started, release := make(chan string, 2), make(chan struct{})
	users := NewKeyCache[string](Options{Prefix: "loads-apart"}).WithHooks(Hooks[string]{
		Load: func(ctx context.Context, _ Key[string]) (string, error) {
			name := ctx.Value(who{}).(string)
			started <- name
			<-release
			return name, nil
		},
	})
	results := make(chan string, 2)
	for _, name := range []string{"a", "b"} {
		conn := NewMemoryConn(MemoryOptions{})
		t.Cleanup(func() { conn.Close() })
		ctx := context.WithValue(WithConn(t.Context(), conn), who{}, name)
		go func() {
			v, err := users.Key(1).Get(ctx)
			if err != nil {
				v = err.Error()
			}
			results <- v
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("the load under %q never started: it joined another store's", name)
		}
	}
	close(release)
	got := map[string]bool{<-results: true, <-results: true}
	require.Equal(t, map[string]bool{"a": true, "b": true}, got)
}

// TestMemoFollowsTheStoreClock shows that, with MemoOptions.Now unset,
// early refresh follows the clock of an in-process store a test moves.
func TestMemoFollowsTheStoreClock(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}
	conn := NewMemoryConn(MemoryOptions{Now: clock.Now})
	t.Cleanup(func() { conn.Close() })
	ctx := WithConn(t.Context(), conn)
	m := Memoize(func(context.Context, int) (string, error) { return "v", nil },
		MemoOptions[int]{Options: Options{Prefix: "memo-clock", TTL: 10 * time.Minute}})
	m.rand = func() float64 { return math.Exp(-1) } // a head start of exactly delta
	key, err := m.Key(1)
	require.NoError(t, err)
	_, err = m.Call(ctx, 1)
	require.NoError(t, err)
	s, ok, err := conn.b.Get(ctx, key)
	require.NoError(t, err)
	require.True(t, ok)
	e, ok := parseEntry(s)
	require.True(t, ok)
	require.Equal(t, strconv.FormatInt(clock.now.Add(10*time.Minute).UnixMilli(), 10), e.expiry,
		"the expiry stored with the result is on the store's clock")

	// A result that took one second, read well before its expiry: no refresh.
	slow := formatEntry(false, 1000, clock.now.Add(10*time.Minute).UnixMilli(), `v`)
	require.NoError(t, conn.b.Set(ctx, key, slow, time.Hour))
	_, err = m.Call(ctx, 1)
	require.NoError(t, err)
	require.Zero(t, m.Stats().EarlyRefreshes)
	clock.now = clock.now.Add(10*time.Minute - 500*time.Millisecond)
	_, err = m.Call(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(1), m.Stats().EarlyRefreshes, "within its head start on the moved clock")
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	for _, bad := range []string{"", "a{b}:"} {
		_, err := conn.Namespace(bad)
		require.Error(t, err, "%q", bad)
	}
	_, err := conn.ClearNamespace(t.Context())
	require.ErrorContains(t, err, "not a namespace")

	ctx := t.Context()
	outside := NewKeyCache[string](Options{Prefix: "ns", Conn: conn})
	require.NoError(t, outside.Key(1).Set(ctx, "outside"))
	ns, err := conn.Namespace("t1:")
	require.NoError(t, err)
	inside := NewKeyCache[string](Options{Prefix: "ns", Conn: ns})
	require.NoError(t, inside.Key(1).Set(ctx, "inside"))
	v, ok, err := conn.b.Get(ctx, "t1:ns:1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "inside", v, "the namespace prefixes the key")

	n, err := inside.Invalidate(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	v, err = outside.Key(1).Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "outside", v, "Invalidate stays within the namespace")

	require.NoError(t, inside.Key(2).Set(ctx, "x"))
	n, err = ns.ClearNamespace(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, ns.Close())
	_, err = outside.Key(1).Get(ctx)
	require.NoError(t, err, "closing a namespace leaves its connection open")
}

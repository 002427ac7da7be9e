package caches

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestConnPing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		require.NoError(t, e.conn.Ping(t.Context()))
	})
	c := NewMemoryConn(MemoryOptions{})
	require.NoError(t, c.Ping(t.Context()))
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Ping(t.Context()), ErrClosed)
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestVerify(t *testing.T) {
	clearEnv(t)
	good := miniredis.RunT(t)
	good.RequireAuth("s3cret")
	dead := deadAddr(t)
	t.Setenv("CACHES_DSN", "memory://")
	t.Setenv("CACHES_DSN_GOOD", "redis://:s3cret@"+good.Addr()+"#good")
	t.Setenv("CACHES_DSN_BAD", "redis://:s3cret@"+dead+"?dial_timeout=200ms&max_retries=-1#bad")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	err := Verify(ctx)
	require.Error(t, err, "a connection to a host where nothing listens")
	require.ErrorContains(t, err, `connection "bad" (redis://:xxxxx@`+dead)
	require.NotContains(t, err.Error(), `"good"`)
	require.NotContains(t, err.Error(), "s3cret")

	clearEnv(t)
	t.Setenv("CACHES_DSN_GOOD", "redis://:s3cret@"+good.Addr()+"#good")
	require.NoError(t, Verify(ctx))

	clearEnv(t)
	t.Setenv("CACHES_DSN_WRONG", "redis://:wrong@"+good.Addr()+"#wrong")
	require.ErrorContains(t, Verify(ctx), `connection "wrong"`, "a wrong password")

	clearEnv(t)
	t.Setenv("CACHES_DSN_TYPO", "redis://"+good.Addr()+"?dial_timout=1s#typo")
	require.ErrorContains(t, Verify(ctx), "dial_timout", "Verify reports what Configure does")
}

// countHook counts the commands go-redis processes.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestConnRedisClient(t *testing.T) {
	m := miniredis.RunT(t)
	conn, err := Open("redis://" + m.Addr())
	require.NoError(t, err)
	client, ok := conn.RedisClient()
	require.True(t, ok)
	hook := &countHook{}
	client.AddHook(hook)

	k := NewKeyCache[string](Options{Prefix: "hooked", Conn: conn}).Key(1)
	require.NoError(t, k.Set(t.Context(), "v"))
	_, err = k.Get(t.Context())
	require.NoError(t, err)
	require.GreaterOrEqual(t, hook.n.Load(), int64(2), "the hook sees the family's commands")

	ns, err := conn.Namespace("t:")
	require.NoError(t, err)
	nsClient, ok := ns.RedisClient()
	require.True(t, ok)
	require.Same(t, client, nsClient, "a namespace's client is its connection's")

	require.NoError(t, conn.Close())
	require.ErrorIs(t, client.Ping(t.Context()).Err(), redis.ErrClosed, "the Conn closes the client it opened")

	mem := NewMemoryConn(MemoryOptions{})
	defer mem.Close()
	_, ok = mem.RedisClient()
	require.False(t, ok)
}

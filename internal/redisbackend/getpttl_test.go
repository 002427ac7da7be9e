package redisbackend

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGetPTTL reads a value and its time to live in one round trip: a
// missing key, a key without expiry, one with, and a key of another type.
func TestGetPTTL(t *testing.T) {
	srv := realRedis.Get(t)
	b := openFlushed(t, "redis://"+srv.Addr)
	ctx := context.Background()
	_, _, ok, err := b.GetPTTL(ctx, "gp:missing")
	require.NoError(t, err)
	require.False(t, ok, "a missing key")

	require.NoError(t, b.Set(ctx, "gp:forever", "v", 0))
	v, pttl, ok, err := b.GetPTTL(ctx, "gp:forever")
	require.NoError(t, err)
	require.Equal(t, []any{"v", time.Duration(-1), true}, []any{v, pttl, ok})

	require.NoError(t, b.Set(ctx, "gp:ttl", "w", time.Minute))
	v, pttl, ok, err = b.GetPTTL(ctx, "gp:ttl")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "w", v)
	require.InDelta(t, float64(time.Minute), float64(pttl), float64(5*time.Second))

	_, err = b.HSet(ctx, "gp:hash", 0, "f", "1")
	require.NoError(t, err)
	_, _, _, err = b.GetPTTL(ctx, "gp:hash")
	require.ErrorContains(t, err, "WRONGTYPE")
}

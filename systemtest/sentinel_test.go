package systemtest

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/poll"
	"github.com/stretchr/testify/require"
)

// TestSentinelFailover keeps using a connection opened from a
// redis+sentinel DSN through a forced failover.
func TestSentinelFailover(t *testing.T) {
	conn := sentinelConn(t)
	s := realSentinel.Get(t)
	ctx := context.Background()
	fam := caches.NewKeyCache[int](caches.Options{Prefix: "failover", Conn: conn, TTL: caches.NoExpiry})
	for i := 0; i < 50; i++ {
		require.NoError(t, fam.Key(i).Set(ctx, i))
	}
	before, err := s.MasterAddr(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Failover(ctx))
	after, err := s.MasterAddr(ctx)
	require.NoError(t, err)
	require.NotEqual(t, before, after, "the replica was promoted")

	// The client finds the new master through the sentinel; the first
	// writes after the switch may meet the old master's READONLY answer.
	poll.Until(10*time.Second, 50*time.Millisecond, func() bool {
		err = fam.Key("after").Set(ctx, 1)
		return err == nil
	})
	require.NoError(t, err, "writes resume after the failover")
	for i := 0; i < 50; i++ {
		v, err := fam.Key(i).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, i, v, "data written before the failover is there")
	}
}

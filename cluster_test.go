package caches

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/keyslot"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestClusterSlotLayout runs every cache over keys spread across the three
// masters of the real cluster and checks where they landed. Commands that
// span slots would fail with CROSSSLOT (and TestMain counts every such
// error), so the operations succeeding proves none was sent.
func TestClusterSlotLayout(t *testing.T) {
	e := clusterEnv(t)
	ctx := context.Background()
	keys := NewKeyCache[int](e.opts("spread:k"))
	dicts := NewDictCache[string, int](e.opts("spread:d"))
	sets := NewSetCache[int](e.opts("spread:s"))
	zsets := NewSortedSetCache[string](e.opts("spread:z"))
	counters := NewCounterCache[string](e.opts("spread:c"))
	memo := Memoize(func(ctx context.Context, n int) (int, error) { return n * 2, nil },
		MemoOptions[int]{Options: e.opts("spread:m"), Lease: true})
	var entries []Entry[int]
	for i := 0; i < 60; i++ {
		require.NoError(t, keys.Key(i).Set(ctx, i))
		entries = append(entries, Entry[int]{Key: keys.Key("batch", i), Value: i})
		require.NoError(t, dicts.Key(i).SetMany(ctx, map[string]int{"a": 1, "b": 2}))
		_, err := sets.Key(i).Add(ctx, i, i+1)
		require.NoError(t, err)
		_, err = zsets.Key(i).Add(ctx, "m", float64(i))
		require.NoError(t, err)
		require.NoError(t, counters.Key(i).Update(ctx, map[string]int64{"x": 1, "y": 2}))
		_, err = memo.Call(ctx, i)
		require.NoError(t, err)
	}
	require.NoError(t, keys.SetMany(ctx, entries...))
	handles := make([]Key[int], len(entries))
	for i, en := range entries {
		handles[i] = en.Key
	}
	_, found, err := keys.GetMany(ctx, handles...)
	require.NoError(t, err)
	require.NotContains(t, found, false)

	client := e.conn.b.(*redisBackend).c.(*redis.ClusterClient)
	perMaster := dbSizes(t, client)
	require.Len(t, perMaster, 3)
	for addr, n := range perMaster {
		require.Positive(t, n, "master %s holds keys", addr)
	}
	t.Logf("keys per master: %v", perMaster)

	n, err := keys.DeleteMany(ctx, handles...)
	require.NoError(t, err)
	require.Equal(t, 60, n)
	for _, fam := range []Family{keys, dicts, sets, zsets, counters, memo} {
		_, err := fam.base().Invalidate(ctx)
		require.NoError(t, err)
	}
	for addr, n := range dbSizes(t, client) {
		require.Zero(t, n, "invalidation reached master %s", addr)
	}

	before := crossSlot.errs.Load()
	_, err = sets.Key(1).Union(ctx, sets.Key(2))
	require.ErrorIs(t, err, ErrCrossSlot, "refused before it is sent")
	require.Equal(t, before, crossSlot.errs.Load())

	o := e.opts("spread:tagged")
	o.HashTag = true
	tagged := NewSetCache[int](o)
	slot := keyslot.Slot(tagged.Key(0).String())
	for i := 1; i < 50; i++ {
		require.Equal(t, slot, keyslot.Slot(tagged.Key(i).String()), "a hash-tagged family lives on one slot")
	}
	_, err = tagged.Key(1).Add(ctx, 1, 2)
	require.NoError(t, err)
	_, err = tagged.Key(2).Add(ctx, 2, 3)
	require.NoError(t, err)
	u, err := tagged.Key(1).Union(ctx, tagged.Key(2))
	require.NoError(t, err)
	require.ElementsMatch(t, []int{1, 2, 3}, u)
}

// TestSentinelFailover keeps using a connection opened from a
// redis+sentinel DSN through a forced failover.
func TestSentinelFailover(t *testing.T) {
	e := sentinelEnv(t)
	s := realSentinel.Get(t)
	ctx := context.Background()
	fam := NewKeyCache[int](Options{Prefix: "failover", Conn: e.conn, TTL: NoExpiry})
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
	pollUntil(10*time.Second, 50*time.Millisecond, func() bool {
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

// dbSizes returns the number of keys on each master, by address.
func dbSizes(t *testing.T, client *redis.ClusterClient) map[string]int64 {
	var mu sync.Mutex
	sizes := map[string]int64{}
	err := client.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		n, err := c.DBSize(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		sizes[c.Options().Addr] = n
		return err
	})
	require.NoError(t, err)
	return sizes
}

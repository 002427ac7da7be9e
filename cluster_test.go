package caches

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/keyslot"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
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

	client := e.conn.b.(*redisbackend.Backend).Client().(*redis.ClusterClient)
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

// TestClusterInvalidateDuringResharding moves the slot of a family's keys
// to another master while Invalidate scans the cluster, at three points:
// after the source's SCAN found the keys (its UNLINKs then meet MOVED),
// before the source's SCAN and after the target's (the first pass sees no
// key), and half way (the slot stays MIGRATING, so UNLINKs meet ASK and the
// target holds keys it did not have when scanned). No key of the family
// may remain.
func TestClusterInvalidateDuringResharding(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after bool // move on the source's SCAN reply, not before its request
		keys  int  // how many keys to move before the source's scan; 0: finish the move
	}{
		{name: "moved after the scan", after: true},
		{name: "moved before the scan"},
		{name: "half moved", keys: 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := clusterEnv(t)
			cl := realCluster.Get(t)
			ctx := context.Background()
			o := e.opts("reshard")
			o.HashTag = true // every key on one slot
			fam := NewKeyCache[int](o)
			for i := range 50 {
				require.NoError(t, fam.Key(i).Set(ctx, i))
			}
			key := fam.Key(0).String()
			slot, from := keyslot.Slot(key), cl.MasterFor(key)
			to := cl.Addrs[0]
			if to == from {
				to = cl.Addrs[1]
			}
			client := e.conn.b.(*redisbackend.Backend).Client().(*redis.ClusterClient)
			src, dst := masterClients(t, client, from, to)

			var migration *redistest.SlotMigration
			t.Cleanup(func() { restoreSlot(t, cl, migration, slot, from) })
			targetScanned := make(chan struct{})
			var once, moveOnce sync.Once
			dst.AddHook(scanHook{after: func(cursor uint64) {
				if cursor == 0 {
					once.Do(func() { close(targetScanned) })
				}
			}})
			move := func() {
				moveOnce.Do(func() {
					select {
					case <-targetScanned:
					case <-time.After(10 * time.Second):
						t.Error("the target master was not scanned")
						return
					}
					var err error
					migration, err = cl.StartSlotMigration(ctx, slot, to)
					require.NoError(t, err)
					if tc.keys > 0 {
						_, err = migration.Migrate(ctx, tc.keys)
					} else {
						err, migration = migration.Finish(ctx), nil
					}
					require.NoError(t, err)
				})
			}
			if tc.after {
				src.AddHook(scanHook{after: func(uint64) { move() }})
			} else {
				src.AddHook(scanHook{before: move})
			}

			n, err := fam.Invalidate(ctx)
			require.NoError(t, err)
			require.Equal(t, 50, n)
			for i := range 50 {
				has, err := fam.Key(i).Has(ctx)
				require.NoError(t, err)
				require.False(t, has, "key %s survived the invalidation", fam.Key(i).String())
			}
		})
	}
}

// masterClients returns the cluster client's own clients of the masters at
// addresses a and b, the ones its ForEachMaster calls.
func masterClients(t *testing.T, client *redis.ClusterClient, a, b string) (ca, cb *redis.Client) {
	var mu sync.Mutex
	err := client.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		switch c.Options().Addr {
		case a:
			ca = c
		case b:
			cb = c
		}
		return nil
	})
	require.NoError(t, err)
	require.NotNil(t, ca, "master %s", a)
	require.NotNil(t, cb, "master %s", b)
	return ca, cb
}

// restoreSlot gives slot back to master from, finishing migration first if
// it is still under way, so that later tests find the cluster as it was.
func restoreSlot(t *testing.T, cl *redistest.Cluster, migration *redistest.SlotMigration, slot int, from string) {
	ctx := context.Background()
	if migration != nil {
		require.NoError(t, migration.Finish(ctx))
	}
	if cl.MasterFor(keyOfSlot(slot)) != from {
		require.NoError(t, cl.MoveSlot(ctx, slot, from))
	}
}

// keyOfSlot returns a key that hashes to slot.
func keyOfSlot(slot int) string {
	for i := 0; ; i++ {
		if k := strconv.Itoa(i); keyslot.Slot(k) == slot {
			return k
		}
	}
}

// scanHook calls before ahead of every SCAN a client sends and after with
// the cursor of every SCAN reply.
type scanHook struct {
	before func()
	after  func(cursor uint64)
}

func (h scanHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h scanHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "scan" {
			return next(ctx, cmd)
		}
		if h.before != nil {
			h.before()
		}
		err := next(ctx, cmd)
		if sc, ok := cmd.(*redis.ScanCmd); ok && err == nil && h.after != nil {
			_, cursor := sc.Val()
			h.after(cursor)
		}
		return err
	}
}

func (h scanHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

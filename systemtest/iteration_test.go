package systemtest

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/itertest"
	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Iterators across a change of server: a SCAN cursor means something only
// to the server instance that issued it, so an iteration whose pages come
// from two instances (a restart that keeps the data, a failover, a cluster
// redirection) must end with ErrIterationBroken instead of yielding some
// members twice and others never. The iterations of many pages without a
// change of server are in the root package (TestIterationMultiPage).

// TestIterationAcrossRestart restarts a persistent redis-server (its data
// comes back from the append-only file) in the middle of each iteration:
// the iteration must end with ErrIterationBroken naming the key.
func TestIterationAcrossRestart(t *testing.T) {
	srv := redistest.StartForTest(t, "--appendonly", "yes", "--appendfsync", "always") // a busy disk must not delay the AOF write past the kill
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	for _, c := range itertest.Cases(t, caches.Options{Prefix: "restart", Conn: caches.NewRedisConn(client)}) {
		t.Run(c.Name, func(t *testing.T) {
			before, err := client.Info(ctx, "server").Result()
			require.NoError(t, err)
			seen, err := c.Collect(ctx, func() { require.NoError(t, srv.Restart()) })
			after, infoErr := client.Info(ctx, "server").Result()
			require.NoError(t, infoErr)
			require.NotEqual(t, runIDOf(before), runIDOf(after), "the server was restarted")
			require.ErrorIs(t, err, caches.ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.Key))
			require.Equal(t, int64(1), client.Exists(ctx, c.Key).Val(), "the data survived the restart")

			seen, err = c.Collect(ctx, nil)
			require.NoError(t, err, "a new iteration works")
			itertest.RequireEachOnce(t, seen)
		})
	}
}

// runIDOf returns the run_id field of an INFO server reply.
func runIDOf(info string) string {
	_, rest, _ := strings.Cut(info, "run_id:")
	id, _, _ := strings.Cut(rest, "\r")
	return id
}

// TestIterationAcrossSlotMove moves the slot of each iterated key to
// another master of a cluster in the middle of the iteration: go-redis
// follows the MOVED redirection to the new node, which must not continue
// the old node's scan.
func TestIterationAcrossSlotMove(t *testing.T) {
	cl := startIterCluster(t)
	conn, err := caches.Open("redis+cluster://" + cl.Addrs[0] + "," + cl.Addrs[1] + "," + cl.Addrs[2])
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	for _, c := range itertest.Cases(t, caches.Options{Prefix: "moved", Conn: conn}) {
		t.Run(c.Name, func(t *testing.T) {
			from := cl.MasterFor(c.Key)
			to := cl.Addrs[0]
			if to == from {
				to = cl.Addrs[1]
			}
			slot := redistest.Slot(c.Key)
			seen, err := c.Collect(ctx, func() { moveSlot(t, cl.Addrs, slot, from, to) })
			require.ErrorIs(t, err, caches.ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.Key))

			seen, err = c.Collect(ctx, nil)
			require.NoError(t, err, "a new iteration works on the new node")
			itertest.RequireEachOnce(t, seen)
		})
	}
}

// startIterCluster starts a cluster of its own for the test, whose slots
// the test may move.
func startIterCluster(t *testing.T) *redistest.Cluster {
	t.Helper()
	cl, err := redistest.StartCluster(3)
	if err != nil {
		redistest.SkipOrFail(t, "redis cluster", err)
	}
	t.Cleanup(cl.Stop)
	return cl
}

// moveSlot migrates slot and its keys from the master at from to the
// master at to, as redis-cli --cluster reshard does, and tells every master
// in addrs the slot's new owner.
func moveSlot(t *testing.T, addrs []string, slot int, from, to string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clients := map[string]*redis.Client{}
	for _, a := range addrs {
		clients[a] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[a].Close()
	}
	src, dst := clients[from], clients[to]
	srcID, err := src.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	dstID, err := dst.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	require.NoError(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	require.NoError(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, err := net.SplitHostPort(to)
	require.NoError(t, err)
	for range 100 {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		require.NoError(t, err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		require.NoError(t, src.Do(ctx, args...).Err())
	}
	for _, a := range append([]string{to, from}, addrs...) {
		require.NoError(t, clients[a].Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	}
}

// TestIterationAcrossFailover fails the sentinel's master over to its
// replica in the middle of each iteration: once the connection has
// followed the master, the new master must not continue the old one's
// scan.
func TestIterationAcrossFailover(t *testing.T) {
	conn := sentinelConn(t)
	s := realSentinel.Get(t)
	ctx := context.Background()
	probe := caches.NewKeyCache[int](caches.Options{Prefix: "failover-probe", Conn: conn}).Key("w")
	for _, c := range itertest.Cases(t, caches.Options{Prefix: "failover", Conn: conn}) {
		t.Run(c.Name, func(t *testing.T) {
			seen, err := c.Collect(ctx, func() {
				require.NoError(t, s.Failover(ctx))
				var err error
				followed := poll.Until(10*time.Second, 50*time.Millisecond, func() bool {
					err = probe.Set(ctx, 1) // the demoted master refuses it
					return err == nil
				})
				require.True(t, followed, "the connection follows the new master: %v", err)
			})
			require.ErrorIs(t, err, caches.ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.Key))
		})
	}
}

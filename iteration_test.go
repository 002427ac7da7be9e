package caches

import (
	"context"
	"iter"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Iterators across a change of server: a SCAN cursor means something only
// to the server instance that issued it, so an iteration whose pages come
// from two instances (a restart that keeps the data, a failover, a cluster
// redirection) must end with ErrIterationBroken instead of yielding some
// members twice and others never.

const (
	// iterSize is the size of the collections iterated here: a dozen pages
	// of scanPageSize.
	iterSize = 3000
	// iterMid is how many entries an iteration yields before the server
	// changes under it: past the first page, far from the last.
	iterMid = 300
)

// iterCase is one iterator over a populated collection of iterSize entries.
type iterCase struct {
	name string
	key  string // the Redis key
	// collect runs the iteration to its end, calling mid (when not nil)
	// once after iterMid entries, and returns how often each entry came and
	// the first error.
	collect func(ctx context.Context, mid func()) (map[string]int, error)
}

// iterationCases fills a set, a hash and a counter of iterSize entries
// each, through families with opts, and returns their iterators.
func iterationCases(t *testing.T, opts Options) []iterCase {
	t.Helper()
	ctx := context.Background()
	members := make([]string, iterSize)
	fields := make(map[string]int, iterSize)
	counts := make(map[string]int64, iterSize)
	for i := range iterSize {
		m := "m-" + strconv.Itoa(i)
		members[i], fields[m], counts[m] = m, i, int64(i+1)
	}
	s := NewSetCache[string](opts).Key("set")
	_, err := s.Add(ctx, members...)
	require.NoError(t, err)
	d := NewDictCache[string, int](opts).Key("dict")
	require.NoError(t, d.SetMany(ctx, fields))
	c := NewCounterCache[string](opts).Key("counter")
	require.NoError(t, c.Update(ctx, counts))
	return []iterCase{
		{"Set.All", s.key, func(ctx context.Context, mid func()) (map[string]int, error) {
			return collectIter(s.All(ctx), func(m string) string { return m }, mid)
		}},
		{"Dict.All", d.key, func(ctx context.Context, mid func()) (map[string]int, error) {
			return collectIter(d.All(ctx), func(it Item[string, int]) string { return it.Field }, mid)
		}},
		{"Counter.All", c.key, func(ctx context.Context, mid func()) (map[string]int, error) {
			return collectIter(c.All(ctx), func(ct Counted[string]) string { return ct.Key }, mid)
		}},
	}
}

// collectIter counts what seq yields by name(v) until it ends or yields an
// error, calling mid (when not nil) after iterMid entries.
func collectIter[V any](seq iter.Seq2[V, error], name func(V) string, mid func()) (map[string]int, error) {
	seen := make(map[string]int, iterSize)
	n := 0
	for v, err := range seq {
		if err != nil {
			return seen, err
		}
		seen[name(v)]++
		if n++; n == iterMid && mid != nil {
			mid()
		}
	}
	return seen, nil
}

// requireEachOnce checks that seen holds each of the iterSize entries once.
func requireEachOnce(t *testing.T, seen map[string]int) {
	t.Helper()
	require.Len(t, seen, iterSize, "every entry came")
	for m, n := range seen {
		require.Equal(t, 1, n, "%s came once", m)
	}
}

// TestIterationMultiPage checks that an iteration of many pages, with no
// change of server, yields each entry exactly once, on every backend.
func TestIterationMultiPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, c := range iterationCases(t, e.opts("pages")) {
			t.Run(c.name, func(t *testing.T) {
				seen, err := c.collect(ctx, nil)
				require.NoError(t, err)
				requireEachOnce(t, seen)
			})
		}
	})
}

// TestIterationAcrossRestart restarts a persistent redis-server (its data
// comes back from the append-only file) in the middle of each iteration:
// the iteration must end with ErrIterationBroken naming the key.
func TestIterationAcrossRestart(t *testing.T) {
	srv := redistest.StartForTest(t, "--appendonly", "yes")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	for _, c := range iterationCases(t, Options{Prefix: "restart", Conn: NewRedisConn(client)}) {
		t.Run(c.name, func(t *testing.T) {
			before, err := client.Info(ctx, "server").Result()
			require.NoError(t, err)
			seen, err := c.collect(ctx, func() { require.NoError(t, srv.Restart()) })
			after, infoErr := client.Info(ctx, "server").Result()
			require.NoError(t, infoErr)
			require.NotEqual(t, runIDOf(before), runIDOf(after), "the server was restarted")
			require.ErrorIs(t, err, ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.key))
			require.Equal(t, int64(1), client.Exists(ctx, c.key).Val(), "the data survived the restart")

			seen, err = c.collect(ctx, nil)
			require.NoError(t, err, "a new iteration works")
			requireEachOnce(t, seen)
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
	conn, err := Open("redis+cluster://" + cl.Addrs[0] + "," + cl.Addrs[1] + "," + cl.Addrs[2])
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	for _, c := range iterationCases(t, Options{Prefix: "moved", Conn: conn}) {
		t.Run(c.name, func(t *testing.T) {
			from := cl.MasterFor(c.key)
			to := cl.Addrs[0]
			if to == from {
				to = cl.Addrs[1]
			}
			slot := redistest.Slot(c.key)
			seen, err := c.collect(ctx, func() { moveSlot(t, cl.Addrs, slot, from, to) })
			require.ErrorIs(t, err, ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.key))

			seen, err = c.collect(ctx, nil)
			require.NoError(t, err, "a new iteration works on the new node")
			requireEachOnce(t, seen)
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
	e := sentinelEnv(t)
	s := realSentinel.Get(t)
	ctx := context.Background()
	probe := NewKeyCache[int](e.opts("failover-probe")).Key("w")
	for _, c := range iterationCases(t, e.opts("failover")) {
		t.Run(c.name, func(t *testing.T) {
			seen, err := c.collect(ctx, func() {
				require.NoError(t, s.Failover(ctx))
				var err error
				followed := pollUntil(10*time.Second, 50*time.Millisecond, func() bool {
					err = probe.Set(ctx, 1) // the demoted master refuses it
					return err == nil
				})
				require.True(t, followed, "the connection follows the new master: %v", err)
			})
			require.ErrorIs(t, err, ErrIterationBroken, "after %d distinct entries", len(seen))
			t.Logf("after %d entries: %v", len(seen), err)
			require.ErrorContains(t, err, strconv.Quote(c.key))
		})
	}
}

// TestIterationWithoutInfo iterates as an ACL user denied INFO: a
// collection of one page needs no run_id and is iterated, a bigger one
// cannot be checked and ends with the server's refusal, naming the key,
// instead of going on unchecked.
func TestIterationWithoutInfo(t *testing.T) {
	srv := redistest.StartForTest(t, "--user", "app", "on", ">app-pw", "~*", "+@all", "-info")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "app-pw"})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	opts := Options{Prefix: "acl", Conn: NewRedisConn(client)}
	small := NewSetCache[int](opts).Key("small")
	_, err := small.Add(ctx, 1, 2, 3)
	require.NoError(t, err)
	n := 0
	for _, err := range small.All(ctx) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 3, n)

	for _, c := range iterationCases(t, opts) {
		_, err := c.collect(ctx, nil)
		require.Error(t, err, c.name)
		require.ErrorContains(t, err, strconv.Quote(c.key))
		require.NotErrorIs(t, err, ErrIterationBroken, "nothing broke: the check cannot run")
		t.Logf("%s: %v", c.name, err)
	}
}

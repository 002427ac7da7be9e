package redisbackend

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/backend/backendtest"
	"github.com/gocaches/caches/internal/memstore"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestBackend checks the adapter against the backend contract on every
// deployment it serves: miniredis, a real redis-server, a real Cluster and
// a real Sentinel-managed master. The backends are opened from DSNs as
// caches.Open opens them, and own their clients.
func TestBackend(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		minis := map[backend.Backend]*miniClock{}
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			m := miniredis.RunT(t)
			b, err := New(redis.NewClient(&redis.Options{Addr: m.Addr()}), true, Options{Own: true, Always: true})
			require.NoError(t, err)
			minis[b] = newMiniClock(m)
			return b
		}, backendtest.Options{
			Advance:             func(_ *testing.T, b backend.Backend, d time.Duration) { minis[b].advance(d) },
			Now:                 func(b backend.Backend) time.Time { return minis[b].now() },
			Instance:            func(*testing.T, backend.Backend) string { return "" }, // miniredis has no run_id
			KeepsEmptyStoreDest: true,
		})
	})
	// The real servers are started (or the test skipped) before the suite.
	t.Run("redis", func(t *testing.T) {
		srv := realRedis.Get(t)
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return openFlushed(t, "redis://"+srv.Addr)
		}, redisOptions)
	})
	t.Run("redis-pipelined", func(t *testing.T) {
		srv := realRedis.Get(t)
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return alwaysPipelined(t, openFlushed(t, "redis://"+srv.Addr))
		}, redisOptions)
	})
	t.Run("redis-go-redis-pipelined", func(t *testing.T) {
		srv := realRedis.Get(t)
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return goRedisPipelined(t, openFlushed(t, "redis://"+srv.Addr))
		}, redisOptions)
	})
	t.Run("cluster", func(t *testing.T) {
		cl := realCluster.Get(t)
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			require.NoError(t, cl.FlushAll(context.Background()))
			return alwaysPipelined(t, openDSN(t, "redis+cluster://"+strings.Join(cl.Addrs, ",")))
		}, backendtest.Options{Advance: shiftTTLs, Cluster: true})
	})
	t.Run("sentinel", func(t *testing.T) {
		s := realSentinel.Get(t)
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return alwaysPipelined(t, openFlushed(t, "redis+sentinel://:"+s.Password+"@"+s.SentinelAddr+"/"+s.MasterName))
		}, redisOptions)
	})
}

// redisOptions are those of a single server: its clock moves by shifting
// the TTLs, and its scans report its run_id.
var redisOptions = backendtest.Options{Advance: shiftTTLs, Instance: runIDOf}

func shiftTTLs(t *testing.T, b backend.Backend, d time.Duration) {
	redistest.ShiftTTLs(t, b.(*Backend).Client(), d)
}

// runIDOf returns the run_id of the server behind b.
func runIDOf(t *testing.T, b backend.Backend) string {
	info, err := b.(*Backend).Client().Info(context.Background(), "server").Result()
	require.NoError(t, err)
	_, rest, _ := strings.Cut(info, "run_id:")
	id, _, _ := strings.Cut(rest, "\r")
	require.NotEmpty(t, id, "INFO server has a run_id")
	return id
}

// openDSN opens the backend of a Redis DSN (scheme "redis", "redis+cluster"
// or "redis+sentinel"), owning its client.
func openDSN(t *testing.T, dsn string) *Backend {
	t.Helper()
	scheme, rest, _ := strings.Cut(dsn, "://")
	base, variant, _ := strings.Cut(scheme, "+")
	hosts, tail, _ := strings.Cut(rest, "/")
	userinfo := ""
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		userinfo, hosts = hosts[:at+1], hosts[at+1:]
	}
	all := strings.Split(hosts, ",")
	u, err := url.Parse(base + "://" + userinfo + all[0] + "/" + tail)
	require.NoError(t, err)
	open, err := Parse(base, variant, all[1:], u)
	require.NoError(t, err)
	b, err := open()
	require.NoError(t, err)
	return b
}

// alwaysPipelined returns a backend over b's client that sends every call
// through its automatic pipeline, a lone call included (the suite makes one
// call at a time, which would otherwise take the pooled path): the
// library's own when b has it, go-redis's otherwise. It owns the client as
// b did.
func alwaysPipelined(t *testing.T, b *Backend) *Backend {
	t.Helper()
	p, err := b.Reopen(Options{Always: true})
	require.NoError(t, err)
	require.True(t, p.Pipelined())
	return p
}

// goRedisPipelined is alwaysPipelined on go-redis's automatic pipeline.
func goRedisPipelined(t *testing.T, b *Backend) *Backend {
	t.Helper()
	if b.pipe != nil {
		b.pipe.close()
	}
	p, err := New(b.Client(), b.Owned(), Options{Always: true})
	require.NoError(t, err)
	require.True(t, p.Pipelined())
	return p
}

// openFlushed opens the backend of dsn, a single master, and empties it.
func openFlushed(t *testing.T, dsn string) *Backend {
	t.Helper()
	b := openDSN(t, dsn)
	require.NoError(t, b.Client().FlushAll(context.Background()).Err())
	return b
}

// miniClock is the clock of a miniredis: SetTime moves its notion of now
// and FastForward expires keys.
type miniClock struct {
	m       *miniredis.Miniredis
	start   time.Time
	elapsed time.Duration
}

func newMiniClock(m *miniredis.Miniredis) *miniClock {
	c := &miniClock{m: m, start: time.Now()}
	m.SetTime(c.start)
	return c
}

func (c *miniClock) now() time.Time { return c.start.Add(c.elapsed) }

func (c *miniClock) advance(d time.Duration) {
	c.elapsed += d
	c.m.SetTime(c.now())
	c.m.FastForward(d)
}

// TestDifferential runs the same random operations on the in-process store
// and, through this adapter, on a real redis-server, and requires the same
// results and the same data after each (see backendtest.Differential).
func TestDifferential(t *testing.T) {
	want := alwaysPipelined(t, openFlushed(t, "redis://"+realRedis.Get(t).Addr))
	t.Cleanup(func() { want.Close() })
	got := memstore.New(memstore.Options{})
	t.Cleanup(func() { got.Close() })
	backendtest.Differential(t, got, want, backendtest.DiffOptions{Ops: 10_000})
}

// TestDifferentialDeleteMatching compares the keys the in-process store's
// DeleteMatching deletes with those SCAN MATCH finds on a real
// redis-server, through this adapter.
func TestDifferentialDeleteMatching(t *testing.T) {
	want := alwaysPipelined(t, openFlushed(t, "redis://"+realRedis.Get(t).Addr))
	t.Cleanup(func() { want.Close() })
	got := memstore.New(memstore.Options{Shards: 4})
	t.Cleanup(func() { got.Close() })
	backendtest.DifferentialDeleteMatching(t, got, want, backendtest.DiffOptions{})
}

// TestScanInstanceAcrossRestart checks that the instance a scan reports is
// the server's run_id, new after a restart that keeps the data: a cursor of
// the old instance means nothing to the new one. appendfsync always: with
// everysec, Redis postpones writing its AOF buffer while a background fsync
// is slow (a busy disk) and still replies, so a write acknowledged just
// before the kill could be lost.
func TestScanInstanceAcrossRestart(t *testing.T) {
	srv := redistest.StartForTest(t, "--appendonly", "yes", "--appendfsync", "always")
	b := openDSN(t, "redis://"+srv.Addr)
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	_, err := b.HSet(ctx, "h", 0, "f", "v")
	require.NoError(t, err)
	_, err = b.SAdd(ctx, "s", 0, "m")
	require.NoError(t, err)

	_, _, before, err := b.HScanInstance(ctx, "h", 0, 10)
	require.NoError(t, err)
	require.Equal(t, runIDOf(t, b), before)
	require.NoError(t, srv.Restart())
	fv, _, after, err := b.HScanInstance(ctx, "h", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"f", "v"}, fv, "the data survived the restart")
	require.NotEqual(t, before, after, "a restarted server is another instance")
	require.Equal(t, runIDOf(t, b), after)
	ms, _, inst, err := b.SScanInstance(ctx, "s", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"m"}, ms)
	require.Equal(t, after, inst)
}

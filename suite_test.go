package caches

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// The real servers shared by this package's tests: a single redis-server, a
// 3-master cluster, and a master with a replica behind a sentinel (with a
// password, which the DSN gives both the sentinel and the master).
var (
	realRedis    redistest.Shared
	realCluster  redistest.SharedCluster
	realSentinel = redistest.SharedSentinel{Password: "sentinel-secret"}
)

// crossSlot counts the CROSSSLOT errors the cluster returned to the tests:
// the cluster rejects every command whose keys span slots, so zero at the
// end proves the library never sent one.
var crossSlot crossSlotHook

type crossSlotHook struct{ errs atomic.Int64 }

func (h *crossSlotHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *crossSlotHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h *crossSlotHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.check(c.Err())
		}
		return err
	}
}

func (h *crossSlotHook) check(err error) {
	if err != nil && strings.Contains(err.Error(), "CROSSSLOT") {
		h.errs.Add(1)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if n := crossSlot.errs.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "the library sent %d cross-slot commands to the cluster\n", n)
		code = 1
	}
	redistest.ReportSkips()
	realRedis.Stop()
	realCluster.Stop()
	realSentinel.Stop()
	os.Exit(code)
}

// env is one backend under test, reached through a Conn.
type env struct {
	name string
	conn *Conn
	b    backend.Backend

	// advance moves the backend's clock forward by d: every key's remaining
	// time to live shrinks by d, and keys whose time is up expire.
	advance func(t *testing.T, d time.Duration)
	// now is the backend's current time, for absolute deadlines.
	now func() time.Time
	// second returns another connection to the same data, as a second
	// process would have.
	second func(t *testing.T) *Conn
	// outer is the env a namespace env is in; nil for the others.
	outer *env
}

// opts returns family options bound to the env's connection.
func (e *env) opts(prefix string) Options {
	return Options{Prefix: prefix, Conn: e.conn}
}

// forEachBackend runs f as a subtest on a fresh memstore, a fresh
// miniredis, the real redis-server, Cluster and Sentinel (flushed first),
// each of them with near caching on for every family too (withNear), and
// through a namespace of the redis-server.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("memstore", func(t *testing.T) { f(t, memEnv(t)) })
	t.Run("miniredis", func(t *testing.T) { f(t, miniEnv(t)) })
	t.Run("redis", func(t *testing.T) { f(t, redisEnv(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, clusterEnv(t)) })
	t.Run("sentinel", func(t *testing.T) { f(t, sentinelEnv(t)) })
	t.Run("memstore+near", func(t *testing.T) { f(t, withNear(t, memEnv(t))) })
	t.Run("miniredis+near", func(t *testing.T) { f(t, withNear(t, miniEnv(t))) })
	t.Run("redis+near", func(t *testing.T) { f(t, withNear(t, redisEnv(t))) })
	t.Run("cluster+near", func(t *testing.T) { f(t, withNear(t, clusterEnv(t))) })
	t.Run("sentinel+near", func(t *testing.T) { f(t, withNear(t, sentinelEnv(t))) })
	t.Run("redis-namespace", func(t *testing.T) { f(t, namespacedEnv(t, redisEnv(t))) })
}

// namespacedEnv is e seen through a namespace of its connection (see
// Conn.Namespace): every behaviour holds there as on e itself.
func namespacedEnv(t *testing.T, e *env) *env {
	t.Helper()
	const ns = "test:ns:"
	in := func(c *Conn) *Conn {
		n, err := c.Namespace(ns)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	conn := in(e.conn)
	return &env{
		name: e.name + "-namespace", conn: conn, b: conn.b,
		advance: e.advance, now: e.now, outer: e,
		second: func(t *testing.T) *Conn { return in(e.second(t)) },
	}
}

func memEnv(t *testing.T) *env {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	conn := NewMemoryConn(MemoryOptions{Now: clock})
	t.Cleanup(func() { conn.Close() })
	return &env{
		name: "memstore", conn: conn, b: conn.b,
		advance: func(_ *testing.T, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(d)
		},
		now:    clock,
		second: func(*testing.T) *Conn { return &Conn{desc: conn.desc, b: conn.b, mem: conn.mem} },
	}
}

func miniEnv(t *testing.T) *env {
	m := miniredis.RunT(t)
	start := time.Now()
	m.SetTime(start)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	conn := alwaysPipelined(t, NewRedisConn(client))
	elapsed := time.Duration(0)
	return &env{
		name: "miniredis", conn: conn, b: conn.b,
		advance: func(_ *testing.T, d time.Duration) {
			elapsed += d
			m.SetTime(start.Add(elapsed))
			m.FastForward(d)
		},
		now:    func() time.Time { return start.Add(elapsed) },
		second: func(t *testing.T) *Conn { return newClientConn(t, m.Addr()) },
	}
}

func redisEnv(t *testing.T) *env {
	srv := realRedis.Get(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	if err := client.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	conn := alwaysPipelined(t, NewRedisConn(client))
	return &env{
		name: "redis", conn: conn, b: conn.b,
		advance: func(t *testing.T, d time.Duration) { redistest.ShiftTTLs(t, client, d) },
		now:     time.Now,
		second:  func(t *testing.T) *Conn { return newClientConn(t, srv.Addr) },
	}
}

// clusterEnv connects to the shared cluster through a redis+cluster DSN.
func clusterEnv(t *testing.T) *env {
	cl := realCluster.Get(t)
	ctx := context.Background()
	if err := cl.FlushAll(ctx); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	open := func(t *testing.T) *Conn {
		conn, err := Open("redis+cluster://" + strings.Join(cl.Addrs, ","))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.b.(*redisbackend.Backend).Client().AddHook(&crossSlot)
		return alwaysPipelined(t, conn)
	}
	conn := open(t)
	client := conn.b.(*redisbackend.Backend).Client().(*redis.ClusterClient)
	return &env{
		name: "cluster", conn: conn, b: conn.b,
		advance: func(t *testing.T, d time.Duration) { redistest.ShiftTTLs(t, client, d) },
		now:     time.Now,
		second:  open,
	}
}

// sentinelEnv connects to the shared master through a redis+sentinel DSN.
func sentinelEnv(t *testing.T) *env {
	s := realSentinel.Get(t)
	open := func(t *testing.T) *Conn {
		conn, err := Open("redis+sentinel://:" + s.Password + "@" + s.SentinelAddr + "/" + s.MasterName)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return alwaysPipelined(t, conn)
	}
	conn := open(t)
	client := conn.b.(*redisbackend.Backend).Client().(*redis.Client)
	if err := client.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	return &env{
		name: "sentinel", conn: conn, b: conn.b,
		advance: func(t *testing.T, d time.Duration) { redistest.ShiftTTLs(t, client, d) },
		now:     time.Now,
		second:  open,
	}
}

// alwaysPipelined makes every call of conn, a Redis connection, go through
// the automatic pipeline, a lone call included: the behaviour suite runs
// one call at a time, which would otherwise take the pooled path. The
// connection keeps its client, and whether Close closes it.
func alwaysPipelined(t *testing.T, conn *Conn) *Conn {
	t.Helper()
	old := conn.b.(*redisbackend.Backend)
	rb, err := old.Reopen(redisbackend.Options{Always: true})
	if err != nil || !rb.Pipelined() {
		t.Fatalf("no automatic pipeline on %s: %v", conn, err)
	}
	conn.b = rb
	return conn
}

// newClientConn returns a connection over a new go-redis client to addr,
// closed when t ends.
func newClientConn(t *testing.T, addr string) *Conn {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return NewRedisConn(c)
}

// zs pairs members and scores for ZAdd.
func zs(members []string, scores []float64) []backend.Z {
	out := make([]backend.Z, len(members))
	for i, m := range members {
		out[i] = backend.Z{Member: m, Score: scores[i]}
	}
	return out
}

// pairs reads alternating fields and values as a map.
func pairs(fv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(fv); i += 2 {
		m[fv[i]] = fv[i+1]
	}
	return m
}

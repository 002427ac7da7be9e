package caches

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// realRedis is the redis-server shared by this package's tests.
var realRedis redistest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	realRedis.Stop()
	os.Exit(code)
}

// env is one backend under test, reached through a Conn.
type env struct {
	name string
	conn *Conn
	b    backend

	// advance moves the backend's clock forward by d: every key's remaining
	// time to live shrinks by d, and keys whose time is up expire.
	advance func(t *testing.T, d time.Duration)
	// now is the backend's current time, for absolute deadlines.
	now func() time.Time
	// second returns another connection to the same data, as a second
	// process would have.
	second func(t *testing.T) *Conn
}

// opts returns family options bound to the env's connection.
func (e *env) opts(prefix string) Options {
	return Options{Prefix: prefix, Conn: e.conn}
}

// forEachBackend runs f as a subtest on a fresh memstore, a fresh miniredis
// and the real redis-server (flushed first).
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("memstore", func(t *testing.T) { f(t, memEnv(t)) })
	t.Run("miniredis", func(t *testing.T) { f(t, miniEnv(t)) })
	t.Run("redis", func(t *testing.T) { f(t, redisEnv(t)) })
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
	conn := NewRedisConn(client)
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
	conn := NewRedisConn(client)
	return &env{
		name: "redis", conn: conn, b: conn.b,
		advance: func(t *testing.T, d time.Duration) { shiftTTLs(t, client, d) },
		now:     time.Now,
		second:  func(t *testing.T) *Conn { return newClientConn(t, srv.Addr) },
	}
}

// shiftTTLs moves a real server's keys forward in time by d: a real server's
// clock cannot be moved, so every key with an expiry has d taken off its
// remaining time to live (and is deleted when nothing remains), which is
// what moving the clock would do.
func shiftTTLs(t *testing.T, c *redis.Client, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if ttl < 0 {
			continue
		}
		if ttl-d <= 0 {
			c.Del(ctx, key)
		} else {
			c.PExpire(ctx, key, ttl-d)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
}

// newClientConn returns a connection over a new go-redis client to addr,
// closed when t ends.
func newClientConn(t *testing.T, addr string) *Conn {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return NewRedisConn(c)
}

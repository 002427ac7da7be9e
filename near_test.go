package caches

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redisbackend"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// nearConn returns a connection to the shared redis-server and a raw client
// to it, as another process would write.
func nearConn(t *testing.T) (*Conn, *redis.Client) {
	t.Helper()
	srv := realRedis.Get(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close(); raw.Close() })
	conn := NewRedisConn(client)
	t.Cleanup(func() { conn.Close() })
	return conn, raw
}

func waitLive(t *testing.T, f Family) {
	t.Helper()
	if !poll.Until(5*time.Second, 5*time.Millisecond, func() bool {
		s, ok := f.base().NearStats()
		return ok && s.Live
	}) {
		t.Fatal("near cache never went live")
	}
}

func TestNearKeyCacheHitAndInvalidation(t *testing.T) {
	conn, raw := nearConn(t)
	ctx := context.Background()
	kc := NewKeyCache[string](Options{Prefix: "neark", Conn: conn, Near: &NearOptions{}})
	k := kc.Key("a")
	if err := k.Set(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx); err != nil {
		t.Fatal(err)
	}
	waitLive(t, kc)
	for range 3 {
		if v, err := k.Get(ctx); err != nil || v != "v1" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	s, _ := kc.NearStats()
	if s.Hits < 2 || s.Entries != 1 {
		t.Fatalf("near stats %+v: want 2 hits or more and 1 entry", s)
	}
	if err := raw.Set(ctx, "neark:a", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(2*time.Second, time.Millisecond, func() bool { v, _ := k.Get(ctx); return v == "v2" }) {
		t.Fatal("another client's write never reached the near cache")
	}
	if s, _ := kc.NearStats(); s.Invalidations == 0 {
		t.Fatalf("near stats %+v: no invalidation counted", s)
	}
}

// withNear turns near caching on for every family of e's connection (as
// the DSN option near=true does). Writes through e.b, the suite's raw
// backend, wait until the near caches applied their invalidations; moving
// the clock on Redis invalidates the copies of the keys it expires, and
// advance waits until those invalidations are applied too, as a program
// that needs another client's write to be seen at once calls Sync. On
// miniredis, which refuses CLIENT TRACKING, the near caches stay bypassed
// (ErrNearUnsupported); on the in-process store the option changes
// nothing.
func withNear(t *testing.T, e *env) *env {
	e.name += "+near"
	e.conn.nearAll = &NearOptions{}
	if e.conn.nears == nil { // the in-process store: the option changes nothing
		return e
	}
	t.Cleanup(func() { e.conn.Close() })
	t.Cleanup(func() { t.Logf("near hits: %d", e.conn.nears.hits()) })
	e.b = &syncAfterWrite{Backend: e.b, conn: e.conn}
	advance := e.advance
	e.advance = func(t *testing.T, d time.Duration) {
		advance(t, d)
		if err := e.conn.nears.sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// syncAfterWrite is the raw backend of a near env: the suite writes
// through it behind the families' backs, as another client would, and reads
// at once; each write waits until the near caches of the key's prefix
// applied its invalidation.
type syncAfterWrite struct {
	backend.Backend
	conn *Conn
}

func (s *syncAfterWrite) sync(key string) { _ = s.conn.nears.sync(context.Background(), key) }

func (s *syncAfterWrite) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	defer s.sync(key)
	return s.Backend.Set(ctx, key, value, ttl)
}

func (s *syncAfterWrite) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	defer s.sync(key)
	return s.Backend.SetNX(ctx, key, value, ttl)
}

func (s *syncAfterWrite) HSet(ctx context.Context, key string, ttl time.Duration, fv ...string) (int64, error) {
	defer s.sync(key)
	return s.Backend.HSet(ctx, key, ttl, fv...)
}

func (s *syncAfterWrite) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	defer s.sync(key)
	return s.Backend.SAdd(ctx, key, ttl, members...)
}

func (s *syncAfterWrite) ZAdd(ctx context.Context, key string, ttl time.Duration, mode backend.ZAddMode, members ...backend.Z) (int64, error) {
	defer s.sync(key)
	return s.Backend.ZAdd(ctx, key, ttl, mode, members...)
}

// Close closes the go-redis client under the connection, as closeUnder
// does for the env's plain backend.
func (s *syncAfterWrite) Close() error {
	return s.Backend.(*redisbackend.Backend).Client().Close()
}

// TestNearDSN opens a connection whose DSN turns near caching on: every
// family of it keeps near copies, within the DSN's bound. On memory:// the
// options are accepted and change nothing.
func TestNearDSN(t *testing.T) {
	srv := realRedis.Get(t)
	conn, err := Open("redis://" + srv.Addr + "?near=true&near_max_entries=5&near_ttl=30s&near_heartbeat=50ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	kc := NewKeyCache[int](Options{Prefix: "neardsn", Conn: conn})
	for i := range 20 {
		if err := kc.Key(i).Set(ctx, i); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.Key(i).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, kc)
	for range 3 {
		if v, err := kc.Key(19).Get(ctx); err != nil || v != 19 {
			t.Fatalf("Get = %d, %v", v, err)
		}
	}
	s, ok := kc.NearStats()
	if !ok || s.Hits == 0 {
		t.Fatalf("near stats %+v, %v: a family of a near=true connection reads no copy", s, ok)
	}
	if s.Entries > 5 {
		t.Fatalf("near stats %+v: more entries than near_max_entries=5", s)
	}

	mem, err := Open("memory://?near=true&near_max_entries=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	mk := NewKeyCache[int](Options{Prefix: "neardsn", Conn: mem})
	if err := mk.Key(1).Set(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := mk.Key(1).Get(ctx); err != nil || v != 1 {
		t.Fatalf("Get on memory:// with near=true = %d, %v", v, err)
	}
	if _, ok := mk.NearStats(); ok {
		t.Fatal("a memory:// connection has a near cache")
	}
}

// TestNearSortedSet reads a sorted set's scores and ranges from the near
// copy, and sees another client's ZADD once its invalidation arrives.
func TestNearSortedSet(t *testing.T) {
	conn, raw := nearConn(t)
	ctx := context.Background()
	zc := NewSortedSetCache[string](Options{Prefix: "nearz", Conn: conn, Near: &NearOptions{}})
	z := zc.Key("board")
	if _, err := z.AddMany(ctx, Scored[string]{Member: "a", Score: 1}, Scored[string]{Member: "b", Score: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Score(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, zc)
	if !poll.Until(2*time.Second, time.Millisecond, func() bool { _, _ = z.Score(ctx, "a"); s, _ := zc.NearStats(); return s.Entries == 1 }) {
		t.Fatal("no copy of the sorted set kept")
	}
	s0, _ := zc.NearStats()
	top, err := z.Range(ctx, 0, -1)
	if err != nil || len(top) != 2 || top[1].Member != "b" || top[1].Score != 2 {
		t.Fatalf("Range = %v, %v", top, err)
	}
	if sc, err := z.Score(ctx, "b"); err != nil || sc != 2 {
		t.Fatalf("Score = %v, %v", sc, err)
	}
	if s, _ := zc.NearStats(); s.Hits < s0.Hits+2 {
		t.Fatalf("near stats %+v after %+v: Range and Score were not read locally", s, s0)
	}
	if err := raw.ZAdd(ctx, z.String(), redis.Z{Member: "c", Score: 3}).Err(); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(2*time.Second, time.Millisecond, func() bool { sc, err := z.Score(ctx, "c"); return err == nil && sc == 3 }) {
		t.Fatal("another client's ZADD never reached the near cache")
	}
}

// TestNearUnsupportedServer: on a server that refuses CLIENT TRACKING
// (miniredis here, or Redis before 6.0) a near cache keeps nothing and
// changes nothing: reads and writes work and go to the server, another
// client's write is seen at once, and NearStats says why.
func TestNearUnsupportedServer(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	conn := NewRedisConn(client)
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	kc := NewKeyCache[string](Options{Prefix: "nearmini", Conn: conn, Near: &NearOptions{}})
	k := kc.Key("a")
	if err := k.Set(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(5*time.Second, 5*time.Millisecond, func() bool {
		_, _ = k.Get(ctx)
		s, _ := kc.NearStats()
		return s.Err != nil
	}) {
		t.Fatal("NearStats never reported why tracking is down")
	}
	s, _ := kc.NearStats()
	if !errors.Is(s.Err, ErrNearUnsupported) || s.Live || s.Entries != 0 || s.Hits != 0 {
		t.Fatalf("near stats %+v: want ErrNearUnsupported, not live, no copy, no hit", s)
	}
	m.Set("nearmini:a", "v2")
	if v, err := k.Get(ctx); err != nil || v != "v2" {
		t.Fatalf("Get after another client's write = %q, %v: want v2 at once", v, err)
	}
}

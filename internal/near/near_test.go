package near

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// hooked is a backend whose Get calls afterGet between its read from
// Redis and its return, where a near cache decides whether to keep what
// was read.
type hooked struct {
	backend.Backend
	afterGet func(key string)
}

func (h *hooked) Get(ctx context.Context, key string) (string, bool, error) {
	v, ok, err := h.Backend.Get(ctx, key)
	if h.afterGet != nil {
		h.afterGet(key)
	}
	return v, ok, err
}

// hookedTTL is hooked with the one-round-trip read of a fill
// (backend.TTLGetter), whose read calls afterGet too.
type hookedTTL struct{ *hooked }

func (h hookedTTL) GetPTTL(ctx context.Context, key string) (string, time.Duration, bool, error) {
	v, pttl, ok, err := h.Backend.(backend.TTLGetter).GetPTTL(ctx, key)
	if h.afterGet != nil {
		h.afterGet(key)
	}
	return v, pttl, ok, err
}

// nearOn returns a near cache of prefix "p" over a client of srv, its
// backend (to hook) and a raw client, as another process. Its fills read
// a value and its TTL in one round trip.
func nearOn(t *testing.T, srv *redistest.Server, o Options) (*Cache, *hooked, *redis.Client) {
	return nearOnWith(t, srv, o, true)
}

// nearOnWith is nearOn whose fills read in one round trip (GET and PTTL
// pipelined) when oneTrip is set, else by GET then PTTL.
func nearOnWith(t *testing.T, srv *redistest.Server, o Options, oneTrip bool) (*Cache, *hooked, *redis.Client) {
	t.Helper()
	data := redis.NewClient(&redis.Options{Addr: srv.Addr})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { data.Close(); raw.Close() })
	rb, err := redisbackend.New(data, false, redisbackend.Options{NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &hooked{Backend: rb}
	var inner backend.Backend = h
	if oneTrip {
		inner = hookedTTL{h}
	}
	topo, _ := ClientTopology(data)
	o.Prefix = "p"
	c := New(inner, topo, o)
	t.Cleanup(func() { c.Close() })
	if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
		t.Fatal("tracking never went live")
	}
	return c, h, raw
}

// TestFillGuard writes a key from another client between the near cache's
// read of it and its decision to keep the copy, and waits until Redis's
// invalidation is applied before letting the fill go on: the value read
// must not be kept; with a fill in one round trip (GET and PTTL
// pipelined) and in two.
func TestFillGuard(t *testing.T) {
	srv := redistest.StartForTest(t)
	for _, oneTrip := range []bool{true, false} {
		t.Run(fmt.Sprintf("one-round-trip=%v", oneTrip), func(t *testing.T) { testFillGuard(t, srv, oneTrip) })
	}
}

func testFillGuard(t *testing.T, srv *redistest.Server, oneTrip bool) {
	applied := make(chan string, 16)
	c, h, raw := nearOnWith(t, srv, Options{OnInvalidate: func(key string, flush bool) {
		if !flush {
			applied <- key
		}
	}}, oneTrip)
	ctx := context.Background()
	if err := raw.Set(ctx, "p:k", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	received(t, applied) // the invalidation of the write above
	h.afterGet = func(key string) {
		h.afterGet = nil
		if err := raw.Set(ctx, key, "new", 0).Err(); err != nil {
			t.Error(err)
		}
		if k := received(t, applied); k != key {
			t.Errorf("invalidation of %q, want %q", k, key)
		}
	}
	if v, _, err := c.Get(ctx, "p:k"); err != nil || v != "old" {
		t.Fatalf("Get = %q, %v: want the value read before the write", v, err)
	}
	if n := c.Stats().Entries; n != 0 {
		t.Fatalf("the near cache kept %d copies read before an invalidation of them", n)
	}
	if v, _, _ := c.Get(ctx, "p:k"); v != "new" {
		t.Fatalf("Get = %q after the invalidation, want %q", v, "new")
	}
	if n := c.Stats().Entries; n != 1 {
		t.Fatalf("a fill with no invalidation meanwhile kept %d copies, want 1", n)
	}
}

// TestStallFlushesAndBypasses pauses the server longer than the stall
// timeout: the heartbeat's reply comes late, so the near cache must drop
// its copies and stop serving locally, and go live again after the pause.
func TestStallFlushesAndBypasses(t *testing.T) {
	srv := redistest.StartForTest(t)
	c, _, raw := nearOn(t, srv, Options{Heartbeat: 10 * time.Millisecond, Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if err := raw.Set(ctx, "p:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !poll(5*time.Second, func() bool { _, _, _ = c.Get(ctx, "p:k"); return c.Stats().Entries == 1 }) {
		t.Fatalf("no copy kept: %+v", c.Stats())
	}
	flushes := c.Stats().Flushes
	if err := srv.Pause(ctx, 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !poll(550*time.Millisecond, func() bool { s := c.Stats(); return !s.Live && s.Entries == 0 && s.Flushes > flushes }) {
		t.Fatalf("a heartbeat later than the stall timeout left the cache %+v", c.Stats())
	}
	hits := c.Stats().Hits
	if v, _, err := c.Get(ctx, "p:k"); err != nil || v != "v" {
		t.Fatalf("Get through the stalled cache = %q, %v", v, err)
	}
	if c.Stats().Hits != hits {
		t.Fatal("a read was answered locally while tracking was stalled")
	}
	if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
		t.Fatal("tracking never came back after the pause")
	}
}

// TestBounds fills a near cache bounded to n entries with many keys: it
// never holds more than n; and one bounded in bytes holds its bound
// within 10 %.
func TestBounds(t *testing.T) {
	srv := redistest.StartForTest(t)
	ctx := context.Background()
	t.Run("entries", func(t *testing.T) {
		const n = 50
		c, _, raw := nearOn(t, srv, Options{MaxEntries: n})
		writeAll(t, c, raw, "p:e%d", 500, "v")
		for i := range 500 {
			_, _, _ = c.Get(ctx, fmt.Sprintf("p:e%d", i))
			if e := c.Stats().Entries; e > n {
				t.Fatalf("after %d keys read the cache holds %d entries, bound %d", i+1, e, n)
			}
		}
		if e := c.Stats().Entries; e < n/2 {
			t.Fatalf("the cache holds %d entries of %d allowed: it did not fill", e, n)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		const maxBytes = 64 << 10
		c, _, raw := nearOn(t, srv, Options{MaxBytes: maxBytes})
		value := strings.Repeat("x", 1000)
		writeAll(t, c, raw, "p:b%d", 300, value)
		for i := range 300 {
			_, _, _ = c.Get(ctx, fmt.Sprintf("p:b%d", i))
			if used := c.local.UsedBytes(); used > maxBytes*11/10 {
				t.Fatalf("after %d keys read the cache holds %d bytes, bound %d", i+1, used, maxBytes)
			}
		}
		held := int64(c.Stats().Entries) * int64(len(value))
		if held < maxBytes/2 || held > maxBytes*11/10 {
			t.Fatalf("the cache holds %d values of %d bytes (%d bytes of values), bound %d",
				c.Stats().Entries, len(value), held, maxBytes)
		}
	})
}

// writeAll writes n keys named by format through raw, then waits until c
// applied their invalidations, which would otherwise drop the copies that
// reads made before they arrived.
func writeAll(t *testing.T, c *Cache, raw *redis.Client, format string, n int, value string) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := raw.Set(ctx, fmt.Sprintf(format, i), value, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// received returns the next key applied, failing the test after 5s.
func received(t *testing.T, applied chan string) string {
	t.Helper()
	select {
	case k := <-applied:
		return k
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation applied within 5s")
		return ""
	}
}

package near

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// poll calls cond every few milliseconds until it holds or limit passes.
func poll(limit time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// killClients kills the connections to admin's server other than admin's
// own and the tracking connections.
func killClients(t *testing.T, ctx context.Context, admin *redis.Client) {
	t.Helper()
	self, err := admin.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if strings.Contains(line, " name="+ConnName+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok && id != strconv.FormatInt(self, 10) {
				admin.Do(ctx, "CLIENT", "KILL", "ID", id)
			}
		}
	}
}

// TestTrackingFollowsTheDataServer switches the server a client dials
// under one address, as a Sentinel failover client does, while the former
// server still answers ROLE master and takes no write: the near cache must
// notice that the data client now talks to another server, drop its copy
// and track the new one.
func TestTrackingFollowsTheDataServer(t *testing.T) {
	a, b := redistest.StartForTest(t), redistest.StartForTest(t)
	ctx := context.Background()
	var cur atomic.Value
	cur.Store(a.Addr)
	data := redis.NewClient(&redis.Options{Addr: "switching", MaxRetries: 3,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, cur.Load().(string))
		}})
	adminA := redis.NewClient(&redis.Options{Addr: a.Addr})
	rawB := redis.NewClient(&redis.Options{Addr: b.Addr})
	t.Cleanup(func() { data.Close(); adminA.Close(); rawB.Close() })
	inner, err := redisbackend.New(data, false, redisbackend.Options{NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	topo, _ := ClientTopology(data)
	c := New(inner, topo, Options{Prefix: "p", Heartbeat: 10 * time.Millisecond, Timeout: 500 * time.Millisecond})
	t.Cleanup(func() { c.Close() })

	if err := adminA.Set(ctx, "p:k", "on a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rawB.Set(ctx, "p:k", "on b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !poll(5*time.Second, func() bool { _, _, _ = c.Get(ctx, "p:k"); return c.Stats().Entries == 1 }) {
		t.Fatalf("no copy kept: %+v", c.Stats())
	}
	if v, _, _ := c.Get(ctx, "p:k"); v != "on a" {
		t.Fatalf("Get = %q before the switch, want the value on a", v)
	}

	cur.Store(b.Addr)
	killClients(t, ctx, adminA) // the data client reconnects, to b
	if !poll(5*time.Second, func() bool { v, _, _ := c.Get(ctx, "p:k"); return v == "on b" }) {
		t.Fatalf("the copy from a is still served after the data client moved to b: %+v", c.Stats())
	}
	// The tracking connection is on b now: a write there invalidates.
	if !poll(5*time.Second, func() bool { _, _, _ = c.Get(ctx, "p:k"); return c.Stats().Live && c.Stats().Entries == 1 }) {
		t.Fatalf("no copy kept after the switch: %+v", c.Stats())
	}
	if err := rawB.Set(ctx, "p:k", "new on b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !poll(5*time.Second, func() bool { v, _, _ := c.Get(ctx, "p:k"); return v == "new on b" }) {
		t.Fatal("a write on b did not reach the near cache")
	}
}

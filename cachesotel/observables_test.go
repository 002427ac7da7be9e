package cachesotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachesotel"
	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// observables collects the metrics and returns the values of the gauges
// and counters whose points have exactly the attributes attrs, by metric
// name.
func (h *harness) observables(t *testing.T, attrs ...attribute.KeyValue) map[string]int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			case metricdata.Sum[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				if p.Attributes.Equals(&want) {
					got[m.Name] = p.Value
				}
			}
		}
	}
	return got
}

// TestNearCacheObserved: the caches.near.* instruments report a near-cached
// family's hits, misses, invalidations and entries on a real
// redis-server, with the family's attributes, and its reads answered
// locally are operations of outcome near_hit.
func TestNearCacheObserved(t *testing.T) {
	srv := redistest.StartForTest(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr}) // another process's writes
	conn := caches.NewRedisConn(client)
	t.Cleanup(func() {
		conn.Close()
		client.Close()
		raw.Close()
	})
	t.Cleanup(caches.Override(connName, conn))
	h := instrument(t, "redis")
	ctx := context.Background()
	kc := caches.NewKeyCache[string](caches.Options{Prefix: "nearusers", Connection: connName, Near: &caches.NearOptions{}})
	k := kc.Key("a")
	require.NoError(t, k.Set(ctx, "v1"))
	waitNear(t, "tracking goes live", func(s caches.NearStats) bool { return s.Live })
	_, err := k.Get(ctx) // makes the copy, unless it is there already
	require.NoError(t, err)
	before, _ := kc.NearStats()
	opsBefore := h.points(t)

	for range 3 {
		v, err := k.Get(h.ctx)
		require.NoError(t, err)
		require.Equal(t, "v1", v)
	}
	require.NoError(t, raw.Set(ctx, "nearusers:a", "v2", 0).Err())
	waitNear(t, "Redis's invalidation arrives", func(s caches.NearStats) bool {
		return s.Invalidations > before.Invalidations
	})
	v, err := k.Get(h.ctx) // the copy is gone: a miss, which makes a new one
	require.NoError(t, err)
	require.Equal(t, "v2", v)

	family := []attribute.KeyValue{cachesotel.ConnectionKey.String(connName),
		cachesotel.FamilyKey.String("nearusers"), attribute.String("db.system.name", "redis")}
	require.Equal(t, map[string]int64{
		"caches.near.hits":          int64(before.Hits) + 3,
		"caches.near.misses":        int64(before.Misses) + 1,
		"caches.near.invalidations": int64(before.Invalidations) + 1,
		"caches.near.entries":       1,
	}, h.observables(t, family...))
	ops := h.points(t)
	added := func(outcome string) int64 {
		a := "caches.operations" + h.op("nearusers", "Get", outcome)
		return ops[a] - opsBefore[a]
	}
	require.Equal(t, int64(3), added("near_hit"))
	require.Equal(t, int64(1), added("hit"), "the read that went to Redis")
}

// waitNear waits until cond holds for the near cache of the family
// nearusers on the connection connName.
func waitNear(t *testing.T, what string, cond func(caches.NearStats) bool) {
	t.Helper()
	ok := poll.Until(5*time.Second, time.Millisecond, func() bool {
		conn, err := caches.Connection(connName)
		if err != nil {
			return false
		}
		for prefix, s := range conn.NearStats() {
			if prefix == "nearusers" && cond(s) {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("waited 5s, but not until %s", what)
	}
}

// TestMemoryStoreEvictionsObserved: a bounded in-process store's
// evictions are reported, with its keys and size.
func TestMemoryStoreEvictionsObserved(t *testing.T) {
	conn := caches.NewMemoryConn(caches.MemoryOptions{MaxKeys: 2})
	t.Cleanup(func() { conn.Close() })
	t.Cleanup(caches.Override(connName, conn))
	h := instrument(t, "memory")
	for i := range 5 {
		require.NoError(t, users().Key(i).Set(h.ctx, "ada"))
	}
	ms, _ := conn.MemoryStats()
	require.Equal(t, 2, ms.Keys)
	require.Equal(t, map[string]int64{"caches.memory.keys": 2, "caches.memory.bytes": ms.UsedBytes,
		"caches.memory.evictions": 3},
		h.observables(t, cachesotel.ConnectionKey.String(connName), attribute.String("db.system.name", "memory")))
}

package cachesotel_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachesotel"
	"github.com/gocaches/caches/cachestest"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// connName is the connection every test family uses.
const connName = "otel"

// harness is an installed observer with an in-memory reader and span
// recorder, and a root span the test's operations run under.
type harness struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	root   trace.Span
	ctx    context.Context // the root span's
	system string          // db.system.name of the backend
}

// instrument installs an observer recording into a fresh reader and
// recorder until t ends. Tests that call it must not run in parallel: the
// observer is the program's.
func instrument(t *testing.T, system string) *harness {
	t.Helper()
	h := &harness{reader: sdkmetric.NewManualReader(sdkmetric.WithProducer(cachesotel.Producer())),
		spans: tracetest.NewSpanRecorder(), system: system}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	obs, err := cachesotel.Instrument(cachesotel.WithMeterProvider(mp), cachesotel.WithTracerProvider(tp))
	require.NoError(t, err)
	t.Cleanup(func() { obs.Close() })
	h.ctx, h.root = tp.Tracer("test").Start(context.Background(), "test")
	return h
}

// forEachBackend runs f on an in-process store and on a real redis-server,
// each registered as the connection connName.
func forEachBackend(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Run("memory", func(t *testing.T) {
		cachestest.Use(t, connName)
		f(t, instrument(t, "memory"))
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.StartForTest(t)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		conn := caches.NewRedisConn(client)
		t.Cleanup(func() {
			conn.Close()
			client.Close()
		})
		t.Cleanup(caches.Override(connName, conn))
		f(t, instrument(t, "redis"))
	})
}

// points flattens the collected metrics of the caches, but the observable
// ones, into "name{attributes}" → value: the sum of a counter, the count
// of a histogram.
func (h *harness) points(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, cachesotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			if strings.HasPrefix(m.Name, "caches.memory.") || strings.HasPrefix(m.Name, "caches.near.") {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+attrString(p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name+attrString(p.Attributes)] = int64(p.Count)
				}
			default:
				t.Fatalf("unexpected data of %s: %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// op is the attribute string of an operation of family "users" (or
// family) of the backend.
func (h *harness) op(family, name, outcome string, more ...string) string {
	attrs := []string{"caches.connection=" + connName, "caches.family=" + family, "caches.outcome=" + outcome,
		"db.system.name=" + h.system}
	if name != "" {
		attrs = append(attrs, "db.operation.name="+name)
	}
	attrs = append(attrs, more...)
	sort.Strings(attrs)
	return "{" + strings.Join(attrs, ",") + "}"
}

// both is the counter and the duration histogram of one operation.
func (h *harness) both(family, name, outcome string, n int64, more ...string) map[string]int64 {
	a := h.op(family, name, outcome, more...)
	return map[string]int64{"caches.operations" + a: n, "caches.operation.duration" + a: n}
}

func merge(ms ...map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// span is what the tests check of an ended span.
type span struct {
	Name   string
	Attrs  string
	Status codes.Code
	Parent string // the name of the parent span
}

// ended returns the cache spans that ended, in the order they ended.
func (h *harness) ended() []span {
	byID := map[trace.SpanID]string{h.root.SpanContext().SpanID(): "test"}
	all := h.spans.Ended()
	for _, s := range all {
		byID[s.SpanContext().SpanID()] = s.Name()
	}
	var out []span
	for _, s := range all {
		out = append(out, span{Name: s.Name(), Attrs: attrString(attribute.NewSet(s.Attributes()...)),
			Status: s.Status().Code, Parent: byID[s.Parent().SpanID()]})
	}
	return out
}

func (h *harness) span(family, name, outcome, parent string, more ...string) span {
	status := codes.Unset
	if outcome == "error" {
		status = codes.Error
	}
	attrs := []string{"caches.connection=" + connName, "caches.family=" + family, "caches.outcome=" + outcome,
		"db.operation.name=" + name, "db.system.name=" + h.system}
	attrs = append(attrs, more...)
	sort.Strings(attrs)
	return span{Name: name + " " + family, Attrs: "{" + strings.Join(attrs, ",") + "}", Status: status, Parent: parent}
}

func users() *caches.KeyCache[string] {
	return caches.NewKeyCache[string](caches.Options{Prefix: "users", Connection: connName})
}

func TestHitAndMiss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		u := users()
		require.NoError(t, u.Key(1).Set(h.ctx, "ada"))
		v, err := u.Key(1).Get(h.ctx)
		require.NoError(t, err)
		require.Equal(t, "ada", v)
		_, err = u.Key(2).Get(h.ctx)
		require.ErrorIs(t, err, caches.ErrNotFound)

		require.Equal(t, merge(
			h.both("users", "Set", "ok", 1),
			h.both("users", "Get", "hit", 1),
			h.both("users", "Get", "miss", 1),
		), h.points(t))
		require.Equal(t, []span{
			h.span("users", "Set", "ok", "test"),
			h.span("users", "Get", "hit", "test"),
			h.span("users", "Get", "miss", "test"),
		}, h.ended())
	})
}

func TestError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		dicts := caches.NewDictCache[string, string](caches.Options{Prefix: "users", Connection: connName})
		require.NoError(t, dicts.Key(1).Set(h.ctx, "name", "ada"))
		_, err := users().Key(1).Get(h.ctx)
		require.ErrorIs(t, err, caches.ErrWrongType)

		require.Equal(t, merge(
			h.both("users", "Set", "ok", 1),
			h.both("users", "Get", "error", 1, "error.type=wrong_type"),
		), h.points(t))
		require.Equal(t, []span{
			h.span("users", "Set", "ok", "test"),
			h.span("users", "Get", "error", "test", "error.type=wrong_type"),
		}, h.ended())
	})
}

func TestMemoCoalesced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		started, release := make(chan struct{}), make(chan struct{})
		m := caches.Memoize(func(ctx context.Context, id int) (string, error) {
			close(started)
			<-release
			return fmt.Sprint("user-", id), nil
		}, caches.MemoOptions[int]{Options: caches.Options{Prefix: "memo", Connection: connName}})

		var wg sync.WaitGroup
		results := make([]string, 2)
		call := func(i int) {
			defer wg.Done()
			ctx, s := h.root.TracerProvider().Tracer("test").Start(h.ctx, fmt.Sprint("caller", i))
			defer s.End()
			v, err := m.Call(ctx, 7)
			require.NoError(t, err)
			results[i] = v
		}
		wg.Add(2)
		go call(0)
		<-started
		go call(1)
		waitForWaiters(t, 2)
		close(release)
		wg.Wait()
		require.Equal(t, []string{"user-7", "user-7"}, results)

		require.Equal(t, merge(
			h.both("memo", "Call", "loaded", 1),
			h.both("memo", "Call", "coalesced", 1),
			map[string]int64{
				"caches.loads" + h.op("memo", "", "ok"):         1,
				"caches.load.duration" + h.op("memo", "", "ok"): 1,
			},
		), h.points(t))
		spans := h.ended()
		require.Len(t, spans, 5)
		require.Equal(t, h.span("memo", "Load", "ok", "Call memo"), spans[0], "the load, under the first call's span")
		require.ElementsMatch(t, []span{
			h.span("memo", "Call", "loaded", "caller0"),
			h.span("memo", "Call", "coalesced", "caller1"),
			{Name: "caller0", Attrs: "{}", Parent: "test"},
			{Name: "caller1", Attrs: "{}", Parent: "test"},
		}, spans[1:])
	})
}

// waitForWaiters waits until n goroutines wait in a computation of the
// caches (a Memo caller that started it or joined it): blocked in the
// select of flightGroup.do.
func waitForWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 1<<20)
	for {
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		waiting := slices.DeleteFunc(stacks, func(s string) bool {
			return !strings.Contains(s, "[select") || !strings.Contains(s, "caches.(*flightGroup[...]).do(")
		})
		if len(waiting) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for the computation, not %d", len(waiting), n)
		}
		<-tick.C
	}
}

func TestInvalidate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		u := users()
		require.NoError(t, u.Key(1).Set(h.ctx, "ada"))
		require.NoError(t, u.Key(2).Set(h.ctx, "grace"))
		n, err := u.Invalidate(h.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		family := "{caches.connection=otel,caches.family=users,db.system.name=" + h.system + "}"
		require.Equal(t, merge(
			h.both("users", "Set", "ok", 2),
			h.both("users", "Invalidate", "ok", 1),
			map[string]int64{"caches.invalidations" + family: 1, "caches.invalidated_keys" + family: 2},
		), h.points(t))
		require.Equal(t, []span{
			h.span("users", "Set", "ok", "test"),
			h.span("users", "Set", "ok", "test"),
			h.span("users", "Invalidate", "ok", "test"),
		}, h.ended())
	})
}

func TestMemoryStoreObserved(t *testing.T) {
	st := cachestest.Use(t, connName)
	h := instrument(t, "memory")
	require.NoError(t, users().Key(1).Set(h.ctx, "ada"))
	got := h.observables(t, attribute.String("caches.connection", connName), attribute.String("db.system.name", "memory"))
	ms, _ := st.Conn.MemoryStats()
	require.Equal(t, map[string]int64{"caches.memory.keys": 1, "caches.memory.bytes": ms.UsedBytes,
		"caches.memory.evictions": 0}, got)
	require.Positive(t, ms.UsedBytes)
}

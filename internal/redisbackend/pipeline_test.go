package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// roundTrips counts what reaches the wire: single commands (ProcessHook)
// and pipelined batches (ProcessPipelineHook) with their commands, apart
// from a new connection's handshake.
type roundTrips struct {
	single, batches, batched atomic.Int64
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.single.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			h.batches.Add(1)
			h.batched.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// handshake reports whether cmd belongs to a connection's setup.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "ping":
		return true
	}
	return false
}

// newTestBackend returns a backend over a fresh client of srv, with hooks
// counting its round trips.
func newTestBackend(t *testing.T, srv *redistest.Server, o Options, opts *redis.Options) (*Backend, *roundTrips) {
	t.Helper()
	if opts == nil {
		opts = &redis.Options{}
	}
	opts.Addr = srv.Addr
	client := redis.NewClient(opts)
	rt := &roundTrips{}
	client.AddHook(rt)
	b, err := New(client, true, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, rt
}

// concurrently runs op(g, i) for i < perCaller on each of callers
// goroutines and returns the first error.
func concurrently(callers, perCaller int, op func(g, i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			for i := range perCaller {
				if err := op(g, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestPipelineSharesRoundTrips: concurrent calls share batches of the
// automatic pipeline, and every caller reads its own reply.
func TestPipelineSharesRoundTrips(t *testing.T) {
	srv := redistest.StartForTest(t)
	b, rt := newTestBackend(t, srv, Options{}, nil)
	const callers, each = 64, 50
	setGetConcurrently(t, b, callers, each)
	calls := int64(2 * callers * each)
	trips := rt.single.Load() + rt.batches.Load()
	t.Logf("%d calls: %d alone, %d batches of %d commands", calls, rt.single.Load(), rt.batches.Load(), rt.batched.Load())
	if rt.single.Load()+rt.batched.Load() != calls {
		t.Errorf("%d commands reached the wire for %d calls", rt.single.Load()+rt.batched.Load(), calls)
	}
	if trips > calls/4 {
		t.Errorf("%d round trips for %d concurrent calls: the calls did not share them", trips, calls)
	}
}

// setGetConcurrently has each of callers goroutines write its key and read
// it back each times, and fails t unless every read returns what its
// caller wrote.
func setGetConcurrently(t *testing.T, b *Backend, callers, each int) {
	t.Helper()
	ctx := context.Background()
	err := concurrently(callers, each, func(g, i int) error {
		key, want := fmt.Sprintf("k%d", g), fmt.Sprintf("v%d-%d", g, i)
		if err := b.Set(ctx, key, want, time.Hour); err != nil {
			return err
		}
		got, ok, err := b.Get(ctx, key)
		if err != nil || !ok || got != want {
			return fmt.Errorf("caller %d read %q, %v, %v after writing %q", g, got, ok, err, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoneCallsSkipPipeline: calls from one goroutine never wait for the
// pipeline's flusher; each is one command on a pooled connection.
func TestLoneCallsSkipPipeline(t *testing.T) {
	srv := redistest.StartForTest(t)
	b, rt := newTestBackend(t, srv, Options{}, nil)
	ctx := context.Background()
	for i := range 100 {
		if err := b.Set(ctx, "k", fmt.Sprint(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.batches.Load(); n != 0 {
		t.Errorf("%d pipeline batches for calls made one at a time", n)
	}
	if n := rt.single.Load(); n != 100 {
		t.Errorf("%d single commands for 100 calls", n)
	}
}

// TestNoAutoPipeline: with pipelining off, concurrent calls each take a
// round trip of their own.
func TestNoAutoPipeline(t *testing.T) {
	srv := redistest.StartForTest(t)
	b, rt := newTestBackend(t, srv, Options{NoAutoPipeline: true}, nil)
	if b.Pipelined() {
		t.Fatal("Pipelined() with NoAutoPipeline")
	}
	ctx := context.Background()
	if err := concurrently(16, 20, func(g, i int) error { return b.Set(ctx, fmt.Sprint(g), "v", 0) }); err != nil {
		t.Fatal(err)
	}
	if rt.batches.Load() != 0 || rt.single.Load() != 16*20 {
		t.Errorf("%d single commands and %d batches for 320 calls without pipelining", rt.single.Load(), rt.batches.Load())
	}
}

// TestPipelineBoundedByContext: a pipelined call returns when its context
// ends, even on a client whose own I/O ignores contexts and while the server
// is paused; the abandoned commands do not disturb later replies. On
// go-redis's pipeline and on the library's own.
func TestPipelineBoundedByContext(t *testing.T) {
	for name, o := range map[string]Options{"go-redis": {}, "own": {Own: true}} {
		t.Run(name, func(t *testing.T) { testPipelineBoundedByContext(t, o) })
	}
}

func testPipelineBoundedByContext(t *testing.T, o Options) {
	srv := redistest.StartForTest(t)
	b, _ := newTestBackend(t, srv, o, &redis.Options{ReadTimeout: 5 * time.Second, ContextTimeoutEnabled: false})
	ctx := context.Background()
	if err := b.Set(ctx, "k", "before", 0); err != nil {
		t.Fatal(err)
	}
	const pause, deadline = 1500 * time.Millisecond, 200 * time.Millisecond
	if err := srv.Pause(ctx, pause); err != nil {
		t.Fatal(err)
	}
	// One call in flight for the whole pause makes every other call take
	// the pipeline.
	blocker := make(chan error, 1)
	go func() { _, _, err := b.Get(ctx, "k"); blocker <- err }()
	waitInFlight(t, b)
	var slow atomic.Int64
	err := concurrently(16, 1, func(g, _ int) error {
		c, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		start := time.Now()
		_, _, err := b.Get(c, "k")
		if took := time.Since(start); took > deadline+300*time.Millisecond {
			slow.Add(1)
			return fmt.Errorf("a call with a %v deadline took %v", deadline, took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("during the pause: %v, want the deadline", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-blocker; err != nil {
		t.Fatalf("the call in flight across the pause: %v", err)
	}
	if err := concurrently(8, 20, func(g, i int) error {
		v := fmt.Sprintf("after-%d-%d", g, i)
		if err := b.Set(ctx, fmt.Sprint("a", g), v, 0); err != nil {
			return err
		}
		got, _, err := b.Get(ctx, fmt.Sprint("a", g))
		if err != nil || got != v {
			return fmt.Errorf("after the pause, read %q, %v; want %q", got, err, v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitInFlight waits until b has a call in flight.
func waitInFlight(t *testing.T, b *Backend) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(2 * time.Second)
	for b.inFlight.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no call in flight")
		}
		<-tick.C
	}
}

// TestCancelledContextSendsNothing: a call whose context has already ended
// fails with its error whichever path it takes.
func TestCancelledContextSendsNothing(t *testing.T) {
	srv := redistest.StartForTest(t)
	b, _ := newTestBackend(t, srv, Options{}, &redis.Options{ContextTimeoutEnabled: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.inFlight.Add(1) // as if another call were in flight: the pipeline path
	_, _, err := b.Get(ctx, "k")
	b.inFlight.Add(-1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("pipelined: %v, want context.Canceled", err)
	}
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("alone: %v, want context.Canceled", err)
	}
}

// TestParsePipelineOptions: the autopipeline options of a DSN, and the
// errors that name a bad one.
func TestParsePipelineOptions(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  Options
		err   string
	}{
		{"", Options{}, ""},
		{"autopipeline=false", Options{NoAutoPipeline: true}, ""},
		{"autopipeline=true&autopipeline_max_batch=64&autopipeline_window=100us", Options{MaxBatch: 64, Window: 100 * time.Microsecond}, ""},
		{"autopipeline=go-redis", Options{GoRedis: true}, ""},
		{"autopipeline=maybe", Options{}, "invalid autopipeline"},
		{"autopipeline_max_batch=0", Options{}, "invalid autopipeline_max_batch"},
		{"autopipeline_window=-1s", Options{}, "invalid autopipeline_window"},
		{"autopipeline_window=soon", Options{}, "invalid autopipeline_window"},
	} {
		u, err := url.Parse("redis://127.0.0.1:6379/0?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		o, err := takeLibOptions(u)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want one containing %q", tt.query, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.query, err)
		case tt.err == "" && o.pipeline != tt.want:
			t.Errorf("%q: %+v, want %+v", tt.query, o.pipeline, tt.want)
		case tt.err == "" && strings.Contains(u.RawQuery, "autopipeline"):
			t.Errorf("%q: left %q for go-redis", tt.query, u.RawQuery)
		}
	}
}

// TestGetWithinBudget: GetWithin returns when its budget runs out, alone
// (the socket deadline of a pooled connection) and on the pipeline (a
// pooled timer, even without ContextTimeoutEnabled), and when its context
// is cancelled first; later calls are then served correctly.
func TestGetWithinBudget(t *testing.T) {
	srv := redistest.StartForTest(t)
	ctx := context.Background()
	const budget, slack = 150 * time.Millisecond, 350 * time.Millisecond
	alone, _ := newTestBackend(t, srv, Options{}, &redis.Options{ContextTimeoutEnabled: true})
	piped, _ := newTestBackend(t, srv, Options{Always: true}, &redis.Options{ReadTimeout: 5 * time.Second})
	own, _ := newTestBackend(t, srv, Options{Own: true, Always: true}, &redis.Options{ReadTimeout: 5 * time.Second})
	for _, b := range []*Backend{alone, piped, own} {
		if err := b.Set(ctx, "k", "v", 0); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := b.GetWithin(ctx, "k", time.Second); err != nil || !ok || v != "v" {
			t.Fatalf("GetWithin before the pause: %q, %v, %v", v, ok, err)
		}
	}
	if err := srv.Pause(ctx, 1200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*Backend{"alone": alone, "pipelined": piped, "own pipeline": own} {
		start := time.Now()
		_, _, err := b.GetWithin(ctx, "k", budget)
		if took := time.Since(start); err == nil || took > budget+slack {
			t.Errorf("%s: a %v budget during a pause: %v after %v", name, budget, err, took)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	go func() {
		// Cancel once the call is waiting (or after 2 s, failing below).
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(2 * time.Second); piped.inFlight.Load() == 0 && time.Now().Before(end); {
			<-tick.C
		}
		cancel()
	}()
	start := time.Now()
	_, _, err := piped.GetWithin(cancelled, "k", 10*time.Second)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("pipelined, cancelled during the pause: %v after %v", err, time.Since(start))
	}
	if err := concurrently(8, 50, func(g, i int) error {
		v, ok, err := piped.GetWithin(ctx, "k", 5*time.Second)
		if err != nil || !ok || v != "v" {
			return fmt.Errorf("after the pause: %q, %v, %v", v, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

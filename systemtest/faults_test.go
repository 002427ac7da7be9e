package systemtest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fault tolerance: a bounded load of every operation against a dedicated
// redis-server that is crashed (SIGKILL), restarted, paused (CLIENT PAUSE)
// and stalled (DEBUG SLEEP) under it. RELIABILITY.md describes the run and
// its last results.
//
// CI runs the short form; CACHES_FAULTS_FULL=1 selects the full one:
//
//	CACHES_FAULTS_FULL=1 go test -race -run 'TestFaults' -v ./systemtest

const (
	// faultDeadline is every call's context deadline.
	faultDeadline = 200 * time.Millisecond
	// faultSlack is how much longer than its deadline a call may take. A
	// call that reaches its deadline returns when go-redis notices: the
	// socket deadline it set from the context fires, or the select on
	// ctx.Done() in its dial queue or retry backoff wakes, and then the
	// goroutine has to be scheduled. The worst overrun measured (see
	// RELIABILITY.md) is under 10 ms, with the race detector, 8 workers, a
	// redis-server being restarted and, in `go test ./...`, other packages'
	// tests sharing two CPUs. 150 ms leaves room for a slower, busier CI
	// machine (a GC cycle, a descheduled thread) and stays well below the
	// overruns of what this looks for: a call that a paused server holds
	// overruns by the rest of the pause (hundreds of ms here) or by
	// read_timeout (1 s), one stuck in a dial by dial_timeout (1 s). The
	// time the whole process stalled during a call (descheduled on a loaded
	// machine, see stallMonitor) is not counted against it.
	faultSlack = 150 * time.Millisecond
	// faultResumeLimit is how soon after the server is back a call must
	// succeed again.
	faultResumeLimit = 2 * time.Second
	// faultDown is how long a killed server stays down before it is
	// started again, in an outage: long enough for go-redis to stop
	// retrying its dials and fail calls at once (about a second).
	faultDown = 2 * time.Second
	// faultPause is the length of a CLIENT PAUSE and of a DEBUG SLEEP.
	faultPause = 600 * time.Millisecond
	// faultWorkers is the number of goroutines of the load.
	faultWorkers = 8
	// faultMaxOps bounds each worker's loop besides the run's duration.
	faultMaxOps = 2_000_000
	// faultLeakWait bounds the wait for goroutines to end after Close.
	// go-redis's background redial loop sleeps a second between attempts.
	faultLeakWait = 5 * time.Second
)

// faultPlan is one fault run: how long the load lasts and which faults it
// meets, one after the other with quiet time between them.
type faultPlan struct {
	duration time.Duration
	restarts int // half of them (rounded up) with an outage of faultDown, the others crashes
	pauses   int
	sleeps   int
}

func faultPlanFor(full bool) faultPlan {
	if full {
		return faultPlan{duration: 20 * time.Second, restarts: 6, pauses: 2, sleeps: 2}
	}
	return faultPlan{duration: 6 * time.Second, restarts: 2, pauses: 1, sleeps: 1}
}

type faultKind string

const (
	faultCrash  faultKind = "crash"       // SIGKILL and a new server at once (Restart)
	faultOutage faultKind = "outage"      // SIGKILL, faultDown without a server, a new one
	faultPauseK faultKind = "pause"       // CLIENT PAUSE faultPause ALL
	faultSleep  faultKind = "debug-sleep" // DEBUG SLEEP faultPause
)

// expected is about how long a fault lasts, the load's resumption
// included, to spread the quiet time of a run.
func (k faultKind) expected() time.Duration {
	switch k {
	case faultOutage:
		return faultDown + 900*time.Millisecond // go-redis redials every second
	case faultCrash:
		return 100 * time.Millisecond
	}
	return faultPause + 50*time.Millisecond
}

// faultEvent is one fault and what the load saw of it.
type faultEvent struct {
	kind faultKind

	start   time.Time // the fault began (before the SIGKILL, the pause)
	downTil time.Time // for an outage: no server from start to here
	ready   time.Time // the server serves again: a new one answered, or the pause or sleep ended

	// memoErrs is the memoized functions' BackendErrors at start and at
	// downTil, for an outage.
	memoErrs [2]uint64

	// readyNs is ready for the workers (unix ns), set once it is known;
	// firstOK is the end (unix ns) of the first Redis call begun after
	// start that succeeded and ended after readyNs, so served by the
	// server that is back.
	readyNs, firstOK atomic.Int64
}

// served records a successful Redis call for the resumption check.
func (ev *faultEvent) served(start, end time.Time) {
	if ready := ev.readyNs.Load(); ready != 0 && start.After(ev.start) && end.UnixNano() >= ready {
		ev.firstOK.CompareAndSwap(0, end.UnixNano())
	}
}

// back records when the server serves again.
func (ev *faultEvent) back(t time.Time) {
	ev.ready = t
	ev.readyNs.Store(t.UnixNano())
}

// events returns the plan's faults in order, outages and crashes
// alternating, the pauses and sleeps between them, and the quiet time to
// leave before each and after the last.
func (p faultPlan) events() ([]*faultEvent, time.Duration) {
	var restarts, others []faultKind
	for i := 0; i < p.restarts; i++ {
		restarts = append(restarts, []faultKind{faultOutage, faultCrash}[i%2])
	}
	others = append(slices.Repeat([]faultKind{faultPauseK}, p.pauses), slices.Repeat([]faultKind{faultSleep}, p.sleeps)...)
	var events []*faultEvent
	busy := time.Duration(0)
	for len(restarts) > 0 || len(others) > 0 {
		for _, q := range []*[]faultKind{&restarts, &others} {
			if len(*q) > 0 {
				events = append(events, &faultEvent{kind: (*q)[0]})
				busy += (*q)[0].expected()
				*q = (*q)[1:]
			}
		}
	}
	quiet := max((p.duration-busy)/time.Duration(len(events)+1), 300*time.Millisecond)
	return events, quiet
}

// faultConn opens a connection to srv the way an application would, with
// timeouts above the calls' deadline, so that the deadline is what bounds a
// call (the DSN turns go-redis's ContextTimeoutEnabled on).
func faultConn(t *testing.T, addr string, extra string) *caches.Conn {
	t.Helper()
	conn, err := caches.Open("redis://" + addr + "/0?dial_timeout=1s&read_timeout=1s&write_timeout=1s" + extra)
	require.NoError(t, err)
	return conn
}

// TestFaultsDeadlineBoundsCallsUnderPause checks the premise of the fault
// run: a call's context deadline bounds it while the server is paused, on
// a warm connection and on a cold one (whose handshake the pause holds),
// because a DSN-made client has ContextTimeoutEnabled; with
// context_timeout_enabled=false the same call waits for read_timeout (1 s)
// or the end of the pause, whichever comes first.
func TestFaultsDeadlineBoundsCallsUnderPause(t *testing.T) {
	srv := redistest.StartForTest(t)
	bg := context.Background()
	get := func(conn *caches.Conn) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(bg, faultDeadline)
		defer cancel()
		start := time.Now()
		_, err := caches.NewKeyCache[string](caches.Options{Prefix: "p", Conn: conn}).Key(1).Get(ctx)
		return time.Since(start), err
	}
	warm := faultConn(t, srv.Addr, "")
	defer warm.Close()
	_, err := get(warm)
	require.ErrorIs(t, err, caches.ErrNotFound)
	cold := faultConn(t, srv.Addr, "")
	defer cold.Close()
	unbounded := faultConn(t, srv.Addr, "&context_timeout_enabled=false")
	defer unbounded.Close()
	_, err = get(unbounded)
	require.ErrorIs(t, err, caches.ErrNotFound)

	require.NoError(t, srv.Pause(bg, 3*faultPause))
	for name, conn := range map[string]*caches.Conn{"warm": warm, "cold": cold} {
		took, err := get(conn)
		t.Logf("%s connection: a GET during a pause took %v: %v", name, took, err)
		require.ErrorIs(t, err, context.DeadlineExceeded, name)
		require.Less(t, took, faultDeadline+faultSlack, name)
	}
	took, err := get(unbounded)
	t.Logf("context_timeout_enabled=false: a GET during the pause took %v: %v", took, err)
	require.Greater(t, took, faultDeadline+faultSlack, "without ContextTimeoutEnabled the pause holds the call")
}

// TestFaults runs the load against a dedicated server while the faults of
// the plan hit it, then checks what the load saw: every call bounded by its
// deadline, only the symptoms of the faults as errors, no wrong result, the
// load resuming after each fault, Memoize served by the function during the
// outages, and no goroutine left behind once the connection is closed.
func TestFaults(t *testing.T) {
	full := faultsFull()
	plan := faultPlanFor(full)
	if !full {
		t.Logf("short form (%v); %s=1 runs the full one", plan.duration, faultsFullEnv)
	}
	baseN := runtime.NumGoroutine()
	base := takeGoroutines()

	srv := redistest.StartForTest(t, "--enable-debug-command", "local")
	conn := faultConn(t, srv.Addr, "")
	run := startFaultRun(t, newFaultLoad(conn))
	// Whatever happens, the workers stop and the connection is closed
	// before the test ends.
	defer conn.Close()
	defer run.stop()

	events, quiet := plan.events()
	start := time.Now()
	for _, ev := range events {
		run.inject(srv, ev, quiet)
	}
	run.hold(quiet)
	if !run.stop() {
		t.FailNow() // their records are still being written
	}
	elapsed := time.Since(start)
	run.stalls.stop()
	require.NoError(t, conn.Close())
	srv.Stop()
	after := waitGoroutines(t, base, baseN)

	calls := run.merged()
	run.checkCalls(calls, elapsed)
	checkResumption(t, events, start)
	run.checkMemoDuringOutages(calls.memo, events, start)
	t.Logf("goroutines: %d before, %d after", baseN, after)
}

// faultRun is the load of TestFaults under way: its workers, their records
// and the results they found wrong.
type faultRun struct {
	t      *testing.T
	load   *faultLoad
	stats  []*callStats // one per worker, written by it until it ends
	stalls *stallMonitor
	done   chan struct{}
	quit   atomic.Bool

	wrongMu sync.Mutex
	wrong   []string // guarded by wrongMu
}

// startFaultRun starts faultWorkers workers on load.
func startFaultRun(t *testing.T, load *faultLoad) *faultRun {
	run := &faultRun{t: t, load: load, stats: make([]*callStats, faultWorkers), done: make(chan struct{}), stalls: startStallMonitor()}
	t.Cleanup(run.stalls.stop)
	load.wrong = func(s string) {
		run.wrongMu.Lock()
		defer run.wrongMu.Unlock()
		run.wrong = append(run.wrong, s)
	}
	var wg sync.WaitGroup
	for i := range run.stats {
		run.stats[i] = newCallStats()
		wg.Add(1)
		go func() {
			defer wg.Done()
			load.worker(uint64(i+1), &run.quit, run.stats[i])
		}()
	}
	go func() { wg.Wait(); close(run.done) }()
	return run
}

// stop stops the workers and reports whether they all ended within 10s.
func (run *faultRun) stop() bool {
	run.quit.Store(true)
	select {
	case <-run.done:
		return true
	case <-time.After(10 * time.Second):
		run.t.Error("the workers did not stop within 10s")
		return false
	}
}

// hold lets the load run for d, and reports false at once if the workers
// stopped early (a failed or panicking call).
func (run *faultRun) hold(d time.Duration) bool {
	select {
	case <-run.done:
		return false
	case <-time.After(d):
		return true
	}
}

// memoErrs is the memoized functions' BackendErrors.
func (run *faultRun) memoErrs() uint64 {
	return run.load.memo.Stats().BackendErrors + run.load.lease.Stats().BackendErrors
}

// inject lets the load run quietly for quiet, makes ev happen to srv and
// records when, then waits for the load to resume (or faultResumeLimit and
// a second) before the next fault.
func (run *faultRun) inject(srv *redistest.Server, ev *faultEvent, quiet time.Duration) {
	t := run.t
	t.Helper()
	if !run.hold(quiet) { // normal load between faults
		t.Fatal("the workers stopped before the fault")
	}
	bg := context.Background()
	ev.start = time.Now()
	run.load.cur.Store(ev)
	switch ev.kind {
	case faultCrash:
		require.NoError(t, srv.Restart())
		ev.downTil = ev.start
		ev.back(time.Now())
	case faultOutage:
		run.outage(srv, ev)
	case faultPauseK:
		ev.back(ev.start.Add(faultPause)) // known in advance
		require.NoError(t, srv.Pause(bg, faultPause))
	case faultSleep:
		require.NoError(t, srv.DebugSleep(bg, faultPause))
		ev.back(time.Now())
	}
	poll.Until(faultResumeLimit+time.Second, 5*time.Millisecond, func() bool { return ev.firstOK.Load() != 0 })
}

// outage kills srv, keeps it down for faultDown while the load runs, and
// starts it again, counting the memoized calls' backend errors meanwhile.
func (run *faultRun) outage(srv *redistest.Server, ev *faultEvent) {
	run.t.Helper()
	ev.memoErrs[0] = run.memoErrs()
	srv.Kill()
	if !run.hold(faultDown) {
		run.t.Fatal("the workers stopped during the outage")
	}
	ev.downTil = time.Now()
	ev.memoErrs[1] = run.memoErrs()
	require.NoError(run.t, srv.StartAgain())
	ev.back(time.Now())
}

// merged returns the records of every worker together; the workers must
// have ended.
func (run *faultRun) merged() *callStats {
	all := newCallStats()
	for _, st := range run.stats {
		all.add(st)
	}
	slices.Sort(all.durations)
	return all
}

// checkCalls reports the latencies and failures of the calls, and checks
// that every operation ran, that no call overran its deadline by more than
// faultSlack, panicked, returned a wrong result or failed with an error that
// is not a symptom of the faults.
func (run *faultRun) checkCalls(calls *callStats, elapsed time.Duration) {
	t, all := run.t, calls.durations
	t.Helper()
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	t.Logf("%d calls of %d operations by %d goroutines in %v: p50 %v, p99 %v, p99.9 %v, max %v (deadline %v, slack %v)",
		len(all), len(calls.calls), faultWorkers, elapsed.Round(time.Millisecond), pct(0.5), pct(0.99), pct(0.999), all[len(all)-1], faultDeadline, faultSlack)
	t.Logf("worst overrun of the deadline: %v", max(all[len(all)-1]-faultDeadline, 0))
	var failedTotal int
	for _, n := range calls.failed {
		failedTotal += n
	}
	t.Logf("failed calls: %d (%.1f%%); errors: %v", failedTotal, 100*float64(failedTotal)/float64(len(all)), calls.errs)
	for class, n := range calls.errs {
		if strings.HasPrefix(class, "other: ") {
			t.Errorf("%d calls failed with an error that is not a symptom of the faults: %s", n, class)
		}
	}
	for name := range uniqueNames(run.load.ops) {
		assert.Positive(t, calls.calls[name], "%s ran", name)
	}

	assert.Empty(t, calls.panics, "panics")
	run.wrongMu.Lock()
	assert.Empty(t, run.wrong, "results that contradict what was stored")
	run.wrongMu.Unlock()
	run.checkOverruns(calls.over)
}

// checkOverruns fails the test for each call that overran its deadline by
// more than faultSlack once the time the whole process stalled during the
// call (see stallMonitor) is taken off.
func (run *faultRun) checkOverruns(over []overrun) {
	t := run.t
	t.Helper()
	var real []string
	for _, o := range over {
		stalled := run.stalls.within(o.start, o.end)
		if o.end.Sub(o.start)-stalled > faultDeadline+faultSlack {
			real = append(real, fmt.Sprintf("%s, %v of it with the process stalled", o.desc, stalled))
		}
	}
	t.Logf("process stalls: the longest %v; %d calls overran %v + %v, %d of them not by a stall",
		run.stalls.longest(), len(over), faultDeadline, faultSlack, len(real))
	if len(real) > 0 {
		t.Errorf("%d calls took longer than %v + %v; the first: %s", len(real), faultDeadline, faultSlack, strings.Join(real[:min(len(real), 10)], "; "))
	}
}

// checkResumption checks that after each fault a call succeeded within
// faultResumeLimit of the server being back.
func checkResumption(t *testing.T, events []*faultEvent, start time.Time) {
	t.Helper()
	var worstResume time.Duration
	for i, ev := range events {
		first := ev.firstOK.Load()
		if first == 0 {
			t.Errorf("fault %d (%s at %v): no call succeeded afterwards", i, ev.kind, ev.start.Sub(start).Round(time.Millisecond))
			continue
		}
		resume := time.Unix(0, first).Sub(ev.ready)
		worstResume = max(worstResume, resume)
		t.Logf("fault %d: %-11s at %5v: back after %v, first success %v later",
			i, ev.kind, ev.start.Sub(start).Round(time.Millisecond), ev.ready.Sub(ev.start).Round(time.Millisecond), resume.Round(time.Millisecond))
		if resume > faultResumeLimit {
			t.Errorf("fault %d (%s): the load resumed %v after the server was back, over %v", i, ev.kind, resume, faultResumeLimit)
		}
	}
	t.Logf("worst resume: %v", worstResume.Round(time.Millisecond))
}

// checkMemoDuringOutages checks Memoize while the server was down: every
// call is served by the function, whether its cache read fails at once or
// runs out of MemoOptions.CacheTimeout (the first second of an outage,
// while go-redis still retries its dials), and counts a backend error.
func (run *faultRun) checkMemoDuringOutages(memo []memoCall, events []*faultEvent, start time.Time) {
	t := run.t
	t.Helper()
	var during, served int
	for _, ev := range events {
		if ev.kind != faultOutage {
			continue
		}
		var evServed int
		for _, c := range memo {
			if c.start.Before(ev.start) || c.end.After(ev.downTil) {
				continue
			}
			during++
			if c.err != nil {
				t.Errorf("a memoized call during an outage failed: %v", c.err)
				continue
			}
			evServed++ // and the value was checked
		}
		served += evServed
		counted := ev.memoErrs[1] - ev.memoErrs[0]
		assert.GreaterOrEqual(t, counted, uint64(evServed),
			"outage at %v: each memoized call served without Redis counts a backend error", ev.start.Sub(start).Round(time.Millisecond))
	}
	t.Logf("memoized calls while the server was down: %d, %d served by the function; stats: %+v, with lease: %+v",
		during, served, run.load.memo.Stats(), run.load.lease.Stats())
	require.Positive(t, served, "memoized calls served by the function during the outages")
}

// TestMemoizeServesWhileRedisIsSlowToFail is the requirement that Memoize
// keeps serving by calling the function while Redis is down, for failures
// that do not answer at once: a paused server, and the first second of a
// crash, while go-redis retries its dials. MemoOptions.CacheTimeout bounds
// the cache read, so it fails in time for the function to serve the call,
// and the failure counts as a backend error.
func TestMemoizeServesWhileRedisIsSlowToFail(t *testing.T) {
	srv := redistest.StartForTest(t)
	conn := faultConn(t, srv.Addr, "")
	defer conn.Close()
	fn := func(_ context.Context, id int) (string, error) { return memoValue(id), nil }
	m := caches.Memoize(fn, caches.MemoOptions[int]{Options: caches.Options{Prefix: "slow", Conn: conn}, LoadTimeout: time.Second})
	bg := context.Background()
	call := func(t *testing.T, id int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, faultDeadline)
		defer cancel()
		before := m.Stats().BackendErrors
		start := time.Now()
		v, err := m.Call(ctx, id)
		t.Logf("Call took %v: %q, %v", time.Since(start), v, err)
		assert.NoError(t, err, "the function's value, not an error")
		assert.Equal(t, memoValue(id), v)
		assert.Greater(t, m.Stats().BackendErrors, before, "a backend error counted")
	}
	_, err := m.Call(bg, 0)
	require.NoError(t, err)

	t.Run("paused", func(t *testing.T) {
		require.NoError(t, srv.Pause(bg, faultPause))
		call(t, 1)
	})
	t.Run("crashed", func(t *testing.T) {
		srv.Kill()
		call(t, 2)
	})
}

package caches

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// obsRecorder is an Observer that keeps the operations of the families whose
// prefix starts with "obs" (tests running in parallel use others).
type obsRecorder struct {
	mu    sync.Mutex // guards ended and open
	ended []string
	open  int
}

type startKey struct{}

func (r *obsRecorder) Start(ctx context.Context, op *Op) context.Context {
	if op.Family[:min(3, len(op.Family))] != "obs" {
		return ctx
	}
	r.mu.Lock()
	r.open++
	r.mu.Unlock()
	return context.WithValue(ctx, startKey{}, op.Name)
}

func (r *obsRecorder) End(ctx context.Context, op *Op, res Result) {
	if op.Family[:min(3, len(op.Family))] != "obs" {
		return
	}
	if ctx.Value(startKey{}) != op.Name {
		panic("End without the context Start returned: " + op.Name)
	}
	line := fmt.Sprintf("%s %s %s %s %s", op.System, op.Connection, op.Family, op.Name, res.Outcome)
	if res.ErrorType != "" {
		line += " " + res.ErrorType
	}
	if res.Keys != 0 {
		line += fmt.Sprintf(" keys=%d", res.Keys)
	}
	if res.Duration < 0 {
		line += " negative duration"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open--
	r.ended = append(r.ended, line)
}

func (r *obsRecorder) take() (ended []string, open int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ended, r.ended = r.ended, nil
	return ended, r.open
}

// observe installs a obsRecorder until t ends.
func observe(t *testing.T) *obsRecorder {
	r := &obsRecorder{}
	SetObserver(r)
	t.Cleanup(func() { SetObserver(nil) })
	return r
}

func TestObserverSeesEveryOutcome(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := observe(t)
		system := "redis"
		if e.conn.mem != nil {
			system = "memory"
		}
		users := NewKeyCache[string](Options{Prefix: "obsusers", Conn: e.conn})
		dicts := NewDictCache[string, string](Options{Prefix: "obsusers", Conn: e.conn})
		require.NoError(t, users.Key(1).Set(ctx, "ada"))
		_, err := users.Key(1).Get(ctx)
		require.NoError(t, err)
		_, err = users.Key(2).Get(ctx)
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, dicts.Key(3).Set(ctx, "f", "v"))
		_, err = users.Key(3).Get(ctx)
		require.ErrorIs(t, err, ErrWrongType)
		n, err := users.Invalidate(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		ended, open := r.take()
		p := system + "  obsusers "
		require.Equal(t, []string{p + "Set ok", p + "Get hit", p + "Get miss", p + "Set ok",
			p + "Get error wrong_type", p + "Invalidate ok keys=2"}, ended)
		require.Zero(t, open)
	})
}

func TestObserverSeesMemoAndLoads(t *testing.T) {
	ctx := context.Background()
	e := memEnv(t)
	r := observe(t)
	calls := 0
	m := Memoize(func(ctx context.Context, id int) (string, error) {
		if ctx.Value(startKey{}) != "Load" {
			return "", errors.New("the function does not run under the Load operation's context")
		}
		calls++
		return fmt.Sprint(id), nil
	}, MemoOptions[int]{Options: Options{Prefix: "obsmemo", Conn: e.conn}})
	for range 2 {
		_, err := m.Call(ctx, 1)
		require.NoError(t, err)
	}
	_, err := m.Call(ctx, -1)
	require.NoError(t, err)
	loaded := NewKeyCache[string](Options{Prefix: "obsload", Conn: e.conn}).WithHooks(Hooks[string]{
		Load: func(ctx context.Context, k Key[string]) (string, error) { return "", errors.New("source down") },
	})
	_, err = loaded.Key(1).Get(ctx)
	require.ErrorContains(t, err, "source down")

	ended, open := r.take()
	require.Equal(t, []string{
		"memory  obsmemo Load ok", "memory  obsmemo Call loaded",
		"memory  obsmemo Call hit",
		"memory  obsmemo Load ok", "memory  obsmemo Call loaded",
		"memory  obsload Load error _OTHER", "memory  obsload Get error _OTHER",
	}, ended)
	require.Zero(t, open)
	require.Equal(t, 2, calls)
}

// TestObserverSeesLeaseWaits: a Memo and a KeyCache get-or-compute that
// wait for another process's lease report a LeaseWait.
func TestObserverSeesLeaseWaits(t *testing.T) {
	ctx := context.Background()
	e := memEnv(t)
	r := observe(t)
	started, release := make(chan struct{}), make(chan struct{})
	fn := func(ctx context.Context, id int) (string, error) {
		close(started)
		<-release
		return fmt.Sprint(id), nil
	}
	o := MemoOptions[int]{Options: Options{Prefix: "obslease", Conn: e.conn}, Lease: true, LeasePoll: time.Millisecond}
	one := Memoize(fn, o)
	o.Conn = e.second(t)
	two := Memoize(fn, o)
	done := make(chan error, 1)
	go func() { _, err := one.Call(ctx, 1); done <- err }()
	<-started
	go func() { _, err := two.Call(ctx, 1); done <- err }()
	waitFor(t, "the second process waits for the lease", func() bool { return two.Stats().LeaseWaits == 1 })
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	ended, open := r.take()
	require.Contains(t, ended, "memory  obslease LeaseWait ok")
	require.Zero(t, open)
}

func TestObserverConnectionName(t *testing.T) {
	ctx := context.Background()
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(Override("obsconn", conn))
	r := observe(t)
	_, err := NewKeyCache[string](Options{Prefix: "obsnamed", Connection: "obsconn"}).Key(1).Get(ctx)
	require.ErrorIs(t, err, ErrNotFound)
	ended, _ := r.take()
	require.Equal(t, []string{"memory obsconn obsnamed Get miss"}, ended)
}

// opsSeen is an Observer that keeps the Ops it is given for the families
// whose prefix starts with "obsop".
type opsSeen struct {
	mu  sync.Mutex // guards ops
	ops []*Op
}

func (o *opsSeen) Start(ctx context.Context, _ *Op) context.Context { return ctx }

func (o *opsSeen) End(_ context.Context, op *Op, _ Result) {
	if len(op.Family) >= 5 && op.Family[:5] == "obsop" {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.ops = append(o.ops, op)
	}
}

// TestObserverOpPerKind: every operation of one kind (family, name,
// connection name, system) is given the same *Op, which keeps the value
// the observer stores in it; another name, family or connection is
// another Op, and a connection registered under a new name gets Ops of
// that name.
func TestObserverOpPerKind(t *testing.T) {
	ctx := context.Background()
	seen := &opsSeen{}
	SetObserver(seen)
	t.Cleanup(func() { SetObserver(nil) })
	plain, conn, other := NewMemoryConn(MemoryOptions{}), NewMemoryConn(MemoryOptions{}), NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { plain.Close(); conn.Close(); other.Close() })
	users := NewKeyCache[string](Options{Prefix: "obsopusers", Conn: plain})
	teams := NewKeyCache[string](Options{Prefix: "obsopteams", Conn: plain})
	require.NoError(t, users.Key(1).Set(ctx, "ada")) // 0
	_, _ = users.Key(1).Get(ctx)                     // 1
	_, _ = users.Key(2).Get(ctx)                     // 2: a miss, the same kind
	_, _ = teams.Key(1).Get(ctx)                     // 3
	named := NewKeyCache[string](Options{Prefix: "obsopnamed", Connection: "obsopconn"})
	t.Cleanup(Override("obsopconn", conn))
	_, _ = named.Key(1).Get(ctx)                  // 4
	_, _ = named.Key(1).Get(WithConn(ctx, other)) // 5: bound to another connection
	_, _ = named.Key(1).Get(ctx)                  // 6
	t.Cleanup(Override("obsoprenamed", conn))
	_, _ = named.Key(1).Get(WithConn(ctx, conn)) // 7: the same connection, renamed

	seen.mu.Lock()
	ops := seen.ops
	seen.mu.Unlock()
	require.Len(t, ops, 8)
	require.Equal(t, Op{Name: "Get", Family: "obsopusers", System: "memory"}, Op{Name: ops[1].Name, Family: ops[1].Family,
		Connection: ops[1].Connection, System: ops[1].System})
	require.Same(t, ops[1], ops[2], "two Gets of a family")
	require.NotSame(t, ops[0], ops[1], "a Set and a Get")
	require.NotSame(t, ops[1], ops[3], "two families")
	require.Equal(t, "obsopconn", ops[4].Connection)
	require.Same(t, ops[4], ops[6], "a connection, then another, then the first again")
	require.NotSame(t, ops[4], ops[5])
	require.Equal(t, "", ops[5].Connection)
	require.Equal(t, "obsoprenamed", ops[7].Connection)

	require.Nil(t, ops[1].Value())
	ops[1].SetValue("the observer's")
	_, _ = users.Key(1).Get(ctx)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	require.Same(t, ops[1], seen.ops[8])
	require.Equal(t, "the observer's", seen.ops[8].Value())
	require.Nil(t, ops[3].Value())
}

// TestObserverCostsNoAllocation: without an observer, and with one that
// adds nothing to the context, an operation allocates nothing more.
func TestObserverCostsNoAllocation(t *testing.T) {
	ctx := context.Background()
	conn := NewMemoryConn(MemoryOptions{})
	defer conn.Close()
	key := NewKeyCache[string](Options{Prefix: "alloc", Conn: conn}).Key("user-42")
	require.NoError(t, key.Set(ctx, "payload"))
	get := func() {
		if _, err := key.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	require.Zero(t, testing.AllocsPerRun(1000, get), "no observer")
	SetObserver(nopObserver{})
	defer SetObserver(nil)
	require.Zero(t, testing.AllocsPerRun(1000, get), "an observer that adds nothing")
}

type nopObserver struct{}

func (nopObserver) Start(ctx context.Context, _ *Op) context.Context { return ctx }
func (nopObserver) End(context.Context, *Op, Result)                 {}

func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("get: %w", context.Canceled), "canceled"},
		{&KeyError{Op: "get", Key: "secret-key", Err: ErrWrongType}, "wrong_type"},
		{ErrNotNumber, "not_number"},
		{ErrClosed, "closed"},
		{ErrCrossSlot, "cross_slot"},
		{ErrPrefixOverlap, "prefix_overlap"},
		{ErrUnknownConnection, "unknown_connection"},
		{ErrIterationBroken, "iteration_broken"},
		{ErrNotFound, "not_found"},
		{&DecodeError{Key: "k", Err: errors.New("bad")}, "decode"},
		{&CachedError{Key: "k", Msg: "m"}, "cached_error"},
		{errors.New("dial tcp: password=hunter2"), "_OTHER"},
	} {
		require.Equal(t, c.want, ErrorType(c.err), "%v", c.err)
	}
}

// BenchmarkObserverNone measures KeyCache.Get and Memo.Call hits without
// an observer against their bodies before the hook ("today": the same
// calls without the check of the observer), in alternating blocks of
// the same run, so that the machine's load weighs on both alike. It
// reports the ns/op of each and their ratio (today/now: 1 means no cost).
func BenchmarkObserverNone(b *testing.B) {
	ctx := context.Background()
	conn := NewMemoryConn(MemoryOptions{})
	defer conn.Close()
	key := NewKeyCache[string](Options{Prefix: "bench", Conn: conn}).Key("user-42")
	require.NoError(b, key.Set(ctx, "payload of a typical size, a few dozen bytes"))
	memo := Memoize(func(ctx context.Context, id string) (string, error) {
		return "payload of a typical size, a few dozen bytes", nil
	}, MemoOptions[string]{Options: Options{Prefix: "benchmemo", Conn: conn}})
	_, err := memo.Call(ctx, "user-42")
	require.NoError(b, err)
	b.Run("KeyCache.Get", func(b *testing.B) {
		alternate(b, func() { key.getBefore(ctx) }, func() { key.Get(ctx) })
	})
	b.Run("Memo.Call", func(b *testing.B) {
		alternate(b, func() { memo.callBefore(ctx, "user-42") }, func() { memo.Call(ctx, "user-42") })
	})
}

// getBefore is Key.Get as it was before the observer hook, its calls as
// deep (Get called get, which did what getWith and getFrom do now).
func (k Key[V]) getBefore(ctx context.Context) (V, error) {
	v, loaded, err := k.getWith(ctx, k.c.hooks.Load)
	if !loaded {
		k.f.count(&k.f.stats.hits, err)
	}
	return v, err
}

// callBefore is Memo.Call without the check of the observer (it shares
// lookup, which sets the outcome, with Call: two byte stores).
func (m *Memo[A, R]) callBefore(ctx context.Context, a A) (R, error) {
	var outcome Outcome
	return m.lookup(ctx, a, &outcome)
}

// alternate runs today and now b.N times each, in alternating blocks (the
// first of each pair alternating too), and reports their ns/op and ratio.
func alternate(b *testing.B, today, now func()) {
	b.ReportAllocs()
	const block = 1000
	var spent [2]time.Duration
	fs := [2]func(){today, now}
	for n, i := 0, 0; n < b.N; n, i = n+block, i+1 {
		k := min(block, b.N-n)
		for j := range 2 {
			v := (i + j) % 2
			start := time.Now()
			for range k {
				fs[v]()
			}
			spent[v] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0])/float64(b.N), "today-ns/op")
	b.ReportMetric(float64(spent[1])/float64(b.N), "now-ns/op")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "ratio")
}

// TestObserverSeesNearHits: a KeyCache Get and a Memo call answered by a
// near cache's copy report near_hit (the first reads fill the copies).
func TestObserverSeesNearHits(t *testing.T) {
	ctx := context.Background()
	e := withNear(t, redisEnv(t))
	r := observe(t)
	type profile struct{ Name string }
	raw := NewKeyCache[string](Options{Prefix: "obsnear", Conn: e.conn})
	decoded := NewKeyCache[profile](Options{Prefix: "obsnearjson", Conn: e.conn})
	memo := Memoize(func(_ context.Context, id int) (string, error) { return fmt.Sprint(id), nil },
		MemoOptions[int]{Options: Options{Prefix: "obsnearmemo", Conn: e.conn}})
	require.NoError(t, raw.Key(1).Set(ctx, "v"))
	require.NoError(t, decoded.Key(1).Set(ctx, profile{"ada"}))
	want := map[string]bool{
		"redis  obsnear Get near_hit":      false,
		"redis  obsnearjson Get near_hit":  false,
		"redis  obsnearmemo Call near_hit": false,
	}
	waitFor(t, "near hits of each family", func() bool {
		v, err := raw.Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "v", v)
		p, err := decoded.Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, profile{"ada"}, p)
		s, err := memo.Call(ctx, 7)
		require.NoError(t, err)
		require.Equal(t, "7", s)
		ended, _ := r.take()
		for _, line := range ended {
			if _, ok := want[line]; ok {
				want[line] = true
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})
	require.Equal(t, uint64(0), raw.Stats().Errors)
}

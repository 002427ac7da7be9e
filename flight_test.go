package caches

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoizeGoexitIsAnError checks that a memoized function that calls
// runtime.Goexit (as t.FailNow does) gives every caller an error, never a
// zero value with a nil error.
func TestMemoizeGoexitIsAnError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		t.Run("one caller", func(t *testing.T) {
			m := Memoize(func(ctx context.Context, id string) (string, error) {
				runtime.Goexit()
				return "unreachable", nil
			}, memoOpts(e, "goexit1"))
			v, err := m.Call(ctx, "a")
			require.ErrorContains(t, err, "runtime.Goexit")
			require.ErrorContains(t, err, `"goexit1:a"`, "the error names the key")
			require.Empty(t, v)
			v, err = m.Call(ctx, "a")
			require.Error(t, err, "nothing was cached: the next call computes again")
			require.Empty(t, v)
		})
		t.Run("coalesced waiters", func(t *testing.T) {
			release := make(chan struct{})
			m := Memoize(func(ctx context.Context, id string) (string, error) {
				<-release
				runtime.Goexit()
				return "unreachable", nil
			}, memoOpts(e, "goexit2"))
			key, _ := m.Key("a")
			const callers = 5
			errs := make(chan error, callers)
			for i := 0; i < callers; i++ {
				go func() {
					v, err := m.Call(ctx, "a")
					if err == nil {
						err = errors.New("nil error with " + v)
					}
					errs <- err
				}()
			}
			waitFor(t, "every caller joined", func() bool { return m.waiters(key) == callers-1 })
			close(release)
			for i := 0; i < callers; i++ {
				require.ErrorContains(t, <-errs, "runtime.Goexit", "caller %d", i)
			}
			require.Equal(t, uint64(callers-1), m.Stats().Coalesced)
		})
	})
	t.Run("degraded", func(t *testing.T) {
		conn := NewMemoryConn(MemoryOptions{})
		require.NoError(t, conn.Close())
		m := Memoize(func(ctx context.Context, id string) (string, error) {
			runtime.Goexit()
			return "unreachable", nil
		}, MemoOptions[string]{Options: Options{Prefix: "goexit3", Conn: conn}})
		_, err := m.Call(context.Background(), "a")
		require.ErrorContains(t, err, "runtime.Goexit", "a backend failure calls the function: same rule")
	})
}

// TestHooksLoadGoexitIsAnError is TestMemoizeGoexitIsAnError for the Load
// hook.
func TestHooksLoadGoexitIsAnError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		release := make(chan struct{})
		users := NewKeyCache[string](e.opts("goexit")).WithHooks(Hooks[string]{
			Load: func(ctx context.Context, k Key[string]) (string, error) {
				<-release
				runtime.Goexit()
				return "unreachable", nil
			},
		})
		const callers = 3
		errs := make(chan error, callers)
		for i := 0; i < callers; i++ {
			go func() {
				v, err := users.Key("a").Get(ctx)
				if err == nil {
					err = errors.New("nil error with " + v)
				}
				errs <- err
			}()
		}
		waitFor(t, "every caller joined", func() bool { return users.loads.waiters("goexit:a") == callers-1 })
		close(release)
		for i := 0; i < callers; i++ {
			err := <-errs
			require.ErrorContains(t, err, "runtime.Goexit", "caller %d", i)
			require.NotErrorIs(t, err, ErrNotFound)
		}
		has, err := users.Key("a").Has(ctx)
		require.NoError(t, err)
		require.False(t, has, "nothing was stored")
	})
}

// TestPanicErrorUnwraps checks that a panic with an error value reaches the
// waiter as an error it can match, with the stack where it happened.
func TestPanicErrorUnwraps(t *testing.T) {
	boom := errors.New("boom")
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	m := Memoize(func(ctx context.Context, id string) (string, error) { panic(boom) },
		MemoOptions[string]{Options: Options{Prefix: "panicking", Conn: conn}})
	defer func() {
		err, ok := recover().(error)
		require.True(t, ok, "the panic value is an error")
		require.ErrorIs(t, err, boom)
		require.ErrorContains(t, err, "flight_test.go", "the stack of the panic")
	}()
	m.Call(context.Background(), "a")
}

// stuckFn is a computation whose first call ignores its context and blocks
// until the test finishes it (at the latest at cleanup); later calls return
// "fresh" at once.
type stuckFn struct {
	calls   atomic.Int32
	release chan struct{} // closed by finish: the stuck call returns
	once    sync.Once
	done    chan struct{} // closed when the stuck call has returned
}

func newStuckFn(t *testing.T) *stuckFn {
	s := &stuckFn{release: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(s.finish)
	return s
}

func (s *stuckFn) call() (string, error) {
	if s.calls.Add(1) > 1 {
		return "fresh", nil
	}
	defer close(s.done)
	<-s.release
	return "stale", nil
}

// finish lets the stuck call return and waits until it has, so that no
// goroutine outlives the test.
func (s *stuckFn) finish() {
	s.once.Do(func() { close(s.release) })
	if s.calls.Load() > 0 {
		<-s.done
	}
}

// stuckTimeout is the LoadTimeout of the tests of stuck computations: it
// leaves a fresh computation on a loaded machine time to finish.
const stuckTimeout = 250 * time.Millisecond

// requireAbandoned checks the error of a caller of a computation abandoned
// at its LoadTimeout.
func requireAbandoned(t *testing.T, err error, key string) {
	t.Helper()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, `"`+key+`"`, "the error names the key")
}

// TestMemoizeStuckFunctionFreesItsKey checks that a memoized function that
// ignores its context and never returns holds its key only for LoadTimeout:
// its callers then get an error and new callers start a new computation.
func TestMemoizeStuckFunctionFreesItsKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fn := newStuckFn(t)
		o := memoOpts(e, "stuck")
		o.LoadTimeout = stuckTimeout
		m := Memoize(func(ctx context.Context, id string) (string, error) { return fn.call() }, o)
		key, _ := m.Key("a")

		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			go func() {
				_, err := m.Call(ctx, "a")
				errs <- err
			}()
			waitFor(t, "the caller joined", func() bool { return m.waiters(key) == i })
		}
		requireAbandoned(t, <-errs, key)
		requireAbandoned(t, <-errs, key)
		require.Equal(t, uint64(1), m.Stats().Abandoned)

		v, err := m.Call(ctx, "a")
		require.NoError(t, err, "a new caller starts a new computation")
		require.Equal(t, "fresh", v)
		require.Equal(t, int32(2), fn.calls.Load())

		fn.finish()
		v, err = m.Call(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "fresh", v, "the abandoned computation's late result is not stored")
		st := m.Stats()
		require.Equal(t, uint64(1), st.Hits)
		require.Zero(t, st.BackendErrors, "the late result is dropped, not stored past its deadline")
	})
}

// TestMemoizeStuckDegradedCallFreesItsKey is the same when the cache read
// failed and the function is called without the cache.
func TestMemoizeStuckDegradedCallFreesItsKey(t *testing.T) {
	conn := NewMemoryConn(MemoryOptions{})
	require.NoError(t, conn.Close())
	fn := newStuckFn(t)
	m := Memoize(func(ctx context.Context, id string) (string, error) { return fn.call() },
		MemoOptions[string]{Options: Options{Prefix: "stuck", Conn: conn}, LoadTimeout: stuckTimeout})
	_, err := m.Call(context.Background(), "a")
	requireAbandoned(t, err, "stuck:a")
	v, err := m.Call(context.Background(), "a")
	require.NoError(t, err)
	require.Equal(t, "fresh", v)
	require.Equal(t, uint64(1), m.Stats().Abandoned)
}

// TestMemoizeStuckRefreshFreesItsKey checks that a background early refresh
// that never returns does not hold the key either: a miss after LoadTimeout
// computes.
func TestMemoizeStuckRefreshFreesItsKey(t *testing.T) {
	fn := newStuckFn(t)
	conn := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { conn.Close() })
	m := Memoize(func(ctx context.Context, id string) (string, error) { return fn.call() },
		MemoOptions[string]{Options: Options{Prefix: "stuck", Conn: conn}, LoadTimeout: stuckTimeout})
	key, _ := m.Key("a")
	require.True(t, m.flight.start(context.Background(), key, func(context.Context) (string, error) {
		return fn.call()
	}), "a refresh starts")
	waitFor(t, "the refresh is abandoned", func() bool { return m.Stats().Abandoned == 1 })
	v, err := m.Call(context.Background(), "a")
	require.NoError(t, err)
	require.Equal(t, "fresh", v, "the miss did not join the stuck refresh")
}

// TestHooksStuckLoadFreesItsKey is TestMemoizeStuckFunctionFreesItsKey for
// the Load hook.
func TestHooksStuckLoadFreesItsKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fn := newStuckFn(t)
		users := NewKeyCache[string](e.opts("stuck")).WithHooks(Hooks[string]{
			Load:        func(ctx context.Context, k Key[string]) (string, error) { return fn.call() },
			LoadTimeout: stuckTimeout,
		})
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := users.Key("a").Get(ctx)
				requireAbandoned(t, err, "stuck:a")
			}()
			waitFor(t, "the caller joined", func() bool { return users.loads.waiters("stuck:a") == i })
		}
		wg.Wait()
		require.Equal(t, uint64(1), users.Stats().Abandoned)

		v, err := users.Key("a").Get(ctx)
		require.NoError(t, err, "a new caller loads again")
		require.Equal(t, "fresh", v)

		fn.finish()
		v, err = users.Key("a").Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "fresh", v, "the abandoned load's late value is not stored")
	})
}

// TestMemoizeStuckFunctionReleasesItsLease checks that a computation
// abandoned at LoadTimeout gives up its lease then, so that neither this
// process nor another waits LeaseTTL for a computation nobody waits for.
func TestMemoizeStuckFunctionReleasesItsLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fn := newStuckFn(t)
		o := memoOpts(e, "stucklease")
		o.LoadTimeout = stuckTimeout
		o.Lease, o.LeaseTTL, o.LeasePoll = true, time.Hour, time.Millisecond
		m := Memoize(func(ctx context.Context, id string) (string, error) { return fn.call() }, o)
		key, _ := m.Key("a")

		_, err := m.Call(ctx, "a")
		requireAbandoned(t, err, key)
		waitFor(t, "the abandoned computation released its lease", func() bool {
			held, err := e.b.Exists(ctx, leaseKey(key))
			return err == nil && !held
		})
		o.Conn = e.second(t)
		other := Memoize(func(ctx context.Context, id string) (string, error) { return "other", nil }, o)
		v, err := other.Call(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "other", v, "another process computes without waiting for the lease")
		require.Zero(t, other.Stats().LeaseWaits)
	})
}

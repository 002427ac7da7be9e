package caches

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// waitFor polls cond for up to five seconds: it waits for goroutines to reach
// a state, never for a TTL.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, what)
}

// waiters returns how many callers joined key's running computation.
func (m *Memo[A, R]) waiters(key string) int {
	m.flight.mu.Lock()
	defer m.flight.mu.Unlock()
	if f, ok := m.flight.calls[key]; ok {
		return f.waiters
	}
	return -1
}

func memoOpts(e *env, prefix string) MemoOptions[string] {
	return MemoOptions[string]{Options: e.opts(prefix)}
}

func TestMemoizeOneCallForManyCallers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const callers = 1000
		var calls atomic.Int32
		release := make(chan struct{})
		m := Memoize(func(ctx context.Context, id string) (string, error) {
			calls.Add(1)
			<-release
			return "user-" + id, nil
		}, memoOpts(e, "memo"))
		key, _ := m.Key("42")

		var wg sync.WaitGroup
		results := make(chan string, callers)
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := m.Call(context.Background(), "42")
				if err != nil {
					results <- "error: " + err.Error()
					return
				}
				results <- v
			}()
		}
		waitFor(t, "all callers joined one computation", func() bool { return m.waiters(key) == callers-1 })
		close(release)
		wg.Wait()
		close(results)
		for v := range results {
			require.Equal(t, "user-42", v)
		}
		require.Equal(t, int32(1), calls.Load(), "exactly one call")
		st := m.Stats()
		require.Equal(t, uint64(1), st.Loads)
		require.Equal(t, uint64(callers-1), st.Coalesced)

		v, err := m.Call(context.Background(), "42")
		require.NoError(t, err)
		require.Equal(t, "user-42", v)
		require.Equal(t, uint64(1), m.Stats().Hits, "the result was cached")
	})
}

func TestMemoizeCancelledCallerLeavesOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		fnCtxErr := make(chan error, 1)
		m := Memoize(func(ctx context.Context, id string) (int, error) {
			<-release
			fnCtxErr <- ctx.Err()
			return len(id), nil
		}, memoOpts(e, "memo"))
		key, _ := m.Key("abc")

		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() {
			_, err := m.Call(ctx, "abc")
			first <- err
		}()
		waitFor(t, "the first caller started the computation", func() bool { return m.waiters(key) == 0 })
		second := make(chan int, 1)
		go func() {
			v, _ := m.Call(context.Background(), "abc")
			second <- v
		}()
		waitFor(t, "the second caller joined", func() bool { return m.waiters(key) == 1 })

		cancel()
		require.ErrorIs(t, <-first, context.Canceled, "the cancelled caller returns at once")
		close(release)
		require.Equal(t, 3, <-second, "the other caller still gets the result")
		require.NoError(t, <-fnCtxErr, "the shared computation was not cancelled")
	})
}

func TestMemoizePanicReachesEveryWaiter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		m := Memoize(func(ctx context.Context, id string) (int, error) {
			<-release
			panic("boom " + id)
		}, memoOpts(e, "memo"))
		key, _ := m.Key("x")

		const callers = 5
		panics := make(chan any, callers)
		for i := 0; i < callers; i++ {
			go func() {
				defer func() { panics <- recover() }()
				m.Call(context.Background(), "x")
			}()
		}
		waitFor(t, "all callers joined", func() bool { return m.waiters(key) == callers-1 })
		close(release)
		for i := 0; i < callers; i++ {
			p := <-panics
			require.NotNil(t, p, "caller %d saw the panic", i)
			require.ErrorContains(t, p.(error), "boom x")
		}
	})
}

func TestMemoizeErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var calls atomic.Int32
		failing := errors.New("db down")
		fn := func(ctx context.Context, id string) (string, error) {
			if calls.Add(1) == 1 {
				return "", failing
			}
			return "ok", nil
		}
		m := Memoize(fn, memoOpts(e, "memo"))
		_, err := m.Call(ctx, "a")
		require.ErrorIs(t, err, failing)
		v, err := m.Call(ctx, "a")
		require.NoError(t, err, "errors are not cached")
		require.Equal(t, "ok", v)
		require.Equal(t, int32(2), calls.Load())
		require.Equal(t, uint64(1), m.Stats().Errors)

		calls.Store(0)
		o := memoOpts(e, "neg")
		o.ErrorTTL = 10 * time.Second
		neg := Memoize(fn, o)
		_, err = neg.Call(ctx, "a")
		require.ErrorIs(t, err, failing)
		_, err = neg.Call(ctx, "a")
		var ce *CachedError
		require.ErrorAs(t, err, &ce, "negative caching keeps the error")
		require.Equal(t, "db down", ce.Msg)
		require.Equal(t, int32(1), calls.Load())
		e.advance(t, 11*time.Second)
		v, err = neg.Call(ctx, "a")
		require.NoError(t, err, "the cached error expires with its own TTL")
		require.Equal(t, "ok", v)
	})
}

func TestMemoizeUndecodableIsAMiss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := Memoize(func(ctx context.Context, id int) (profile, error) {
			return profile{Name: "p" + strconv.Itoa(id)}, nil
		}, MemoOptions[int]{Options: e.opts("memo")})
		key, _ := m.Key(7)
		require.Equal(t, "memo:7", key)
		for _, garbage := range []string{"garbage", "m1|x|y|v|{}", "m1|0|0|v|{not json"} {
			require.NoError(t, e.b.Set(ctx, key, garbage, 0))
			v, err := m.Call(ctx, 7)
			require.NoError(t, err, garbage)
			require.Equal(t, "p7", v.Name)
			raw, _, _ := e.b.Get(ctx, key)
			require.NotEqual(t, garbage, raw, "overwritten")
		}
		require.Equal(t, uint64(3), m.Stats().Loads)
	})
}

func TestMemoizeLeaseAcrossProcesses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		release := make(chan struct{})
		fn := func(ctx context.Context, id string) (string, error) {
			calls.Add(1)
			<-release
			return "v-" + id, nil
		}
		o := memoOpts(e, "lease")
		o.Lease = true
		o.LeasePoll = time.Millisecond
		one := Memoize(fn, o)
		o.Conn = e.second(t)
		two := Memoize(fn, o)

		results := make(chan string, 2)
		go func() { v, _ := one.Call(context.Background(), "k"); results <- v }()
		waitFor(t, "process one computes", func() bool { return calls.Load() == 1 })
		go func() { v, _ := two.Call(context.Background(), "k"); results <- v }()
		waitFor(t, "process two waits for the lease", func() bool { return two.Stats().LeaseWaits == 1 })
		close(release)
		require.Equal(t, "v-k", <-results)
		require.Equal(t, "v-k", <-results)
		require.Equal(t, int32(1), calls.Load(), "one call across both processes")
		require.Zero(t, two.Stats().Loads)
		key, _ := one.Key("k")
		held, _ := e.b.Exists(context.Background(), leaseKey(key))
		require.False(t, held, "the owner released its lease")
	})
}

func TestMemoizeDeadLeaseOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o := memoOpts(e, "lease")
		o.Lease = true
		o.LeaseTTL = 5 * time.Second
		o.LeasePoll = time.Millisecond
		m := Memoize(func(ctx context.Context, id string) (string, error) { return "fresh", nil }, o)
		key, _ := m.Key("k")
		stored, err := e.b.SetNX(ctx, leaseKey(key), "token-of-a-dead-process", o.LeaseTTL)
		require.NoError(t, err)
		require.True(t, stored)

		result := make(chan string, 1)
		go func() { v, _ := m.Call(ctx, "k"); result <- v }()
		waitFor(t, "the caller waits for the lease", func() bool { return m.Stats().LeaseWaits == 1 })
		select {
		case v := <-result:
			t.Fatalf("returned %q while the lease was held", v)
		default:
		}
		e.advance(t, o.LeaseTTL+time.Second)
		require.Equal(t, "fresh", <-result, "the lease expired and the caller computed")
		require.Equal(t, uint64(1), m.Stats().Loads)
	})
}

func TestMemoizeEarlyRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		clock := struct {
			sync.Mutex
			now time.Time
		}{now: time.Unix(1_700_000_000, 0)}
		now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
		advance := func(d time.Duration) { clock.Lock(); defer clock.Unlock(); clock.now = clock.now.Add(d) }

		var calls atomic.Int32
		o := memoOpts(e, "xfetch")
		o.TTL = time.Minute
		o.Now = now
		m := Memoize(func(ctx context.Context, id string) (int32, error) {
			advance(time.Second) // the computation takes a second
			return calls.Add(1), nil
		}, o)
		var u atomic.Value
		u.Store(0.5)
		m.rand = func() float64 { return u.Load().(float64) }

		v, err := m.Call(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, int32(1), v)

		// Far from expiry nothing is refreshed, even with an unlucky draw.
		u.Store(0.001)
		advance(30 * time.Second)
		for i := 0; i < 100; i++ {
			v, err = m.Call(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, int32(1), v)
		}
		require.Zero(t, m.Stats().EarlyRefreshes)

		// Two seconds before expiry a draw below e^-2 refreshes; steady load
		// keeps serving the cached value meanwhile.
		advance(28 * time.Second)
		u.Store(0.5)
		v, _ = m.Call(ctx, "k")
		require.Equal(t, int32(1), v)
		require.Zero(t, m.Stats().EarlyRefreshes, "a draw of 0.5 gives a 0.7 s head start")
		u.Store(0.1)
		v, _ = m.Call(ctx, "k")
		require.Equal(t, int32(1), v, "the hit is served at once")
		// A hit that read the old value just before the refresh stored the
		// new one may start a second refresh; more than that is a stampede.
		waitFor(t, "the background refresh stored the new value", func() bool {
			v, err := m.Call(ctx, "k")
			return err == nil && v >= 2
		})
		require.GreaterOrEqual(t, m.Stats().EarlyRefreshes, uint64(1))
		require.LessOrEqual(t, m.Stats().EarlyRefreshes, uint64(2))
		require.Equal(t, int32(1+m.Stats().EarlyRefreshes), calls.Load(), "every call came from a refresh")
	})
}

func TestMemoizeBackendFailure(t *testing.T) {
	ctx := context.Background()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	conn := NewRedisConn(dead)
	var reported []string
	var mu sync.Mutex
	o := MemoOptions[int]{Options: Options{Prefix: "down", Conn: conn}, OnBackendError: func(key string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, key)
	}}
	m := Memoize(func(ctx context.Context, n int) (int, error) { return n * 2, nil }, o)
	v, err := m.Call(ctx, 21)
	require.NoError(t, err, "a backend failure falls back to calling the function")
	require.Equal(t, 42, v)
	require.Equal(t, uint64(1), m.Stats().BackendErrors)
	require.Equal(t, []string{"down:21"}, reported)

	o.Strict = true
	strict := Memoize(func(ctx context.Context, n int) (int, error) { return n * 2, nil }, o)
	_, err = strict.Call(ctx, 21)
	require.Error(t, err, "strict mode reports the failure")
	require.Zero(t, strict.Stats().Loads)
}

func TestMemoizeKeysAndInvalidate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		type query struct {
			Region string
			Page   int
		}
		var calls atomic.Int32
		m := Memoize(func(ctx context.Context, q query) (int, error) {
			calls.Add(1)
			return q.Page, nil
		}, MemoOptions[query]{Options: e.opts("q")})
		k1, _ := m.Key(query{"eu", 1})
		k2, _ := m.Key(query{"eu", 2})
		require.NotEqual(t, k1, k2, "a struct of arguments: one key per value")
		require.Equal(t, `q:%7B"Region"%3A"eu","Page"%3A1%7D`, k1)

		for i := 0; i < 3; i++ {
			_, err := m.Call(ctx, query{"eu", 1})
			require.NoError(t, err)
		}
		require.Equal(t, int32(1), calls.Load())
		existed, err := m.Invalidate(ctx, query{"eu", 1})
		require.NoError(t, err)
		require.True(t, existed)
		_, _ = m.Call(ctx, query{"eu", 1})
		require.Equal(t, int32(2), calls.Load(), "invalidated: computed again")
		_, _ = m.Call(ctx, query{"eu", 2})
		n, err := m.InvalidateAll(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the whole family")
		_, _ = m.Call(ctx, query{"eu", 1})
		require.Equal(t, int32(4), calls.Load())

		none := Memoize(func(ctx context.Context, _ struct{}) (string, error) { return "config", nil },
			MemoOptions[struct{}]{Options: e.opts("config")})
		key, _ := none.Key(struct{}{})
		require.Equal(t, "config", key, "no argument: the prefix is the key")

		custom := Memoize(func(ctx context.Context, id string) (string, error) { return id, nil },
			MemoOptions[string]{Options: e.opts("c"), Key: func(id string) []any { return []any{"v2", id} }})
		key, _ = custom.Key("a")
		require.Equal(t, "c:v2:a", key)
	})
}

// TestMemoizeInvalidateLeavesLeases invalidates a Memo while one of its
// computations holds the lease: the results go, the lease stays, and a
// second process keeps waiting for it instead of computing the same value.
func TestMemoizeInvalidateLeavesLeases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		release := make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free)
		var slowCalls atomic.Int32
		fn := func(ctx context.Context, id string) (string, error) {
			if id == "slow" {
				slowCalls.Add(1)
				<-release
			}
			return "v-" + id, nil
		}
		o := memoOpts(e, "leased")
		o.Lease = true
		o.LeasePoll = time.Millisecond
		one := Memoize(fn, o)
		for _, id := range []string{"a", "b", "c"} {
			_, err := one.Call(ctx, id)
			require.NoError(t, err)
		}
		results := make(chan string, 2)
		go func() { v, _ := one.Call(ctx, "slow"); results <- v }()
		key, _ := one.Key("slow")
		lease := leaseKey(key)
		waitFor(t, "the slow call holds its lease", func() bool {
			held, _ := e.b.Exists(ctx, lease)
			return held
		})

		n, err := one.InvalidateAll(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n, "the three results go, the lease is not counted")
		held, err := e.b.Exists(ctx, lease)
		require.NoError(t, err)
		require.True(t, held, "the lease %q survives the invalidation", lease)
		for _, id := range []string{"a", "b", "c"} {
			k, _ := one.Key(id)
			exists, err := e.b.Exists(ctx, k)
			require.NoError(t, err)
			require.False(t, exists, "result %q is gone", k)
		}

		o.Conn = e.second(t)
		two := Memoize(fn, o)
		go func() { v, _ := two.Call(ctx, "slow"); results <- v }()
		waitFor(t, "process two waits for the lease", func() bool { return two.Stats().LeaseWaits == 1 })
		free()
		require.Equal(t, "v-slow", <-results)
		require.Equal(t, "v-slow", <-results)
		require.Equal(t, int32(1), slowCalls.Load(), "one computation across both processes")
	})
}

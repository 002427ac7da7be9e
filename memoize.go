package caches

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/stats"
)

// MemoOptions configure [Memoize]. The zero value is usable: results live
// two hours on the default connection, under keys made from the argument.
type MemoOptions[A any] struct {
	// Options is the family the results live in: prefix, TTL, connection
	// and codec, as for [NewKeyCache].
	Options

	// Key returns the key arguments for an argument (as given to
	// [KeyCache.Key]). Default: as KeyForm says; with the default KeyForm,
	// the argument itself when it is a string, number, bool, []byte or
	// fmt.Stringer, its JSON encoding otherwise (so a struct of arguments
	// gives one key per distinct value), and no argument at all for
	// struct{}.
	Key func(A) []any
	// KeyForm selects how an argument becomes its key when Key is unset:
	// [KeyJSON] (the default), [KeyFields] (a struct by its fields, as
	// readable as Key(f1, f2, …)) or [KeyHash] (a fixed-length digest).
	KeyForm KeyForm

	// LoadTimeout bounds one computation of the function, which runs under a
	// context that callers leaving do not cancel. A function still running
	// when it passes is abandoned: its callers get an error wrapping
	// context.DeadlineExceeded, its lease (see Lease) is released, the next
	// call computes anew (while the abandoned goroutine may still run; its
	// result is dropped), and [MemoStats] counts it in Abandoned. Default:
	// one minute.
	LoadTimeout time.Duration

	// CacheTimeout bounds each round trip to Redis of a call (the read, the
	// lease, the store), so that a slow, paused or unreachable Redis turns
	// into a backend failure (see Strict) while the caller's deadline still
	// leaves time to call the function. Default: 1 s, and never more than
	// half of the time left before the caller's deadline. The in-process
	// store does not stall and is not bounded.
	CacheTimeout time.Duration

	// Lease makes one process compute a missing result while the others
	// sharing the backend wait for it: the computing process holds a lease
	// key (SET NX with a random token and LeaseTTL) that only it releases, and reads
	// the result once more after taking the lease (another process may have
	// stored it meanwhile). Default: off, so every process computes on its
	// own miss (each only once).
	Lease bool
	// LeaseTTL is how long a lease lives: a process that dies while
	// computing blocks the others at most this long. Default: LoadTimeout.
	LeaseTTL time.Duration
	// LeasePoll is how often a waiting process looks for the result.
	// Default: 20 ms.
	LeasePoll time.Duration

	// ErrorTTL, when positive, caches errors of the function for that long
	// (negative caching): callers get a [*CachedError] without calling the
	// function. [NoExpiry] caches them without expiry, until deleted or
	// invalidated, as it keeps values. Default (zero, or another negative
	// value): errors are not cached.
	ErrorTTL time.Duration
	// CacheError selects which errors ErrorTTL caches. Default: all.
	CacheError func(error) bool

	// Beta tunes early refresh (XFetch): a hit recomputes the result in the
	// background with a probability that grows as expiry nears, and faster
	// for results that were slow to compute. Default (zero): 1; negative
	// disables early refresh.
	Beta float64

	// Plain stores each result as exactly what a [KeyCache] of R stores
	// (the codec's bytes, or the text of a raw kind), without the frame
	// that carries the compute time and expiry, so that other services
	// read it as they read any value; early refresh is then off. A result
	// whose bytes would themselves read as a frame is stored framed, and a
	// cached error (ErrorTTL) is always framed. A Memo reads both forms
	// whatever Plain says: a plain entry is a hit that is never refreshed
	// early. Default: framed.
	Plain bool

	// Strict makes a backend failure an error. Default: the function is
	// called (and OnBackendError told), so a cache outage degrades to
	// uncached calls.
	Strict bool
	// OnBackendError, if set, is called with each backend failure. It must
	// not block.
	OnBackendError func(key string, err error)

	// Now is the clock of early refresh: the expiry stored with a result
	// and the time a hit compares with it. Default: the clock of the
	// connection's in-process store (so a test that moves a cachestest
	// clock moves early refresh too), or time.Now on Redis.
	Now func() time.Time
}

// MemoStats counts what a [Memo] did. Hits + Misses is the number of calls
// that reached the cache.
type MemoStats struct {
	Hits           uint64 // results served from the cache (cached errors included)
	Misses         uint64 // calls that found no usable result
	Loads          uint64 // calls of the function
	Coalesced      uint64 // calls that shared a computation another call started
	LeaseWaits     uint64 // computations that waited for another process's lease
	EarlyRefreshes uint64 // background refreshes started before expiry
	Errors         uint64 // errors returned by the function
	BackendErrors  uint64 // failures of the backend
	Abandoned      uint64 // computations still running at LoadTimeout, whose callers got an error
}

// CachedError is returned, in place of calling the function, for an error
// cached by [MemoOptions.ErrorTTL]. Only its text survives the cache.
type CachedError struct {
	Key string // the Redis key the error is cached under
	Msg string // the original error's text
}

func (e *CachedError) Error() string { return "caches: cached error: " + e.Msg }

// Memo is a memoized function: results of fn are kept in a KeyCache family,
// concurrent misses for one argument call fn once per process (and, with
// Lease, once across processes), and hot results are refreshed before they
// expire. A Memo is safe for concurrent use.
type Memo[A, R any] struct {
	fn func(context.Context, A) (R, error)
	*family
	codec  valueCodec[R]
	opts   MemoOptions[A]
	key    func(A) ([]any, error)
	rawKey func(A) (string, error) // for raw-kind arguments: their text, no boxing
	flight flightGroup[R]
	lease  leaser
	rand   func() float64 // uniform in (0, 1]; replaced in tests
	// realClock: MemoOptions.Now was unset, so hits may read the backend's
	// coarse clock.
	realClock bool
	// shareDecoded: R holds no references, so one decoded result may be
	// kept next to a near copy and returned to every hit (memonear.go).
	shareDecoded bool
	stats        memoCounters
}

type memoCounters struct {
	hits, misses, loads, coalesced, early, errors, backendErrors atomic.Uint64
	abandoned, leaseWaits                                        stats.Counter
}

// Memoize returns fn memoized: see [Memo]. Call it through [Memo.Call] or
// the function [Memo.Func] returns.
func Memoize[A, R any](fn func(context.Context, A) (R, error), opts MemoOptions[A]) *Memo[A, R] {
	m := &Memo[A, R]{fn: fn, family: newFamily(opts.Options), codec: newValueCodec[R](opts.Codec), opts: opts}
	if user := opts.Key; user != nil {
		m.key = func(a A) ([]any, error) { return user(a), nil }
	} else {
		m.key = memoKey[A](opts.KeyForm)
		if raw := rawCodec[A](reflect.TypeOf((*A)(nil)).Elem()); raw.encode != nil && opts.KeyForm != KeyHash {
			m.rawKey = raw.encode
		}
	}
	if m.opts.LoadTimeout <= 0 {
		m.opts.LoadTimeout = time.Minute
	}
	if m.opts.LeaseTTL <= 0 {
		m.opts.LeaseTTL = m.opts.LoadTimeout
	}
	if m.opts.CacheTimeout <= 0 {
		m.opts.CacheTimeout = time.Second
	}
	if m.opts.LeasePoll <= 0 {
		m.opts.LeasePoll = 20 * time.Millisecond
	}
	if m.opts.Beta == 0 {
		m.opts.Beta = 1
	}
	if m.opts.Now == nil {
		m.opts.Now, m.realClock = time.Now, true
	}
	m.rand = func() float64 { return 1 - mrand.Float64() }
	m.shareDecoded = holdsNoReferences(reflect.TypeOf((*R)(nil)).Elem())
	m.flight.timeout, m.flight.abandoned = m.opts.LoadTimeout, &m.stats.abandoned
	m.lease = leaser{f: m.family, ttl: m.opts.LeaseTTL, poll: m.opts.LeasePoll, waits: &m.stats.leaseWaits, bound: m.cacheCtx, failed: m.backendFailed}
	return m
}

// defaultMemoKey is the documented key rule of [MemoOptions.Key].
func defaultMemoKey[A any]() func(A) ([]any, error) {
	t := reflect.TypeOf((*A)(nil)).Elem()
	if t.Kind() == reflect.Struct && t.NumField() == 0 {
		return func(A) ([]any, error) { return nil, nil }
	}
	if _, err := appendArg(nil, reflect.Zero(t).Interface()); err == nil {
		return func(a A) ([]any, error) { return []any{a}, nil }
	}
	vc := codecOf[A](JSON)
	return func(a A) ([]any, error) {
		s, err := vc.encode(a)
		if err != nil {
			return nil, fmt.Errorf("caches: memoize key of %T: %w", a, err)
		}
		return []any{s}, nil
	}
}

// Func returns the memoized function, of fn's own type.
func (m *Memo[A, R]) Func() func(context.Context, A) (R, error) { return m.Call }

// Stats returns the counters so far.
func (m *Memo[A, R]) Stats() MemoStats {
	c := &m.stats
	return MemoStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Loads: c.loads.Load(), Coalesced: c.coalesced.Load(),
		LeaseWaits: c.leaseWaits.Load(), EarlyRefreshes: c.early.Load(), Errors: c.errors.Load(),
		BackendErrors: c.backendErrors.Load(), Abandoned: c.abandoned.Load(),
	}
}

// Key returns the Redis key of a's result.
func (m *Memo[A, R]) Key(a A) (string, error) {
	if m.rawKey != nil && m.family.err == nil {
		text, _ := m.rawKey(a)
		return textKey(m.family.prefix, text), nil
	}
	args, err := m.key(a)
	if err != nil {
		return "", err
	}
	return m.family.key(args)
}

// Call returns fn(ctx, a) from the cache, or computes it. ctx cancels only
// this call: a computation shared with other callers goes on. A result that
// cannot be decoded is a miss, recomputed and overwritten. A panic in fn
// reaches every caller waiting for that computation; fn ending with
// runtime.Goexit, or running past LoadTimeout, is an error for each of them.
func (m *Memo[A, R]) Call(ctx context.Context, a A) (R, error) {
	if observer.Load() != nil {
		return m.callObserved(ctx, a)
	}
	var outcome Outcome
	return m.lookup(ctx, a, &outcome)
}

// callObserved is Call with an observer installed, kept apart so that
// Call without one costs a single atomic load more.
func (m *Memo[A, R]) callObserved(ctx context.Context, a A) (R, error) {
	ctx, o := m.family.begin(ctx, "Call")
	var outcome Outcome
	v, err := m.lookup(ctx, a, &outcome)
	o.memo(ctx, outcome, err)
	return v, err
}

// lookup is Call; it sets *outcome to the call's hit, early refresh,
// load or coalesced load.
func (m *Memo[A, R]) lookup(ctx context.Context, a A, outcome *Outcome) (R, error) {
	var zero R
	key, err := m.Key(a)
	if err != nil {
		return zero, err
	}
	b, err := m.family.backend(ctx)
	if errors.Is(err, ErrPrefixOverlap) {
		return zero, err // a refused family, not a failing backend
	}
	if err != nil {
		return m.degraded(ctx, key, a, err, outcome)
	}
	if v, err, hit := m.localHit(ctx, key, a, b, outcome); hit {
		return v, err
	}
	s, ok, err := m.cacheGet(ctx, key, b)
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return m.degraded(ctx, key, a, keyErr("get", key, err), outcome)
	}
	if ok {
		if v, err, hit := m.hit(ctx, key, a, s, b, outcome); hit {
			return v, err
		}
	}
	m.stats.misses.Add(1)
	return m.load(ctx, key, a, b, outcome)
}

// cacheGet reads key within the budget of cacheCtx, through b's cheaper
// budgeted read where it has one (backend.BudgetGetter).
func (m *Memo[A, R]) cacheGet(ctx context.Context, key string, b backend.Backend) (string, bool, error) {
	if bg, ok := b.(backend.BudgetGetter); ok {
		return bg.GetWithin(ctx, key, m.budget(ctx))
	}
	rctx, cancel := m.cacheCtx(ctx, b)
	defer cancel()
	return b.Get(rctx, key)
}

// budget is the time one round trip to Redis may take: CacheTimeout, or
// half of the time ctx has left; see [MemoOptions.CacheTimeout].
func (m *Memo[A, R]) budget(ctx context.Context) time.Duration {
	budget := m.opts.CacheTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)/2)
	}
	return budget
}

// cacheCtx bounds one round trip to a Redis backend by CacheTimeout, or by
// half of the time ctx has left; see [MemoOptions.CacheTimeout].
func (m *Memo[A, R]) cacheCtx(ctx context.Context, b backend.Backend) (context.Context, context.CancelFunc) {
	if ip, ok := b.(backend.InProcess); ok && ip.InProcess() {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.budget(ctx))
}

// hit decodes a stored entry read from b; hit is false when it is unusable.
// An early refresh it starts keeps ctx's values, not its cancellation.
func (m *Memo[A, R]) hit(ctx context.Context, key string, a A, s string, b backend.Backend, outcome *Outcome) (v R, err error, hit bool) {
	e := readEntry(s)
	*outcome = OutcomeHit
	if e.isErr {
		m.stats.hits.Add(1)
		return v, &CachedError{Key: key, Msg: e.payload}, true
	}
	v, err = m.codec.decode(e.payload)
	if err != nil {
		return v, nil, false
	}
	m.stats.hits.Add(1)
	if m.refreshEarly(e, b) && m.refreshInBackground(ctx, key, a) {
		*outcome = OutcomeEarlyRefresh
	}
	return v, nil, true
}

// refreshInBackground starts the early refresh of key, unless a
// computation of it is under way, and reports whether it started one.
func (m *Memo[A, R]) refreshInBackground(ctx context.Context, key string, a A) bool {
	if !m.flight.start(ctx, flightKey(ctx, key), func(ctx context.Context) (R, error) { return m.refresh(ctx, key, a) }) {
		return false
	}
	m.stats.early.Add(1)
	return true
}

// refreshEarly is XFetch: true when now - delta·beta·ln(rand) passes the
// expiry, which grows likelier as expiry nears and for slow computations.
// A result computed in under a millisecond (delta 0) has no head start, so
// its hits skip the clock and the draw.
func (m *Memo[A, R]) refreshEarly(e memoEntry, b backend.Backend) bool {
	if m.opts.Beta < 0 || e.delta <= 0 {
		return false
	}
	expiry, err := strconv.ParseInt(e.expiry, 10, 64)
	return err == nil && m.earlyDue(e.delta, expiry, b)
}

// earlyDue is the draw of refreshEarly for a result computed in delta ms
// that expires at expiry (unix ms, 0 for never).
func (m *Memo[A, R]) earlyDue(delta, expiry int64, b backend.Backend) bool {
	if m.opts.Beta < 0 || delta <= 0 || expiry == 0 {
		return false
	}
	gap := float64(delta) * m.opts.Beta * -math.Log(m.rand())
	return float64(m.nowMs(b))+gap >= float64(expiry)
}

// nowMs is the clock of early refresh, in unix milliseconds. When
// MemoOptions.Now is unset it is b's: its coarse clock when b keeps one (a
// hit on the in-process store then reads no time.Now), or the clock of b's
// expiries (an in-process store on a test's clock); otherwise it is the
// configured clock.
func (m *Memo[A, R]) nowMs(b backend.Backend) int64 {
	if m.realClock {
		if ms, ok := b.CoarseMillis(); ok {
			return ms
		}
		if c, ok := b.(backend.Clock); ok {
			return c.Now().UnixMilli()
		}
	}
	return m.opts.Now().UnixMilli()
}

// refresh recomputes a result in the background, for the early refresh; a
// failure leaves the cached result in place.
func (m *Memo[A, R]) refresh(ctx context.Context, key string, a A) (R, error) {
	b, err := m.family.backend(ctx)
	if err != nil {
		m.backendFailed(key, err)
		var zero R
		return zero, err
	}
	return m.compute(ctx, key, a, b)
}

// load computes a missing result once per process for all concurrent
// callers of key.
func (m *Memo[A, R]) load(ctx context.Context, key string, a A, b backend.Backend, outcome *Outcome) (R, error) {
	return m.coalesce(ctx, key, outcome, func(ctx context.Context) (R, error) { return m.compute(ctx, key, a, b) })
}

// coalesce runs fn once for all concurrent callers of key (see
// flightGroup), counts the callers that joined another's computation and
// sets *outcome to OutcomeCoalesced for them, OutcomeLoaded for the others.
func (m *Memo[A, R]) coalesce(ctx context.Context, key string, outcome *Outcome, fn func(context.Context) (R, error)) (R, error) {
	v, shared, err := m.flight.do(ctx, flightKey(ctx, key), fn)
	*outcome = OutcomeLoaded
	if shared {
		m.stats.coalesced.Add(1)
		*outcome = OutcomeCoalesced
	}
	return v, err
}

// call calls the function, counting the call and its error.
func (m *Memo[A, R]) call(ctx context.Context, a A) (R, error) {
	m.stats.loads.Add(1)
	ctx, o := m.family.begin(ctx, "Load")
	v, err := m.fn(ctx, a)
	o.done(ctx, err)
	if err != nil {
		m.stats.errors.Add(1)
	}
	return v, err
}

// compute calls fn, under the lease when asked, and stores the outcome.
func (m *Memo[A, R]) compute(ctx context.Context, key string, a A, b backend.Backend) (R, error) {
	if !m.opts.Lease {
		return m.computeAndStore(ctx, key, a, b)
	}
	stored := func(ctx context.Context) (R, bool) { return m.stored(ctx, key, b) }
	return leased(ctx, &m.lease, key, b, stored, func() (R, error) { return m.computeAndStore(ctx, key, a, b) })
}

// computeAndStore calls fn and stores the outcome.
func (m *Memo[A, R]) computeAndStore(ctx context.Context, key string, a A, b backend.Backend) (R, error) {
	start := m.opts.Now()
	v, err := m.call(ctx, a)
	if ctx.Err() != nil {
		// Past LoadTimeout the computation was abandoned, and a newer one
		// may have stored its result already.
		return v, err
	}
	if err != nil {
		m.storeError(ctx, key, b, err)
		return v, err
	}
	m.store(ctx, key, b, v, m.opts.Now().Sub(start))
	return v, nil
}

// stored returns the result stored at key, if there is a valid one.
func (m *Memo[A, R]) stored(ctx context.Context, key string, b backend.Backend) (R, bool) {
	var zero R
	rctx, cancel := m.cacheCtx(ctx, b)
	defer cancel()
	s, ok, err := b.Get(rctx, key)
	if err != nil || !ok {
		return zero, false
	}
	e := readEntry(s)
	if e.isErr {
		return zero, false
	}
	v, err := m.codec.decode(e.payload)
	return v, err == nil
}

// store writes v with its compute time and expiry.
func (m *Memo[A, R]) store(ctx context.Context, key string, b backend.Backend, v R, delta time.Duration) {
	payload, err := m.codec.encode(v)
	if err != nil {
		return
	}
	ttl := m.family.writeTTL()
	entry := m.entry(payload, delta, ttl, b)
	sctx, cancel := m.cacheCtx(ctx, b)
	defer cancel()
	if err := b.Set(sctx, key, entry, ttl); err != nil {
		m.backendFailed(key, err)
	}
}

// entry is what store writes for a result encoded as payload and stored
// for ttl: the frame with its compute time and expiry, or the plain value
// when Plain asks.
func (m *Memo[A, R]) entry(payload string, delta, ttl time.Duration, b backend.Backend) string {
	if m.opts.Plain {
		return plainEntry(payload)
	}
	var expiry int64
	if ttl > 0 {
		expiry = m.nowMs(b) + ttl.Milliseconds()
	}
	return formatEntry(false, delta.Milliseconds(), expiry, payload)
}

// storeError caches err when negative caching asks for it.
func (m *Memo[A, R]) storeError(ctx context.Context, key string, b backend.Backend, err error) {
	ttl, ok := m.errorTTL()
	if !ok || (m.opts.CacheError != nil && !m.opts.CacheError(err)) {
		return
	}
	sctx, cancel := m.cacheCtx(ctx, b)
	defer cancel()
	if serr := b.Set(sctx, key, formatEntry(true, 0, 0, err.Error()), ttl); serr != nil {
		m.backendFailed(key, serr)
	}
}

// errorTTL returns the expiry of a cached error (0 for none, as the backend
// takes it) and whether errors are cached; see [MemoOptions.ErrorTTL].
func (m *Memo[A, R]) errorTTL() (time.Duration, bool) {
	switch {
	case m.opts.ErrorTTL == NoExpiry:
		return 0, true
	case m.opts.ErrorTTL <= 0:
		return 0, false
	}
	return max(m.opts.ErrorTTL, time.Millisecond), true
}

// degraded serves a call whose cache read failed: the function is called
// (coalesced, not stored) unless the Memo is strict.
func (m *Memo[A, R]) degraded(ctx context.Context, key string, a A, err error, outcome *Outcome) (R, error) {
	m.backendFailed(key, err)
	if m.opts.Strict {
		var zero R
		return zero, err
	}
	return m.coalesce(ctx, key, outcome, func(ctx context.Context) (R, error) { return m.call(ctx, a) })
}

func (m *Memo[A, R]) backendFailed(key string, err error) {
	m.stats.backendErrors.Add(1)
	m.family.logFailure(slog.LevelWarn, "caches: Memoize could not use the cache", err)
	if m.opts.OnBackendError != nil {
		m.opts.OnBackendError(key, err)
	}
}

// InvalidateAll deletes every cached result of the Memo, and of the
// families that depend on it; see [KeyCache.Invalidate].
func (m *Memo[A, R]) InvalidateAll(ctx context.Context) (int, error) {
	return m.family.Invalidate(ctx)
}

// Invalidate deletes a's cached result (or cached error) and reports whether
// there was one. Redis: DEL.
func (m *Memo[A, R]) Invalidate(ctx context.Context, a A) (bool, error) {
	key, err := m.Key(a)
	if err != nil {
		return false, err
	}
	h := handle{f: m.family, key: key}
	return h.del(ctx)
}

// A memoEntry is a stored result: "m1|<compute ms>|<expiry unix ms>|v|<value>"
// for a value, with "e" and the error's text for a cached error. The
// compute time and expiry travel with the value so that a hit decides on
// early refresh without a second round trip. Both numbers are decimal
// integers (an expiry of 0: none), and <value> is the rest of the entry,
// '|' included. A stored string that does not parse as a frame is a plain
// value (see readEntry).
type memoEntry struct {
	delta   int64
	expiry  string // parsed only when early refresh needs it
	isErr   bool
	payload string
}

const entryMagic = "m1|"

func formatEntry(isErr bool, delta, expiry int64, payload string) string {
	kind := "|v|"
	if isErr {
		kind = "|e|"
	}
	return entryMagic + strconv.FormatInt(delta, 10) + "|" + strconv.FormatInt(expiry, 10) + kind + payload
}

func parseEntry(s string) (memoEntry, bool) {
	rest, ok := strings.CutPrefix(s, entryMagic)
	if !ok {
		return memoEntry{}, false
	}
	d, rest, ok1 := strings.Cut(rest, "|")
	x, rest, ok2 := strings.Cut(rest, "|")
	kind, payload, ok3 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || !ok3 || (kind != "v" && kind != "e") {
		return memoEntry{}, false
	}
	delta, err := strconv.ParseInt(d, 10, 64)
	if err != nil || x == "" {
		return memoEntry{}, false
	}
	return memoEntry{delta: delta, expiry: x, isErr: kind == "e", payload: payload}, true
}

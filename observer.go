package caches

import (
	"context"
	"errors"
	"iter"
	"maps"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gocaches/caches/internal/stats"
)

// Observer is told about every operation of the library's caches: its
// family, name, connection, outcome and duration, and never a key, an
// argument, a value or a DSN. The OpenTelemetry module
// (github.com/gocaches/caches/cachesotel) is one; install one with
// [SetObserver]. An Observer is called concurrently from every goroutine
// that uses a cache, on the caller's goroutine, so it must be fast and must
// not call the caches.
type Observer interface {
	// Start is called when an operation begins. The context it returns is
	// the one the operation runs under (and passes to go-redis), so a span
	// started here is the parent of what the operation does; return ctx
	// itself to add nothing.
	Start(ctx context.Context, op *Op) context.Context
	// End is called once when the operation ends, with the context Start
	// returned and the same op.
	End(ctx context.Context, op *Op, r Result)
}

// Op is one kind of operation: an operation of a family on a connection.
// Its fields hold only bounded, non-secret strings.
//
// The library makes one Op for each family, operation name, connection
// name and system, the first time an observer sees that kind, and passes
// the same *Op to every later Start and End of the kind: an observer can
// keep what it records for the kind in the Op ([Op.SetValue]) instead of
// looking it up on every call. An Op must not be modified.
type Op struct {
	Name       string // the method, e.g. "Get", "Call" (of a Memo), "Load", "LeaseWait", "Invalidate"
	Family     string // the family's key prefix
	Connection string // the connection's name; "" for the default connection
	System     string // "redis", or "memory" for an in-process store

	value atomic.Pointer[any] // the observer's, see SetValue
}

// Value returns the value the last [Op.SetValue] stored in op, or nil.
func (op *Op) Value() any {
	if p := op.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue stores v in op for the observer, which reads it back with
// [Op.Value]; the library never reads it. Ops outlive an observer: one
// installed after another finds its predecessor's values, and observers
// that delegate to each other share the Ops, so an observer checks that a
// value is its own (by its type and owner) before it uses it.
func (op *Op) SetValue(v any) { op.value.Store(&v) }

// Result is how an operation ended.
type Result struct {
	Outcome  Outcome
	Duration time.Duration
	// ErrorType classifies a failure (Outcome is OutcomeError) with one of a
	// fixed set of names, see [ErrorType]; "" otherwise.
	ErrorType string
	// Keys is the number of keys an Invalidate deleted; 0 for other
	// operations.
	Keys int
}

// Outcome is what an operation came to.
type Outcome uint8

// The outcomes. A read is a hit or a miss as [Stats] counts them; a write,
// a removal, an Invalidate, a Load and a LeaseWait that succeed are OK.
const (
	OutcomeOK           Outcome = iota
	OutcomeHit                  // a read found what it asked for
	OutcomeMiss                 // a read found nothing
	OutcomeError                // the operation failed
	OutcomeLoaded               // a Memo call or read-through Get whose caller ran the function
	OutcomeCoalesced            // a Memo call that shared another caller's computation
	OutcomeEarlyRefresh         // a Memo hit that started a refresh before expiry
	OutcomeNearHit              // a KeyCache Get (of a family without a Validate hook) or Memo call answered by the near cache's copy
	NumOutcomes                 // the number of outcomes, for observers that index by them
)

var outcomeNames = [NumOutcomes]string{"ok", "hit", "miss", "error", "loaded", "coalesced", "early_refresh", "near_hit"}

// String returns the outcome's name: "ok", "hit", "miss", "error",
// "loaded", "coalesced", "early_refresh" or "near_hit".
func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// observing holds the installed observer.
type observing struct{ o Observer }

var observer atomic.Pointer[observing]

// SetObserver installs o as the observer of every cache of the program, or
// removes the observer with nil. Operations already running report to the
// observer they started with. With no observer an operation costs one
// atomic load more, reads no clock and allocates nothing.
func SetObserver(o Observer) {
	if o == nil {
		observer.Store(nil)
		return
	}
	observer.Store(&observing{o: o})
}

// epoch is the origin of the monotonic times of opScope.
var epoch = time.Now()

// opScope is one operation in progress, as begin started it. Its nil
// observer means no observer was installed: then it only counts (and
// begin, which is inlined, costs an atomic load).
type opScope struct {
	f     *family
	obs   *observing
	op    *Op           // set when obs is
	start time.Duration // since epoch
}

// begin starts operation name of f: with an observer installed, it tells
// it, and the returned context is the one the operation runs under.
func (f *family) begin(ctx context.Context, name string) (context.Context, opScope) {
	s := opScope{f: f, obs: observer.Load()}
	if s.obs != nil {
		ctx = s.started(ctx, name)
	}
	return ctx, s
}

// started tells the observer that the operation starts, and returns the
// context it runs under.
func (s *opScope) started(ctx context.Context, name string) context.Context {
	s.op = s.f.op(ctx, name)
	ctx = s.obs.o.Start(ctx, s.op)
	s.start = time.Since(epoch)
	return ctx
}

// op returns the Op of operation name of f under ctx: the one of the
// recent slot of name when its entry was made for the same name text,
// connection and connection name, by pointer, else newOp's.
func (f *family) op(ctx context.Context, name string) *Op {
	c := f.observedConn(ctx)
	var connName *string
	if c != nil {
		connName = c.name.Load()
	}
	if ops := f.ops.Load(); ops != nil {
		r := ops.recent[opSlot(name)].Load()
		if r != nil && sameString(r.name, name) && r.conn == c && r.connName == connName {
			return r.op
		}
	}
	return f.newOp(name, c, connName)
}

// observedConn is the connection an operation under ctx uses, as far as it
// is known without resolving it anew; nil when it is not.
func (f *family) observedConn(ctx context.Context) *Conn {
	if f.conn != nil {
		return f.conn
	}
	if c := boundConn(ctx); c != nil {
		return c
	}
	if r := f.resolved.Load(); r != nil && r.gen == registry.gen.Load() {
		return r.conn
	}
	c, _ := Connection(f.connName)
	return c
}

// familyOps are the Ops of a family, made as an observer sees them.
type familyOps struct {
	// recent holds the entry used last of each slot, by the address of
	// the name's text (the library's names are constants), for a lookup
	// that compares pointers.
	recent [8]atomic.Pointer[opRef]
	mu     sync.Mutex    // guards all
	all    map[opKey]*Op // every Op of the family
}

// opRef is an entry of familyOps.recent: the Op of operation name on
// conn while conn's name is connName (nil for a nil conn).
type opRef struct {
	op       *Op
	name     string
	conn     *Conn
	connName *string
}

// opKey is what tells a family's Ops apart: their names, connection
// names and systems are bounded, so the family's Ops are too.
type opKey struct{ name, connection, system string }

// opSlot is the slot of familyOps.recent of the Ops named name.
func opSlot(name string) int {
	return int(uint64(uintptr(unsafe.Pointer(unsafe.StringData(name)))) * 0x9e3779b97f4a7c15 >> 61)
}

// sameString reports whether a and b are the same text in the same
// memory.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// newOp returns the family's Op of operation name on c, whose name is
// connName, made on its first use, and makes it the recent one of its
// slot.
func (f *family) newOp(name string, c *Conn, connName *string) *Op {
	k := opKey{name, f.connName, "redis"}
	if c != nil {
		k.connection = ""
		if connName != nil {
			k.connection = *connName
		}
		if c.mem != nil {
			k.system = "memory"
		}
	}
	ops := f.ops.Load()
	if ops == nil {
		f.ops.CompareAndSwap(nil, &familyOps{all: map[opKey]*Op{}})
		ops = f.ops.Load()
	}
	ops.mu.Lock()
	defer ops.mu.Unlock()
	op := ops.all[k]
	if op == nil {
		op = &Op{Name: k.name, Family: f.prefix, Connection: k.connection, System: k.system}
		ops.all[k] = op
	}
	ops.recent[opSlot(name)].Store(&opRef{op: op, name: name, conn: c, connName: connName})
	return op
}

// end reports the end of the operation to the observer it started with.
func (s *opScope) end(ctx context.Context, outcome Outcome, err error, keys int) {
	if s.obs == nil {
		return
	}
	r := Result{Outcome: outcome, Duration: time.Since(epoch) - s.start, Keys: keys}
	if outcome == OutcomeError {
		r.ErrorType = ErrorType(err)
	}
	s.obs.o.End(ctx, s.op, r)
}

// count is family.count, reported: c is the counter of success (nil for
// none), hits meaning a hit.
func (s *opScope) count(ctx context.Context, c *stats.Counter, err error) {
	s.f.count(c, err)
	if s.obs != nil {
		s.end(ctx, s.outcome(c, err), err, 0)
	}
}

// counted is handle.counted, reported: use it deferred.
func (s *opScope) counted(ctx context.Context, c *stats.Counter, err *error) {
	s.count(ctx, c, *err)
}

// loaded reports a read that a loader answered: loaded, or the loader's
// miss or error.
func (s *opScope) loaded(ctx context.Context, err error) {
	if s.obs == nil {
		return
	}
	if err == nil {
		s.end(ctx, OutcomeLoaded, nil, 0)
		return
	}
	s.done(ctx, err)
}

// done reports an operation that succeeded when err is nil, missed with
// ErrNotFound and failed otherwise.
func (s *opScope) done(ctx context.Context, err error) {
	switch {
	case s.obs == nil:
	case err == nil:
		s.end(ctx, OutcomeOK, nil, 0)
	case errors.Is(err, ErrNotFound):
		s.end(ctx, OutcomeMiss, nil, 0)
	default:
		s.end(ctx, OutcomeError, err, 0)
	}
}

// invalidated reports an Invalidate that deleted n keys.
func (s *opScope) invalidated(ctx context.Context, n int, err error) {
	if s.obs == nil {
		return
	}
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeError
	}
	s.end(ctx, outcome, err, n)
}

// memo reports a Memo call that came to outcome (OutcomeHit or
// OutcomeNearHit for a cached error) and returned err.
func (s *opScope) memo(ctx context.Context, outcome Outcome, err error) {
	if s.obs == nil {
		return
	}
	if err != nil && outcome != OutcomeHit && outcome != OutcomeNearHit {
		outcome = OutcomeError
	}
	s.end(ctx, outcome, err, 0)
}

// countRead is family.countRead, reported.
func (s *opScope) countRead(ctx context.Context, found bool, err error) {
	s.f.countRead(found, err)
	if s.obs == nil {
		return
	}
	switch {
	case err == nil && found:
		s.end(ctx, OutcomeHit, nil, 0)
	case err == nil || err == ErrNotFound:
		s.end(ctx, OutcomeMiss, nil, 0)
	default:
		s.end(ctx, OutcomeError, err, 0)
	}
}

// countMany is family.countMany, reported.
func (s *opScope) countMany(ctx context.Context, c *stats.Counter, n int, err error) {
	s.f.countMany(c, n, err)
	if s.obs == nil {
		return
	}
	if err != nil {
		s.end(ctx, OutcomeError, err, 0)
		return
	}
	s.end(ctx, OutcomeOK, nil, 0)
}

// outcome is the outcome that family.count counts for c and err.
func (s *opScope) outcome(c *stats.Counter, err error) Outcome {
	switch {
	case err == ErrNotFound:
		return OutcomeMiss
	case err != nil:
		return OutcomeError
	case c == &s.f.stats.hits:
		return OutcomeHit
	}
	return OutcomeOK
}

// errorTypes are the names ErrorType gives, most specific first.
var errorTypes = []struct {
	err  error
	name string
}{
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
	{ErrWrongType, "wrong_type"},
	{ErrNotNumber, "not_number"},
	{ErrClosed, "closed"},
	{ErrCrossSlot, "cross_slot"},
	{ErrPrefixOverlap, "prefix_overlap"},
	{ErrUnknownConnection, "unknown_connection"},
	{ErrIterationBroken, "iteration_broken"},
	{ErrNotFound, "not_found"},
}

// ErrorType classifies err for metrics: "timeout", "canceled",
// "wrong_type", "not_number", "closed", "cross_slot", "prefix_overlap",
// "unknown_connection", "iteration_broken", "not_found" for the errors
// they name, "decode" for a [*DecodeError], "cached_error" for a
// [*CachedError], "" for nil, and "_OTHER" for anything else (a failure of
// Redis or of the network, a hook's or a memoized function's error). The
// name never holds a key or a message.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	for _, t := range errorTypes {
		if errors.Is(err, t.err) {
			return t.name
		}
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return "decode"
	}
	var ce *CachedError
	if errors.As(err, &ce) {
		return "cached_error"
	}
	return "_OTHER"
}

// Connections returns the connections of the registry by name, for an
// observer to read their statistics ([Conn.MemoryStats],
// [Conn.NearStats]) on demand. It reads no CACHES_DSN variable: before the
// registry's first use it yields nothing.
func Connections() iter.Seq2[string, *Conn] {
	r := registry
	r.mu.RLock()
	conns := maps.Clone(r.conns)
	r.mu.RUnlock()
	return maps.All(conns)
}

// NearStats returns the statistics of the connection's near caches by
// family prefix (families that share a prefix share one); none for a
// connection without near caches.
func (c *Conn) NearStats() iter.Seq2[string, NearStats] {
	return func(yield func(string, NearStats) bool) {
		if c.nears == nil {
			return
		}
		for prefix, n := range c.nears.snapshot() {
			st := n.Stats()
			s := NearStats{Hits: st.Hits, Misses: st.Misses, Invalidations: st.Invalidations,
				Flushes: st.Flushes, Entries: st.Entries, Live: st.Live}
			if !yield(prefix, s) {
				return
			}
		}
	}
}

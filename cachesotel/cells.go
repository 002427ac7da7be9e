package cachesotel

import (
	"maps"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// durationBounds are the bucket bounds of the duration histograms, in
// seconds: from a microsecond (an in-process store answers in well under
// one) to ten seconds.
var durationBounds = [...]float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// boundsNs are durationBounds in nanoseconds, for the hot path.
var boundsNs = func() []time.Duration {
	ns := make([]time.Duration, len(durationBounds))
	for i, s := range durationBounds {
		ns[i] = time.Duration(s * float64(time.Second))
	}
	return ns
}()

// cell aggregates the measurements of one attribute set: how many, and
// the histogram of their durations. Recording one is three atomic adds.
type cell struct {
	attrs   attribute.Set
	count   atomic.Int64
	sumNs   atomic.Int64
	buckets [len(durationBounds) + 1]atomic.Uint64
}

func (c *cell) record(d time.Duration) {
	c.count.Add(1)
	c.sumNs.Add(int64(d))
	c.buckets[bucket(d)].Add(1)
}

// bucket returns the index of the first bound d does not exceed, or
// len(boundsNs): a binary search.
func bucket(d time.Duration) int {
	lo, hi := 0, len(boundsNs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if d <= boundsNs[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// opKey identifies one kind of operation: its cells are made once for
// each.
type opKey struct {
	name, family, connection, system string
}

// kind is which instruments an operation is recorded in.
type kind uint8

const (
	kindOperation  kind = iota // caches.operations, caches.operation.duration
	kindInvalidate             // those, and caches.invalidations, caches.invalidated_keys
	kindLoad                   // caches.loads, caches.load.duration
	kindLeaseWait              // caches.lease.waits
)

func kindOf(name string) kind {
	switch name {
	case "Invalidate", "InvalidateKey":
		return kindInvalidate
	case "Load":
		return kindLoad
	case "LeaseWait":
		return kindLeaseWait
	}
	return kindOperation
}

// opCells are the cells of one kind of operation: one per outcome but an
// error, whose attributes depend on its type (see errCellOf).
type opCells struct {
	key     opKey
	kind    kind
	outcome [caches.NumOutcomes]*cell
	family  attribute.Set // db.system.name, caches.family, caches.connection
	calls   atomic.Int64  // calls, whatever their outcome (kindInvalidate)
	keys    atomic.Int64  // keys deleted (kindInvalidate)
	first   *recentEntry  // the cells with the Op they were made for
}

func newOpCells(k opKey) *opCells {
	c := &opCells{key: k, kind: kindOf(k.name), family: attribute.NewSet(familyAttributes(k)...)}
	for i := range c.outcome {
		c.outcome[i] = &cell{attrs: attribute.NewSet(opAttributes(k, c.kind, caches.Outcome(i))...)}
	}
	return c
}

func familyAttributes(k opKey) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.DBSystemNameKey.String(k.system),
		FamilyKey.String(k.family),
		ConnectionKey.String(connName(k.connection)),
	}
}

// opAttributes are the attributes of an operation's measurements: those
// of its family, its outcome and, but for loads and lease waits (whose
// instruments say what they are), its name.
func opAttributes(k opKey, kd kind, outcome caches.Outcome) []attribute.KeyValue {
	attrs := append(familyAttributes(k), OutcomeKey.String(outcome.String()))
	if kd == kindOperation || kd == kindInvalidate {
		attrs = append(attrs, semconv.DBOperationNameKey.String(k.name))
	}
	return attrs
}

// errKey identifies the failures of one kind of operation with one error
// type.
type errKey struct {
	op        opKey
	errorType string
}

// table holds every cell made so far, copied on write so that the hot
// path reads it without a lock.
type table struct {
	ops  map[opKey]*opCells
	errs map[errKey]*cell
}

// cellsOf returns op's cells, made on its first call. The recent cache
// answers first, then the table.
func (o *Observer) cellsOf(op caches.Op) *opCells {
	slot := &o.recent[recentSlot(op)]
	if e := slot.Load(); e != nil && sameStrings(e.op, op) {
		return e.cells
	}
	c := o.tableCellsOf(op)
	if sameStrings(c.first.op, op) {
		slot.Store(c.first) // made with the cells: no allocation here
	}
	return c
}

// tableCellsOf returns op's cells from the table, made on its first call.
func (o *Observer) tableCellsOf(op caches.Op) *opCells {
	k := opKey{op.Name, op.Family, op.Connection, op.System}
	if c := o.table.Load().ops[k]; c != nil {
		return c
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.table.Load()
	if c := old.ops[k]; c != nil {
		return c
	}
	c := newOpCells(k)
	c.first = &recentEntry{op: op, cells: c}
	ops := maps.Clone(old.ops)
	ops[k] = c
	o.table.Store(&table{ops: ops, errs: old.errs})
	return c
}

// recentEntry is an entry of the recent cache: a direct-mapped cache of
// cellsOf's answers keyed by the identity of an Op's strings (where their
// bytes are, and their lengths). The strings an operation reports are its
// family's and the library's own, the same memory call after call, so
// comparing four pointers replaces hashing four strings in the table. An
// entry holds its strings, so their memory is never reused for other text
// while the entry can match them.
type recentEntry struct {
	op    caches.Op
	cells *opCells
}

// recentSize is the number of entries of the recent cache.
const recentSize = 256

// recentSlot returns the index of op's entry in the recent cache.
func recentSlot(op caches.Op) int {
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(op.Family))))*0x9e3779b97f4a7c15 ^
		uint64(uintptr(unsafe.Pointer(unsafe.StringData(op.Name))))*0xc2b2ae3d27d4eb4f
	return int(h >> 56 % recentSize)
}

// sameStrings reports whether a's and b's strings are the same memory.
func sameStrings(a, b caches.Op) bool {
	return sameString(a.Name, b.Name) && sameString(a.Family, b.Family) &&
		sameString(a.Connection, b.Connection) && sameString(a.System, b.System)
}

func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// errCellOf returns the cell of op's failures of errorType, made on the
// first one.
func (o *Observer) errCellOf(op *opCells, errorType string) *cell {
	k := errKey{op.key, errorType}
	if c := o.table.Load().errs[k]; c != nil {
		return c
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.table.Load()
	if c := old.errs[k]; c != nil {
		return c
	}
	attrs := append(opAttributes(op.key, op.kind, caches.OutcomeError), semconv.ErrorTypeKey.String(errorType))
	c := &cell{attrs: attribute.NewSet(attrs...)}
	errs := maps.Clone(old.errs)
	errs[k] = c
	o.table.Store(&table{ops: old.ops, errs: errs})
	return c
}

// each calls f for every cell of the table, with its kind.
func (t *table) each(f func(kd kind, c *cell)) {
	for _, oc := range t.ops {
		for _, c := range oc.outcome {
			f(oc.kind, c)
		}
	}
	for k, c := range t.errs {
		f(kindOf(k.op.name), c)
	}
}

package cachesotel

import (
	"maps"
	"math/bits"
	"sort"
	"sync/atomic"
	"time"

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

// cell aggregates the measurements of one attribute set: the histogram
// of their durations, whose buckets add up to their count. Recording one
// is two atomic adds.
type cell struct {
	attrs   attribute.Set
	sumNs   atomic.Int64
	buckets [len(durationBounds) + 1]atomic.Uint64
}

func (c *cell) record(d time.Duration) {
	c.sumNs.Add(int64(d))
	c.buckets[bucket(d)].Add(1)
}

// count returns the number of measurements recorded.
func (c *cell) count() int64 {
	var n uint64
	for i := range c.buckets {
		n += c.buckets[i].Load()
	}
	return int64(n)
}

// bucket returns the index of the first bound d does not exceed, or
// len(boundsNs): the bounds at least 2^(n-1) ns, for d of n bits, start
// at boundsFrom[n], and each bound is at least twice the one before, so
// the next bound exceeds d if that one does not.
func bucket(d time.Duration) int {
	d = max(d, 0)
	i := int(boundsFrom[bits.Len64(uint64(d))])
	if i < len(boundsNs) && d > boundsNs[i] {
		i++
	}
	return i
}

// boundsFrom[n] is the index of the first bound of at least 2^(n-1) ns
// (of 0 for n = 0).
var boundsFrom = func() (from [65]uint8) {
	for n := range from {
		least := uint64(1) << n >> 1
		from[n] = uint8(sort.Search(len(boundsNs), func(i int) bool { return uint64(boundsNs[i]) >= least }))
	}
	return from
}()

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
	owner   *Observer     // the Observer whose table holds them
}

func newOpCells(o *Observer, k opKey) *opCells {
	c := &opCells{key: k, kind: kindOf(k.name), family: attribute.NewSet(familyAttributes(k)...), owner: o}
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

// cellsOf returns op's cells, made on its first call: those the Op
// holds (see [caches.Op.SetValue]) when they are this Observer's, else
// those of the table, which the Op then holds.
func (o *Observer) cellsOf(op *caches.Op) *opCells {
	if c, ok := op.Value().(*opCells); ok && c.owner == o {
		return c
	}
	c := o.tableCellsOf(op)
	op.SetValue(c)
	return c
}

// tableCellsOf returns op's cells from the table, made on its first call.
func (o *Observer) tableCellsOf(op *caches.Op) *opCells {
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
	c := newOpCells(o, k)
	ops := maps.Clone(old.ops)
	ops[k] = c
	o.table.Store(&table{ops: ops, errs: old.errs})
	return c
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

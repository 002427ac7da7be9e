package cachesotel

import (
	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// opKey identifies one kind of operation: its attributes are made once for
// each, so that recording a measurement builds nothing.
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
	case "Invalidate":
		return kindInvalidate
	case "Load":
		return kindLoad
	case "LeaseWait":
		return kindLeaseWait
	}
	return kindOperation
}

// measureOpts are the ready-made options of one attribute set.
type measureOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newMeasureOpts(attrs ...attribute.KeyValue) measureOpts {
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return measureOpts{add: []metric.AddOption{set}, record: []metric.RecordOption{set}}
}

// opAttrs are an operation's options for each outcome but an error, whose
// attributes depend on its type (see errOptsOf), and those of its family
// alone.
type opAttrs struct {
	kind    kind
	outcome [caches.NumOutcomes]measureOpts
	family  measureOpts // db.system.name, caches.family, caches.connection
}

func newOpAttrs(k opKey) *opAttrs {
	a := &opAttrs{kind: kindOf(k.name)}
	for i := range a.outcome {
		a.outcome[i] = newMeasureOpts(opAttributes(k, a.kind, caches.Outcome(i))...)
	}
	a.family = newMeasureOpts(familyAttributes(k)...)
	return a
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

// attrsOf returns op's attributes, made on its first call.
func (o *Observer) attrsOf(op caches.Op) *opAttrs {
	k := opKey{op.Name, op.Family, op.Connection, op.System}
	if a := (*o.attrs.Load())[k]; a != nil {
		return a
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.attrs.Load()
	if a := old[k]; a != nil {
		return a
	}
	a := newOpAttrs(k)
	m := make(map[opKey]*opAttrs, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[k] = a
	o.attrs.Store(&m)
	return a
}

// errKey identifies the failures of one kind of operation with one error
// type.
type errKey struct {
	op        opKey
	errorType string
}

// errOptsOf returns the options of op's failures of errorType, made on
// the first one.
func (o *Observer) errOptsOf(op caches.Op, kd kind, errorType string) *measureOpts {
	k := errKey{opKey{op.Name, op.Family, op.Connection, op.System}, errorType}
	if m := (*o.errAttrs.Load())[k]; m != nil {
		return m
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.errAttrs.Load()
	if m := old[k]; m != nil {
		return m
	}
	attrs := append(opAttributes(k.op, kd, caches.OutcomeError), semconv.ErrorTypeKey.String(errorType))
	opts := newMeasureOpts(attrs...)
	m := make(map[errKey]*measureOpts, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[k] = &opts
	o.errAttrs.Store(&m)
	return &opts
}

// Package cachesotel exports what the caches of github.com/gocaches/caches
// do as OpenTelemetry metrics and traces.
//
// One call instruments every cache of the program:
//
//	stop, err := cachesotel.Instrument()
//	if err != nil { … }
//	defer stop()
//
// It uses the global meter and tracer providers unless
// [WithMeterProvider] or [WithTracerProvider] name others. The metrics are
// listed in the README of the caches ("Observability"); their attributes
// are bounded: a family's key prefix, never a key or an argument. Each
// cache operation and each call of a memoized function (or of a Load hook)
// gets a span, a child of the caller's, under which the spans of an
// instrumented go-redis client appear.
package cachesotel

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/gocaches/caches/cachesotel"

// Attribute keys of the library's own attributes.
const (
	FamilyKey     = attribute.Key("caches.family")     // the family's key prefix
	ConnectionKey = attribute.Key("caches.connection") // the connection's name; "default" for the default one
	OutcomeKey    = attribute.Key("caches.outcome")    // hit, miss, ok, error, loaded, coalesced, early_refresh
)

// Option configures [New] and [Instrument].
type Option func(*config)

type config struct {
	mp       metric.MeterProvider
	tp       trace.TracerProvider
	noTraces bool
}

// WithMeterProvider exports the metrics to mp instead of the global
// meter provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider records the spans with tp instead of the global
// tracer provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithoutTraces records metrics only: no span is started (starting one
// costs an allocation or more per operation even when the tracer provider
// drops it). A [noop.TracerProvider] has the same effect.
func WithoutTraces() Option {
	return func(c *config) { c.noTraces = true }
}

// Observer is a [caches.Observer] that records metrics and spans. It is
// safe for concurrent use.
type Observer struct {
	tracer   trace.Tracer // nil: no spans
	inst     instruments
	reg      metric.Registration
	mu       sync.Mutex                     // serialises the writers of attrs
	attrs    atomic.Pointer[map[opKey]*opAttrs] // copy on write: read without a lock
	errAttrs atomic.Pointer[map[errKey]*measureOpts]
}

// Instrument installs an Observer made with opts as the observer of every
// cache of the program (see [caches.SetObserver]). stop removes it and
// stops its observable instruments.
func Instrument(opts ...Option) (stop func(), err error) {
	o, err := New(opts...)
	if err != nil {
		return nil, err
	}
	caches.SetObserver(o)
	return func() {
		caches.SetObserver(nil)
		o.Close()
	}, nil
}

// New returns an Observer configured by opts, for [caches.SetObserver] or
// for an observer of the application's own that delegates to it.
func New(opts ...Option) (*Observer, error) {
	c := config{}
	for _, opt := range opts {
		opt(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	o := &Observer{}
	if _, isNoop := c.tp.(noop.TracerProvider); !c.noTraces && !isNoop {
		o.tracer = c.tp.Tracer(ScopeName)
	}
	meter := c.mp.Meter(ScopeName)
	if err := o.inst.init(meter); err != nil {
		return nil, err
	}
	reg, err := o.inst.registerObservables(meter)
	if err != nil {
		return nil, err
	}
	o.reg = reg
	empty := map[opKey]*opAttrs{}
	o.attrs.Store(&empty)
	emptyErr := map[errKey]*measureOpts{}
	o.errAttrs.Store(&emptyErr)
	return o, nil
}

// Close stops the Observer's observable instruments (the in-process
// store's and the near caches' statistics).
func (o *Observer) Close() error {
	return o.reg.Unregister()
}

// Start starts the span of op, a child of ctx's, when traces are on.
func (o *Observer) Start(ctx context.Context, op caches.Op) context.Context {
	if o.tracer == nil {
		return ctx
	}
	ctx, _ = o.tracer.Start(ctx, op.Name+" "+op.Family,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			semconv.DBSystemNameKey.String(op.System),
			semconv.DBOperationNameKey.String(op.Name),
			FamilyKey.String(op.Family),
			ConnectionKey.String(connName(op.Connection)),
		))
	return ctx
}

// End records op's metrics and ends the span Start started.
func (o *Observer) End(ctx context.Context, op caches.Op, r caches.Result) {
	o.record(ctx, op, r)
	if o.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(OutcomeKey.String(r.Outcome.String()))
	if r.Outcome == caches.OutcomeError {
		span.SetAttributes(semconv.ErrorTypeKey.String(r.ErrorType))
		span.SetStatus(codes.Error, r.ErrorType)
	}
	span.End()
}

// record records op's metrics with the attribute sets made for it.
func (o *Observer) record(ctx context.Context, op caches.Op, r caches.Result) {
	a := o.attrsOf(op)
	m := &a.outcome[r.Outcome]
	if r.Outcome == caches.OutcomeError {
		m = o.errOptsOf(op, a.kind, r.ErrorType)
	}
	seconds := r.Duration.Seconds()
	switch a.kind {
	case kindLoad:
		o.inst.loads.Add(ctx, 1, m.add...)
		o.inst.loadDuration.Record(ctx, seconds, m.record...)
	case kindLeaseWait:
		o.inst.leaseWaits.Add(ctx, 1, m.add...)
	default:
		o.inst.operations.Add(ctx, 1, m.add...)
		o.inst.duration.Record(ctx, seconds, m.record...)
	}
	switch {
	case a.kind == kindInvalidate:
		o.inst.invalidations.Add(ctx, 1, a.family.add...)
		o.inst.invalidatedKeys.Add(ctx, int64(r.Keys), a.family.add...)
	case r.Outcome == caches.OutcomeEarlyRefresh:
		o.inst.earlyRefreshes.Add(ctx, 1, a.family.add...)
	}
}

func connName(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

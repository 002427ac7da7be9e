// Package cachesotel exports what the caches of github.com/gocaches/caches
// do as OpenTelemetry metrics and traces.
//
// One call instruments every cache of the program; the reader that
// exports the metrics takes [Producer] for the duration histograms:
//
//	reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(cachesotel.Producer()))
//	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
//	obs, err := cachesotel.Instrument()
//	if err != nil { … }
//	defer obs.Close()
//
// It uses the global meter and tracer providers unless
// [WithMeterProvider] or [WithTracerProvider] name others. The metrics are
// listed in the README of the caches ("Observability"); their attributes
// are bounded: a family's key prefix, never a key or an argument. Each
// cache operation and each call of a memoized function (or of a Load hook)
// gets a span, a child of the caller's, under which the spans of an
// instrumented go-redis client appear.
//
// The durations are those the caches report: read from Go's monotonic
// clock when an operation starts and when it ends, in nanoseconds. The
// histograms' buckets go from a microsecond to ten seconds.
package cachesotel

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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
	OutcomeKey    = attribute.Key("caches.outcome")    // hit, miss, ok, error, loaded, coalesced, early_refresh, near_hit
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

// Observer is a [caches.Observer] that records metrics and spans, and a
// metric producer of the duration histograms (see [Observer.Produce]). It
// is safe for concurrent use.
//
// Recording an operation's metrics builds and looks up nothing: each kind
// of operation (family, name, connection) gets its attribute sets and
// counters on its first call, kept in its [caches.Op], and later calls add
// to them atomically. The observable instruments read them when the
// metrics are collected.
type Observer struct {
	tracer    trace.Tracer // nil: no spans
	inst      instruments
	reg       metric.Registration
	start     time.Time
	installed bool // by Instrument: Close uninstalls it

	mu    sync.Mutex            // serialises the writers of table
	table atomic.Pointer[table] // copied on write: read without a lock
}

// Instrument installs an Observer made with opts as the observer of every
// cache of the program (see [caches.SetObserver]); its Close uninstalls
// it. The duration histograms come from [Producer]: pass it to the
// reader that exports the metrics.
func Instrument(opts ...Option) (*Observer, error) {
	o, err := New(opts...)
	if err != nil {
		return nil, err
	}
	o.installed = true
	installed.Store(o)
	caches.SetObserver(o)
	return o, nil
}

// installed is the Observer Instrument installed last, until its Close.
var installed atomic.Pointer[Observer]

// Producer returns the producer of the duration histograms of the
// Observer that [Instrument] installed (none before, nothing then): pass
// it to the reader that exports the metrics, which may be made before
// Instrument is called:
//
//	reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(cachesotel.Producer()))
//	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
//	obs, err := cachesotel.Instrument()
func Producer() sdkmetric.Producer { return producer{} }

type producer struct{}

func (producer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	if o := installed.Load(); o != nil {
		return o.Produce(ctx)
	}
	return nil, nil
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
	o := &Observer{start: time.Now()}
	o.table.Store(&table{ops: map[opKey]*opCells{}, errs: map[errKey]*cell{}})
	if _, isNoop := c.tp.(noop.TracerProvider); !c.noTraces && !isNoop {
		o.tracer = c.tp.Tracer(ScopeName)
	}
	meter := c.mp.Meter(ScopeName)
	if err := o.inst.init(meter); err != nil {
		return nil, err
	}
	reg, err := meter.RegisterCallback(o.observe, o.inst.all()...)
	if err != nil {
		return nil, err
	}
	o.reg = reg
	return o, nil
}

// Close stops the Observer's observable instruments and, for one
// [Instrument] installed, uninstalls it.
func (o *Observer) Close() error {
	if o.installed {
		caches.SetObserver(nil)
		installed.CompareAndSwap(o, nil)
	}
	return o.reg.Unregister()
}

// Start starts the span of op, a child of ctx's, when traces are on.
func (o *Observer) Start(ctx context.Context, op *caches.Op) context.Context {
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
func (o *Observer) End(ctx context.Context, op *caches.Op, r caches.Result) {
	o.record(op, r)
	if o.tracer != nil {
		endSpan(ctx, r)
	}
}

// endSpan ends the span of ctx with the outcome of r.
func endSpan(ctx context.Context, r caches.Result) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(OutcomeKey.String(r.Outcome.String()))
	if r.Outcome == caches.OutcomeError {
		span.SetAttributes(semconv.ErrorTypeKey.String(r.ErrorType))
		span.SetStatus(codes.Error, r.ErrorType)
	}
	span.End()
}

// record adds op's measurements to its cells.
func (o *Observer) record(op *caches.Op, r caches.Result) {
	oc := o.cellsOf(op)
	c := oc.outcome[r.Outcome]
	if r.Outcome == caches.OutcomeError {
		c = o.errCellOf(oc, r.ErrorType)
	}
	c.record(r.Duration)
	if oc.kind == kindInvalidate {
		oc.calls.Add(1)
		oc.keys.Add(int64(r.Keys))
	}
}

func connName(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

package cachesotel

import (
	"context"
	"errors"
	"time"

	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// instruments are the observable instruments; the README's
// "Observability" section lists them, and the histograms [Observer.Produce]
// makes, all.
type instruments struct {
	operations, loads, leaseWaits, earlyRefreshes metric.Int64ObservableCounter
	invalidations, invalidatedKeys                metric.Int64ObservableCounter
	memKeys, memBytes                             metric.Int64ObservableGauge
	memEvictions                                  metric.Int64ObservableCounter
	nearHits, nearMisses, nearInvalidations       metric.Int64ObservableCounter
	nearEntries                                   metric.Int64ObservableGauge
}

func (in *instruments) init(m metric.Meter) error {
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	in.operations = counter("caches.operations", "{operation}", "Cache operations, by family, operation and outcome.")
	in.loads = counter("caches.loads", "{load}", "Calls of a memoized function or of a Load hook.")
	in.leaseWaits = counter("caches.lease.waits", "{wait}", "Memo computations that waited for another process's lease.")
	in.earlyRefreshes = counter("caches.early_refreshes", "{refresh}", "Memo refreshes started before expiry.")
	in.invalidations = counter("caches.invalidations", "{invalidation}", "Invalidations of a family.")
	in.invalidatedKeys = counter("caches.invalidated_keys", "{key}", "Keys deleted by invalidations.")
	in.memKeys = gauge("caches.memory.keys", "{key}", "Live keys of an in-process store.")
	in.memBytes = gauge("caches.memory.bytes", "By", "Estimated size of an in-process store.")
	in.memEvictions = counter("caches.memory.evictions", "{key}", "Keys an in-process store's bound evicted.")
	in.nearHits = counter("caches.near.hits", "{read}", "Reads a near cache answered locally.")
	in.nearMisses = counter("caches.near.misses", "{read}", "Reads of a near-cached family that went to Redis.")
	in.nearInvalidations = counter("caches.near.invalidations", "{key}", "Keys Redis reported changed to a near cache.")
	in.nearEntries = gauge("caches.near.entries", "{entry}", "Keys a near cache holds.")
	return errors.Join(errs...)
}

func (in *instruments) all() []metric.Observable {
	return []metric.Observable{in.operations, in.loads, in.leaseWaits, in.earlyRefreshes, in.invalidations,
		in.invalidatedKeys, in.memKeys, in.memBytes, in.memEvictions, in.nearHits, in.nearMisses,
		in.nearInvalidations, in.nearEntries}
}

// observe reports the counts of the table's cells and the statistics of
// every connection of the registry.
func (o *Observer) observe(_ context.Context, r metric.Observer) error {
	t := o.table.Load()
	in := &o.inst
	t.each(func(kd kind, c *cell) {
		n := c.count()
		if n == 0 {
			return
		}
		inst := in.operations
		switch kd {
		case kindLoad:
			inst = in.loads
		case kindLeaseWait:
			inst = in.leaseWaits
		}
		r.ObserveInt64(inst, n, metric.WithAttributeSet(c.attrs))
	})
	for _, oc := range t.ops {
		if n := oc.outcome[caches.OutcomeEarlyRefresh].count(); n > 0 {
			r.ObserveInt64(in.earlyRefreshes, n, metric.WithAttributeSet(oc.family))
		}
		if oc.kind == kindInvalidate {
			r.ObserveInt64(in.invalidations, oc.calls.Load(), metric.WithAttributeSet(oc.family))
			r.ObserveInt64(in.invalidatedKeys, oc.keys.Load(), metric.WithAttributeSet(oc.family))
		}
	}
	in.observeConnections(r)
	return nil
}

// observeConnections reports the in-process stores' and the near caches'
// statistics.
func (in *instruments) observeConnections(r metric.Observer) {
	for name, c := range caches.Connections() {
		conn := ConnectionKey.String(connName(name))
		if s, ok := c.MemoryStats(); ok {
			set := metric.WithAttributeSet(attribute.NewSet(semconv.DBSystemNameKey.String("memory"), conn))
			r.ObserveInt64(in.memKeys, int64(s.Keys), set)
			r.ObserveInt64(in.memBytes, s.UsedBytes, set)
			r.ObserveInt64(in.memEvictions, int64(s.Evictions), set)
		}
		for prefix, s := range c.NearStats() {
			set := metric.WithAttributeSet(attribute.NewSet(semconv.DBSystemNameKey.String("redis"), conn, FamilyKey.String(prefix)))
			r.ObserveInt64(in.nearHits, int64(s.Hits), set)
			r.ObserveInt64(in.nearMisses, int64(s.Misses), set)
			r.ObserveInt64(in.nearInvalidations, int64(s.Invalidations), set)
			r.ObserveInt64(in.nearEntries, int64(s.Entries), set)
		}
	}
}

// Produce returns the duration histograms, caches.operation.duration and
// caches.load.duration, cumulative since the Observer was made: pass the
// Observer to the reader that exports the metrics
// (sdkmetric.WithProducer, or the Prometheus exporter's WithProducer). The
// OpenTelemetry metric API has no asynchronous histogram, and the SDK's
// synchronous one costs several times the budget of a cache operation.
func (o *Observer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	ops := histogram("caches.operation.duration", "Duration of cache operations.")
	loads := histogram("caches.load.duration", "Duration of the calls of a memoized function or of a Load hook.")
	now := time.Now()
	o.table.Load().each(func(kd kind, c *cell) {
		h := &ops
		switch kd {
		case kindLoad:
			h = &loads
		case kindLeaseWait:
			return
		}
		if p, ok := c.point(o.start, now); ok {
			d := h.Data.(metricdata.Histogram[float64])
			d.DataPoints = append(d.DataPoints, p)
			h.Data = d
		}
	})
	return []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: ScopeName},
		Metrics: []metricdata.Metrics{ops, loads},
	}}, nil
}

func histogram(name, desc string) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Description: desc, Unit: "s",
		Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}}
}

// point is the cell's histogram data point; ok is false for a cell that
// recorded nothing.
func (c *cell) point(start, now time.Time) (metricdata.HistogramDataPoint[float64], bool) {
	n := c.count()
	if n == 0 {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	p := metricdata.HistogramDataPoint[float64]{
		Attributes: c.attrs, StartTime: start, Time: now,
		Bounds: durationBounds[:], BucketCounts: make([]uint64, len(c.buckets)),
		Sum: time.Duration(c.sumNs.Load()).Seconds(),
	}
	for i := range c.buckets {
		p.BucketCounts[i] = c.buckets[i].Load()
		p.Count += p.BucketCounts[i]
	}
	return p, true
}

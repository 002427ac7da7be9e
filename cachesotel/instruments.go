package cachesotel

import (
	"context"
	"errors"

	"github.com/gocaches/caches"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// durationBounds are the bucket bounds of the duration histograms, in
// seconds: from a microsecond (an in-process store answers in well under
// one) to ten seconds.
var durationBounds = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// instruments are the synchronous instruments; the README's
// "Observability" section lists them all.
type instruments struct {
	operations      metric.Int64Counter
	duration        metric.Float64Histogram
	loads           metric.Int64Counter
	loadDuration    metric.Float64Histogram
	leaseWaits      metric.Int64Counter
	earlyRefreshes  metric.Int64Counter
	invalidations   metric.Int64Counter
	invalidatedKeys metric.Int64Counter
}

func (in *instruments) init(m metric.Meter) error {
	var errs [8]error
	in.operations, errs[0] = m.Int64Counter("caches.operations", metric.WithUnit("{operation}"),
		metric.WithDescription("Cache operations, by family, operation and outcome."))
	in.duration, errs[1] = m.Float64Histogram("caches.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of cache operations."), metric.WithExplicitBucketBoundaries(durationBounds...))
	in.loads, errs[2] = m.Int64Counter("caches.loads", metric.WithUnit("{load}"),
		metric.WithDescription("Calls of a memoized function or of a Load hook."))
	in.loadDuration, errs[3] = m.Float64Histogram("caches.load.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the calls of a memoized function or of a Load hook."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	in.leaseWaits, errs[4] = m.Int64Counter("caches.lease.waits", metric.WithUnit("{wait}"),
		metric.WithDescription("Memo computations that waited for another process's lease."))
	in.earlyRefreshes, errs[5] = m.Int64Counter("caches.early_refreshes", metric.WithUnit("{refresh}"),
		metric.WithDescription("Memo refreshes started before expiry."))
	in.invalidations, errs[6] = m.Int64Counter("caches.invalidations", metric.WithUnit("{invalidation}"),
		metric.WithDescription("Invalidations of a family."))
	in.invalidatedKeys, errs[7] = m.Int64Counter("caches.invalidated_keys", metric.WithUnit("{key}"),
		metric.WithDescription("Keys deleted by invalidations."))
	return errors.Join(errs[:]...)
}

// observables are the instruments read on demand from the statistics of
// the registry's connections.
type observables struct {
	memKeys, memBytes                    metric.Int64ObservableGauge
	memEvictions                         metric.Int64ObservableCounter
	nearHits, nearMisses, nearInvalidate metric.Int64ObservableCounter
	nearEntries                          metric.Int64ObservableGauge
}

func (in *instruments) registerObservables(m metric.Meter) (metric.Registration, error) {
	var ob observables
	var errs [7]error
	ob.memKeys, errs[0] = m.Int64ObservableGauge("caches.memory.keys", metric.WithUnit("{key}"),
		metric.WithDescription("Live keys of an in-process store."))
	ob.memBytes, errs[1] = m.Int64ObservableGauge("caches.memory.bytes", metric.WithUnit("By"),
		metric.WithDescription("Estimated size of an in-process store."))
	ob.memEvictions, errs[2] = m.Int64ObservableCounter("caches.memory.evictions", metric.WithUnit("{key}"),
		metric.WithDescription("Keys an in-process store's bound evicted."))
	ob.nearHits, errs[3] = m.Int64ObservableCounter("caches.near.hits", metric.WithUnit("{read}"),
		metric.WithDescription("Reads a near cache answered locally."))
	ob.nearMisses, errs[4] = m.Int64ObservableCounter("caches.near.misses", metric.WithUnit("{read}"),
		metric.WithDescription("Reads of a near-cached family that went to Redis."))
	ob.nearInvalidate, errs[5] = m.Int64ObservableCounter("caches.near.invalidations", metric.WithUnit("{key}"),
		metric.WithDescription("Keys Redis reported changed to a near cache."))
	ob.nearEntries, errs[6] = m.Int64ObservableGauge("caches.near.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Keys a near cache holds."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m.RegisterCallback(ob.observe, ob.memKeys, ob.memBytes, ob.memEvictions,
		ob.nearHits, ob.nearMisses, ob.nearInvalidate, ob.nearEntries)
}

// observe reads the statistics of every connection of the registry.
func (ob *observables) observe(_ context.Context, r metric.Observer) error {
	for name, c := range caches.Connections() {
		conn := ConnectionKey.String(connName(name))
		if s, ok := c.MemoryStats(); ok {
			set := metric.WithAttributeSet(attribute.NewSet(semconv.DBSystemNameKey.String("memory"), conn))
			r.ObserveInt64(ob.memKeys, int64(s.Keys), set)
			r.ObserveInt64(ob.memBytes, s.UsedBytes, set)
			r.ObserveInt64(ob.memEvictions, int64(s.Evictions), set)
		}
		for prefix, s := range c.NearStats() {
			set := metric.WithAttributeSet(attribute.NewSet(semconv.DBSystemNameKey.String("redis"), conn, FamilyKey.String(prefix)))
			r.ObserveInt64(ob.nearHits, int64(s.Hits), set)
			r.ObserveInt64(ob.nearMisses, int64(s.Misses), set)
			r.ObserveInt64(ob.nearInvalidate, int64(s.Invalidations), set)
			r.ObserveInt64(ob.nearEntries, int64(s.Entries), set)
		}
	}
	return nil
}

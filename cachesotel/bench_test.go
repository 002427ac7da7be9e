package cachesotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachesotel"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkGet measures a KeyCache.Get hit without an observer, with the
// metrics installed, and with metrics and traces, on an in-process store
// and on a real redis-server. Run with -count to interleave the variants
// in one run.
func BenchmarkGet(b *testing.B) { onBenchBackends(b, benchGet) }

// onBenchBackends runs bench as two sub-benchmarks: on an in-process store
// and on a real redis-server.
func onBenchBackends(b *testing.B, bench func(*testing.B, *caches.Conn)) {
	b.Run("memory", func(b *testing.B) {
		conn := caches.NewMemoryConn(caches.MemoryOptions{})
		defer conn.Close()
		bench(b, conn)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.StartForTest(b)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer client.Close()
		conn := caches.NewRedisConn(client)
		defer conn.Close()
		bench(b, conn)
	})
}

// BenchmarkGetMetrics measures a KeyCache.Get hit with the metrics
// installed (no traces) against none, in alternating blocks of one run
// (the observer installed and removed between blocks), so that the
// machine's load weighs on both alike. It reports the ns/op of each, their
// difference and ratio.
func BenchmarkGetMetrics(b *testing.B) { onBenchBackends(b, benchGetMetrics) }

func benchGetMetrics(b *testing.B, conn *caches.Conn) {
	ctx := context.Background()
	key := caches.NewKeyCache[string](caches.Options{Prefix: "bench", Conn: conn}).Key("user-42")
	if err := key.Set(ctx, "payload of a typical size, a few dozen bytes"); err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader(sdkmetric.WithProducer(cachesotel.Producer()))))
	defer mp.Shutdown(ctx)
	obs, err := cachesotel.New(cachesotel.WithMeterProvider(mp), cachesotel.WithoutTraces())
	if err != nil {
		b.Fatal(err)
	}
	defer obs.Close()
	defer caches.SetObserver(nil)
	get := func() {
		if _, err := key.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	block := 1000
	if conn.String() != "memory://" {
		block = 50
	}
	var spent [2]time.Duration
	for n, i := 0, 0; n < b.N; n, i = n+block, i+1 {
		k := min(block, b.N-n)
		for j := range 2 {
			v := (i + j) % 2
			if v == 0 {
				caches.SetObserver(nil)
			} else {
				caches.SetObserver(obs)
			}
			start := time.Now()
			for range k {
				get()
			}
			spent[v] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0])/float64(b.N), "none-ns/op")
	b.ReportMetric(float64(spent[1])/float64(b.N), "metrics-ns/op")
	b.ReportMetric(float64(spent[1]-spent[0])/float64(b.N), "added-ns/op")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "ratio")
}

func benchGet(b *testing.B, conn *caches.Conn) {
	ctx := context.Background()
	key := caches.NewKeyCache[string](caches.Options{Prefix: "bench", Conn: conn}).Key("user-42")
	if err := key.Set(ctx, "payload of a typical size, a few dozen bytes"); err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader(sdkmetric.WithProducer(cachesotel.Producer()))))
	defer mp.Shutdown(ctx)
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(ctx)
	variants := []struct {
		name string
		opts []cachesotel.Option
	}{
		{"none", nil},
		{"metrics", []cachesotel.Option{cachesotel.WithMeterProvider(mp), cachesotel.WithoutTraces()}},
		{"metrics+traces", []cachesotel.Option{cachesotel.WithMeterProvider(mp), cachesotel.WithTracerProvider(tp)}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			if v.opts != nil {
				obs, err := cachesotel.Instrument(v.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer obs.Close()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := key.Get(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

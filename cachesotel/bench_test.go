package cachesotel_test

import (
	"context"
	"testing"

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
func BenchmarkGet(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		conn := caches.NewMemoryConn(caches.MemoryOptions{})
		defer conn.Close()
		benchGet(b, conn)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.StartForTest(b)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer client.Close()
		conn := caches.NewRedisConn(client)
		defer conn.Close()
		benchGet(b, conn)
	})
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

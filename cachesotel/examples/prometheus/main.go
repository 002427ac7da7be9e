// Command prometheus serves the metrics of the caches on /metrics for
// Prometheus, through the OpenTelemetry Prometheus exporter. It runs a few
// cache operations every second: a hit, a miss, a memoized call.
//
//	go run ./examples/prometheus -addr localhost:2112
//	curl -s localhost:2112/metrics | grep caches_
//
// With -once it runs the operations once, prints the metrics and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachesotel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	addr := flag.String("addr", "localhost:2112", "address to serve /metrics on")
	once := flag.Bool("once", false, "run the operations once, print the metrics and exit")
	flag.Parse()
	handler, err := setup()
	if err != nil {
		log.Fatal(err)
	}
	if *once {
		work(context.Background())
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		os.Stdout.Write(rec.Body.Bytes())
		return
	}
	go func() {
		for range time.Tick(time.Second) {
			work(context.Background())
		}
	}()
	http.Handle("/metrics", handler)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// setup exports the metrics through a Prometheus registry of its own and
// instruments the caches; it returns the handler of /metrics.
func setup() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(cachesotel.Producer()))
	if err != nil {
		return nil, err
	}
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)))
	if _, err := cachesotel.Instrument(); err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

var (
	users = caches.NewKeyCache[string](caches.Options{Prefix: "users", TTL: time.Minute})
	greet = caches.Memoize(func(_ context.Context, name string) (string, error) {
		return "hello, " + name, nil
	}, caches.MemoOptions[string]{Options: caches.Options{Prefix: "greet"}})
)

// work runs a hit, a miss and a memoized call on the default connection
// (an in-process store unless CACHES_DSN names one).
func work(ctx context.Context) {
	if err := users.Key(1).Set(ctx, "ada"); err != nil {
		log.Print(err)
	}
	users.Key(1).Get(ctx)
	users.Key(2).Get(ctx)
	if _, err := greet.Call(ctx, "ada"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

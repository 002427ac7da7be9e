package bench

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// redisAddr is the server every Redis benchmark of the run uses: the one
// BENCH_REDIS_ADDR names (the run script starts it, so redis-benchmark
// measures the same server), or one started here.
var redisAddr string

// reversed swaps the order in which the implementations of one operation
// run, so that over the rounds of a run none is always measured first.
// BENCH_ROUND (set by the run script) chooses it by parity.
var reversed bool

func TestMain(m *testing.M) {
	var srv *redistest.Server
	redisAddr = os.Getenv("BENCH_REDIS_ADDR")
	if redisAddr == "" {
		var err error
		if srv, err = redistest.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		redisAddr = srv.Addr
	}
	var round int
	fmt.Sscan(os.Getenv("BENCH_ROUND"), &round)
	reversed = round%2 == 1
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	os.Exit(code)
}

// roundTrips counts the round trips a go-redis client makes: one per command
// sent alone, one per pipeline or transaction.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// impl is one implementation of an operation: op does the i-th operation,
// prep (untimed, optional) prepares n of them, e.g. fills the keys that n
// Pops will take.
type impl struct {
	name string
	prep func(n int) error
	op   func(i int) error
}

// compare runs every implementation of one operation as sub-benchmarks
// side by side, reporting allocations and, when rt is set, round trips per
// operation.
func compare(b *testing.B, op string, rt *roundTrips, impls ...impl) {
	b.Run(op, func(b *testing.B) {
		order := append([]impl(nil), impls...)
		if reversed {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, im := range order {
			b.Run(im.name, func(b *testing.B) { run(b, rt, im) })
		}
	})
}

func run(b *testing.B, rt *roundTrips, im impl) {
	if im.prep != nil {
		if err := im.prep(b.N); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var start int64
	if rt != nil {
		start = rt.n.Load()
	}
	for i := 0; i < b.N; i++ {
		if err := im.op(i); err != nil {
			b.Fatalf("%s: %v", im.name, err)
		}
	}
	b.StopTimer()
	if rt != nil {
		b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "roundtrips/op")
	}
}

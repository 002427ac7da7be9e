package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// sent alone, one per pipeline or transaction. While recording, it also
// notes what each round trip sent, so that a comparison can check that
// ours and raw go-redis send the same commands.
type roundTrips struct {
	n         atomic.Int64
	recording atomic.Bool
	mu        sync.Mutex
	sent      []string
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		if r.recording.Load() {
			r.note(signature(cmd))
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		if r.recording.Load() {
			names := make([]string, len(cmds))
			for i, c := range cmds {
				names[i] = signature(c)
			}
			r.note("[" + strings.Join(names, " ") + "]")
		}
		return next(ctx, cmds)
	}
}

func (r *roundTrips) note(s string) {
	r.mu.Lock()
	r.sent = append(r.sent, s)
	r.mu.Unlock()
}

// record returns what do sent, one entry per round trip.
func (r *roundTrips) record(do func() error) ([]string, error) {
	r.mu.Lock()
	r.sent = nil
	r.mu.Unlock()
	r.recording.Store(true)
	err := do()
	r.recording.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent, err
}

// signature is a command's name, with the script of an EVALSHA and the
// options of a command (its arguments that are not keys or values are
// not distinguished: both sides use their own keys).
func signature(cmd redis.Cmder) string {
	name := strings.ToLower(cmd.Name())
	if args := cmd.Args(); (name == "evalsha" || name == "eval") && len(args) > 1 {
		return fmt.Sprintf("%s(%.12v)", name, args[1])
	}
	return name
}

// warmUp runs op for the benchmark time before the comparisons, so that no
// implementation measured first in a process pays for warming it up.
func warmUp(b *testing.B, op func(i int) error) {
	b.Run("warmup", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// impl is one implementation of an operation: op does the i-th operation,
// prep (untimed, optional) prepares n of them, e.g. fills the keys that n
// Pops will take.
type impl struct {
	name string
	prep func(n int) error
	op   func(i int) error
	// pairWith names the implementation this one is also timed against in
	// a paired sub-benchmark, <that>~<this> (see runPaired).
	pairWith string
}

// compare runs every implementation of one operation as sub-benchmarks
// side by side, reporting allocations and, when rt is set, round trips per
// operation. On Redis it checks that ours and raw send the same commands in
// the same round trips, unless sameCommands is false (a batch, compared
// with a pipeline by design).
func compare(b *testing.B, op string, rt *roundTrips, impls ...impl) {
	compareSent(b, op, rt, true, impls...)
}

func compareSent(b *testing.B, op string, rt *roundTrips, sameCommands bool, impls ...impl) {
	b.Run(op, func(b *testing.B) {
		order := append([]impl(nil), impls...)
		if reversed {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		sent := map[string]string{}
		for _, im := range order {
			b.Run(im.name, func(b *testing.B) {
				if s := run(b, rt, im); s != "" {
					sent[im.name] = s
				}
			})
		}
		if rt != nil && sameCommands && sent["ours"] != "" && sent["raw"] != "" && sent["ours"] != sent["raw"] {
			b.Fatalf("%s: ours sends %s but raw sends %s: not the same commands", op, sent["ours"], sent["raw"])
		}
		chunk := 256 // in-process operations take nanoseconds: time them by the chunk
		if rt != nil {
			chunk = 4
		}
		for _, im := range order {
			for _, x := range impls {
				if im.pairWith == x.name {
					b.Run(x.name+"~"+im.name, func(b *testing.B) { runPaired(b, x, im, chunk) })
				}
			}
		}
	})
}

// runPaired times x and y alternately, chunk operations of one then chunk
// of the other (which goes first alternates too), and reports each one's
// time per operation as x-ns/op and y-ns/op. Whatever else the machine does
// in a round falls on both alike, so their ratio varies far less from
// round to round than that of separate benchmarks.
func runPaired(b *testing.B, x, y impl, chunk int) {
	for _, im := range []impl{x, y} {
		if im.prep != nil {
			if err := im.prep(b.N); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	var tx, ty time.Duration
	for i := 0; i < b.N; i += chunk {
		n := min(chunk, b.N-i)
		first, second, tFirst, tSecond := x, y, &tx, &ty
		if (i/chunk)%2 == 1 {
			first, second, tFirst, tSecond = y, x, &ty, &tx
		}
		t0 := time.Now()
		for j := i; j < i+n; j++ {
			if err := first.op(j); err != nil {
				b.Fatalf("%s: %v", first.name, err)
			}
		}
		t1 := time.Now()
		for j := i; j < i+n; j++ {
			if err := second.op(j); err != nil {
				b.Fatalf("%s: %v", second.name, err)
			}
		}
		t2 := time.Now()
		*tFirst += t1.Sub(t0)
		*tSecond += t2.Sub(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tx.Nanoseconds())/float64(b.N), "x-ns/op")
	b.ReportMetric(float64(ty.Nanoseconds())/float64(b.N), "y-ns/op")
}

// run times b.N operations, then, on Redis, records what one more sends.
func run(b *testing.B, rt *roundTrips, im impl) (sent string) {
	extra := 0
	if rt != nil {
		extra = 1
	}
	if im.prep != nil {
		if err := im.prep(b.N + extra); err != nil {
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
	if rt == nil {
		return ""
	}
	b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "roundtrips/op")
	cmds, err := rt.record(func() error { return im.op(b.N) })
	if err != nil {
		b.Fatalf("%s: %v", im.name, err)
	}
	return strings.Join(cmds, " ")
}

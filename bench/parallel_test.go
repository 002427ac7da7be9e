package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// parKeys is how many keys the parallel comparisons spread over, and
// value100 the 100-byte value every one of them holds.
const parKeys = 10_000

var value100 = strings.Repeat("v", 100)

// callerCounts are the numbers of goroutines calling at once.
var callerCounts = []int{1, 8, 64, 256}

// parWorkloads are the mixes of the parallel comparisons: the i-th
// operation of GetHeavy is a SET when i%10 == 9, a GET otherwise.
var parWorkloads = []parWorkload{
	{"GetHeavy", func(t parTarget) func(i int) error {
		return func(i int) error {
			if i%10 == 9 {
				return t.set(i % parKeys)
			}
			return t.get(i % parKeys)
		}
	}, nil},
	{"SetOnly", func(t parTarget) func(i int) error {
		return func(i int) error { return t.set(i % parKeys) }
	}, nil},
	// The scripted writes: the write and its key's expiry in one Lua
	// script, which every implementation runs by its SHA1, over
	// scriptKeys keys of ten fields or members.
	{"DictSet", func(t parTarget) func(i int) error {
		return func(i int) error { return t.dictSet(i) }
	}, scriptCallers},
	{"CounterIncr", func(t parTarget) func(i int) error {
		return func(i int) error { return t.counterIncr(i) }
	}, scriptCallers},
	{"SetAdd", func(t parTarget) func(i int) error {
		return func(i int) error { return t.setAdd(i) }
	}, scriptCallers},
}

// scriptKeys is how many hashes and sets the scripted writes spread over,
// and scriptCallers their numbers of callers.
const scriptKeys = 1000

var scriptCallers = []int{8, 64, 256}

// scriptKey is the key and the field or member of the i-th scripted write.
func scriptKey(i int) (key int, field string) { return i % scriptKeys, ten[(i/scriptKeys)%10] }

// parWorkload is a mix of operations: op returns a target's i-th.
type parWorkload struct {
	name    string
	op      func(t parTarget) func(i int) error
	callers []int // nil: callerCounts
}

func (w parWorkload) callerCounts() []int {
	if w.callers == nil {
		return callerCounts
	}
	return w.callers
}

// parTarget is one implementation of the parallel comparisons: get checks
// that key k holds value100, set stores it there with the TTL; the
// scripted writes do their i-th write (see scriptKey): a hash field set to
// value100, a hash field incremented by 1, a set member added, each with
// the key's TTL.
type parTarget struct {
	name                         string
	get, set                     func(k int) error
	dictSet, counterIncr, setAdd func(i int) error
}

// BenchmarkParallel compares, with 1, 8, 64 and 256 goroutines calling at
// once, a KeyCache[string] of ours with the Redis clients Go programs use:
// ours on the connection caches.Open makes of a DSN (the library's default,
// automatic pipelining on), ours with autopipeline=false (each call a
// round trip on the pool), a plain go-redis pool alone, go-redis's AutoPipeline and rueidis
// (auto-pipelining by default). Names are <workload>/callers=<n>; each
// benchmark times every implementation in turns (see runTurns) and reports,
// per implementation, <name>-ops/s, the operations completed per second
// of its own time, and <name>-allocs/op. Exactly n goroutines run each
// implementation's operations (not b.RunParallel, which starts
// GOMAXPROCS×p); an operation that fails fails the benchmark.
func BenchmarkParallel(b *testing.B) {
	p := newParallelEnv(b)
	defer p.close()
	// A process's first benchmark runs slower than the same one later:
	// this one is that first, and benchreport ignores it.
	b.Run("warmup", func(b *testing.B) { runTurns(b, 1, p.targets, p.ops(parWorkloads[0])) })
	for _, w := range parWorkloads {
		b.Run(w.name, func(b *testing.B) {
			for _, n := range w.callerCounts() {
				b.Run("callers="+strconv.Itoa(n), func(b *testing.B) { runTurns(b, n, p.targets, p.ops(w)) })
			}
		})
	}
}

// parallelEnv holds the clients of the parallel comparisons, each with its
// own connections, and their targets in the order they are reported.
type parallelEnv struct {
	ctx     context.Context
	closers []func() error
	targets []parTarget
}

func newParallelEnv(b *testing.B) *parallelEnv {
	p := &parallelEnv{ctx: context.Background()}
	if err := p.open(); err != nil {
		p.close()
		b.Fatal(err)
	}
	if err := p.warm(); err != nil {
		p.close()
		b.Fatal(err)
	}
	return p
}

// open connects every implementation and fills the keys of ours and of
// the raw clients.
func (p *parallelEnv) open() error {
	admin := redis.NewClient(&redis.Options{Addr: redisAddr})
	p.closers = append(p.closers, admin.Close)
	dflt, err := caches.Open("redis://" + redisAddr)
	if err != nil {
		return err
	}
	p.closers = append(p.closers, dflt.Close)
	noPipeline, err := caches.Open("redis://" + redisAddr + "?autopipeline=false")
	if err != nil {
		return err
	}
	p.closers = append(p.closers, noPipeline.Close)
	ours := p.oursTargets(dflt, noPipeline)
	rawKeys := make([]string, parKeys)
	for i := range rawKeys {
		rawKeys[i] = "r" + ours.keys[i][1:] // ours keys are o:…, raw keys r:…, of the same length
	}
	raw, err := p.rawTargets(rawKeys)
	if err != nil {
		return err
	}
	p.targets = append(ours.targets, raw...)
	return fill(p.ctx, admin, 2*parKeys, func(pl redis.Pipeliner, i int) {
		keys := ours.keys
		if i >= parKeys {
			keys, i = rawKeys, i-parKeys
		}
		pl.Set(p.ctx, keys[i], value100, ttl)
	})
}

// oursFamilies is one KeyCache family on each of ours' connections, over
// the same keys.
type oursFamilies struct {
	keys    []string
	targets []parTarget
}

func (p *parallelEnv) oursTargets(dflt, noPipeline *caches.Conn) oursFamilies {
	var out oursFamilies
	for _, c := range []struct {
		name string
		conn *caches.Conn
	}{{"ours", dflt}, {"ours-nopipeline", noPipeline}} {
		kc := caches.NewKeyCache[string](caches.Options{Prefix: "o:p", TTL: ttl, Conn: c.conn})
		handles := make([]caches.Key[string], parKeys)
		for i := range handles {
			handles[i] = kc.Key(i)
		}
		if out.keys == nil {
			out.keys = make([]string, parKeys)
			for i, h := range handles {
				out.keys[i] = h.String()
			}
		}
		t := parTarget{name: c.name,
			get: func(k int) error {
				s, err := handles[k].Get(p.ctx)
				return expect(s == value100, err)
			},
			set: func(k int) error { return handles[k].Set(p.ctx, value100) },
		}
		p.oursScripts(&t, c.conn)
		out.targets = append(out.targets, t)
	}
	return out
}

// oursScripts sets the scripted writes of t: a DictCache, a CounterCache
// and a SetCache on conn.
func (p *parallelEnv) oursScripts(t *parTarget, conn *caches.Conn) {
	opts := func(prefix string) caches.Options { return caches.Options{Prefix: prefix, TTL: ttl, Conn: conn} }
	dc := caches.NewDictCache[string, string](opts("o:sd"))
	cc := caches.NewCounterCache[string](opts("o:sc"))
	sc := caches.NewSetCache[string](opts("o:ss"))
	dicts := make([]caches.Dict[string, string], scriptKeys)
	counters := make([]caches.Counter[string], scriptKeys)
	sets := make([]caches.Set[string], scriptKeys)
	for i := range scriptKeys {
		dicts[i], counters[i], sets[i] = dc.Key(i), cc.Key(i), sc.Key(i)
	}
	t.dictSet = func(i int) error {
		k, f := scriptKey(i)
		return dicts[k].Set(p.ctx, f, value100)
	}
	t.counterIncr = func(i int) error {
		k, f := scriptKey(i)
		_, err := counters[k].Incr(p.ctx, f, 1)
		return err
	}
	t.setAdd = func(i int) error {
		k, f := scriptKey(i)
		_, err := sets[k].Add(p.ctx, f)
		return err
	}
}

// rawScripts are the scripted writes run by a go-redis client c, with the
// library's scripts (scripts_test.go) on keys of the same length as ours.
func (p *parallelEnv) rawScripts(t *parTarget, c redis.Scripter) {
	ctx := p.ctx
	t.dictSet = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:sd:", k)
		return writeExpire.Run(ctx, c, []string{key}, ttlMs, "hset", key, f, value100).Err()
	}
	t.counterIncr = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:sc:", k)
		return intReply(incrWithin.Run(ctx, c, []string{key}, ttlMs, int64Min, int64Max, "hincrby", 1, f).Text())
	}
	t.setAdd = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:ss:", k)
		return writeExpire.Run(ctx, c, []string{key}, ttlMs, "sadd", key, f).Err()
	}
}

// rueidisScripts are the scripted writes run by rueidis, with the same
// scripts by EVALSHA.
func (p *parallelEnv) rueidisScripts(t *parTarget, c rueidis.Client) {
	ctx := p.ctx
	we, iw := rueidis.NewLuaScript(writeExpireSrc), rueidis.NewLuaScript(incrWithinSrc)
	t.dictSet = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:sd:", k)
		return we.Exec(ctx, c, []string{key}, []string{ttlMs, "hset", key, f, value100}).Error()
	}
	t.counterIncr = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:sc:", k)
		return intReply(iw.Exec(ctx, c, []string{key}, []string{ttlMs, int64Min, int64Max, "hincrby", "1", f}).ToString())
	}
	t.setAdd = func(i int) error {
		k, f := scriptKey(i)
		key := rawScriptKey("r:ss:", k)
		return we.Exec(ctx, c, []string{key}, []string{ttlMs, "sadd", key, f}).Error()
	}
}

// rawScriptKeys are the raw clients' script keys, made once: r:sd:0 …
var rawScriptKeys = map[string][]string{}

func rawScriptKey(prefix string, k int) string { return rawScriptKeys[prefix][k] }

func init() {
	for _, prefix := range []string{"r:sd:", "r:sc:", "r:ss:"} {
		rawScriptKeys[prefix] = names(prefix, scriptKeys)
	}
}

// rawTargets are the plain go-redis pool, go-redis's AutoPipeline and
// rueidis, each on a client of its own.
func (p *parallelEnv) rawTargets(keys []string) ([]parTarget, error) {
	ctx := p.ctx
	pool := redis.NewClient(&redis.Options{Addr: redisAddr})
	p.closers = append(p.closers, pool.Close)
	apClient := redis.NewClient(&redis.Options{Addr: redisAddr})
	p.closers = append(p.closers, apClient.Close)
	ap, err := apClient.AutoPipeline()
	if err != nil {
		return nil, err
	}
	rue, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}})
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, func() error { rue.Close(); return nil })
	targets := []parTarget{
		{name: "raw", get: func(k int) error {
			s, err := pool.Get(ctx, keys[k]).Result()
			return expect(s == value100, err)
		}, set: func(k int) error { return pool.Set(ctx, keys[k], value100, ttl).Err() }},
		{name: "autopipeline", get: func(k int) error {
			s, err := ap.Get(ctx, keys[k]).Result()
			return expect(s == value100, err)
		}, set: func(k int) error { return ap.Set(ctx, keys[k], value100, ttl).Err() }},
		{name: "rueidis", get: func(k int) error {
			s, err := rue.Do(ctx, rue.B().Get().Key(keys[k]).Build()).ToString()
			return expect(s == value100, err)
		}, set: func(k int) error {
			return rue.Do(ctx, rue.B().Set().Key(keys[k]).Value(value100).Px(ttl).Build()).Error()
		}},
	}
	p.rawScripts(&targets[0], pool)
	p.rawScripts(&targets[1], ap)
	p.rueidisScripts(&targets[2], rue)
	return targets, nil
}

// warm runs 2,000 operations of the GET-heavy mix on every target from the
// most callers, untimed, so that no benchmark pays for dialing its
// connections.
func (p *parallelEnv) warm() error {
	most := callerCounts[len(callerCounts)-1]
	for _, t := range p.targets {
		if _, err := drive(most, 0, 2000, parWorkloads[0].op(t)); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// ops is the workload's operation of every target.
func (p *parallelEnv) ops(w parWorkload) []func(i int) error {
	out := make([]func(i int) error, len(p.targets))
	for i, t := range p.targets {
		out[i] = w.op(t)
	}
	return out
}

func (p *parallelEnv) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// turnOps is how many operations each implementation does in a turn
// with callers goroutines: enough for every goroutine to have several in
// flight one after another, few enough that a turn takes milliseconds.
func turnOps(callers int) int { return max(64, 4*callers) }

// runTurns runs b.N operations of each implementation, from exactly
// callers goroutines, in turns: turnOps(callers) operations of one, then
// of the next, the first of a turn rotating, so that whatever else the
// machine does in a moment falls on every implementation alike (runPaired
// does the same with one goroutine). It reports each one's completed
// operations per second of its own time, and its allocations per
// operation, counted over its turns alone.
func runTurns(b *testing.B, callers int, targets []parTarget, ops []func(i int) error) {
	chunk := turnOps(callers)
	spent := make([]time.Duration, len(ops))
	done := make([]int64, len(ops))
	mallocs := make([]uint64, len(ops))
	var before, after runtime.MemStats
	b.ResetTimer()
	for start, turn := 0, 0; start < b.N; start, turn = start+chunk, turn+1 {
		n := min(chunk, b.N-start)
		for j := range ops {
			k := (j + turn) % len(ops)
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			c, err := drive(callers, start, n, ops[k])
			spent[k] += time.Since(t0)
			runtime.ReadMemStats(&after)
			done[k] += c
			mallocs[k] += after.Mallocs - before.Mallocs
			if err != nil {
				b.Fatalf("%s: %d of %d operations completed: %v", targets[k].name, c, n, err)
			}
		}
	}
	b.StopTimer()
	for k, t := range targets {
		b.ReportMetric(float64(done[k])/spent[k].Seconds(), t.name+"-ops/s")
		b.ReportMetric(float64(mallocs[k])/float64(done[k]), t.name+"-allocs/op")
	}
}

// driveLimit bounds the time one drive may take.
const driveLimit = 2 * time.Minute

var errTooLong = errors.New("operations took longer than " + driveLimit.String())

// drive runs operations first … first+total-1 from exactly callers
// goroutines, each taking the next operation when it finished its last,
// and returns how many completed. It stops at the first error, or when
// driveLimit passed.
func drive(callers, first, total int, op func(i int) error) (completed int64, err error) {
	var next, done atomic.Int64
	var stop atomic.Bool
	var once sync.Once
	fail := func(e error) {
		once.Do(func() { err = e })
		stop.Store(true)
	}
	deadline := time.Now().Add(driveLimit)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			var n int64
			defer func() { done.Add(n) }()
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				if i%256 == 0 && time.Now().After(deadline) {
					fail(errTooLong)
					return
				}
				if e := op(first + int(i)); e != nil {
					fail(e)
					return
				}
				n++
			}
		})
	}
	wg.Wait()
	return done.Load(), err
}

package main

import (
	"fmt"
	"math"
	"strings"
)

// row is one line of the table of targets: an operation of ours against a
// baseline measured in the same rounds.
type row struct {
	section   string
	op        string
	ours      string // benchmark names
	base      string
	baseLabel string
	// ratio is ours' throughput divided by the baseline's (for a scaling
	// row: parallel throughput divided by one goroutine's), the median of
	// the per-round ratios; lo and hi are their extremes over n rounds.
	ratio, lo, hi float64
	n             int
	oursNs        float64
	baseNs        float64
	oursAllocs    float64
	baseAllocs    float64
	roundTrips    float64
	wire          float64 // redis-benchmark requests/s of the matching command
	wireTest      string
	wireKeys      float64 // commands per operation, for a batch (compared with -P 16)
	minRatio      float64
	maxExtra      float64 // allowed extra allocations; NaN: no allocation target
	target        string
	met           bool
	pending       string // why the row could not be measured
	reason        string // why a target is missed
	scaling       bool
	paired        bool // ratio from the alternating benchmark
}

// pairName is the paired benchmark of two implementations of one group.
func pairName(ours, base string) (string, bool) {
	i, j := strings.LastIndexByte(ours, '/'), strings.LastIndexByte(base, '/')
	if i < 0 || j < 0 || ours[:i] != base[:j] {
		return "", false
	}
	return ours + "~" + base[j+1:], true
}

type report struct {
	run      *runData
	targets  []row
	peers    []row       // comparisons without a target
	parallel []parTable  // BenchmarkParallel, by workload
	near     *nearReport // BenchmarkNearHot and BenchmarkNearStaleness; nil when they did not run
}

const (
	secRedis   = "Redis, one goroutine: ours vs raw go-redis (same commands, same round trips)"
	secBatch   = "Redis batches of 1,000 keys: ours vs a raw go-redis pipeline"
	secMemo    = "Memoize hit on Redis"
	secMemory  = "In-process store"
	groupRedis = "BenchmarkRedis/"
	groupMem   = "BenchmarkMemory/"
)

func analyze(run *runData) *report {
	rep := &report{run: run}
	wire, wire16 := wireRates(run)
	// Redis operations: every group of BenchmarkRedis, in the order it ran.
	for _, g := range groups(run.order, groupRedis) {
		rep.addRedisGroup(g, wire, wire16)
	}
	rep.addMemoTargets(wire)
	rep.addMemoryTargets()
	rep.parallel = analyzeParallel(run)
	rep.addParallelTargets()
	rep.near = analyzeNear(run)
	for i := range rep.targets {
		rep.targets[i].reason = rep.explain(rep.targets[i])
	}
	return rep
}

// wireRates are redis-benchmark's requests per second by test, with -P 1
// and with -P 16.
func wireRates(run *runData) (p1, p16 map[string]float64) {
	p1, p16 = map[string]float64{}, map[string]float64{}
	for _, w := range run.wire {
		if w.p1Exists {
			p1[w.test] = w.p1
		}
		p16[w.test] = w.p16
	}
	return p1, p16
}

// has reports whether the benchmark name ran.
func (rep *report) has(name string) bool { return !math.IsNaN(metric(rep.run.rounds, name, "ns/op")) }

// addRedisGroup adds the rows of one group of BenchmarkRedis: a batch, a
// comparison without a target, or an operation against raw go-redis and
// its peers.
func (rep *report) addRedisGroup(g string, wire, wire16 map[string]float64) {
	op := strings.TrimPrefix(g, groupRedis)
	ours, raw := g+"/ours", g+"/raw"
	switch {
	case strings.Contains(op, "(1000)"):
		rep.addBatch(g, wire16)
		return
	case !rep.has(ours) || !rep.has(raw):
		return
	case strings.Contains(op, "untimed"):
		// Not the same work (raw without Memoize's CacheTimeout): for
		// the explanation of the Memoize rows and the peers' table.
		rep.peers = append(rep.peers, rep.measure(row{section: "Redis", op: op, ours: ours, base: raw,
			baseLabel: "raw GET without a timeout", minRatio: math.NaN(), maxExtra: math.NaN(), target: "—"}))
		return
	}
	w := wireTest(op)
	r := rep.measure(row{section: secRedis, op: op, ours: ours, base: raw, baseLabel: "raw go-redis",
		minRatio: 0.95, maxExtra: 2, target: "≥ 0.95×, ≤ +2 allocs", wire: wire[w], wireTest: w})
	rep.targets = append(rep.targets, r)
	for _, peer := range []string{"go-redis-cache", "eko-gocache"} {
		if rep.has(g + "/" + peer) {
			rep.peers = append(rep.peers, rep.measure(row{section: "Redis", op: op, ours: ours, base: g + "/" + peer,
				baseLabel: peer, minRatio: math.NaN(), maxExtra: math.NaN(), target: "—", wire: wire[w], wireTest: w}))
		}
	}
}

// addBatch adds the target of a batch of 1,000 keys against a raw
// pipeline, and its comparison with raw MGET.
func (rep *report) addBatch(g string, wire16 map[string]float64) {
	op := strings.TrimPrefix(g, groupRedis)
	ours, raw := g+"/ours", g+"/raw"
	test := "GET"
	if strings.Contains(op, "Set") {
		test = "SET"
	}
	r := row{section: secBatch, op: op, ours: ours, base: raw, baseLabel: "raw pipeline", minRatio: 0.9, maxExtra: math.NaN(),
		target: "≥ 0.90×", wire: wire16[test], wireTest: test, wireKeys: 1000}
	if !rep.has(ours) {
		r.pending = "KeyCache." + strings.TrimSuffix(strings.TrimPrefix(op, "KeyCache."), "(1000)") +
			" is not in the code yet: the engineer adding the batch operations owns this row (the raw baseline is measured)"
	}
	rep.targets = append(rep.targets, rep.measure(r))
	if rep.has(ours) && rep.has(g+"/raw-mget") {
		rep.peers = append(rep.peers, rep.measure(row{section: "Redis", op: op, ours: ours, base: g + "/raw-mget",
			baseLabel: "raw MGET", minRatio: math.NaN(), maxExtra: math.NaN(), target: "—"}))
	}
}

// addMemoTargets adds a Memoize hit against go-redis/cache's Once and
// eko/gocache's loadable cache.
func (rep *report) addMemoTargets(wire map[string]float64) {
	memo := groupRedis + "Memo.Call(hit)"
	for _, peer := range []struct{ name, label string }{
		{"go-redis-cache-once", "go-redis/cache Once"},
		{"eko-gocache-loadable", "eko/gocache loadable"},
	} {
		rep.targets = append(rep.targets, rep.measure(row{section: secMemo, op: "Memo.Call(hit)", ours: memo + "/ours",
			base: memo + "/" + peer.name, baseLabel: peer.label, minRatio: 1, maxExtra: math.NaN(), target: "≥ 1.00×",
			wire: wire["GET"], wireTest: "GET"}))
	}
}

// addMemoryTargets adds the targets of the in-process store.
func (rep *report) addMemoryTargets() {
	get, par := groupMem+"Get/", groupMem+"Get(parallel)/"
	rep.targets = append(rep.targets,
		rep.measure(row{section: secMemory, op: "memstore Get", ours: get + "memstore", base: get + "rwmutex-map",
			baseLabel: "RWMutex map (floor)", minRatio: 0.5, maxExtra: math.NaN(), target: "≥ 0.50× (within 2×)"}),
		rep.measure(row{section: secMemory, op: "KeyCache.Get (memstore)", ours: get + "ours", base: get + "go-cache",
			baseLabel: "go-cache Get", minRatio: 1, maxExtra: math.NaN(), target: "≥ 1.00×"}),
		rep.measure(row{section: secMemory, op: "memstore Get, 2 goroutines", ours: par + "memstore", base: get + "memstore",
			baseLabel: "memstore Get, 1 goroutine", minRatio: 1.6, maxExtra: math.NaN(), target: "≥ 1.60×", scaling: true}),
		rep.measure(row{section: secMemory, op: "KeyCache.Get (memstore), 2 goroutines", ours: par + "ours", base: get + "ours",
			baseLabel: "KeyCache.Get, 1 goroutine", minRatio: 1.6, maxExtra: math.NaN(), target: "≥ 1.60×", scaling: true}),
	)
}

// measure fills a row from the rounds.
func (rep *report) measure(r row) row {
	rounds := rep.run.rounds
	r.oursNs = metric(rounds, r.ours, "ns/op")
	r.baseNs = metric(rounds, r.base, "ns/op")
	r.oursAllocs = metric(rounds, r.ours, "allocs/op")
	r.baseAllocs = metric(rounds, r.base, "allocs/op")
	r.roundTrips = metric(rounds, r.ours, "roundtrips/op")
	r.ratio, r.lo, r.hi, r.n = paired(rounds, r.base, r.ours)
	if pair, ok := pairName(r.ours, r.base); ok && !math.IsNaN(metric(rounds, pair, "x-ns/op")) {
		// Timed alternately in one benchmark: the rates and the ratio come
		// from there (see runPaired in bench/main_test.go).
		r.oursNs = metric(rounds, pair, "x-ns/op")
		r.baseNs = metric(rounds, pair, "y-ns/op")
		r.ratio, r.lo, r.hi, r.n = pairedWithin(rounds, pair)
		r.paired = true
	}
	if r.pending != "" || math.IsNaN(r.ratio) || math.IsNaN(r.minRatio) {
		if r.pending == "" && math.IsNaN(r.ratio) && !math.IsNaN(r.minRatio) {
			r.pending = "not measured in this run"
		}
		return r
	}
	r.met = r.ratio >= r.minRatio
	if !math.IsNaN(r.maxExtra) && r.oursAllocs > r.baseAllocs+r.maxExtra {
		r.met = false
	}
	return r
}

// groups returns the distinct "<prefix><op>" groups of names, in order.
func groups(order []string, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range order {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		op, _, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		if g := prefix + op; !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// wireTest is the redis-benchmark test closest to an operation's command;
// every operation is one round trip, so GET stands for the reads it has no
// test of.
func wireTest(op string) string {
	name, _, _ := strings.Cut(op, "(")
	switch name {
	case "KeyCache.Set", "KeyCache.Add":
		return "SET"
	case "KeyCache.Incr":
		return "INCR"
	case "Dict.Set", "Dict.SetMany", "Dict.Add", "Dict.Incr", "Counter.Incr", "Counter.Update":
		return "HSET"
	case "Set.Add":
		return "SADD"
	case "Set.Pop":
		return "SPOP"
	case "ZSet.Add", "ZSet.Incr":
		return "ZADD"
	case "ZSet.PopMin":
		return "ZPOPMIN"
	}
	return "GET"
}

// profileShare returns the flat and cumulative shares (percent) of the
// first function matching fn in a `pprof -top` profile of the run.
func (rep *report) profileShare(prof, fn string) (flat, cum float64, ok bool) {
	for _, p := range rep.run.profiles {
		if p.name != prof {
			continue
		}
		for _, line := range strings.Split(p.text+"\n"+p.cum, "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || !strings.Contains(f[5], fn) {
				continue
			}
			flat, _ = parsePct(f[1])
			cum, _ = parsePct(f[4])
			return flat, cum, true
		}
	}
	return 0, 0, false
}

func parsePct(s string) (float64, bool) {
	var v float64
	_, err := fmt.Sscanf(strings.TrimSuffix(s, "%"), "%g", &v)
	return v, err == nil
}

func ratioString(r row) string {
	if math.IsNaN(r.ratio) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r.ratio)
}

func metString(r row) string {
	switch {
	case r.pending != "":
		return "pending"
	case math.IsNaN(r.minRatio):
		return "—"
	case r.met:
		return "yes"
	}
	return "NO"
}

// duration formats nanoseconds per operation.
func duration(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "—"
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ns", ns)
}

// rate formats operations per second from nanoseconds per operation.
func rate(ns float64) string {
	if math.IsNaN(ns) || ns <= 0 {
		return "—"
	}
	return perSecond(1e9 / ns)
}

func perSecond(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk/s", v/1e3)
	}
	return fmt.Sprintf("%.0f/s", v)
}

func allocs(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

const (
	benchNearHot   = "BenchmarkNearHot"
	benchNearStale = "BenchmarkNearStaleness"
)

// nearImpls are the implementations of BenchmarkNearHot, in the order of
// the table's rows, with their labels.
var nearImpls = []struct{ name, label string }{
	{"ours-near", "ours, `near=true`"},
	{"rueidis-cache", "rueidis `DoCache`"},
	{"ours-memory", "ours on `memory://` (`KeyCache.Get`)"},
	{"ours-redis", "ours, `KeyCache.Get` on Redis"},
}

// nearStaleImpls are the readers of BenchmarkNearStaleness.
var nearStaleImpls = []struct{ name, label string }{
	{"ours-near", "ours, `near=true`"},
	{"rueidis-cache", "rueidis `DoCache`"},
}

// nearHotCell is one implementation's hot reads: the median reads/s over
// the runs with their range, allocs/op, and ours' (near) reads/s divided
// by its, the median of the per-run ratios.
type nearHotCell struct {
	ops, lo, hi, allocs, ratio float64
}

// nearStaleCell is one reader's staleness quantiles in ms, medians over
// the runs, with the range of the p99.
type nearStaleCell struct {
	p50, p99, max, p99lo, p99hi float64
}

type nearReport struct {
	runs  int
	hot   []nearHotCell   // by nearImpls
	stale []nearStaleCell // by nearStaleImpls
}

func analyzeNear(run *runData) *nearReport {
	if len(run.near) == 0 {
		return nil
	}
	n := &nearReport{runs: len(run.near)}
	for _, im := range nearImpls {
		c := nearHotCell{ops: metric(run.near, benchNearHot, im.name+"-ops/s"),
			allocs: metric(run.near, benchNearHot, im.name+"-allocs/op")}
		c.lo, c.hi = extremes(run.near, benchNearHot, im.name+"-ops/s")
		var ratios []float64
		for _, r := range run.near {
			if res, ok := r[benchNearHot]; ok && res[im.name+"-ops/s"] > 0 {
				ratios = append(ratios, res["ours-near-ops/s"]/res[im.name+"-ops/s"])
			}
		}
		c.ratio = median(ratios)
		n.hot = append(n.hot, c)
	}
	for _, im := range nearStaleImpls {
		c := nearStaleCell{p50: metric(run.near, benchNearStale, im.name+"-p50-ms"),
			p99: metric(run.near, benchNearStale, im.name+"-p99-ms"),
			max: metric(run.near, benchNearStale, im.name+"-max-ms")}
		c.p99lo, c.p99hi = extremes(run.near, benchNearStale, im.name+"-p99-ms")
		n.stale = append(n.stale, c)
	}
	return n
}

// extremes are the smallest and largest of unit over the rounds where
// name ran.
func extremes(rounds []round, name, unit string) (lo, hi float64) {
	var xs []float64
	for _, r := range rounds {
		if v, ok := r[name][unit]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}

// nearTargets are issue 14's targets: near hot reads ≥ 1.0× rueidis and ≥
// 0.5× memory://, staleness p99 ≤ rueidis's. Each is "yes", "NO" or "—"
// (not measured).
func (n *nearReport) nearTargets() (vsRueidis, vsMemory, p99 string) {
	judge := func(ok bool, vals ...float64) string {
		for _, v := range vals {
			if math.IsNaN(v) {
				return "—"
			}
		}
		if ok {
			return "yes"
		}
		return "NO"
	}
	rue, mem := n.hot[1].ratio, n.hot[2].ratio
	vsRueidis = judge(rue >= 1.0, rue)
	vsMemory = judge(mem >= 0.5, mem)
	p99 = judge(n.stale[0].p99 <= n.stale[1].p99, n.stale[0].p99, n.stale[1].p99)
	return
}

func ms2(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

// nearTerminal is the near tables as bench/run prints them.
func (rep *report) nearTerminal() string {
	n := rep.near
	if n == nil {
		return ""
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nNear cache, hot reads (100 keys, 64 goroutines)\nimplementation\treads/s\tnear ÷ it\tallocs/op")
	for i, im := range nearImpls {
		c := n.hot[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ReplaceAll(im.label, "`", ""), perSecondNaN(c.ops), ratioX(c.ratio, i == 0), allocs1(c.allocs))
	}
	fmt.Fprintln(tw, "\nNear cache, another client's write seen after (ms)\nreader\tp50\tp99\tmax")
	for i, im := range nearStaleImpls {
		c := n.stale[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ReplaceAll(im.label, "`", ""), ms2(c.p50), ms2(c.p99), ms2(c.max))
	}
	tw.Flush()
	r, m, p := n.nearTargets()
	fmt.Fprintf(&b, "\ntargets: near ≥ 1.0× rueidis %s, ≥ 0.5× memory:// %s, staleness p99 ≤ rueidis's %s "+
		"(medians of %d runs; load average %s)\n", r, m, p, n.runs, orDash(rep.run.nearLoad))
	return b.String()
}

func ratioX(v float64, self bool) string {
	if self || math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v)
}

// mdNear is the near-cache section of BENCHMARKS.md.
func (rep *report) mdNear() string {
	n := rep.near
	if n == nil {
		return "The near-cache comparisons did not run.\n"
	}
	var b strings.Builder
	b.WriteString(nearMethod)
	b.WriteString("\n**Hot reads**, 100 keys, 64 goroutines\n\n")
	b.WriteString("| implementation | reads/s (range) | ours near ÷ it | allocs/op |\n| --- | ---: | ---: | ---: |\n")
	for i, im := range nearImpls {
		c := n.hot[i]
		fmt.Fprintf(&b, "| %s | %s (%s–%s) | %s | %s |\n", im.label, perSecondNaN(c.ops), perSecondNaN(c.lo), perSecondNaN(c.hi),
			ratioX(c.ratio, i == 0), allocs1(c.allocs))
	}
	b.WriteString("\n**Staleness**: another client's write seen by a reader holding a copy after (ms)\n\n")
	b.WriteString("| reader | p50 | p99 (range) | max |\n| --- | ---: | ---: | ---: |\n")
	for i, im := range nearStaleImpls {
		c := n.stale[i]
		fmt.Fprintf(&b, "| %s | %s | %s (%s–%s) | %s |\n", im.label, ms2(c.p50), ms2(c.p99), ms2(c.p99lo), ms2(c.p99hi), ms2(c.max))
	}
	r, m, p := n.nearTargets()
	fmt.Fprintf(&b, "\nTargets (issue 14): near hot reads ≥ 1.0× rueidis: %s; ≥ 0.5× `memory://`: %s; staleness p99 ≤ rueidis's: %s.\n"+
		"Medians of %d runs; 1-minute load average before them: %s (2 cores).\n", r, m, p, n.runs, orDash(rep.run.nearLoad))
	return b.String()
}

// nearMethod says how the near benchmarks measure.
const nearMethod = "`BenchmarkNearHot` reads 100 hot keys (100-byte values) from 64 goroutines, the implementations\n" +
	"timed in turns as in the many-callers comparison: *ours, `near=true`* is a `KeyCache[string]` on\n" +
	"`redis://host:port?near=true` (a near cache invalidated by CLIENT TRACKING BCAST), *rueidis `DoCache`*\n" +
	"is rueidis's client-side caching with its defaults, *ours on `memory://`* the in-process store (the ceiling\n" +
	"of a local copy), *ours on Redis* a `KeyCache.Get` without near cache. `BenchmarkNearStaleness` makes 200\n" +
	"writes with a raw go-redis client, each timed from its start until a reader that holds a local copy of the\n" +
	"key (reading in a loop) returns the new value; its p99 on a loaded machine is the scheduling of the\n" +
	"reader's goroutines, its p50 one round trip after the invalidation.\n"

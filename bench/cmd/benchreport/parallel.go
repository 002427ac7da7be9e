package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

const groupPar = "BenchmarkParallel/"

// parImpls are the implementations of BenchmarkParallel, in the order of
// the tables' columns, with their column headings; ours is the one the
// others are divided by.
var parImpls = []struct{ name, label string }{
	{"ours", "ours (caches.Open)"},
	{"ours-nopipeline", "ours, autopipeline=false"},
	{"raw", "raw go-redis pool"},
	{"autopipeline", "go-redis AutoPipeline"},
	{"rueidis", "rueidis"},
}

// parTable is one workload of BenchmarkParallel: a row per number of
// callers.
type parTable struct {
	workload string
	rows     []parRow
}

type parRow struct {
	callers int
	cells   []parCell // one per parImpls entry
}

// parCell is one implementation at one number of callers: its median
// ops/s and allocs/op over the rounds, and ours' throughput divided by
// its, the median of the per-round ratios, with their extremes over n
// rounds.
type parCell struct {
	ops, allocs   float64
	ratio, lo, hi float64
	n             int
}

// analyzeParallel builds the tables of BenchmarkParallel from its rounds,
// workloads and numbers of callers in the order they ran.
func analyzeParallel(run *runData) []parTable {
	var out []parTable
	for _, w := range groups(run.order, groupPar) {
		t := parTable{workload: strings.TrimPrefix(w, groupPar)}
		for _, name := range run.order {
			n, err := strconv.Atoi(strings.TrimPrefix(name, w+"/callers="))
			if err != nil || !strings.HasPrefix(name, w+"/callers=") {
				continue
			}
			row := parRow{callers: n}
			for _, im := range parImpls {
				row.cells = append(row.cells, parMeasure(run.parallel, name, im.name))
			}
			t.rows = append(t.rows, row)
		}
		out = append(out, t)
	}
	return out
}

// parMeasure reads one implementation's metrics of a benchmark of
// BenchmarkParallel, which times every implementation in turns and
// reports <impl>-ops/s and <impl>-allocs/op.
func parMeasure(rounds []round, bench, impl string) parCell {
	c := parCell{ops: metric(rounds, bench, impl+"-ops/s"), allocs: metric(rounds, bench, impl+"-allocs/op")}
	var xs []float64
	for _, r := range rounds {
		if res, ok := r[bench]; ok && res[impl+"-ops/s"] > 0 {
			xs = append(xs, res["ours-ops/s"]/res[impl+"-ops/s"])
		}
	}
	c.ratio, c.lo, c.hi, c.n = math.NaN(), math.NaN(), math.NaN(), len(xs)
	if len(xs) > 0 {
		c.ratio, c.lo, c.hi = median(xs), slices.Min(xs), slices.Max(xs)
	}
	return c
}

// workloadTitle says what a workload of BenchmarkParallel does.
func workloadTitle(w string) string {
	switch w {
	case "GetHeavy":
		return "GET-heavy (90% GET, 10% SET)"
	case "SetOnly":
		return "SET only"
	case "DictSet":
		return "Dict.Set (scripted write)"
	case "CounterIncr":
		return "Counter.Incr (scripted increment)"
	case "SetAdd":
		return "Set.Add (scripted write)"
	}
	return w
}

// parCellText is a cell of the tables: the rate and, but for ours, ours'
// throughput divided by this one's.
func parCellText(c parCell, first bool) string {
	s := perSecondNaN(c.ops)
	if !first && !math.IsNaN(c.ratio) {
		s += fmt.Sprintf(" (%.2f×)", c.ratio)
	}
	return s
}

func perSecondNaN(v float64) string {
	if math.IsNaN(v) || v <= 0 {
		return "—"
	}
	return perSecond(v)
}

// parTerminal is the parallel tables as bench/run prints them.
func (rep *report) parTerminal() string {
	if len(rep.parallel) == 0 {
		return ""
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, t := range rep.parallel {
		fmt.Fprintf(tw, "\nRedis, many callers, %s: ops/s (ours ÷ it), allocs/op\n", workloadTitle(t.workload))
		head := []string{"callers"}
		for _, im := range parImpls {
			head = append(head, im.label)
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, r := range t.rows {
			cells := []string{strconv.Itoa(r.callers)}
			for i, c := range r.cells {
				cells = append(cells, parCellText(c, i == 0)+", "+allocs1(c.allocs))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n(medians of %d interleaved rounds; load average during them %s)\n", len(rep.run.parallel), rep.parLoad())
	return b.String()
}

// parLoad is the 1-minute load averages bench/run recorded before each
// parallel round: their range and median.
func (rep *report) parLoad() string {
	l := rep.run.parallelLoad
	if len(l) == 0 {
		return "not recorded"
	}
	return fmt.Sprintf("%.2f to %.2f, median %.2f", slices.Min(l), slices.Max(l), median(l))
}

// mdParallel is the parallel tables in Markdown: rates with ours'
// throughput divided by each, and, withAllocs, allocations.
func (rep *report) mdParallel(withAllocs bool) string {
	if len(rep.parallel) == 0 {
		return "The parallel comparisons did not run.\n"
	}
	var b strings.Builder
	head := "| callers |"
	rule := "| ---: |"
	for _, im := range parImpls {
		head += " " + im.label + " |"
		rule += " ---: |"
	}
	for _, t := range rep.parallel {
		fmt.Fprintf(&b, "\n**%s**: operations per second (ours ÷ it)\n\n%s\n%s\n", workloadTitle(t.workload), head, rule)
		for _, r := range t.rows {
			fmt.Fprintf(&b, "| %d |", r.callers)
			for i, c := range r.cells {
				fmt.Fprintf(&b, " %s |", parCellText(c, i == 0))
			}
			b.WriteString("\n")
		}
		if !withAllocs {
			continue
		}
		fmt.Fprintf(&b, "\nallocations per operation\n\n%s\n%s\n", head, rule)
		for _, r := range t.rows {
			fmt.Fprintf(&b, "| %d |", r.callers)
			for _, c := range r.cells {
				fmt.Fprintf(&b, " %s |", allocs1(c.allocs))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "\nMedians of %d interleaved rounds; a ratio is the median of the per-round ratios. "+
		"1-minute load average before the rounds: %s (2 cores).\n", len(rep.run.parallel), rep.parLoad())
	return b.String()
}

// allocs1 formats allocations per operation with a decimal: the parallel
// comparisons count them over many operations, background work included.
func allocs1(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.1f", v)
}

const secParallel = "Redis, many callers: ours (caches.Open) vs the pipelining clients, same run"

// parTargetSpec is a target of the comparisons with many callers: ours
// against the implementation base, in the workload at that many callers.
type parTargetSpec struct {
	workload string
	callers  int
	base     string  // a parImpls name
	minRatio float64 // 0: no throughput target
	maxExtra float64 // allowed extra allocations; NaN: no allocation target
}

// parTargets are the targets of the comparisons with many callers:
// throughput against go-redis's AutoPipeline and rueidis, and for the
// scripted writes, allocations against raw go-redis running the same
// script.
func parTargets() []parTargetSpec {
	var out []parTargetSpec
	for _, w := range []string{"GetHeavy", "SetOnly"} {
		out = append(out, parTargetSpec{w, 8, "rueidis", 1, math.NaN()})
		for _, n := range []int{64, 256} {
			out = append(out, parTargetSpec{w, n, "autopipeline", 1, math.NaN()},
				parTargetSpec{w, n, "rueidis", 1.2, math.NaN()})
		}
	}
	for _, w := range []string{"DictSet", "CounterIncr", "SetAdd"} {
		out = append(out, parTargetSpec{w, 64, "rueidis", 1, math.NaN()},
			parTargetSpec{w, 64, "raw", 0, 1})
	}
	return out
}

// addParallelTargets adds the rows of parTargets measured in this run.
func (rep *report) addParallelTargets() {
	for _, spec := range parTargets() {
		r := row{section: secParallel, op: fmt.Sprintf("%s, %d callers", workloadTitle(spec.workload), spec.callers),
			minRatio: spec.minRatio, maxExtra: spec.maxExtra, ratio: math.NaN(), lo: math.NaN(), hi: math.NaN(),
			oursNs: math.NaN(), baseNs: math.NaN(), oursAllocs: math.NaN(), baseAllocs: math.NaN()}
		r.baseLabel = spec.base
		base := -1
		for i, im := range parImpls {
			if im.name == spec.base {
				r.baseLabel, base = im.label, i
			}
		}
		r.target = parTargetText(spec)
		ours, theirs, ok := rep.parCells(spec, base)
		if !ok {
			r.pending = "not measured in this run"
			rep.targets = append(rep.targets, r)
			continue
		}
		r.oursNs, r.baseNs = 1e9/ours.ops, 1e9/theirs.ops
		r.oursAllocs, r.baseAllocs = ours.allocs, theirs.allocs
		r.ratio, r.lo, r.hi, r.n = theirs.ratio, theirs.lo, theirs.hi, theirs.n
		r.met = r.ratio >= spec.minRatio &&
			(math.IsNaN(spec.maxExtra) || r.oursAllocs <= r.baseAllocs+spec.maxExtra)
		rep.targets = append(rep.targets, r)
	}
}

// parCells returns ours' cell and base's at spec's workload and callers.
func (rep *report) parCells(spec parTargetSpec, base int) (ours, theirs parCell, ok bool) {
	for _, t := range rep.parallel {
		if t.workload != spec.workload {
			continue
		}
		for _, r := range t.rows {
			if r.callers == spec.callers && base >= 0 && r.cells[base].n > 0 {
				return r.cells[0], r.cells[base], true
			}
		}
	}
	return parCell{}, parCell{}, false
}

func parTargetText(spec parTargetSpec) string {
	switch {
	case spec.minRatio == 0:
		return fmt.Sprintf("≤ +%.0f alloc", spec.maxExtra)
	case math.IsNaN(spec.maxExtra):
		return fmt.Sprintf("≥ %.2f×", spec.minRatio)
	}
	return fmt.Sprintf("≥ %.2f×, ≤ +%.0f alloc", spec.minRatio, spec.maxExtra)
}

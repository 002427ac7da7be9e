package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// terminal is the table bench/run prints.
func (rep *report) terminal() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	section := ""
	for _, r := range rep.targets {
		if r.section != section {
			section = r.section
			fmt.Fprintf(tw, "\n%s\n", section)
			fmt.Fprintln(tw, "operation\tours\tbaseline\t\tratio\tallocs ours/base\tof wire\ttarget\tmet")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.op, rate(r.oursNs), rate(r.baseNs), r.baseLabel,
			ratioString(r), allocPair(r), wirePct(r), r.target, metString(r))
	}
	tw.Flush()
	met, missed, pending := rep.counts()
	fmt.Fprintf(&b, "\n%d targets met, %d missed, %d pending (rates are operations per second, medians of %d interleaved rounds; ratios are medians of per-round ratios)\n",
		met, missed, pending, len(rep.run.rounds))
	for _, r := range rep.targets {
		if r.pending != "" {
			fmt.Fprintf(&b, "pending  %s: %s\n", r.op, r.pending)
		} else if !r.met && r.reason != "" {
			fmt.Fprintf(&b, "missed   %s vs %s: %s\n", r.op, r.baseLabel, r.reason)
		}
	}
	b.WriteString(rep.parTerminal())
	b.WriteString(rep.nearTerminal())
	return b.String()
}

func (rep *report) counts() (met, missed, pending int) {
	for _, r := range rep.targets {
		switch {
		case r.pending != "":
			pending++
		case r.met:
			met++
		default:
			missed++
		}
	}
	return
}

func allocPair(r row) string {
	if math.IsNaN(r.oursAllocs) && math.IsNaN(r.baseAllocs) {
		return "—"
	}
	return allocs(r.oursAllocs) + " / " + allocs(r.baseAllocs)
}

// wirePct is ours' rate as a share of redis-benchmark's with the nearest
// command: -P 1 for single operations, -P 16 for a batch's commands. Where
// ours is not measured (a pending batch), the baseline's share is shown.
func wirePct(r row) string {
	ns, who := r.oursNs, ""
	if math.IsNaN(ns) {
		ns, who = r.baseNs, " (raw)"
	}
	if r.wire <= 0 || math.IsNaN(ns) {
		return "—"
	}
	per := math.Max(r.wireKeys, 1)
	return fmt.Sprintf("%.0f%%%s", 1e9/ns*per/r.wire*100, who)
}

// mdTargets is the table of targets in Markdown.
func (rep *report) mdTargets() string {
	var b strings.Builder
	section := ""
	for _, r := range rep.targets {
		if r.section != section {
			section = r.section
			fmt.Fprintf(&b, "\n**%s**\n\n", section)
			b.WriteString("| operation | ours | baseline | ratio (range) | allocs ours / base | of wire | target | met |\n")
			b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
		}
		ratio := ratioString(r)
		if r.n > 1 {
			ratio += fmt.Sprintf(" (%.2f–%.2f)", r.lo, r.hi)
		}
		met := metString(r)
		if met == "NO" {
			met = "**NO**"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s %s | %s | %s | %s | %s | %s |\n", r.op, rate(r.oursNs), rate(r.baseNs),
			r.baseLabel, ratio, allocPair(r), wirePct(r), r.target, met)
	}
	return b.String()
}

// mdMisses lists what is missed or pending, and why.
func (rep *report) mdMisses() string {
	var b strings.Builder
	for _, r := range rep.targets {
		switch {
		case r.pending != "":
			fmt.Fprintf(&b, "- **%s** (pending): %s.\n", r.op, r.pending)
		case !r.met && !math.IsNaN(r.minRatio):
			reason := r.reason
			if reason == "" {
				reason = "no explanation recorded for this row: investigate"
			}
			fmt.Fprintf(&b, "- **%s** vs %s: %s × (target %s). %s\n", r.op, r.baseLabel, strings.TrimSuffix(ratioString(r), "×"), r.target, reason)
		}
	}
	if b.Len() == 0 {
		return "Every target is met.\n"
	}
	return b.String()
}

func (rep *report) mdPeers() string {
	var b strings.Builder
	b.WriteString("| operation | ours | peer | ours ÷ peer | allocs ours / peer |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rep.peers {
		fmt.Fprintf(&b, "| `%s` | %s | %s %s | %s | %s |\n", r.op, rate(r.oursNs), rate(r.baseNs), r.baseLabel, ratioString(r), allocPair(r))
	}
	memo := groupRedis + "Memo.Call(hit)/"
	for _, impl := range []string{"ours", "go-redis-cache-once", "eko-gocache-loadable"} {
		ns := metric(rep.run.rounds, memo+impl, "ns/op")
		if !math.IsNaN(ns) {
			fmt.Fprintf(&b, "| `Memo.Call(hit)` %s | %s | | | %s |\n", impl, rate(ns), allocs(metric(rep.run.rounds, memo+impl, "allocs/op")))
		}
	}
	return b.String()
}

// mdMemory is every in-process implementation, one goroutine and two.
func (rep *report) mdMemory() string {
	var b strings.Builder
	rounds := rep.run.rounds
	b.WriteString("| implementation | Get | Get, 2 goroutines | scaling | Set | allocs Get / Set |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, impl := range memImpls(rep.run.order) {
		get := metric(rounds, groupMem+"Get/"+impl, "ns/op")
		par := metric(rounds, groupMem+"Get(parallel)/"+impl, "ns/op")
		set := metric(rounds, groupMem+"Set/"+impl, "ns/op")
		scale, _, _, _ := paired(rounds, groupMem+"Get/"+impl, groupMem+"Get(parallel)/"+impl)
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f× | %s | %s / %s |\n", impl, duration(get), duration(par), scale, duration(set),
			allocs(metric(rounds, groupMem+"Get/"+impl, "allocs/op")), allocs(metric(rounds, groupMem+"Set/"+impl, "allocs/op")))
	}
	return b.String()
}

func memImpls(order []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range order {
		if rest, ok := strings.CutPrefix(n, groupMem+"Get/"); ok && !seen[rest] && !strings.Contains(rest, "~") {
			seen[rest] = true
			out = append(out, rest)
		}
	}
	return out
}

// mdWire is redis-benchmark's view of the server.
func (rep *report) mdWire() string {
	if len(rep.run.wire) == 0 {
		return "redis-benchmark did not run.\n"
	}
	var b strings.Builder
	b.WriteString("| command | `-c 1 -P 1` | `-c 1 -P 16` |\n| --- | ---: | ---: |\n")
	for _, w := range rep.run.wire {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", w.test, perSecond(w.p1), perSecond(w.p16))
	}
	return b.String()
}

// mdOps is the root package's per-operation inventory.
func (rep *report) mdOps() string {
	if len(rep.run.ops) == 0 {
		return "The per-operation benchmarks did not run.\n"
	}
	ops := rep.run.ops
	var names []string
	seen := map[string]bool{}
	for _, n := range rep.run.order {
		rest, ok := strings.CutPrefix(n, "BenchmarkOps/memstore/")
		if ok && !seen[rest] {
			seen[rest] = true
			names = append(names, rest)
		}
	}
	var b strings.Builder
	b.WriteString("| operation | memstore | allocs | memstore, 2 goroutines | Redis | allocs | round trips | Redis, 2 goroutines |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, op := range names {
		m := "BenchmarkOps/memstore/" + op
		r := "BenchmarkOps/redis/" + op
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", op,
			duration(metric(ops, m, "ns/op")), allocs(metric(ops, m, "allocs/op")),
			duration(metric(ops, "BenchmarkOpsParallel/memstore/"+op, "ns/op")),
			duration(metric(ops, r, "ns/op")), allocs(metric(ops, r, "allocs/op")),
			trips(metric(ops, r, "roundtrips/op")),
			duration(metric(ops, "BenchmarkOpsParallel/redis/"+op, "ns/op")))
	}
	return b.String()
}

func trips(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func (rep *report) mdProfiles() string {
	var b strings.Builder
	for _, p := range rep.run.profiles {
		fmt.Fprintf(&b, "`%s`:\n\n```\n%s\n```\n\n", p.name, strings.TrimSpace(p.text))
	}
	return b.String()
}

func (rep *report) markdown(chartRef string) string {
	var b strings.Builder
	met, missed, pending := rep.counts()
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `bench/run` from the run it describes; do not edit by hand. Reproduce with:\n\n")
	b.WriteString("```sh\ncd bench && ./run          # about " + orDash(rep.run.duration) + " here\n```\n\n")
	b.WriteString("`bench/run` starts its own `redis-server` on a free loopback port, measures the server with\n")
	b.WriteString("`redis-benchmark`, then runs the comparisons of the `bench/` module in interleaved rounds\n")
	b.WriteString("(every implementation of an operation back to back, the order reversed every other round),\n")
	b.WriteString("then the library's own per-operation benchmarks, then profiles, and stops the server.\n")
	b.WriteString("Each Redis comparison records the commands both sides send and fails unless ours and raw\n")
	b.WriteString("go-redis send the same ones in the same round trips (the batches excepted: they are compared\n")
	b.WriteString("with a pipeline of single commands by design; ours sends one MGET, or SETs in one pipeline).\n")
	b.WriteString("Every compared pair is also timed in one paired benchmark (`<ours>~<baseline>`) that runs a\n")
	b.WriteString("few operations of one, then of the other (4 on Redis, 256 in process), the order swapped\n")
	b.WriteString("every time: a moment when the shared machine is busy falls on both sides alike. The rates\n")
	b.WriteString("and ratios of the targets come from those, allocations from the separate benchmarks.\n")
	b.WriteString("Rates are operations per second, medians over the rounds; a ratio is the median of the\n")
	b.WriteString("per-round ratios (its range over the rounds in parentheses). \"Of wire\" is our rate as a share of what\n")
	b.WriteString("`redis-benchmark -c 1 -P 1` (a C client, one connection, one command per round trip) reaches\n")
	b.WriteString("with the nearest command on the same server in the same run (for a batch: its keys per second\n")
	b.WriteString("against `-P 16`). redis-benchmark is the C client; go-redis can come out ahead of it, since with\n")
	b.WriteString("`-c 1` redis-benchmark also pays its event loop.\n\n")
	fmt.Fprintf(&b, "## Machine\n\n```\n%s\n```\n\n", rep.run.machine)
	fmt.Fprintf(&b, "## Targets\n\n%d met, %d missed, %d pending.\n%s\n", met, missed, pending, rep.mdTargets())
	fmt.Fprintf(&b, "![ours vs raw go-redis](%s/redis-ratio.svg)\n\n", chartRef)
	fmt.Fprintf(&b, "## What is missed or pending, and why\n\n%s\n", rep.mdMisses())
	fmt.Fprintf(&b, "## The server's limit (`redis-benchmark`, same server, same run)\n\n%s\n", rep.mdWire())
	fmt.Fprintf(&b, "## Other Redis caches (no target)\n\n%s\n", rep.mdPeers())
	fmt.Fprintf(&b, "![Redis caches](%s/redis-peers.svg)\n\n", chartRef)
	fmt.Fprintf(&b, "## Many callers on Redis (1, 8, 64 and 256 goroutines)\n\n%s\n%s\n", parMethod, rep.mdParallel(true))
	fmt.Fprintf(&b, "## Near cache on Redis: hot reads and staleness against rueidis\n\n%s\n", rep.mdNear())
	fmt.Fprintf(&b, "## In-process caches (1,024 short strings with a one-hour TTL)\n\n%s\n", rep.mdMemory())
	fmt.Fprintf(&b, "![in-process gets](%s/memory-get.svg)\n\n", chartRef)
	fmt.Fprintf(&b, "## Every operation of the library (root package, `go test -bench 'BenchmarkOps'`)\n\n"+
		"One goroutine unless said; two goroutines means GOMAXPROCS=2 and `b.RunParallel`, each goroutine on its own key.\n\n%s\n", rep.mdOps())
	fmt.Fprintf(&b, "## Profiles (`pprof -top` of the benchmarks behind the misses)\n\n%s", rep.mdProfiles())
	return b.String()
}

// parMethod says how BenchmarkParallel measures.
const parMethod = "Exactly n goroutines run each implementation's operations (not `b.RunParallel`, which starts\n" +
	"GOMAXPROCS×p), over 10,000 keys holding 100-byte values with a one-hour TTL. One benchmark per row times\n" +
	"the implementations in turns, 4×n operations (at least 64) of one, then of the next, the first of a turn\n" +
	"rotating, so that a moment when the shared machine is busy falls on all alike; a rate is the operations\n" +
	"an implementation completed per second of its own turns, and an operation that fails fails the run.\n" +
	"Allocations are counted over an implementation's turns (its client's background goroutines included).\n" +
	"*ours (caches.Open)* is a `KeyCache[string]` on the connection `caches.Open` makes of\n" +
	"`redis://host:port`, with the library's defaults (automatic pipelining on); *ours, autopipeline=false* is\n" +
	"the same family on `redis://host:port?autopipeline=false`, one round trip per call on the pool; *raw\n" +
	"go-redis pool* is a plain go-redis client alone (GET, SET\n" +
	"with PX); *go-redis AutoPipeline* is `Client.AutoPipeline()` with its defaults; *rueidis* is `Client.Do`\n" +
	"with its defaults (auto-pipelining). Each has its own connections. In parentheses: ours' rate divided by\n" +
	"that column's (the median of the per-round ratios), above 1 when ours is faster.\n"

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

const (
	readmeBegin = "<!-- bench:begin (written by bench/run) -->"
	readmeEnd   = "<!-- bench:end -->"
)

func (rep *report) readmeSection() string {
	met, missed, pending := rep.counts()
	var b strings.Builder
	fmt.Fprintf(&b, "Latest `bench/run` (%d met, %d missed, %d pending; machine, method, misses explained, the\n", met, missed, pending)
	b.WriteString("server's limit and the other caches in [BENCHMARKS.md](BENCHMARKS.md)):\n")
	b.WriteString(rep.mdTargets())
	if len(rep.parallel) > 0 {
		b.WriteString("\nMany callers at once on one redis-server, ours against the Redis clients Go programs use:\n")
		b.WriteString(rep.mdParallel(false))
	}
	return b.String()
}

// updateReadme replaces the text between the markers of the performance
// section.
func updateReadme(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q … %q markers", path, readmeBegin, readmeEnd)
	}
	s = s[:i+len(readmeBegin)] + "\n" + section + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// charts returns the SVG charts by file name.
func (rep *report) charts() map[string]string {
	out := map[string]string{}
	var bars []bar
	for _, r := range rep.targets {
		if r.section == secRedis || r.section == secBatch || r.section == secMemo {
			if math.IsNaN(r.ratio) {
				continue
			}
			label := r.op
			if r.section == secMemo {
				label += " vs " + r.baseLabel
			}
			bars = append(bars, bar{label: label, value: r.ratio, ok: r.met, mark: r.minRatio})
		}
	}
	out["redis-ratio.svg"] = barChart("Throughput of ours ÷ baseline on Redis, one goroutine (target line per row)", bars, "×", 0)

	bars = nil
	for _, g := range []string{"KeyCache.Get", "KeyCache.Set", "Memo.Call(hit)"} {
		for _, impl := range []string{"ours", "raw", "go-redis-cache", "go-redis-cache-once", "eko-gocache", "eko-gocache-loadable"} {
			ns := metric(rep.run.rounds, groupRedis+g+"/"+impl, "ns/op")
			if !math.IsNaN(ns) {
				bars = append(bars, bar{label: g + " · " + impl, value: 1e9 / ns / 1e3, ok: impl == "ours", mark: math.NaN()})
			}
		}
	}
	out["redis-peers.svg"] = barChart("Thousands of operations per second on Redis, one goroutine", bars, "k/s", 1)

	bars = nil
	for _, impl := range memImpls(rep.run.order) {
		for _, g := range []string{"Get", "Get(parallel)"} {
			ns := metric(rep.run.rounds, groupMem+g+"/"+impl, "ns/op")
			if !math.IsNaN(ns) {
				label := impl + " · 1 goroutine"
				if g != "Get" {
					label = impl + " · 2 goroutines"
				}
				bars = append(bars, bar{label: label, value: 1e9 / ns / 1e6, ok: strings.HasPrefix(impl, "ours"), mark: math.NaN()})
			}
		}
	}
	out["memory-get.svg"] = barChart("In-process gets, millions per second (higher is better)", bars, "M/s", 2)
	return out
}

type bar struct {
	label string
	value float64
	ok    bool    // drawn in the highlight colour
	mark  float64 // a target line, or NaN
}

// barChart draws horizontal bars with their values; mode 0 colours bars by
// ok as met (green) or missed (red), other modes highlight ok bars.
func barChart(title string, bars []bar, unit string, mode int) string {
	const (
		labelW = 330
		plotW  = 420
		rowH   = 20
		top    = 40
	)
	maxV := 0.0
	for _, b := range bars {
		maxV = math.Max(maxV, b.value)
		if !math.IsNaN(b.mark) {
			maxV = math.Max(maxV, b.mark)
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	maxV *= 1.12
	h := top + rowH*len(bars) + 20
	w := labelW + plotW + 80
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&s, `<text x="10" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", esc(title))
	x := func(v float64) float64 { return labelW + v/maxV*plotW }
	for i, b := range bars {
		y := top + i*rowH
		colour := "#4c78a8"
		switch {
		case mode == 0 && b.ok:
			colour = "#54a24b"
		case mode == 0:
			colour = "#e45756"
		case b.ok:
			colour = "#f58518"
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-6, y+14, esc(b.label))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y+3, x(b.value)-labelW, rowH-6, colour)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d">%.2f %s</text>`+"\n", x(b.value)+4, y+14, b.value, esc(unit))
		if !math.IsNaN(b.mark) {
			fmt.Fprintf(&s, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black" stroke-dasharray="3,2"/>`+"\n", x(b.mark), x(b.mark), y+1, y+rowH-1)
		}
	}
	s.WriteString("</svg>\n")
	return s.String()
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var _ = sort.Strings

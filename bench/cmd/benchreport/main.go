// Command benchreport turns what bench/run measured into the table of
// targets (printed), BENCHMARKS.md, the performance section of README.md and
// the SVG charts. Every figure and ratio comes from the run's files; nothing
// is typed in by hand.
//
//	benchreport -dir RUN -md ../BENCHMARKS.md -readme ../README.md -charts charts
//	benchreport freeport    # prints a free loopback TCP port
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "freeport" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal(err)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	}
	dir := flag.String("dir", "", "the run's directory")
	md := flag.String("md", "", "BENCHMARKS.md to write")
	readme := flag.String("readme", "", "README.md whose performance section to replace")
	charts := flag.String("charts", "", "directory for the SVG charts")
	chartRef := flag.String("chartref", "bench/charts", "the charts directory as BENCHMARKS.md links it")
	flag.Parse()
	if *dir == "" {
		fatal(fmt.Errorf("-dir is required"))
	}
	run, err := load(*dir)
	if err != nil {
		fatal(err)
	}
	rep := analyze(run)
	fmt.Print(rep.terminal())
	if *charts != "" {
		if err := os.MkdirAll(*charts, 0o755); err != nil {
			fatal(err)
		}
		for name, svg := range rep.charts() {
			if err := os.WriteFile(filepath.Join(*charts, name), []byte(svg), 0o644); err != nil {
				fatal(err)
			}
		}
	}
	if *md != "" {
		if err := os.WriteFile(*md, []byte(rep.markdown(*chartRef)), 0o644); err != nil {
			fatal(err)
		}
	}
	if *readme != "" {
		if err := updateReadme(*readme, rep.readmeSection()); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

// result is one benchmark line's metrics, by unit ("ns/op", "allocs/op",
// "B/op", "roundtrips/op").
type result map[string]float64

// round is one run of the benchmarks: results by name (the CPU suffix
// removed).
type round map[string]result

type runData struct {
	rounds       []round   // the interleaved rounds of bench/'s comparisons
	parallel     []round   // the interleaved rounds of BenchmarkParallel
	parallelLoad []float64 // the 1-minute load average before each parallel round
	ops          []round   // the repetitions of the root per-operation benchmarks
	near         []round   // the runs of BenchmarkNearHot and BenchmarkNearStaleness
	nearLoad     string    // the load average before them
	order        []string  // benchmark names in the order they first ran
	wire         []wireRow // redis-benchmark
	machine      string
	profiles     []profile
	duration     string // how long the run took before the report
}

type wireRow struct {
	test     string
	p1, p16  float64 // requests per second with -P 1 and -P 16
	p1Exists bool
}

// profile is a `pprof -top` listing: text sorted by flat time (shown),
// cum sorted by cumulative time (searched by the explanations).
type profile struct{ name, text, cum, lines string }

// parseBench reads `go test -bench` output; each line of a benchmark that
// ran more than once (-count) goes into its own round, in order.
func parseBench(data []byte, order *[]string, seen map[string]bool) []round {
	var out []round
	count := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		r := result{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r[f[i+1]] = v
		}
		if _, ok := r["ns/op"]; !ok {
			continue
		}
		k := count[name]
		count[name]++
		for len(out) <= k {
			out = append(out, round{})
		}
		out[k][name] = r
		if !seen[name] {
			seen[name] = true
			*order = append(*order, name)
		}
	}
	return out
}

func load(dir string) (*runData, error) {
	run := &runData{}
	seen := map[string]bool{}
	var err error
	if run.rounds, err = loadRounds(dir, "round-*.txt", &run.order, seen); err != nil {
		return nil, err
	}
	if len(run.rounds) == 0 {
		return nil, fmt.Errorf("no round-*.txt in %s", dir)
	}
	if run.parallel, err = loadRounds(dir, "parallel-[0-9]*.txt", &run.order, seen); err != nil {
		return nil, err
	}
	run.parallelLoad = readFloats(filepath.Join(dir, "load-parallel.txt"))
	if data, err := os.ReadFile(filepath.Join(dir, "ops.txt")); err == nil {
		run.ops = parseBench(data, &run.order, seen)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "near.txt")); err == nil {
		run.near = parseBench(data, &run.order, seen)
	}
	run.nearLoad = readText(filepath.Join(dir, "load-near.txt"))
	p1, _ := readWire(filepath.Join(dir, "wire-p1.csv"))
	p16, _ := readWire(filepath.Join(dir, "wire-p16.csv"))
	for _, t := range sortedKeys(p1, p16) {
		v1, ok := p1[t]
		run.wire = append(run.wire, wireRow{test: t, p1: v1, p16: p16[t], p1Exists: ok})
	}
	run.machine = readText(filepath.Join(dir, "machine.txt"))
	run.duration = readText(filepath.Join(dir, "duration.txt"))
	run.profiles = loadProfiles(dir)
	return run, nil
}

// loadRounds parses the benchmark outputs matching pattern in dir, in the
// order of their names, each a round or more.
func loadRounds(dir, pattern string, order *[]string, seen map[string]bool) ([]round, error) {
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	sort.Strings(files)
	var out []round
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, parseBench(data, order, seen)...)
	}
	return out, nil
}

// loadProfiles reads the `pprof -top` listings of the run.
func loadProfiles(dir string) []profile {
	var out []profile
	profs, _ := filepath.Glob(filepath.Join(dir, "prof-*.txt"))
	sort.Strings(profs)
	for _, p := range profs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "prof-"), ".txt")
		cum, _ := os.ReadFile(filepath.Join(dir, "cum-"+name+".txt"))
		lines, _ := os.ReadFile(filepath.Join(dir, "lines-"+name+".txt"))
		out = append(out, profile{name: name, text: string(b), cum: string(cum), lines: string(lines)})
	}
	return out
}

// readText returns a file's text, trimmed, or "" when it cannot be read.
func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readFloats reads the first number of each line of a file.
func readFloats(path string) []float64 {
	var out []float64
	for _, line := range strings.Split(readText(path), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// readWire reads redis-benchmark --csv output: "test","rps",….
func readWire(path string) (map[string]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 {
			continue
		}
		test := strings.Trim(f[0], `"`)
		rps, err := strconv.ParseFloat(strings.Trim(f[1], `"`), 64)
		if err != nil {
			continue
		}
		test, _, _ = strings.Cut(test, " ")
		out[test] = rps
	}
	return out, nil
}

func sortedKeys(ms ...map[string]float64) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// pairedWithin is paired for a paired benchmark: the per-round ratio of its
// y-ns/op to its x-ns/op (the baseline's time to ours).
func pairedWithin(rounds []round, name string) (med, lo, hi float64, n int) {
	var xs []float64
	for _, r := range rounds {
		if res, ok := r[name]; ok && res["x-ns/op"] > 0 {
			xs = append(xs, res["y-ns/op"]/res["x-ns/op"])
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	return median(xs), slices.Min(xs), slices.Max(xs), len(xs)
}

// metric returns the median of unit over the rounds where name ran.
func metric(rounds []round, name, unit string) float64 {
	var xs []float64
	for _, r := range rounds {
		if res, ok := r[name]; ok {
			if v, ok := res[unit]; ok {
				xs = append(xs, v)
			}
		}
	}
	return median(xs)
}

// paired returns the median over the rounds of num's ns/op divided by
// den's, taken in the same round (so that both ran minutes apart at most),
// and the smallest and largest of those ratios.
func paired(rounds []round, num, den string) (med, lo, hi float64, n int) {
	var xs []float64
	for _, r := range rounds {
		a, okA := r[num]
		b, okB := r[den]
		if okA && okB && b["ns/op"] > 0 {
			xs = append(xs, a["ns/op"]/b["ns/op"])
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	return median(xs), slices.Min(xs), slices.Max(xs), len(xs)
}

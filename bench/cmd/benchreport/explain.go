package main

import (
	"fmt"
	"math"
	"strings"
)

// explain says why a target is missed, from what the run measured: the
// spread of the per-round ratios and the profiles bench/run took. It
// returns "" for a row that is met or pending.
func (rep *report) explain(r row) string {
	if r.met || r.pending != "" || math.IsNaN(r.minRatio) || math.IsNaN(r.ratio) {
		return ""
	}
	var parts []string
	if !math.IsNaN(r.maxExtra) && r.oursAllocs > r.baseAllocs+r.maxExtra {
		parts = append(parts, fmt.Sprintf("%.0f allocations per operation against %.0f", r.oursAllocs, r.baseAllocs))
	}
	switch {
	case r.section == secMemory && r.op == "memstore Get":
		parts = append(parts, rep.clockReason("memstore-get", "the memstore")+
			" The floor reads no clock, checks no expiry and hashes no key into a shard")
	case r.section == secMemory && r.op == "KeyCache.Get (memstore)":
		parts = append(parts, rep.clockReason("ours-get", "a KeyCache get")+
			" go-cache hashes no key into a shard, checks no connection and counts no statistics; "+
			rep.layerReason("ours-get"))
	case r.scaling:
		parts = append(parts, rep.scalingReason(r))
	case r.section == secMemo || (r.section == secRedis && strings.HasPrefix(r.op, "Memo.")):
		parts = append(parts, rep.memoReason(r))
	case r.section == secRedis || r.section == secBatch:
		if r.hi >= r.minRatio {
			parts = append(parts, fmt.Sprintf("within the noise of this machine: the per-round ratios spread from %.2f to %.2f, "+
				"so rounds met the target and rounds missed it; ours sends the same commands in the same round trips "+
				"(%s per operation)", r.lo, r.hi, trips(r.roundTrips)))
		} else {
			parts = append(parts, fmt.Sprintf("every round missed (ratios %.2f to %.2f)", r.lo, r.hi))
		}
	}
	return strings.Join(parts, "; ") + "."
}

// memoReason explains a Memoize hit slower than its baseline by the cost of
// the context timeout it puts on every round trip (CacheTimeout), measured
// by the same hit against raw GETs with and without that timeout.
func (rep *report) memoReason(r row) string {
	var timed, untimed float64 = math.NaN(), math.NaN()
	for _, t := range rep.targets {
		if t.section == secRedis && t.op == "Memo.Call(hit)" {
			timed = t.ratio
		}
	}
	for _, p := range rep.peers {
		if strings.Contains(p.op, "untimed") {
			untimed = p.ratio
		}
	}
	if math.IsNaN(timed) || math.IsNaN(untimed) {
		return "the timed and untimed raw baselines were not both measured"
	}
	return fmt.Sprintf("Memoize bounds every round trip to Redis with a context timeout (MemoOptions.CacheTimeout, 1 s, "+
		"at most half of the caller's remaining deadline): against raw GETs under the same timeout a hit runs at %.2f×, "+
		"against raw GETs without one at %.2f×, so the timeout's timer is what the hit loses; go-redis/cache and "+
		"eko/gocache put no bound on the round trip. The library keeps the bound: the fault tests show it is what lets "+
		"a memoized call be served by its function while Redis stalls instead of failing at the caller's deadline", timed, untimed)
}

// clockReason reports the share of time.Now in a profile.
func (rep *report) clockReason(prof, what string) string {
	_, cum, ok := rep.profileShare(prof, "time.Now")
	if !ok {
		return "The profile of " + what + " was not taken in this run."
	}
	more := ""
	if cum > 50 {
		more = " (on this VM, more than everything else the get does)"
	}
	return fmt.Sprintf("The CPU profile of %s spends %.0f%% of its time in time.Now%s: the memstore reads the clock on every get "+
		"of a key with an expiry, to treat an expired key as absent.", what, cum, more)
}

// layerReason reports the share of the KeyCache layer over the memstore.
func (rep *report) layerReason(prof string) string {
	_, getCum, ok1 := rep.profileShare(prof, "caches.Key[")
	_, storeCum, ok2 := rep.profileShare(prof, "memstore.(*Store).Get")
	if !ok1 || !ok2 || getCum <= 0 {
		return "the KeyCache layer's share was not profiled."
	}
	return fmt.Sprintf("of the KeyCache get, %.0f%% of the time is the memstore's Get and %.0f%% the KeyCache layer above it (statistics, hooks, codec).",
		storeCum/getCum*100, (getCum-storeCum)/getCum*100)
}

func (rep *report) scalingReason(r row) string {
	var parts []string
	prof := "memstore-get-parallel"
	if strings.HasPrefix(r.op, "KeyCache") {
		prof = "ours-get-parallel"
	}
	if share, ok := rep.cpuShare(prof); ok {
		if share < 180 {
			parts = append(parts, fmt.Sprintf("while profiled, the two goroutines got only %.0f%% of a CPU where a perfect scaling needs 200%%: %s",
				share, loadNote(rep.run.machine)))
		} else {
			parts = append(parts, fmt.Sprintf("the two goroutines had both cores (%.0f%% of a CPU while profiled), so the limit is in the code", share))
		}
	}
	if strings.HasPrefix(r.op, "KeyCache") {
		if line, flat, ok := rep.topLine(prof, "caches.Key["); ok {
			parts = append(parts, fmt.Sprintf("by source line, the parallel profile's heaviest line of the KeyCache layer is %s "+
				"(%.0f%% of all samples); the family's statistics are counted in per-slot padded counters, so what the two "+
				"cores still share is the store's shard locks (the row above)", line, flat))
		}
	}
	if _, cum, ok := rep.profileShare(prof, "time.Now"); ok {
		parts = append(parts, fmt.Sprintf("the clock read takes %.0f%% of the samples", cum))
	}
	if flat, _, ok := rep.profileShare(prof, "sync/atomic.(*Int32).Add"); ok {
		parts = append(parts, fmt.Sprintf("the shard RWMutex's reader count %.0f%%: every get writes the reader count of "+
			"its shard's lock, whose cache line then moves between the cores; scaling further needs reads that take no lock", flat))
	}
	return strings.Join(parts, "; ")
}

// topLine returns the source line (file:line) with the most flat time
// among the lines of functions matching fn in a profile's -lines listing.
func (rep *report) topLine(prof, fn string) (line string, flat float64, ok bool) {
	for _, p := range rep.run.profiles {
		if p.name != prof {
			continue
		}
		for _, l := range strings.Split(p.lines, "\n") {
			f := strings.Fields(l)
			if len(f) < 7 || !strings.Contains(f[5], fn) {
				continue
			}
			v, good := parsePct(f[1])
			if good && v > flat {
				line, flat, ok = f[6][strings.LastIndexByte(f[6], '/')+1:], v, true
			}
		}
	}
	return line, flat, ok
}

// cpuShare returns the CPU a profile's process used, in percent of one CPU:
// pprof's "Total samples = …s (N%)" header.
func (rep *report) cpuShare(prof string) (float64, bool) {
	for _, p := range rep.run.profiles {
		if p.name != prof {
			continue
		}
		for _, line := range strings.Split(p.cum, "\n") {
			if _, rest, ok := strings.Cut(line, "Total samples = "); ok {
				if _, pct, ok := strings.Cut(rest, "("); ok {
					return parsePct(strings.TrimSuffix(strings.TrimSpace(pct), ")"))
				}
			}
		}
	}
	return 0, false
}

// loadNote quotes the load averages bench/run recorded, when the machine
// was busy with other work (two cores cannot run two benchmark goroutines
// at full speed while other processes compete for them).
func loadNote(machine string) string {
	var loads []string
	for _, line := range strings.Split(machine, "\n") {
		if strings.HasPrefix(line, "load average") {
			loads = append(loads, strings.TrimSpace(line))
		}
	}
	if len(loads) == 0 {
		return ""
	}
	return "other processes shared the machine's two cores (" + strings.Join(loads, ", ") + ")"
}

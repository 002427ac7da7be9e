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
			" The floor reads no clock and checks no expiry. The fix belongs in internal/memstore (owned by another engineer): "+
			"read a clock that a ticker refreshes every millisecond (Redis itself uses one cached time per command) when Options.Now is not set")
	case r.section == secMemory && r.op == "KeyCache.Get (memstore)":
		parts = append(parts, rep.clockReason("ours-get", "a KeyCache get")+
			" go-cache reads the clock too, but once, with no key hashing, no sharding and no statistics; "+
			rep.layerReason("ours-get")+
			" The memstore fix above (a cached clock) is what would bring the KeyCache under go-cache")
	case r.scaling:
		parts = append(parts, rep.scalingReason(r))
	case r.section == secRedis || r.section == secMemo || r.section == secBatch:
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

// clockReason reports the share of time.Now in a profile.
func (rep *report) clockReason(prof, what string) string {
	_, cum, ok := rep.profileShare(prof, "time.Now")
	if !ok {
		return "The profile of " + what + " was not taken in this run."
	}
	return fmt.Sprintf("The CPU profile of %s spends %.0f%% of its time in time.Now: the memstore reads the clock on every get "+
		"of a key with an expiry, to treat an expired key as absent (on this VM a clock read costs more than the map lookup and the lock together).", what, cum)
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
	if load := loadNote(rep.run.machine); load != "" {
		parts = append(parts, load)
	}
	prof := "memstore-get-parallel"
	if strings.HasPrefix(r.op, "KeyCache") {
		prof = "ours-get-parallel"
		if flat, _, ok := rep.profileShare(prof, "caches.Key["); ok {
			parts = append(parts, fmt.Sprintf("the parallel profile spends %.0f%% of its time in the KeyCache get itself (flat), "+
				"mostly the atomic increment of the family's shared hit counter (family.stats, one cache line that both cores write on every get; "+
				"family.go, owned by another engineer, would need per-CPU counters)", flat))
		}
	}
	if _, cum, ok := rep.profileShare(prof, "time.Now"); ok {
		parts = append(parts, fmt.Sprintf("%.0f%% of it is the clock read", cum))
	}
	if flat, _, ok := rep.profileShare(prof, "sync/atomic.(*Int32).Add"); ok {
		parts = append(parts, fmt.Sprintf("%.0f%% the shard RWMutex's reader count", flat))
	}
	return strings.Join(parts, "; ")
}

// loadNote quotes the load averages bench/run recorded, when the machine
// was busy with other work (two cores cannot run two benchmark goroutines
// at full speed while other processes compete for them).
func loadNote(machine string) string {
	for _, line := range strings.Split(machine, "\n") {
		if strings.HasPrefix(line, "load average") {
			return "the machine was shared while it ran (" + strings.TrimSpace(line) + ")"
		}
	}
	return ""
}

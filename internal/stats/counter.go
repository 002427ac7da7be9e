// Package stats holds the event counters of the caches' statistics.
package stats

import (
	"sync/atomic"
	_ "unsafe" // go:linkname
)

// Counter is an event count that goroutines on several cores bump without
// contending for one cache line: each Add goes to the slot of the
// processor (the runtime's P) the goroutine runs on, so concurrent Adds on
// different processors touch different cache lines, and Load sums the
// slots. A single atomic counted on every Get halved the scaling of
// parallel gets, and a slot drawn at random per Add (math/rand/v2) cost a
// third of an in-process hot read. The zero value is a count of zero.
type Counter struct {
	// _ keeps the first slot off the cache line of what precedes the
	// Counter in its struct: a family's connection and configuration,
	// read by every operation, shared that line with the first slot, and
	// each count on the first processor made the other's next read miss.
	_     [64]byte
	slots [slots]struct {
		n atomic.Uint64
		_ [56]byte // pads the slot to a cache line
	}
}

// slots is a power of two; processors beyond it share slots, which stays
// correct (the slots are atomic), only slower.
const slots = 16

// procPin pins the goroutine to its P and returns the P's id; procUnpin
// undoes it. sync.Pool finds its per-P pool the same way.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// Add adds n to the count.
func (c *Counter) Add(n uint64) {
	c.slots[Proc()&(slots-1)].n.Add(n)
}

// Every adds 1 to the count and reports whether the slot it went to
// reached a multiple of n: true about once in n events on each processor,
// for work done on a sample of the events of a hot path.
func (c *Counter) Every(n uint64) bool {
	return c.slots[Proc()&(slots-1)].n.Add(1)%n == 0
}

// Proc returns the id of the processor (P) the calling goroutine runs on,
// which it may leave right after: a hint for spreading writes over
// per-processor slots, never an identity to rely on.
func Proc() int {
	p := procPin()
	procUnpin()
	return p
}

// Load returns the count: the sum of the slots, each read atomically, so a
// count that goes on changing meanwhile is read as some recent value.
func (c *Counter) Load() uint64 {
	var sum uint64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}

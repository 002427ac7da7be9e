// Package stats holds the event counters of the caches' statistics.
package stats

import (
	"math/rand/v2"
	"sync/atomic"
)

// Counter is an event count that goroutines on several cores bump without
// contending for one cache line: each Add goes to one of its slots, picked
// at random (math/rand/v2 keeps its state per thread), and Load sums them.
// A single atomic counted on every Get halved the scaling of parallel gets.
// The zero value is a count of zero.
type Counter struct {
	slots [slots]struct {
		n atomic.Uint64
		_ [56]byte // pads the slot to a cache line
	}
}

const slots = 8

// Add adds n to the count.
func (c *Counter) Add(n uint64) { c.slots[rand.Uint32()%slots].n.Add(n) }

// Load returns the count: the sum of the slots, each read atomically, so a
// count that goes on changing meanwhile is read as some recent value.
func (c *Counter) Load() uint64 {
	var sum uint64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}

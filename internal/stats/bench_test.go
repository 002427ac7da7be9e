package stats

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// BenchmarkCounterAddParallel is the cost of one count on the hit path of
// every goroutine.
func BenchmarkCounterAddParallel(b *testing.B) {
	var c Counter
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(1)
		}
	})
}

// randCounter is the former Counter, which drew its slot at random per
// Add: kept here as the baseline the per-processor slots are measured
// against.
type randCounter struct {
	slots [8]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (c *randCounter) Add(n uint64) { c.slots[rand.Uint32()%8].n.Add(n) }

func BenchmarkCounterAddParallelRandomSlot(b *testing.B) {
	var c randCounter
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(1)
		}
	})
}

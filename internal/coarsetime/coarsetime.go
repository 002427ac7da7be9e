// Package coarsetime is a process-wide clock with millisecond resolution
// that costs an atomic load to read while reads are frequent: a goroutine
// stores the time every millisecond while the clock is read. Redis does the
// same (it caches the time once per event-loop iteration). On some virtual
// machines time.Now costs 55–85 ns, nearly half of an in-process Get.
//
// The clock costs nothing while nobody reads it: its goroutine parks itself
// once parkAfter has passed without a read, and reads then return
// time.Now's reading until two of them fall in one millisecond, which
// restarts it. Each tick wakes the process, and a wake-up costs tens of
// microseconds of CPU, far more than the time.Now calls it saves at low
// read rates: the clock runs only while reads come in bursts.
package coarsetime

import (
	"sync/atomic"
	"time"
)

const (
	resolution = time.Millisecond
	// parkAfter is how long the clock runs without being read before it
	// parks: long enough to span the gaps within a burst of reads, short
	// enough that the ticks after the last one cost little (a tick costs
	// 30–40 µs of CPU on a virtual machine: 5 of them, 0.2 ms).
	parkAfter = 5 * time.Millisecond
)

// The states of clock.state.
const (
	parked int32 = iota
	running
)

var clock struct {
	// now is the time in unix milliseconds shifted left by one, with the
	// low bit clear when a tick stores it and set by the first read after
	// it, so that the ticker learns from its next swap whether the clock
	// was read; 0 while parked.
	now atomic.Int64
	// state is parked or running; the read that moves it to running
	// starts the goroutine, which moves it back as it exits.
	state atomic.Int32
	// seen is the millisecond of the last read that found the clock
	// parked, stored only when it changes.
	seen atomic.Int64
}

// read is the low bit of clock.now: read since the last tick.
const read = 1

// Millis returns the time in unix milliseconds: up to about a millisecond
// late while the clock runs, time.Now's reading while it is parked. Its
// common path, a running clock already read since the last tick, is one
// atomic load, and is inlined.
func Millis() int64 {
	if v := clock.now.Load(); v&read != 0 {
		return v >> 1
	}
	return millisSlow()
}

// Running reports whether the clock's goroutine is running, for tests.
func Running() bool {
	return clock.state.Load() == running
}

// millisSlow is Millis for the first read since a tick, which marks the
// clock read, and for reads of the parked clock.
func millisSlow() int64 {
	v := clock.now.Load()
	if v == 0 {
		return parkedMillis()
	}
	// A failure means a tick stored a newer time: the next read marks it.
	clock.now.CompareAndSwap(v, v|read)
	return v >> 1
}

// parkedMillis is Millis while the clock is parked: it reads time.Now and
// restarts the clock when the previous parked read fell in the same
// millisecond.
func parkedMillis() int64 {
	now := time.Now().UnixMilli()
	if clock.seen.Load() != now {
		clock.seen.Store(now)
		return now
	}
	if clock.state.CompareAndSwap(parked, running) {
		clock.now.Store(now<<1 | read)
		go tick()
	}
	return now
}

// tick stores the time every millisecond until parkAfter passes without a
// read, then parks the clock. It clears now before it gives up the running
// state, so that a read never sees a time the goroutine no longer moves
// once another can be started.
func tick() {
	t := time.NewTicker(resolution)
	defer t.Stop()
	lastRead := time.Now()
	for now := range t.C {
		prev := clock.now.Swap(now.UnixMilli() << 1)
		switch {
		case prev&read != 0:
			lastRead = now
		case now.Sub(lastRead) >= parkAfter:
			clock.now.Store(0)
			clock.state.Store(parked)
			return
		}
	}
}

package coarsetime

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// staleness is how late a reading may be: a millisecond of resolution plus
// room for the ticker goroutine to be scheduled late on a loaded machine
// under -race. It is far below gap, so a restarted clock that kept its old
// time would fail.
const staleness = 100 * time.Millisecond

// gap is how long the tests leave the clock parked before reading again.
const gap = 500 * time.Millisecond

// pollUntil checks cond on every tick of a millisecond ticker for up to
// five seconds and fails t with what if it does not hold by then.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within five seconds", what)
		case <-tick.C:
		}
	}
}

// check reads the clock between two readings of time.Now and reports an
// error unless it lies between them, allowing for staleness.
func check(t *testing.T) {
	before := time.Now().UnixMilli()
	ms := Millis()
	after := time.Now().UnixMilli()
	if ms < before-staleness.Milliseconds() || ms > after {
		t.Errorf("Millis = %d, outside [%d-%d, %d]: %d ms late", ms, before, staleness.Milliseconds(), after, before-ms)
	}
}

// burst has readers goroutines read the clock concurrently, checking each
// reading, until the clock has run for a while. They yield now and then, as
// goroutines that do anything else do, so that the ticker gets scheduled.
func burst(t *testing.T, readers int) {
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200_000 && (i < 1000 || !Running()); i++ {
				check(t)
			}
			for i := range 2000 {
				check(t)
				if i%100 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
}

// TestParksAndRestarts runs bursts of concurrent reads separated by idle
// gaps: in each burst the clock starts, every reading is fresh — also the
// first ones after a restart, which would be a gap late if the clock kept
// its time while parked — and after each burst the clock parks.
func TestParksAndRestarts(t *testing.T) {
	for round := range 5 {
		burst(t, 4)
		if t.Failed() {
			t.Fatalf("round %d: stale readings", round)
		}
		if !Running() {
			t.Errorf("round %d: a burst of concurrent reads did not start the clock", round)
		}
		pollUntil(t, "the clock parks once unread", func() bool { return !Running() })
		parkedAt := time.Now()
		pollUntil(t, "time passes", func() bool { return time.Since(parkedAt) > gap })
		if Running() {
			t.Fatalf("round %d: the clock restarted without reads", round)
		}
		check(t)
	}
}

// TestSparseReadsKeepItParked shows that reads far apart read time.Now
// and leave the clock parked.
func TestSparseReadsKeepItParked(t *testing.T) {
	pollUntil(t, "the clock parks once unread", func() bool { return !Running() })
	for range 5 {
		start := time.Now().UnixMilli()
		pollUntil(t, "the millisecond changes", func() bool { return time.Now().UnixMilli() > start })
		check(t)
		if Running() {
			t.Fatal("a single read started the clock")
		}
	}
}

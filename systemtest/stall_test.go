package systemtest

import (
	"sync"
	"time"
)

// stallTick is how often a stallMonitor wakes; a wake later than
// stallTick+stallGap after the previous one is a stall.
const (
	stallTick = 2 * time.Millisecond
	stallGap  = 5 * time.Millisecond
)

// stallMonitor records the periods in which this process was not run: a
// goroutine that wakes every stallTick notes each wake that came late. On a
// loaded machine the process is descheduled, or stopped by a long
// garbage-collection pause under the race detector, for tens of
// milliseconds at a time; a call that overran its deadline during such a
// period did not overrun it by anything the library did.
type stallMonitor struct {
	quit, done chan struct{}
	stopOnce   sync.Once

	mu     sync.Mutex
	stalls [][2]time.Time // [from, to), guarded by mu
}

// startStallMonitor starts a monitor; stop ends it.
func startStallMonitor() *stallMonitor {
	m := &stallMonitor{quit: make(chan struct{}), done: make(chan struct{})}
	go m.watch()
	return m
}

func (m *stallMonitor) watch() {
	defer close(m.done)
	tick := time.NewTicker(stallTick)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-m.quit:
			return
		case now := <-tick.C:
			now = time.Now() // the wake, not the tick's due time
			if now.Sub(last) > stallTick+stallGap {
				m.mu.Lock()
				m.stalls = append(m.stalls, [2]time.Time{last.Add(stallTick), now})
				m.mu.Unlock()
			}
			last = now
		}
	}
}

// stop ends the monitor and waits for its goroutine; what it recorded
// stays readable.
func (m *stallMonitor) stop() {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
}

// within returns how long the process stalled between from and to.
func (m *stallMonitor) within(from, to time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var d time.Duration
	for _, s := range m.stalls {
		if lo, hi := maxTime(s[0], from), minTime(s[1], to); hi.After(lo) {
			d += hi.Sub(lo)
		}
	}
	return d
}

// longest returns the longest stall recorded.
func (m *stallMonitor) longest() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var d time.Duration
	for _, s := range m.stalls {
		d = max(d, s[1].Sub(s[0]))
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

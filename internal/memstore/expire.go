package memstore

import (
	"container/heap"
	"math"
	"sync/atomic"
	"time"
)

// maxReapSleep bounds the reaper's sleep toward a distant deadline. Timers
// follow the monotonic clock and deadlines the wall clock, which can step
// (or run on while the machine is suspended): the bound caps how late a
// key is reclaimed then, at the cost of one wake-up an hour.
const maxReapSleep = time.Hour

// reaperWake lets writes wake the reaper when they set a deadline earlier
// than the one it sleeps toward.
type reaperWake struct {
	// at is the store time, in unix ms, of the deadline the reaper sleeps
	// toward: a write that sets an earlier one wakes it. It is
	// math.MaxInt64 while the reaper waits with no deadline to wait for,
	// so that any deadline wakes it, and math.MinInt64 while it will pass
	// within its interval whatever is written. Only the reaper stores it;
	// writes only load it.
	at atomic.Int64
	ch chan struct{} // a pending wake-up, buffered
}

// deadlineSet wakes the reaper if deadline (unix ms) is earlier than the
// one it sleeps toward. w is nil in a store without reaper.
func (w *reaperWake) deadlineSet(deadline int64) {
	if w != nil && deadline < w.at.Load() {
		w.poke()
	}
}

// poke wakes the reaper to plan again, without blocking. w is nil in a
// store without reaper.
func (w *reaperWake) poke() {
	if w == nil {
		return
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// expiryHeap is a shard's min-heap of the entries that have an expiry,
// ordered by deadline. Each entry records its position in heapIndex, so a
// deadline is changed with heap.Fix and dropped with heap.Remove in
// O(log n), never by pushing a second element.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}

// Push appends x, an *entry, for heap.Push.
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = len(*h)
	*h = append(*h, e)
}

// Pop removes the last element for heap.Pop and heap.Remove.
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIndex = -1
	return e
}

// setDeadline makes e expire after deadline (unix ms), and wakes the
// reaper if it sleeps toward a later one.
func (sh *shard) setDeadline(e *entry, deadline int64) {
	e.deadline = deadline
	if e.heapIndex >= 0 {
		heap.Fix(&sh.expiry, e.heapIndex)
	} else {
		heap.Push(&sh.expiry, e)
	}
	sh.reaper.deadlineSet(deadline)
}

// clearDeadline removes e's expiry and reports whether it had one.
func (sh *shard) clearDeadline(e *entry) bool {
	if e.heapIndex < 0 {
		return false
	}
	heap.Remove(&sh.expiry, e.heapIndex)
	return true
}

// remove deletes e's key and its expiry.
func (sh *shard) remove(e *entry) {
	sh.clearDeadline(e)
	sh.drop(e)
	sh.shrink()
	sh.changed()
}

// drop deletes e's key, which has no expiry or has just left the heap, from
// items and from the accounting.
func (sh *shard) drop(e *entry) {
	delete(sh.items, e.key)
	sh.account(e, -1)
	sh.delist(e)
}

// clear drops every key, as Close does.
func (sh *shard) clear() {
	sh.bound.add(-len(sh.items), -sh.bytes)
	sh.items, sh.expiry, sh.pool, sh.peak, sh.bytes = make(map[string]*entry), nil, nil, 0, 0
}

// wrote ends a command that wrote e: it accounts for e's new size, records
// the access and then gives e the expiry the command asked for: ttl > 0
// sets it like PEXPIRE, ttl == 0 removes it like PERSIST, and a negative
// ttl deletes the key as PEXPIRE with a time not in the future does.
func (sh *shard) wrote(e *entry, ttl time.Duration, now int64) {
	sh.changed()
	sh.account(e, 0)
	sh.bound.stamp(e, now)
	switch {
	case ttl > 0:
		sh.setDeadline(e, now+durationMs(ttl))
	case ttl == 0:
		sh.clearDeadline(e)
	default:
		sh.remove(e)
	}
}

// durationMs converts d to the milliseconds go-redis sends for PX and
// PEXPIRE: truncated, with a positive duration under 1ms rounded up to 1ms.
func durationMs(d time.Duration) int64 {
	if d > 0 && d < time.Millisecond {
		return 1
	}
	return int64(d / time.Millisecond)
}

// due reports whether the earliest deadline in the shard has passed at now.
// The caller holds mu, for reading at least.
func (sh *shard) due(now int64) bool {
	return len(sh.expiry) > 0 && now > sh.expiry[0].deadline
}

// reap deletes the shard's keys expired at now, at most budget of them
// (all when budget < 0), earliest deadline first. The caller holds mu for
// writing.
func (sh *shard) reap(now int64, budget int) {
	for ; budget != 0 && sh.due(now); budget-- {
		sh.drop(heap.Pop(&sh.expiry).(*entry))
	}
	sh.shrink()
}

// reap deletes the keys expired at now from every shard, at most budget per
// shard (all when budget < 0). A shard with nothing due is only read-locked.
func (s *Store) reap(now int64, budget int) {
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		due := sh.due(now)
		sh.mu.RUnlock(rs)
		if !due {
			continue
		}
		sh.mu.Lock()
		sh.reap(now, budget)
		sh.mu.Unlock()
	}
}

// reaper is the background goroutine that reclaims expired keys until
// Close. It sleeps until the earliest deadline in the store, but passes at
// least interval apart so that keys expiring close together are reclaimed
// together, and it does not wake at all while no key has an expiry. A
// write that sets an earlier deadline, FastForward and SetTime wake it to
// plan again. On a clock set by Options.Now, which may jump at any time,
// it passes every interval while any key has an expiry.
func (s *Store) reaper(interval time.Duration) {
	defer close(s.done)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	last := time.Now() // of the last pass
	for {
		if wait, ok := s.planReap(interval - time.Since(last)); ok {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-s.stop:
			return
		case <-s.reapWake.ch:
		case <-timer.C:
			s.reap(s.nowMs(), reapBudget)
			last = time.Now()
		}
	}
}

// planReap returns how long the reaper may sleep, false when only a new
// deadline can give it work, given that it must not pass again within
// floor. It publishes in reapWake.at the deadline a write must beat to
// wake it. The shards are scanned twice, with a publication in between: a
// deadline the second scan misses was set after that publication, so its
// write compared it with a bound no earlier than the final plan's.
func (s *Store) planReap(floor time.Duration) (time.Duration, bool) {
	next, ok := s.earliestDeadline()
	_, _, bound := s.reapPlan(next, ok, floor)
	s.reapWake.at.Store(bound)
	if again, found := s.earliestDeadline(); found && (!ok || again < next) {
		next, ok = again, true
	}
	wait, timed, bound := s.reapPlan(next, ok, floor)
	s.reapWake.at.Store(bound)
	return wait, timed
}

// reapPlan returns the reaper's sleep toward the earliest deadline next
// (ok false when there is none), false when it has none to wait for, and
// the bound for reapWake.at.
func (s *Store) reapPlan(next int64, ok bool, floor time.Duration) (wait time.Duration, timed bool, bound int64) {
	floor = max(floor, 0)
	switch {
	case !ok:
		return 0, false, math.MaxInt64
	case !s.coarse:
		return floor, true, math.MinInt64
	}
	ms := min(next+1-s.Now().UnixMilli(), maxReapSleep.Milliseconds())
	if wait = time.Duration(ms) * time.Millisecond; wait <= floor {
		return floor, true, math.MinInt64
	}
	return wait, true, next
}

// earliestDeadline returns the earliest deadline in the store (unix ms),
// false when no key has an expiry.
func (s *Store) earliestDeadline() (next int64, ok bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		if len(sh.expiry) > 0 && (!ok || sh.expiry[0].deadline < next) {
			next, ok = sh.expiry[0].deadline, true
		}
		sh.mu.RUnlock(rs)
	}
	return next, ok
}

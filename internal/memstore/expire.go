package memstore

import (
	"container/heap"
	"time"
)

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

// setDeadline makes e expire after deadline (unix ms).
func (sh *shard) setDeadline(e *entry, deadline int64) {
	e.deadline = deadline
	if e.heapIndex >= 0 {
		heap.Fix(&sh.expiry, e.heapIndex)
		return
	}
	heap.Push(&sh.expiry, e)
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
	sh.changes.Add(1)
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
	sh.changes.Add(1)
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
		sh.mu.RLock()
		due := sh.due(now)
		sh.mu.RUnlock()
		if !due {
			continue
		}
		sh.mu.Lock()
		sh.reap(now, budget)
		sh.mu.Unlock()
	}
}

// reaper is the background goroutine that reclaims expired keys every
// interval until Close.
func (s *Store) reaper(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.reap(s.nowMs(), reapBudget)
		}
	}
}

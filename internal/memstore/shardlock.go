package memstore

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/gocaches/caches/internal/stats"
)

// maxReaderSlots bounds a shardLock's reader slots, and so what a write
// pays to lock them all.
const maxReaderSlots = 8

// shardLock is a shard's reader/writer lock with a reader slot per
// processor (processors beyond maxReaderSlots share slots): a read locks
// the slot of the processor it runs on, a write locks every slot, in
// order. A single RWMutex's reader count is one cache line that every read
// writes: two cores reading the store took that line from each other on
// nearly every read, and a parallel Get spent 70 % of its CPU there,
// slower on two cores than on one. With a slot each, reads on different
// processors write different lines.
type shardLock struct {
	slots []paddedRWMutex
}

// paddedRWMutex is an RWMutex alone on its cache line.
type paddedRWMutex struct {
	sync.RWMutex
	_ [64 - unsafe.Sizeof(sync.RWMutex{})%64]byte
}

func newShardLock() shardLock {
	return shardLock{slots: make([]paddedRWMutex, min(runtime.GOMAXPROCS(0), maxReaderSlots))}
}

// RLock read-locks the slot of the calling goroutine's processor and
// returns it: RUnlock must be given it, the goroutine may have moved.
func (l *shardLock) RLock() int {
	i := stats.Proc() % len(l.slots)
	l.slots[i].RLock()
	return i
}

// RUnlock undoes the RLock that returned slot.
func (l *shardLock) RUnlock(slot int) { l.slots[slot].RUnlock() }

// Lock write-locks every slot.
func (l *shardLock) Lock() {
	for i := range l.slots {
		l.slots[i].Lock()
	}
}

// Unlock undoes Lock.
func (l *shardLock) Unlock() {
	for i := range l.slots {
		l.slots[i].Unlock()
	}
}

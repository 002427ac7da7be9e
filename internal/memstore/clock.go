package memstore

import (
	"sync"
	"sync/atomic"
	"time"
)

// The stores that run on the real clock (Options.Now unset) read the time,
// for every expiry decision, from one process-wide clock kept in an atomic
// and refreshed every millisecond by a goroutine that runs while such a store
// is open: a read costs an atomic load instead of a time.Now call (55–85 ns
// on some virtual machines, where it was nearly half of a Get). Redis does
// the same: it caches the time once per event-loop iteration. Expiry
// decisions may therefore be late by about a millisecond, the resolution of
// Redis expiries.
var coarse struct {
	ms atomic.Int64 // unix milliseconds

	mu   sync.Mutex    // guards refs, stop and done
	refs int           // open stores using the clock
	stop chan struct{} // closed to stop the ticker
	done chan struct{} // closed when the ticker has stopped
}

// acquireCoarseClock starts the clock for one more store.
func acquireCoarseClock() {
	coarse.mu.Lock()
	defer coarse.mu.Unlock()
	coarse.refs++
	if coarse.refs > 1 {
		return
	}
	coarse.ms.Store(time.Now().UnixMilli())
	coarse.stop, coarse.done = make(chan struct{}), make(chan struct{})
	go tickCoarseClock(coarse.stop, coarse.done)
}

// releaseCoarseClock stops the clock when its last store closes.
func releaseCoarseClock() {
	coarse.mu.Lock()
	defer coarse.mu.Unlock()
	coarse.refs--
	if coarse.refs > 0 {
		return
	}
	close(coarse.stop)
	<-coarse.done
}

func tickCoarseClock(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			coarse.ms.Store(now.UnixMilli())
		}
	}
}

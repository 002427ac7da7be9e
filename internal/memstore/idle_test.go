package memstore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/coarsetime"
)

// The tests of this file check that an idle store costs nothing: the
// coarse clock parks, the reaper waits without a timer while no key has an
// expiry and sleeps toward the earliest deadline otherwise, and the saver
// waits without a timer while there are no changes. They observe the
// goroutines' plans, polled with a deadline; none asserts on wall time.

// reaperWaitsFor polls until the reaper's published plan is at.
func reaperWaitsFor(t *testing.T, s *Store, at int64) {
	t.Helper()
	waitFor(t, func() bool { return s.reapWake.at.Load() == at })
}

// deadlineOf returns key's deadline.
func deadlineOf(s *Store, key string) int64 {
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	return sh.items[key].deadline
}

// TestIdleStoreParksTheClock shows that the coarse clock a store reads
// starts on a burst of reads and parks once they stop.
func TestIdleStoreParksTheClock(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	must(t, s.Set(bg, "k", "v", time.Hour))
	for i := 0; i < 100_000 && !coarsetime.Running(); i++ {
		_, _, err := s.Get(bg, "k")
		must(t, err)
	}
	if !coarsetime.Running() {
		t.Fatal("a burst of reads did not start the coarse clock")
	}
	waitFor(t, func() bool { return !coarsetime.Running() })
}

func TestReaperWaitsWithoutDeadlines(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	for i := range 100 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
	}
	reaperWaitsFor(t, s, math.MaxInt64)
	if wait, timed := s.planReap(0); timed {
		t.Errorf("with no expiry the reaper plans to wake in %v", wait)
	}
}

// TestReaperSleepsTowardTheEarliestDeadline shows the reaper sleeping
// toward the one deadline, woken by a write that sets an earlier one, and
// reclaiming that key unread.
func TestReaperSleepsTowardTheEarliestDeadline(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	must(t, s.Set(bg, "later", "v", time.Hour))
	reaperWaitsFor(t, s, deadlineOf(s, "later"))
	must(t, s.Set(bg, "sooner", "v", 300*time.Millisecond))
	reaperWaitsFor(t, s, deadlineOf(s, "sooner"))
	waitFor(t, func() bool { k, _ := s.memStats(); return k == 1 })
	reaperWaitsFor(t, s, deadlineOf(s, "later"))
}

// TestFastForwardWakesTheReaper shows that moving the clock makes the
// reaper plan again: without it, it would sleep for the hour it planned.
func TestFastForwardWakesTheReaper(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	must(t, s.Set(bg, "k", "v", time.Hour))
	reaperWaitsFor(t, s, deadlineOf(s, "k"))
	s.FastForward(time.Hour - 200*time.Millisecond)
	waitFor(t, func() bool { k, _ := s.memStats(); return k == 0 })
}

// TestReaperMissesNoDeadline sets keys with short and long expiries from
// several goroutines while the reaper plans, round after round: a write
// whose earlier deadline failed to wake it would leave short-lived keys in
// memory until the long ones expire.
func TestReaperMissesNoDeadline(t *testing.T) {
	s := New(Options{ExpiryInterval: time.Millisecond, Shards: 8})
	defer s.Close()
	for round := range 20 {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for i := range 200 {
					ttl := time.Duration(1+rng.IntN(20)) * time.Millisecond
					if i%50 == 0 {
						ttl = time.Hour
					}
					if err := s.Set(bg, fmt.Sprint("r", round, "w", w, "k", i), "v", ttl); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		want := 4 * (round + 1) * 4 // the keys that live an hour
		waitFor(t, func() bool { k, _ := s.memStats(); return k == want })
	}
}

func TestReapPlan(t *testing.T) {
	s := newStore(Options{})
	now := s.Now().UnixMilli()
	for _, tc := range []struct {
		name      string
		next      int64
		ok        bool
		floor     time.Duration
		wait      time.Duration
		timed     bool
		bound     int64
		tolerance time.Duration
	}{
		{"no deadline", 0, false, time.Second, 0, false, math.MaxInt64, 0},
		{"deadline within the floor", now + 10, true, time.Second, time.Second, true, math.MinInt64, 0},
		{"deadline passed", now - 10, true, -time.Second, 0, true, math.MinInt64, 0},
		{"deadline after the floor", now + 60_000, true, time.Second, time.Minute, true, now + 60_000, time.Second},
		{"distant deadline", now + 1e12, true, 0, maxReapSleep, true, now + 1e12, time.Second},
	} {
		wait, timed, bound := s.reapPlan(tc.next, tc.ok, tc.floor)
		if wait < tc.wait-tc.tolerance || wait > tc.wait+time.Millisecond || timed != tc.timed || bound != tc.bound {
			t.Errorf("%s: reapPlan = %v, %v, %d; want %v, %v, %d", tc.name, wait, timed, bound, tc.wait, tc.timed, tc.bound)
		}
	}
	clock := newFakeClock()
	s = newStore(Options{Now: clock.Now})
	wait, timed, bound := s.reapPlan(clock.Now().Add(time.Hour).UnixMilli(), true, time.Second)
	if wait != time.Second || !timed || bound != math.MinInt64 {
		t.Errorf("on a settable clock: reapPlan = %v, %v, %d; want every interval, no wake-up by writes", wait, timed, bound)
	}
}

// watchStep returns how many more changes each shard of s must take to
// wake the saver, 0 when no shard wakes it, and math.MaxUint64 when the
// shards disagree.
func watchStep(s *Store) uint64 {
	var step uint64
	for i := range s.shards {
		sh := &s.shards[i]
		n := uint64(0)
		if at := sh.saveAt.Load(); at != math.MaxUint64 {
			n = at - sh.changes.Load()
		}
		if i > 0 && n != step {
			return math.MaxUint64
		}
		step = n
	}
	return step
}

// TestSaverWaitsWithoutChanges shows the saver waiting for the first
// change with no timer, saving after it, and waiting again.
func TestSaverWaitsWithoutChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	s, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{{Changes: 1, Within: 300 * time.Millisecond}}})
	must(t, err)
	defer s.Close()
	waitFor(t, func() bool { return watchStep(s) == 1 })
	opened := s.LastSave()
	must(t, s.Set(bg, "k", "v", 0))
	waitFor(t, func() bool { return s.LastSave() != opened })
	equal(t, "Changes after the save", s.Changes(), int64(0))
	waitFor(t, func() bool { return watchStep(s) == 1 })
}

// TestSaverWokenByChanges shows the write that meets a save point waking
// the saver, which has no timer to wake it.
func TestSaverWokenByChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	s, err := Open(Options{Path: path, Shards: 4, ExpiryInterval: -1, SavePoints: []SavePoint{{Changes: 100}}})
	must(t, err)
	defer s.Close()
	opened := s.LastSave()
	for i := range 99 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
	}
	equal(t, "LastSave before the 100th change", s.LastSave(), opened)
	must(t, s.Set(bg, "last", "v", 0))
	waitFor(t, func() bool { return s.LastSave() != opened })
}

func TestPlanSave(t *testing.T) {
	s := newStore(Options{Path: "unused", Shards: 2, SavePoints: []SavePoint{{Changes: 2, Within: time.Hour}, {Changes: 5, Within: time.Minute}}})
	p := s.persist
	p.lastSave = s.Now()
	plan := func(what string, wantWait time.Duration, wantTimed bool, wantStep uint64) {
		t.Helper()
		wait, timed := s.planSave()
		if timed != wantTimed || wait > wantWait || wait < wantWait-time.Second || watchStep(s) != wantStep {
			t.Errorf("%s: planSave = %v, %v, step %d; want %v, %v, step %d", what, wait, timed, watchStep(s), wantWait, wantTimed, wantStep)
		}
	}
	plan("no changes", 0, false, 1)
	must(t, s.Set(bg, "a", "1", 0))
	plan("one change", 0, false, 1)
	must(t, s.Set(bg, "b", "1", 0))
	plan("two changes", time.Hour, true, 2) // 3 more meet the second point: 2 on one of 2 shards
	for i := range 3 {
		must(t, s.Set(bg, fmt.Sprint("c", i), "1", 0))
	}
	plan("five changes", time.Minute, true, 0)
	p.lastErr, p.lastTry = fmt.Errorf("failed"), s.Now().Add(2*time.Minute)
	plan("after a failed save", 2*time.Minute+saveRetryDelay, true, 0)

	clock := newFakeClock()
	s = newStore(Options{Path: "unused", Now: clock.Now, SavePoints: []SavePoint{{Changes: 1, Within: time.Hour}}})
	s.persist.lastSave = s.Now()
	must(t, s.Set(bg, "a", "1", 0))
	if wait, timed := s.planSave(); wait != saveCheckInterval || !timed {
		t.Errorf("on a settable clock: planSave = %v, %v; want every %v", wait, timed, saveCheckInterval)
	}
}

// TestSaverMissesNoChange has goroutines make exactly the changes a save
// point needs, round after round, while the saver plans: a change that
// failed to wake it would leave the round unsaved, as it has no timer.
func TestSaverMissesNoChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	s, err := Open(Options{Path: path, Shards: 8, ExpiryInterval: -1, SavePoints: []SavePoint{{Changes: 400}}})
	must(t, err)
	defer s.Close()
	for round := range 10 {
		saved := s.LastSave()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					if err := s.Set(bg, fmt.Sprint("w", w, "k", i), fmt.Sprint(round), 0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		waitFor(t, func() bool { return s.LastSave() != saved && s.Changes() == 0 })
	}
}

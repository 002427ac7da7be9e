package memstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/backend/backendtest"
)

func TestNewShards(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, 64}, {-5, 64}, {1, 1}, {2, 2}, {3, 4}, {64, 64}, {65, 128}, {1 << 30, 1 << 16},
	} {
		s := New(Options{Shards: tc.in, ExpiryInterval: -1})
		equal(t, fmt.Sprintf("shards for %d", tc.in), len(s.shards), tc.want)
		equal(t, "mask", s.mask, uint64(tc.want-1))
		must(t, s.Close())
	}
}

func TestNewReaper(t *testing.T) {
	s := New(Options{})
	if s.stop == nil {
		t.Error("zero ExpiryInterval started no reaper")
	}
	must(t, s.Close())
	s = New(Options{ExpiryInterval: -1})
	if s.stop != nil {
		t.Error("negative ExpiryInterval started a reaper")
	}
	must(t, s.Close())
}

// TestCloseStopsReaper checks that Close waits for the reaper goroutine,
// which closes done as it returns.
func TestCloseStopsReaper(t *testing.T) {
	stores := make([]*Store, 20)
	for i := range stores {
		stores[i] = New(Options{ExpiryInterval: time.Millisecond})
	}
	for _, s := range stores {
		must(t, s.Close())
		select {
		case <-s.done:
		default:
			t.Fatal("Close returned before the reaper exited")
		}
	}
}

// allCalls runs every method of the store once with random arguments.
func allCalls(ctx context.Context, s *Store) []string {
	g := backendtest.NewGen(1, 2)
	var out []string
	for _, op := range backendtest.Ops {
		out = append(out, op.Run(ctx, g, s))
	}
	f, v, ok, err := s.HPopRandom(ctx, "k")
	return append(out, fmt.Sprint(f, v, ok, err))
}

func TestClosed(t *testing.T) {
	s := New(Options{})
	must(t, s.Set(bg, "k", "v", time.Hour))
	must(t, s.Close())
	must(t, s.Close())
	for i, res := range allCalls(bg, s) {
		if !strings.Contains(res, ErrClosed.Error()) {
			t.Errorf("call %d after Close returned %q", i, res)
		}
	}
	if _, err := s.Del(bg, "a", "b"); !errors.Is(err, ErrClosed) {
		t.Errorf("Del: %v", err)
	}
	if n, _ := s.memStats(); n != 0 {
		t.Errorf("Close kept %d keys in memory", n)
	}
}

func TestContextDone(t *testing.T) {
	s, _ := newTestStore(t)
	must(t, s.Set(bg, "a", "1", 0))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	for i, res := range allCalls(ctx, s) {
		if !strings.Contains(res, context.Canceled.Error()) {
			t.Errorf("call %d with a cancelled context returned %q", i, res)
		}
	}
	ctx, cancel = context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel()
	if _, _, err := s.Get(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get: %v", err)
	}
	if v, _, _ := s.Get(bg, "a"); v != "1" {
		t.Errorf("a cancelled command changed data: %q", v)
	}
}

func TestClock(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Now: clock.Now, ExpiryInterval: -1})
	defer s.Close()
	equal(t, "Now", s.Now(), clock.Now())
	s.FastForward(time.Minute)
	equal(t, "Now after FastForward", s.Now(), clock.Now().Add(time.Minute))
	clock.Advance(time.Second)
	equal(t, "Now follows the clock", s.Now(), clock.Now().Add(time.Minute))
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	s.SetTime(at)
	equal(t, "Now after SetTime", s.Now().UTC(), at)
	clock.Advance(time.Second)
	equal(t, "Now after SetTime follows the clock", s.Now().UTC(), at.Add(time.Second))

	d := New(Options{ExpiryInterval: -1})
	defer d.Close()
	if since := time.Since(d.Now()); since < 0 || since > time.Minute {
		t.Errorf("default clock is off by %v", since)
	}
}

// TestFastForwardReclaims shows that expired keys leave memory, deadlines
// included, not only that they are hidden.
func TestFastForwardReclaims(t *testing.T) {
	s, _ := newTestStore(t)
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		switch i % 4 {
		case 0:
			must(t, s.Set(bg, k, "v", time.Second))
		case 1:
			_, err := s.HSet(bg, k, 2*time.Second, "f", "v")
			must(t, err)
		case 2:
			_, err := s.SAdd(bg, k, 3*time.Second, "m")
			must(t, err)
		case 3:
			must(t, s.Set(bg, k, "forever", 0))
		}
	}
	keys, deadlines := s.memStats()
	equal(t, "keys", keys, 1000)
	equal(t, "deadlines", deadlines, 750)

	s.FastForward(2 * time.Second) // exactly at the hash deadlines: not expired yet
	keys, deadlines = s.memStats()
	equal(t, "keys after 2s", keys, 750)
	equal(t, "deadlines after 2s", deadlines, 500)
	equal(t, "DBSize after 2s", s.DBSize(), 750)

	s.SetTime(s.Now().Add(time.Hour))
	keys, deadlines = s.memStats()
	equal(t, "keys after 1h", keys, 250)
	equal(t, "deadlines after 1h", deadlines, 0)
	equal(t, "DBSize after 1h", s.DBSize(), 250)
}

// TestReaperReclaims shows the background goroutine reclaiming expired keys
// as a fake clock moves.
func TestReaperReclaims(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Now: clock.Now, ExpiryInterval: time.Millisecond, Shards: 4})
	defer s.Close()
	const n = 5000 // more than one tick's budget per shard
	for i := range n {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", time.Duration(1+i%10)*time.Second))
	}
	must(t, s.Set(bg, "keep", "v", time.Hour))
	clock.Advance(5*time.Second + time.Millisecond)
	waitFor(t, func() bool { k, _ := s.memStats(); return k == n/2+1 })
	clock.Advance(time.Minute)
	waitFor(t, func() bool { k, d := s.memStats(); return k == 1 && d == 1 })
	equal(t, "Keys", s.Keys(), []string{"keep"})
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not met within five seconds")
		case <-tick.C:
		}
	}
}

// TestReadsKeepExpired shows that reads hide an expired key without
// deleting it, and that a write reclaims it.
func TestReadsKeepExpired(t *testing.T) {
	s, clock := newTestStore(t)
	must(t, s.Set(bg, "k", "v", time.Second))
	clock.Advance(2 * time.Second)
	if _, ok, _ := s.Get(bg, "k"); ok {
		t.Fatal("expired key is visible")
	}
	if ok, _ := s.Exists(bg, "k"); ok {
		t.Fatal("expired key exists")
	}
	equal(t, "DBSize", s.DBSize(), 0)
	equal(t, "Keys", s.Keys(), []string{})
	if k, d := s.memStats(); k != 1 || d != 1 {
		t.Fatalf("a read deleted the expired key: %d keys, %d deadlines", k, d)
	}
	ok, err := s.SetNX(bg, "k", "new", 0)
	must(t, err)
	equal(t, "SetNX over an expired key", ok, true)
	if k, d := s.memStats(); k != 1 || d != 0 {
		t.Fatalf("after the write: %d keys, %d deadlines", k, d)
	}
}

// TestDeadlineRefresh shows that refreshing a TTL reuses the key's heap
// entry.
func TestDeadlineRefresh(t *testing.T) {
	s, _ := newTestStore(t)
	for i := range 100 {
		must(t, s.Set(bg, "k", "v", time.Duration(100-i)*time.Second))
		_, err := s.HSet(bg, "h", time.Duration(i+1)*time.Second, "f", "v")
		must(t, err)
	}
	if _, d := s.memStats(); d != 2 {
		t.Fatalf("deadlines = %d, want 2", d)
	}
	ok, err := s.Persist(bg, "k")
	must(t, err)
	equal(t, "Persist", ok, true)
	_, err = s.HSet(bg, "h", 0, "f", "v")
	must(t, err)
	if _, d := s.memStats(); d != 0 {
		t.Fatalf("deadlines = %d, want 0", d)
	}
}

func TestKeysAndDBSize(t *testing.T) {
	s, _ := newTestStore(t)
	equal(t, "empty Keys", s.Keys(), []string{})
	must(t, s.Set(bg, "b", "1", 0))
	_, err := s.SAdd(bg, "a", 0, "m")
	must(t, err)
	_, err = s.ZAdd(bg, "c", time.Second, backend.ZAddUpsert, zs([]string{"m"}, []float64{1})...)
	must(t, err)
	equal(t, "Keys", s.Keys(), []string{"a", "b", "c"})
	equal(t, "DBSize", s.DBSize(), 3)
	s.FastForward(time.Hour)
	equal(t, "Keys after expiry", s.Keys(), []string{"a", "b"})
	equal(t, "DBSize after expiry", s.DBSize(), 2)
}

func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ErrWrongType, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{ErrNotInteger, "ERR value is not an integer or out of range"},
		{ErrOverflow, "ERR increment or decrement would overflow"},
		{ErrNotFloat, "ERR value is not a valid float"},
		{ErrIncrNaNInf, "ERR increment would produce NaN or Infinity"},
		{ErrNaNOrInfinity, "ERR value is NaN or Infinity"},
		{ErrHashNotInteger, "ERR hash value is not an integer"},
		{ErrHashNotFloat, "ERR hash value is not a float"},
		{ErrMinMaxNotFloat, "ERR min or max is not a float"},
		{ErrScoreNaN, "ERR resulting score is not a number (NaN)"},
		{ErrNotPositive, "ERR value is out of range, must be positive"},
		{ErrCountRange, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"},
		{ErrSyntax, "ERR syntax error"},
		{ErrClosed, "memstore: store is closed"},
		{wrongArgs("HSET"), "ERR wrong number of arguments for 'hset' command"},
	} {
		equal(t, "error text", tc.err.Error(), tc.want)
	}
}

// TestShrink shows that maps and slices are rebuilt once most of their
// elements are gone, since Go never returns the memory of deleted entries.
func TestShrink(t *testing.T) {
	s := New(Options{Shards: 1, ExpiryInterval: -1})
	defer s.Close()
	fields := make([]string, 0, 2*5000)
	for i := range 5000 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", time.Duration(i%100+1)*time.Second))
		fields = append(fields, fmt.Sprint("f", i), "v")
	}
	must(t, s.Set(bg, "keep", "v", 0))
	_, err := s.HSet(bg, "h", 0, fields...)
	must(t, err)
	equal(t, "peak", s.shards[0].peak, 5002)
	s.FastForward(time.Hour)
	equal(t, "peak after expiry", s.shards[0].peak, 2)

	for i := 4999; i >= 10; i-- { // from the end: no tombstones, only a shorter slice
		_, err := s.HDel(bg, "h", fmt.Sprint("f", i))
		must(t, err)
	}
	h := s.shards[0].items["h"].hash
	if cap(h.slots) > 4*h.len() && cap(h.slots) >= shrinkMin {
		t.Errorf("hash keeps %d slots for %d fields", cap(h.slots), h.len())
	}
	fv, err := s.HGetAll(bg, "h")
	must(t, err)
	equal(t, "fields left", len(fv), 20)
}

package caches

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/poll"
)

// TestNearHitAllocs holds the near hits to their allocations: none for a
// KeyCache.Get of a string or of a JSON struct (decoded once per copy), and
// for a Memo hit only the building of its key from the argument (the frame
// of the stored entry is not parsed again and the result not decoded
// again). BenchmarkNearHit measures the same reads.
func TestNearHitAllocs(t *testing.T) {
	conn, _ := nearConn(t)
	reads := nearHitReads(t, conn)
	want := map[string]float64{
		"KeyCache.Get/string":      0,
		"KeyCache.Get/json":        0,
		"Memo.Call/string":         1, // the key "nhit-mstr:fast"
		"Memo.Call/string-slow-fn": 1,
		"Memo.Call/json":           1, // the key "nhit-mjson:1"
	}
	for name, read := range reads {
		got := testing.AllocsPerRun(200, func() {
			if err := read(); err != nil {
				t.Fatal(err)
			}
		})
		if got > want[name] {
			t.Errorf("%s: %.1f allocations per near hit, want at most %.0f", name, got, want[name])
		}
	}
}

// nearTagged holds a slice: a hit must not hand two callers the same one.
type nearTagged struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// TestNearDecodedCopies: the value decoded from a near copy is served only
// while that copy is: another client's write replaces it, for a KeyCache
// and for a Memo; and a value holding a slice is decoded for each hit, so
// that a caller modifying it changes nothing for the next.
func TestNearDecodedCopies(t *testing.T) {
	conn, raw := nearConn(t)
	ctx := context.Background()
	near := &NearOptions{}
	profiles := NewKeyCache[nearProfile](Options{Prefix: "ndec-json", Conn: conn, Near: near})
	tagged := NewKeyCache[nearTagged](Options{Prefix: "ndec-tags", Conn: conn, Near: near})
	var calls atomic.Int64
	memo := Memoize(func(context.Context, int) (nearProfile, error) {
		return nearProfile{ID: int(calls.Add(1))}, nil
	}, MemoOptions[int]{Options: Options{Prefix: "ndec-memo", Conn: conn, Near: near}})
	p, tg := profiles.Key(1), tagged.Key(1)
	if err := p.Set(ctx, nearProfile{ID: 1, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Set(ctx, nearTagged{Name: "t", Tags: []string{"x", "y"}}); err != nil {
		t.Fatal(err)
	}
	fillNear(t, func() { _, _ = p.Get(ctx); _, _ = tg.Get(ctx); _, _ = memo.Call(ctx, 1) }, profiles, tagged, memo)

	got, err := tg.Get(ctx)
	if err != nil || len(got.Tags) != 2 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	got.Tags[0] = "changed by a caller"
	if again, _ := tg.Get(ctx); again.Tags[0] != "x" {
		t.Fatalf("a caller's change to a returned slice reached the next hit: %+v", again)
	}

	if v, err := memo.Call(ctx, 1); err != nil || v.ID != 1 {
		t.Fatalf("Memo hit = %+v, %v", v, err)
	}
	memoKey, _ := memo.Key(1)
	if err := raw.Set(ctx, memoKey, formatEntry(false, 0, 0, `{"id":7}`), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, p.String(), `{"id":2,"name":"b"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.nears.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := p.Get(ctx); err != nil || v.ID != 2 || v.Name != "b" {
		t.Fatalf("Get after another client's write = %+v, %v", v, err)
	}
	if v, err := memo.Call(ctx, 1); err != nil || v.ID != 7 {
		t.Fatalf("Memo.Call after another client's write = %+v, %v", v, err)
	}
}

// TestNearMemoEarlyRefresh: a Memo hit served from a near copy still
// refreshes early (XFetch), and the refreshed result replaces the copy.
func TestNearMemoEarlyRefresh(t *testing.T) {
	conn, _ := nearConn(t)
	ctx := context.Background()
	done := make(chan struct{}, 4)
	memo := Memoize(func(context.Context, string) (string, error) {
		done <- struct{}{}
		return "fresh", nil
	}, MemoOptions[string]{Options: Options{Prefix: "ndec-xfetch", Conn: conn, Near: &NearOptions{}, TTL: time.Hour}})
	key, _ := memo.Key("a")
	// Computed in 10 s, expiring in 5 s: a draw of e^-1 gives a head start
	// of 10 s, past the expiry.
	entry := formatEntry(false, 10_000, time.Now().Add(5*time.Second).UnixMilli(), "cached")
	if err := conn.b.Set(ctx, key, entry, time.Hour); err != nil {
		t.Fatal(err)
	}
	memo.opts.Beta = -1
	fillNear(t, func() { _, _ = memo.Call(ctx, "a") }, memo)
	memo.opts.Beta = 1
	memo.rand = func() float64 { return math.Exp(-1) }
	before, _ := memo.NearStats()
	if v, err := memo.Call(ctx, "a"); err != nil || v != "cached" {
		t.Fatalf("Call = %q, %v: want the cached result, refreshed in the background", v, err)
	}
	if after, _ := memo.NearStats(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
		t.Fatalf("near stats %+v after %+v: the hit was not served from the near copy", after, before)
	}
	<-done
	if !poll.Until(2*time.Second, time.Millisecond, func() bool { v, _ := memo.Call(ctx, "a"); return v == "fresh" }) {
		t.Fatal("the early refresh never replaced the near copy")
	}
	if s := memo.Stats(); s.EarlyRefreshes == 0 {
		t.Fatalf("stats %+v: no early refresh counted", s)
	}
}

// fillNear waits until the near caches of fams are live and read answers
// from them.
func fillNear(t *testing.T, read func(), fams ...Family) {
	t.Helper()
	read()
	for _, f := range fams {
		waitLive(t, f)
	}
	if !poll.Until(2*time.Second, time.Millisecond, func() bool {
		read()
		for _, f := range fams {
			if s, _ := f.base().NearStats(); s.Entries == 0 {
				return false
			}
		}
		return true
	}) {
		t.Fatal("no near copy kept")
	}
}

package memstore

import (
	"testing"
	"time"
)

// TestAttach: a value attached to a string comes back with that string
// only: not after the key is written (SET, INCRBY) or expired, and Attach to a string the key no longer
// holds attaches nothing.
func TestAttach(t *testing.T) {
	s, clock := newTestStore(t)
	must(t, s.Set(bg, "k", "v1", time.Minute))
	s.Attach(bg, "k", "v1", 1)
	v, att, ok, err := s.GetAttached(bg, "k")
	must(t, err)
	equal(t, "GetAttached", []any{v, att, ok}, []any{"v1", any(1), true})

	s.Attach(bg, "k", "v0", 2) // derived from a string the key does not hold
	_, att, _, _ = s.GetAttached(bg, "k")
	equal(t, "attached after a stale Attach", att, any(1))

	must(t, s.Set(bg, "k", "v2", time.Minute))
	v, att, ok, _ = s.GetAttached(bg, "k")
	equal(t, "GetAttached after a write", []any{v, att, ok}, []any{"v2", nil, true})

	must(t, s.Set(bg, "n", "1", time.Minute))
	s.Attach(bg, "n", "1", 3)
	_, err = s.IncrBy(bg, "n", 1, time.Minute)
	must(t, err)
	v, att, _, _ = s.GetAttached(bg, "n")
	equal(t, "GetAttached after INCRBY", []any{v, att}, []any{"2", nil})

	s.Attach(bg, "k", "v2", 4)
	clock.Advance(2 * time.Minute)
	_, att, ok, _ = s.GetAttached(bg, "k")
	equal(t, "GetAttached after expiry", []any{att, ok}, []any{nil, false})

	_, err = s.HSet(bg, "h", 0, "f", "v")
	must(t, err)
	_, _, _, err = s.GetAttached(bg, "h")
	wantErr(t, "GetAttached of a hash", err, ErrWrongType)
}

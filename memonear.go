package caches

import (
	"context"
	"reflect"
	"strconv"

	"github.com/gocaches/caches/internal/backend"
)

// A Memo hit from a near cache's copy skips the time budget of a read from
// Redis and, after the first hit of a copy, the parse of the stored entry:
// the parsed entry (a memoHit) is attached to the copy, and dropped with it
// by an invalidation, a flush, an eviction or its expiry. For a result type
// that holds no references (numbers, strings, bools, and arrays and
// structs of those) the decoded value is attached too, and a hit returns a
// copy of it without decoding; any other type is decoded on every hit, so
// that no two callers share a slice, map or pointer.

// memoHit is a parsed entry of a Memo's result, attached to a near copy.
type memoHit[R any] struct {
	owner   *family // the Memo that parsed it: another Memo of the prefix parses its own
	v       R       // the decoded value, when decoded
	decoded bool
	isErr   bool
	payload string // the encoded value, or the cached error's text
	delta   int64  // the compute time in ms, as stored
	expiry  int64  // unix ms, 0 for none
}

// localHit serves a call from a result the backend holds in process
// memory (see [backend.Attacher]); hit is false when it has none, or the
// entry is unusable, and the call goes on to read it from the backend.
func (m *Memo[A, R]) localHit(ctx context.Context, key string, a A, b backend.Backend, outcome *Outcome) (v R, err error, hit bool) {
	l, ok := b.(backend.Attacher)
	if !ok {
		return v, nil, false
	}
	s, att, ok := l.GetLocal(ctx, key)
	if !ok {
		return v, nil, false
	}
	h, ok := att.(*memoHit[R])
	if !ok || h.owner != m.family {
		if h, ok = m.parseHit(s); !ok {
			return v, nil, false
		}
		l.Attach(ctx, key, s, h)
	}
	if h.isErr {
		m.stats.hits.Add(1)
		*outcome = OutcomeNearHit
		return v, &CachedError{Key: key, Msg: h.payload}, true
	}
	v = h.v
	if !h.decoded {
		if v, err = m.codec.decode(h.payload); err != nil {
			return v, nil, false
		}
	}
	m.stats.hits.Add(1)
	*outcome = OutcomeNearHit
	if m.earlyDue(h.delta, h.expiry, b) && m.refreshInBackground(ctx, key, a) {
		*outcome = OutcomeEarlyRefresh
	}
	return v, nil, true
}

// parseHit parses the stored entry s (framed or plain, see readEntry), and
// decodes its value when the result type can be shared.
func (m *Memo[A, R]) parseHit(s string) (*memoHit[R], bool) {
	e := readEntry(s)
	h := &memoHit[R]{owner: m.family, isErr: e.isErr, payload: e.payload, delta: e.delta}
	h.expiry, _ = strconv.ParseInt(e.expiry, 10, 64)
	if !e.isErr && m.shareDecoded {
		v, err := m.codec.decode(e.payload)
		if err != nil {
			return nil, false
		}
		h.v, h.decoded = v, true
	}
	return h, true
}

// holdsNoReferences reports whether a value of type t can be copied to
// several callers without their sharing anything one of them could modify.
func holdsNoReferences(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return holdsNoReferences(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !holdsNoReferences(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

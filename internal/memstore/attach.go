package memstore

import "context"

// attachment is a value attached to a string: src is the string it was
// derived from, so that it is only ever returned with that string.
type attachment struct {
	src string
	v   any
}

// GetAttached is Get that also returns the value that Attach attached to
// the string at key, or nil when the key holds another string than the one
// it was attached to (or nothing was). It does not allocate.
func (s *Store) GetAttached(ctx context.Context, key string) (value string, attached any, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", nil, false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	e := s.get(sh, key)
	switch {
	case e == nil:
		sh.mu.RUnlock(rs)
		return "", nil, false, nil
	case e.kind != kindString:
		sh.mu.RUnlock(rs)
		return "", nil, false, ErrWrongType
	}
	s.bound.touch(e)
	value = e.str
	if a := e.attached.Load(); a != nil && a.src == value {
		attached = a.v
	}
	sh.mu.RUnlock(rs)
	return value, attached, true, nil
}

// Attach attaches v to the string at key if key holds value: a later
// GetAttached returns v with it until the key is written, deleted, evicted
// or expires. v is held in memory with the key but not counted in the
// store's MaxBytes.
func (s *Store) Attach(ctx context.Context, key, value string, v any) {
	if s.enter(ctx) != nil {
		return
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	if e := s.get(sh, key); e != nil && e.kind == kindString && e.str == value {
		e.attached.Store(&attachment{src: value, v: v})
	}
	sh.mu.RUnlock(rs)
}

package memstore

import (
	"context"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Get returns the string at key, as GET does; ok is false when the key does
// not exist. It does not allocate.
func (s *Store) Get(ctx context.Context, key string) (value string, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	e := s.get(sh, key)
	switch {
	case e == nil:
		sh.mu.RUnlock(rs)
		return "", false, nil
	case e.kind != kindString:
		sh.mu.RUnlock(rs)
		return "", false, ErrWrongType
	}
	s.bound.touch(e)
	value = e.str
	sh.mu.RUnlock(rs)
	return value, true, nil
}

// Set stores value at key whatever the key held, as SET does, with expiry
// ttl (none when 0).
func (s *Store) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e := sh.lookupWrite(key, now)
	if e == nil {
		e = newEntry(key, kindString)
		sh.add(e)
	}
	e.setString(value)
	sh.wrote(e, ttl, now)
	return nil
}

// SetNX stores value at key with expiry ttl only if the key does not exist,
// as SET … NX does, and reports whether it stored it. An existing key,
// its value and its expiry are left untouched.
func (s *Store) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	if sh.lookupWrite(key, now) != nil {
		return false, nil
	}
	e := newEntry(key, kindString)
	e.str = value
	sh.add(e)
	sh.wrote(e, ttl, now)
	return true, nil
}

// GetDel returns the string at key and deletes the key, as GETDEL does.
func (s *Store) GetDel(ctx context.Context, key string) (value string, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindString, false)
	if e == nil {
		return "", false, err
	}
	sh.remove(e)
	return e.str, true, nil
}

// IncrBy adds n to the integer at key, as INCRBY does, and returns the new
// value; a missing key counts as 0. The key then gets expiry ttl.
func (s *Store) IncrBy(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	return s.IncrByWithin(ctx, key, n, math.MinInt64, math.MaxInt64, ttl)
}

// IncrByWithin is IncrBy for a value type narrower than int64: when the
// result is not within [min, max] it writes nothing, the expiry included,
// and fails with an error starting "ERR increment", as an INCRBY overflow
// does.
func (s *Store) IncrByWithin(ctx context.Context, key string, n, min, max int64, ttl time.Duration) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindString, false)
	if err != nil {
		return 0, err
	}
	var cur int64
	if e != nil {
		var ok bool
		if cur, ok = parseInt(e.str); !ok {
			return 0, ErrNotInteger
		}
	}
	v, ok := addInt(cur, n)
	if !ok {
		return 0, ErrOverflow
	}
	if err := checkIntRange(v, min, max); err != nil {
		return 0, err
	}
	if e == nil {
		e = newEntry(key, kindString)
		sh.add(e)
	}
	e.str = strconv.FormatInt(v, 10)
	sh.wrote(e, ttl, now)
	return v, nil
}

// IncrByFloat adds f to the number at key, as INCRBYFLOAT does, and returns
// the new value; a missing key counts as 0. Like Redis it computes in x87
// long double precision and stores the sum printed with 17 decimals and
// trailing zeros trimmed, never with an exponent. The key then gets expiry
// ttl.
func (s *Store) IncrByFloat(ctx context.Context, key string, f float64, ttl time.Duration) (float64, error) {
	return s.IncrByFloatWithin(ctx, key, f, math.Inf(-1), math.Inf(1), ttl)
}

// IncrByFloatWithin is IncrByFloat for a value type narrower than the long
// double Redis computes in: when the result, read as a float64 (±Inf
// beyond its range), is not within [min, max] it writes nothing, the expiry
// included, and fails with an error starting "ERR increment".
func (s *Store) IncrByFloatWithin(ctx context.Context, key string, f, min, max float64, ttl time.Duration) (float64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindString, false)
	if err != nil {
		return 0, err
	}
	var cur *big.Float
	if e != nil {
		var ok bool
		if cur, ok = parseLongDouble(e.str); !ok {
			return 0, ErrNotFloat
		}
	}
	if math.IsNaN(f) {
		return 0, ErrNotFloat
	}
	v, ok := incrLongDouble(cur, f)
	if !ok {
		return 0, ErrIncrNaNInf
	}
	if err := checkFloatRange(v, min, max); err != nil {
		return 0, err
	}
	if e == nil {
		e = newEntry(key, kindString)
		sh.add(e)
	}
	e.str = v
	sh.wrote(e, ttl, now)
	return replyFloat(v)
}

// DelIfEqual deletes key if it holds the string value and reports whether
// it did, atomically: the compare-and-delete that releases a lock only for
// its owner (on Redis, a GET and DEL in one script). A key of another type
// yields ErrWrongType, as the script's GET does.
func (s *Store) DelIfEqual(ctx context.Context, key, value string) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindString, false)
	if e == nil || e.str != value {
		return false, err
	}
	sh.remove(e)
	return true, nil
}

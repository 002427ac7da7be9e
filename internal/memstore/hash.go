package memstore

import (
	"context"
	"math"
	"math/big"
	"strconv"
	"time"
)

// HGet returns the value of field in the hash at key, as HGET does.
func (s *Store) HGet(ctx context.Context, key, field string) (value string, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if e == nil {
		return "", false, err
	}
	value, ok = e.hash.get(field)
	return value, ok, nil
}

// HMGet returns the values of fields in the hash at key, as HMGET does;
// ok[i] is false for a missing field or key.
func (s *Store) HMGet(ctx context.Context, key string, fields ...string) (values []string, ok []bool, err error) {
	if err := s.enter(ctx); err != nil {
		return nil, nil, err
	}
	if len(fields) == 0 {
		return nil, nil, wrongArgs("hmget")
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if err != nil {
		return nil, nil, err
	}
	values, ok = make([]string, len(fields)), make([]bool, len(fields))
	if e != nil {
		for i, f := range fields {
			values[i], ok[i] = e.hash.get(f)
		}
	}
	return values, ok, nil
}

// HSet sets alternating fields and values in the hash at key, as HSET
// does, and returns how many fields are new. The key then gets expiry ttl.
func (s *Store) HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(fieldValues) == 0 || len(fieldValues)%2 != 0 {
		return 0, wrongArgs("hset")
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindHash, true)
	if err != nil {
		return 0, err
	}
	added := hashSet(e.hash, fieldValues)
	sh.wrote(e, ttl, now)
	return added, nil
}

// HSetNX sets field in the hash at key only if it does not exist, as
// HSETNX does, and reports whether it set it. The key then gets expiry ttl.
func (s *Store) HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindHash, true)
	if err != nil {
		return false, err
	}
	stored := !e.hash.has(field)
	if stored {
		e.hash.set(field, value)
	}
	sh.wrote(e, ttl, now)
	return stored, nil
}

// HDel removes fields from the hash at key, as HDEL does, and returns how
// many existed. A hash left empty is deleted.
func (s *Store) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(fields) == 0 {
		return 0, wrongArgs("hdel")
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindHash, false)
	if e == nil {
		return 0, err
	}
	n := hashDel(e.hash, fields)
	sh.removedFrom(e)
	return n, nil
}

// HExists reports whether field exists in the hash at key, as HEXISTS
// does.
func (s *Store) HExists(ctx context.Context, key, field string) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if e == nil {
		return false, err
	}
	return e.hash.has(field), nil
}

// HLen returns the number of fields in the hash at key, as HLEN does.
func (s *Store) HLen(ctx context.Context, key string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if e == nil {
		return 0, err
	}
	return int64(e.hash.len()), nil
}

// HGetDel returns the value of field in the hash at key and removes the
// field, atomically, as HGETDEL with one field does. A hash left empty is
// deleted.
func (s *Store) HGetDel(ctx context.Context, key, field string) (value string, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindHash, false)
	if e == nil {
		return "", false, err
	}
	value, ok = e.hash.del(field)
	sh.removedFrom(e)
	return value, ok, nil
}

// HPopRandom removes a random field from the hash at key and returns it
// with its value, atomically, as HRANDFIELD followed by HDEL would. A hash
// left empty is deleted.
func (s *Store) HPopRandom(ctx context.Context, key string) (field, value string, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return "", "", false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindHash, false)
	if e == nil {
		return "", "", false, err
	}
	field, value = hashPopRandom(e.hash)
	sh.removedFrom(e)
	return field, value, true, nil
}

// HIncrBy adds n to the integer in field of the hash at key, as HINCRBY
// does, and returns the new value; a missing field or key counts as 0. The
// key then gets expiry ttl.
func (s *Store) HIncrBy(ctx context.Context, key, field string, n int64, ttl time.Duration) (int64, error) {
	return s.HIncrByWithin(ctx, key, field, n, math.MinInt64, math.MaxInt64, ttl)
}

// HIncrByWithin is HIncrBy for a value type narrower than int64: when the
// result is not within [min, max] it writes nothing, the expiry included,
// and fails with an error starting "ERR increment", as an HINCRBY overflow
// does.
func (s *Store) HIncrByWithin(ctx context.Context, key, field string, n, min, max int64, ttl time.Duration) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindHash, true)
	if err != nil {
		return 0, err
	}
	v, err := hashIncrBy(e.hash, field, n, min, max)
	if err != nil {
		sh.dropEmpty(e)
		return 0, err
	}
	sh.wrote(e, ttl, now)
	return v, nil
}

// HIncrByFloat adds f to the number in field of the hash at key, as
// HINCRBYFLOAT does, and returns the new value; a missing field or key
// counts as 0. Like Redis it computes in x87 long double precision and
// stores the sum printed with 17 decimals and trailing zeros trimmed. The
// key then gets expiry ttl.
func (s *Store) HIncrByFloat(ctx context.Context, key, field string, f float64, ttl time.Duration) (float64, error) {
	return s.HIncrByFloatWithin(ctx, key, field, f, math.Inf(-1), math.Inf(1), ttl)
}

// HIncrByFloatWithin is HIncrByFloat for a value type narrower than the
// long double Redis computes in: when the result, read as a float64 (±Inf
// beyond its range), is not within [min, max] it writes nothing, the expiry
// included, and fails with an error starting "ERR increment".
func (s *Store) HIncrByFloatWithin(ctx context.Context, key, field string, f, min, max float64, ttl time.Duration) (float64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	switch {
	case math.IsNaN(f):
		return 0, ErrNotFloat
	case math.IsInf(f, 0):
		return 0, ErrNaNOrInfinity
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindHash, true)
	if err != nil {
		return 0, err
	}
	v, err := hashIncrByFloat(e.hash, field, f, min, max)
	if err != nil {
		sh.dropEmpty(e)
		return 0, err
	}
	sh.wrote(e, ttl, now)
	return replyFloat(v)
}

// HScan returns alternating fields and values of the hash at key from
// cursor on, about count of them (10 when count <= 0), and the cursor to
// continue from, 0 when the scan is complete, as HSCAN does. A field present
// for the whole scan is returned exactly once.
func (s *Store) HScan(ctx context.Context, key string, cursor uint64, count int64) (fieldValues []string, next uint64, err error) {
	if err := s.enter(ctx); err != nil {
		return nil, 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if err != nil {
		return nil, 0, err
	}
	fieldValues = []string{}
	if e == nil {
		return fieldValues, 0, nil
	}
	next = e.hash.scan(cursor, scanCount(count), func(f, v string) {
		fieldValues = append(fieldValues, f, v)
	})
	return fieldValues, next, nil
}

// storeInstance is the instance that every page of a store's scans
// reports.
const storeInstance = "memstore"

// HScanInstance is HScan that also returns the instance that served the
// page: always the same, as a store's cursors stay valid for as long as
// it is open.
func (s *Store) HScanInstance(ctx context.Context, key string, cursor uint64, count int64) (fieldValues []string, next uint64, instance string, err error) {
	fieldValues, next, err = s.HScan(ctx, key, cursor, count)
	return fieldValues, next, storeInstance, err
}

// scanCount turns the COUNT hint of the SCAN family into a page size.
func scanCount(count int64) int {
	const defaultCount, maxCount = 10, 1 << 20
	if count <= 0 {
		return defaultCount
	}
	return int(min(count, maxCount))
}

// HGetAll returns the alternating fields and values of the hash at key in
// insertion order, as HGETALL does.
func (s *Store) HGetAll(ctx context.Context, key string) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []string{}, nil
	}
	out := make([]string, 0, 2*e.hash.len())
	for f, v := range e.hash.all() {
		out = append(out, f, v)
	}
	return out, nil
}

// HVals returns the values of the hash at key in insertion order, as HVALS
// does.
func (s *Store) HVals(ctx context.Context, key string) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindHash)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []string{}, nil
	}
	out := make([]string, 0, e.hash.len())
	for _, v := range e.hash.all() {
		out = append(out, v)
	}
	return out, nil
}

// hashSet sets alternating fields and values in h and returns how many
// fields were new.
func hashSet(h *dict[string], fieldValues []string) int64 {
	var added int64
	for i := 0; i < len(fieldValues); i += 2 {
		if h.set(fieldValues[i], fieldValues[i+1]) {
			added++
		}
	}
	return added
}

// hashDel removes fields from h and returns how many existed.
func hashDel(h *dict[string], fields []string) int64 {
	var n int64
	for _, f := range fields {
		if _, ok := h.del(f); ok {
			n++
		}
	}
	return n
}

// hashPopRandom removes a random field from h, which must not be empty, and
// returns it with its value.
func hashPopRandom(h *dict[string]) (field, value string) {
	sl := &h.slots[h.randomSlot()]
	field, value = sl.key, sl.val
	h.del(field)
	return field, value
}

// hashIncrBy adds n to the integer in field of h, as HINCRBY does, unless
// the result is not within [min, max].
func hashIncrBy(h *dict[string], field string, n, min, max int64) (int64, error) {
	var cur int64
	if old, ok := h.get(field); ok {
		if cur, ok = parseInt(old); !ok {
			return 0, ErrHashNotInteger
		}
	}
	v, ok := addInt(cur, n)
	if !ok {
		return 0, ErrOverflow
	}
	if err := checkIntRange(v, min, max); err != nil {
		return 0, err
	}
	h.set(field, strconv.FormatInt(v, 10))
	return v, nil
}

// hashIncrByFloat adds f to the number in field of h in long double
// precision, as HINCRBYFLOAT does, and returns the stored string, unless
// the result read as a float64 is not within [min, max].
func hashIncrByFloat(h *dict[string], field string, f, min, max float64) (string, error) {
	var cur *big.Float
	if old, ok := h.get(field); ok {
		if cur, ok = parseLongDouble(old); !ok {
			return "", ErrHashNotFloat
		}
	}
	v, ok := incrLongDouble(cur, f)
	if !ok {
		return "", ErrIncrNaNInf
	}
	if err := checkFloatRange(v, min, max); err != nil {
		return "", err
	}
	h.set(field, v)
	return v, nil
}

// HIncrByMany adds ns[i] to fields[i] of the hash at key for every i, as
// HINCRBY commands queued in one MULTI do: all of them run, atomically, and
// one that fails (a field that is not an integer, an overflow) leaves the
// others applied. It returns the new values and the first error. The key
// then gets expiry ttl.
func (s *Store) HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindHash, true)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(fields))
	var first error
	for i, f := range fields {
		v, err := hashIncrBy(e.hash, f, ns[i], math.MinInt64, math.MaxInt64)
		if err != nil && first == nil {
			first = err
		}
		out[i] = v
	}
	if e.hash.len() == 0 {
		sh.remove(e) // no fields: Redis would not have created the hash
	} else {
		sh.wrote(e, ttl, now)
	}
	return out, first
}

// dropEmpty deletes e, a hash that a failed command created, when it has
// no fields: Redis would not have created it.
func (sh *shard) dropEmpty(e *entry) {
	if e.hash.len() == 0 {
		sh.remove(e)
	}
}

package memstore

import (
	"context"
	"math"
	"time"

	"github.com/gocaches/caches/internal/unixms"
)

// Del deletes keys, as DEL does, and returns how many of them existed. It
// locks every shard involved, so it is atomic.
func (s *Store) Del(ctx context.Context, keys ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, wrongArgs("del")
	}
	idx := s.shardIndexes(keys)
	s.lock(idx)
	defer s.unlock(idx)
	now := s.nowMs()
	var n int64
	for _, k := range keys {
		sh := s.shard(k)
		if e := sh.lookupWrite(k, now); e != nil {
			sh.remove(e)
			n++
		}
	}
	return n, nil
}

// Exists reports whether key exists, as EXISTS does for one key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	return s.get(sh, key) != nil, nil
}

// PTTL returns key's remaining time to live with millisecond resolution, as
// PTTL does: ok is false when the key does not exist, and ttl is -1 when it
// has no expiry.
func (s *Store) PTTL(ctx context.Context, key string) (ttl time.Duration, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return 0, false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	now := s.nowMs()
	e := sh.lookupAt(key, now)
	switch {
	case e == nil:
		return 0, false, nil
	case e.heapIndex < 0:
		return -1, true, nil
	}
	return remaining(e.deadline, now), true, nil
}

// remaining returns the time from now to deadline (unix ms, not before
// now) as PTTL reports it: the largest Duration for a time that a Duration
// cannot hold to the millisecond (about 292 years), where Redis's PTTL
// would count the milliseconds up to the year 292 million.
func remaining(deadline, now int64) time.Duration {
	ms := deadline - now
	if ms < 0 || ms >= math.MaxInt64/int64(time.Millisecond) { // < 0: the subtraction overflowed
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// PExpire sets key's time to live, as PEXPIRE does, and reports whether the
// key exists. A ttl that is not positive (after truncation to whole
// milliseconds; under 1ms counts as 1ms) deletes the key.
func (s *Store) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	return sh.expireAt(key, now, now+durationMs(ttl)), nil
}

// PExpireAt sets key's expiry to the millisecond at, as PEXPIREAT does, and
// reports whether the key exists. A time not in the future deletes the key;
// a time beyond the int64 range of Unix milliseconds (292 million years from
// 1970) counts as the end of that range.
func (s *Store) PExpireAt(ctx context.Context, key string, at time.Time) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.expireAt(key, s.nowMs(), unixms.Of(at)), nil
}

// expireAt makes key expire after deadline (unix ms), deleting it when the
// deadline is not after now, and reports whether the key exists.
func (sh *shard) expireAt(key string, now, deadline int64) bool {
	e := sh.lookupWrite(key, now)
	switch {
	case e == nil:
		return false
	case deadline <= now:
		sh.remove(e)
	default:
		sh.setDeadline(e, deadline)
		sh.changed()
	}
	return true
}

// Persist removes key's expiry, as PERSIST does, and reports whether it had
// one.
func (s *Store) Persist(ctx context.Context, key string) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookupWrite(key, s.nowMs())
	if e == nil || !sh.clearDeadline(e) {
		return false, nil
	}
	sh.changed()
	return true, nil
}

// defaultDeleteBatch is how many keys DeleteMatching deletes per lock when
// the caller's batch is not positive.
const defaultDeleteBatch = 1000

// DeleteMatching deletes every key matching the glob pattern match, with
// the syntax and semantics of SCAN … MATCH (see globMatch and scanMatch),
// that want accepts (every matching key when want is nil), and returns how
// many it deleted, as SCAN MATCH COUNT batch followed by UNLINK of the
// wanted keys of each page does on Redis. want is called under a shard's
// read lock and must not call the store. It visits the shards one at a time:
// it lists a shard's matching keys under the read lock, then deletes them
// under the write lock at most batch at a time (batch <= 0 means 1000), so
// that a writer waits for one batch at most. Keys found expired are
// reclaimed but not counted, and keys written meanwhile may or may not be
// deleted. Once ctx is done it stops between batches and returns the count
// so far with ctx's error.
func (s *Store) DeleteMatching(ctx context.Context, match string, want func(key string) bool, batch int64) (deleted int64, err error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if batch <= 0 {
		batch = defaultDeleteBatch
	}
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		keys := sh.matching(match, want)
		sh.mu.RUnlock(rs)
		for len(keys) > 0 {
			if err := s.enter(ctx); err != nil {
				return deleted, err
			}
			n := min(int64(len(keys)), batch)
			sh.mu.Lock()
			deleted += sh.deleteKeys(keys[:n], s.nowMs())
			sh.mu.Unlock()
			keys = keys[n:]
		}
	}
	return deleted, nil
}

// matching returns the shard's keys that SCAN MATCH pattern would return
// and want accepts (all of them when want is nil), including expired ones.
// The caller holds mu, for reading at least.
func (sh *shard) matching(pattern string, want func(string) bool) []string {
	var keys []string
	for k := range sh.items {
		if scanMatch(pattern, k) && (want == nil || want(k)) {
			keys = append(keys, k)
		}
	}
	return keys
}

// deleteKeys deletes those of keys that exist at now and returns how many
// it deleted; it reclaims expired ones without counting them. The caller
// holds mu for writing.
func (sh *shard) deleteKeys(keys []string, now int64) int64 {
	var n int64
	for _, k := range keys {
		if e := sh.lookupWrite(k, now); e != nil {
			sh.remove(e)
			n++
		}
	}
	return n
}

package memstore

import (
	"context"
	"time"
)

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
		v, err := hashIncrBy(e.hash, f, ns[i])
		if err != nil && first == nil {
			first = err
		}
		out[i] = v
	}
	sh.removeIfEmpty(e)
	if e.hash.len() > 0 {
		sh.applyTTL(e, ttl, now)
	}
	return out, first
}

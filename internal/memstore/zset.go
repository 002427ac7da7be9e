package memstore

import (
	"context"
	"math"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// zset is a sorted set: a skiplist ordered by (score, member) for ranks and
// ranges plus a map from member to score, as Redis keeps it.
type zset struct {
	scores map[string]float64
	zsl    *skiplist
	// bytes is the total length of the members.
	bytes int
}

func newZSet() *zset {
	return &zset{scores: make(map[string]float64), zsl: newSkiplist()}
}

// len returns the number of members.
func (z *zset) len() int { return len(z.scores) }

// ZAdd adds members with their scores to the sorted set at key, as ZADD
// [NX|XX] does, and returns how many were added: mode ZAddUpsert adds or
// updates, ZAddNX only adds and ZAddXX only updates (and never creates the
// key). A NaN score is rejected, and -0 is stored as 0 as Redis does for
// small sorted sets. The key then gets expiry ttl.
func (s *Store) ZAdd(ctx context.Context, key string, ttl time.Duration, mode backend.ZAddMode, members ...backend.Z) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	switch {
	case mode > backend.ZAddXX:
		return 0, ErrSyntax
	case len(members) == 0:
		return 0, wrongArgs("zadd")
	}
	for _, m := range members {
		if math.IsNaN(m.Score) {
			return 0, ErrNotFloat
		}
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindZSet, mode != backend.ZAddXX)
	if e == nil {
		return 0, err
	}
	var added int64
	for _, m := range members {
		if zsetAdd(e.zset, m.Member, m.Score, mode) {
			added++
		}
	}
	sh.wrote(e, ttl, now)
	return added, nil
}

// ZIncrBy adds incr to member's score in the sorted set at key, as ZINCRBY
// does, and returns the new score; a missing member starts at 0. The key
// then gets expiry ttl.
func (s *Store) ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if math.IsNaN(incr) {
		return 0, ErrNotFloat
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindZSet, true)
	if err != nil {
		return 0, err
	}
	v, err := zsetIncrBy(e.zset, member, incr)
	if err != nil {
		return 0, err
	}
	sh.wrote(e, ttl, now)
	return v, nil
}

// ZScore returns member's score in the sorted set at key, as ZSCORE does.
func (s *Store) ZScore(ctx context.Context, key, member string) (score float64, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return 0, false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if e == nil {
		return 0, false, err
	}
	score, ok = e.zset.scores[member]
	return score, ok, nil
}

// ZRank returns member's 0-based rank in the sorted set at key, by
// ascending score as ZRANK does, or by descending score as ZREVRANK does
// when reverse is set.
func (s *Store) ZRank(ctx context.Context, key, member string, reverse bool) (rank int64, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return 0, false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if e == nil {
		return 0, false, err
	}
	r, ok := zsetRank(e.zset, member, reverse)
	return int64(r), ok, nil
}

// ZRem removes members from the sorted set at key, as ZREM does, and
// returns how many existed. A sorted set left empty is deleted.
func (s *Store) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(members) == 0 {
		return 0, wrongArgs("zrem")
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindZSet, false)
	if e == nil {
		return 0, err
	}
	var n int64
	for _, m := range members {
		if zsetRem(e.zset, m) {
			n++
		}
	}
	sh.removedFrom(e)
	return n, nil
}

// ZCard returns the number of members of the sorted set at key, as ZCARD
// does.
func (s *Store) ZCard(ctx context.Context, key string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if e == nil {
		return 0, err
	}
	return int64(e.zset.len()), nil
}

// ZPop removes and returns up to count members with the lowest scores, as
// ZPOPMIN with a count does, or with the highest scores, as ZPOPMAX does,
// when max is set. A negative count is an error; a sorted set left empty is
// deleted.
func (s *Store) ZPop(ctx context.Context, key string, count int64, max bool) ([]backend.Z, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, ErrNotPositive
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindZSet, false)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []backend.Z{}, nil
	}
	out := zsetPop(e.zset, int(min(count, int64(e.zset.len()))), max)
	sh.removedFrom(e)
	return out, nil
}

// ZRange returns the members ranked start to stop (inclusive, negative
// counting from the end) with their scores, as ZRANGE … [REV] WITHSCORES
// does; reverse ranks by descending score.
func (s *Store) ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]backend.Z, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []backend.Z{}, nil
	}
	return zsetRange(e.zset, start, stop, reverse), nil
}

// ZRangeByScore returns the members with min <= score <= max (bounds in
// Redis syntax, "(" making one exclusive) with their scores, in ascending
// order or descending when reverse is set, skipping offset members and
// returning at most count (all when count < 0), as ZRANGE key min max
// BYSCORE LIMIT offset count WITHSCORES does (ZRANGE key max min BYSCORE
// REV … when reverse is set). A negative offset returns nothing.
func (s *Store) ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]backend.Z, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	r, err := parseScoreRange(min, max)
	if err != nil {
		return nil, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []backend.Z{}, nil
	}
	return zsetRangeByScore(e.zset, r, reverse, offset, count), nil
}

// ZCount returns how many members of the sorted set at key have a score
// between min and max (Redis syntax), as ZCOUNT does, in O(log n).
func (s *Store) ZCount(ctx context.Context, key, min, max string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	r, err := parseScoreRange(min, max)
	if err != nil {
		return 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindZSet)
	if e == nil {
		return 0, err
	}
	return int64(zsetCount(e.zset, r)), nil
}

// ZRemRangeByRank removes the members ranked start to stop (inclusive,
// negative counting from the end), as ZREMRANGEBYRANK does, and returns how
// many it removed. A sorted set left empty is deleted.
func (s *Store) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindZSet, false)
	if e == nil {
		return 0, err
	}
	lo, hi, ok := rankRange(start, stop, e.zset.len())
	if !ok {
		return 0, nil
	}
	n := e.zset.zsl.deleteRangeByRank(lo+1, hi+1, e.zset.forget)
	sh.removedFrom(e)
	return int64(n), nil
}

// ZRemRangeByScore removes the members with a score between min and max
// (Redis syntax), as ZREMRANGEBYSCORE does, and returns how many it
// removed. A sorted set left empty is deleted.
func (s *Store) ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	r, err := parseScoreRange(min, max)
	if err != nil {
		return 0, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindZSet, false)
	if e == nil {
		return 0, err
	}
	n := e.zset.zsl.deleteRangeByScore(r, e.zset.forget)
	sh.removedFrom(e)
	return int64(n), nil
}

// forget drops member from z's score map after the skiplist removed it.
func (z *zset) forget(member string) {
	delete(z.scores, member)
	z.bytes -= len(member)
}

// zsetAdd adds or updates member with score under mode and reports whether
// it was added.
func zsetAdd(z *zset, member string, score float64, mode backend.ZAddMode) bool {
	if score == 0 {
		// Redis's compact encoding of small sorted sets stores -0 as 0.
		score = 0
	}
	cur, exists := z.scores[member]
	switch {
	case exists && mode != backend.ZAddNX && cur != score:
		z.zsl.updateScore(cur, member, score)
		z.scores[member] = score
	case !exists && mode != backend.ZAddXX:
		z.zsl.insert(score, member)
		z.scores[member] = score
		z.bytes += len(member)
		return true
	}
	return false
}

// zsetIncrBy adds incr to member's score, a missing member starting at 0,
// and returns the new score.
func zsetIncrBy(z *zset, member string, incr float64) (float64, error) {
	cur, exists := z.scores[member]
	v := cur + incr
	if math.IsNaN(v) {
		return 0, ErrScoreNaN
	}
	if exists {
		zsetAdd(z, member, v, backend.ZAddXX)
	} else {
		zsetAdd(z, member, v, backend.ZAddNX)
	}
	return v, nil
}

// zsetRem removes member and reports whether it existed.
func zsetRem(z *zset, member string) bool {
	score, ok := z.scores[member]
	if ok {
		z.zsl.delete(score, member)
		z.forget(member)
	}
	return ok
}

// zsetRank returns member's 0-based rank, counted from the highest score
// when reverse is set.
func zsetRank(z *zset, member string, reverse bool) (int, bool) {
	score, ok := z.scores[member]
	if !ok {
		return 0, false
	}
	r := z.zsl.rank(score, member)
	if reverse {
		return z.len() - r, true
	}
	return r - 1, true
}

// zsetPop removes and returns the n members with the lowest scores, or
// the highest when max is set.
func zsetPop(z *zset, n int, max bool) []backend.Z {
	out := make([]backend.Z, 0, n)
	for range n {
		x := z.zsl.header.level[0].forward
		if max {
			x = z.zsl.tail
		}
		out = append(out, backend.Z{Member: x.member, Score: x.score})
		zsetRem(z, x.member)
	}
	return out
}

// rankRange turns ZRANGE's start and stop (inclusive, negative counting
// from the end) into 0-based indexes within a set of n members, clamped as
// Redis does; ok is false when the range is empty.
func rankRange(start, stop int64, n int) (lo, hi int, ok bool) {
	l := int64(n)
	if start < 0 {
		start += l
	}
	if stop < 0 {
		stop += l
	}
	start = max(start, 0)
	if start > stop || start >= l {
		return 0, 0, false
	}
	return int(start), int(min(stop, l-1)), true
}

// zsetRange returns the members ranked start to stop with their scores,
// ranked from the highest score when reverse is set.
func zsetRange(z *zset, start, stop int64, reverse bool) []backend.Z {
	lo, hi, ok := rankRange(start, stop, z.len())
	if !ok {
		return []backend.Z{}
	}
	n := hi - lo + 1
	out := make([]backend.Z, 0, n)
	if reverse {
		for x := z.zsl.byRank(z.len() - lo); len(out) < n; x = x.backward {
			out = append(out, backend.Z{Member: x.member, Score: x.score})
		}
	} else {
		for x := z.zsl.byRank(lo + 1); len(out) < n; x = x.level[0].forward {
			out = append(out, backend.Z{Member: x.member, Score: x.score})
		}
	}
	return out
}

// zsetRangeByScore returns the members in r with their scores, ascending
// or descending when reverse is set, skipping offset and returning at most
// count (all when count < 0). It finds the first member by rank, in
// O(log n + returned).
func zsetRangeByScore(z *zset, r scoreRange, reverse bool, offset, count int64) []backend.Z {
	out := []backend.Z{}
	if offset < 0 || offset >= int64(z.len()) || count == 0 {
		return out
	}
	var x *zslNode
	var rank int
	if reverse {
		x, rank = z.zsl.last(r)
		rank -= int(offset)
	} else {
		x, rank = z.zsl.first(r)
		rank += int(offset)
	}
	if x != nil && offset > 0 {
		x = z.zsl.byRank(rank)
	}
	for n := int64(0); x != nil && (count < 0 || n < count) && r.aboveMin(x.score) && r.belowMax(x.score); n++ {
		out = append(out, backend.Z{Member: x.member, Score: x.score})
		if reverse {
			x = x.backward
		} else {
			x = x.level[0].forward
		}
	}
	return out
}

// zsetCount returns how many members have a score in r, from the ranks of
// the first and last of them.
func zsetCount(z *zset, r scoreRange) int {
	_, first := z.zsl.first(r)
	if first == 0 {
		return 0
	}
	_, last := z.zsl.last(r)
	return last - first + 1
}

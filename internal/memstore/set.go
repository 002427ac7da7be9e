package memstore

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// SAdd adds members to the set at key, as SADD does, and returns how many
// were new. The key then gets expiry ttl.
func (s *Store) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(members) == 0 {
		return 0, wrongArgs("sadd")
	}
	sh := s.shard(key)
	defer s.evict(key) // runs after the unlock
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.nowMs()
	e, err := sh.writeEntry(key, now, kindSet, true)
	if err != nil {
		return 0, err
	}
	added := setAdd(e.set, members)
	sh.wrote(e, ttl, now)
	return added, nil
}

// SRem removes members from the set at key, as SREM does, and returns how
// many existed. A set left empty is deleted.
func (s *Store) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(members) == 0 {
		return 0, wrongArgs("srem")
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindSet, false)
	if e == nil {
		return 0, err
	}
	n := setRem(e.set, members)
	sh.removedFrom(e)
	return n, nil
}

// SIsMember reports whether member is in the set at key, as SISMEMBER does.
func (s *Store) SIsMember(ctx context.Context, key, member string) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	if e == nil {
		return false, err
	}
	return e.set.has(member), nil
}

// SMIsMember reports for each of members whether it is in the set at key,
// as SMISMEMBER does.
func (s *Store) SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, wrongArgs("smismember")
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(members))
	if e != nil {
		for i, m := range members {
			out[i] = e.set.has(m)
		}
	}
	return out, nil
}

// SCard returns the number of members of the set at key, as SCARD does.
func (s *Store) SCard(ctx context.Context, key string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	if e == nil {
		return 0, err
	}
	return int64(e.set.len()), nil
}

// SPop removes and returns up to count random distinct members of the set
// at key, as SPOP with a count does. A negative count is an error; a set
// left empty is deleted.
func (s *Store) SPop(ctx context.Context, key string, count int64) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, ErrNotPositive
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := sh.writeEntry(key, s.nowMs(), kindSet, false)
	if err != nil {
		return nil, err
	}
	if e == nil || count == 0 {
		return []string{}, nil
	}
	out := setPop(e.set, count)
	sh.removedFrom(e)
	return out, nil
}

// SRandMember returns random members of the set at key without removing
// them, as SRANDMEMBER with a count does: for count > 0 up to count
// distinct members, for count < 0 exactly -count members that may repeat.
func (s *Store) SRandMember(ctx context.Context, key string, count int64) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	if count == math.MinInt64 {
		return nil, ErrCountRange
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	switch {
	case err != nil:
		return nil, err
	case e == nil || count == 0:
		return []string{}, nil
	case count < 0:
		return setRandomRepeat(e.set, int(-count)), nil
	}
	return setRandomDistinct(e.set, int(min(count, int64(e.set.len())))), nil
}

// SScan returns members of the set at key from cursor on, about count of
// them (10 when count <= 0), and the cursor to continue from, 0 when the
// scan is complete, as SSCAN does. A member present for the whole scan is
// returned exactly once.
func (s *Store) SScan(ctx context.Context, key string, cursor uint64, count int64) (members []string, next uint64, err error) {
	if err := s.enter(ctx); err != nil {
		return nil, 0, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	if err != nil {
		return nil, 0, err
	}
	members = []string{}
	if e == nil {
		return members, 0, nil
	}
	next = e.set.scan(cursor, scanCount(count), func(m string, _ struct{}) {
		members = append(members, m)
	})
	return members, next, nil
}

// SScanInstance is SScan that also returns the instance that served the
// page: always the same, as for [Store.HScanInstance].
func (s *Store) SScanInstance(ctx context.Context, key string, cursor uint64, count int64) (members []string, next uint64, instance string, err error) {
	members, next, err = s.SScan(ctx, key, cursor, count)
	return members, next, storeInstance, err
}

// SMembers returns the members of the set at key in insertion order, as
// SMEMBERS does.
func (s *Store) SMembers(ctx context.Context, key string) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	rs := sh.mu.RLock()
	defer sh.mu.RUnlock(rs)
	e, err := s.readEntry(sh, key, kindSet)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []string{}, nil
	}
	return setMembers(e.set), nil
}

// SCombine returns the union, intersection or difference (op) of the sets
// at keys, as SUNION, SINTER and SDIFF do; a missing
// key counts as an empty set. It read-locks every shard involved, so it is
// atomic.
func (s *Store) SCombine(ctx context.Context, op backend.SetOp, keys ...string) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, wrongArgs(strings.ToLower(op.String()))
	}
	idx := s.shardIndexes(keys)
	slots := s.rlock(idx)
	defer s.runlock(idx, slots)
	sets, err := s.readSets(keys, s.nowMs())
	if err != nil {
		return nil, err
	}
	return setMembers(setCombine(op, sets)), nil
}

// SCombineStore stores the result of SCombine(op, keys) at dest, as
// SUNIONSTORE, SINTERSTORE and SDIFFSTORE do, and returns its size. Whatever
// dest held is replaced; an empty result deletes dest, and a non-empty one
// gets expiry ttl. It locks every shard involved, so it is atomic.
func (s *Store) SCombineStore(ctx context.Context, op backend.SetOp, dest string, ttl time.Duration, keys ...string) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, wrongArgs(strings.ToLower(op.String()) + "store")
	}
	idx := s.shardIndexes(append([]string{dest}, keys...))
	defer s.evict(dest) // runs after the unlock
	s.lock(idx)
	defer s.unlock(idx)
	now := s.nowMs()
	sets, err := s.readSets(keys, now)
	if err != nil {
		return 0, err
	}
	result := setCombine(op, sets)
	sh := s.shard(dest)
	if old := sh.lookupWrite(dest, now); old != nil {
		sh.remove(old)
	}
	if result.len() == 0 {
		return 0, nil
	}
	e := newEntry(dest, kindSet)
	e.set = result
	sh.add(e)
	sh.wrote(e, ttl, now)
	return int64(result.len()), nil
}

// readSets returns the sets at keys as of now, nil for a missing key, or
// ErrWrongType if any key holds another type. The caller holds the locks of
// the keys' shards.
func (s *Store) readSets(keys []string, now int64) ([]*dict[struct{}], error) {
	sets := make([]*dict[struct{}], len(keys))
	for i, k := range keys {
		e := s.shard(k).lookupAt(k, now)
		switch {
		case e == nil:
		case e.kind != kindSet:
			return nil, ErrWrongType
		default:
			s.bound.touch(e)
			sets[i] = e.set
		}
	}
	return sets, nil
}

// setAdd adds members to d and returns how many were new.
func setAdd(d *dict[struct{}], members []string) int64 {
	var n int64
	for _, m := range members {
		if d.set(m, struct{}{}) {
			n++
		}
	}
	return n
}

// setRem removes members from d and returns how many existed.
func setRem(d *dict[struct{}], members []string) int64 {
	var n int64
	for _, m := range members {
		if _, ok := d.del(m); ok {
			n++
		}
	}
	return n
}

// setMembers returns d's members in insertion order.
func setMembers(d *dict[struct{}]) []string {
	out := make([]string, 0, d.len())
	for m := range d.all() {
		out = append(out, m)
	}
	return out
}

// setPop removes and returns up to count random members of d, all of them
// (in insertion order) when count covers the set.
func setPop(d *dict[struct{}], count int64) []string {
	if count >= int64(d.len()) {
		out := setMembers(d)
		setRem(d, out)
		return out
	}
	out := make([]string, count)
	for i := range out {
		out[i] = d.slots[d.randomSlot()].key
		d.del(out[i])
	}
	return out
}

// setRandomRepeat returns n members of the non-empty d drawn independently,
// so they may repeat.
func setRandomRepeat(d *dict[struct{}], n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = d.slots[d.randomSlot()].key
	}
	return out
}

// setRandomDistinct returns n distinct random members of d, n <= d.len():
// by rejection sampling when n is at most half the set, otherwise by a
// partial shuffle of all members.
func setRandomDistinct(d *dict[struct{}], n int) []string {
	if 2*n > d.len() {
		all := setMembers(d)
		for i := range n {
			j := i + rand.IntN(len(all)-i)
			all[i], all[j] = all[j], all[i]
		}
		return all[:n]
	}
	out := make([]string, 0, n)
	picked := make(map[int]struct{}, n)
	for len(out) < n {
		i := d.randomSlot()
		if _, dup := picked[i]; !dup {
			picked[i] = struct{}{}
			out = append(out, d.slots[i].key)
		}
	}
	return out
}

// setCombine returns the union, intersection or difference of sets, where
// nil stands for an empty set, as a new dict.
func setCombine(op backend.SetOp, sets []*dict[struct{}]) *dict[struct{}] {
	out := newDict[struct{}]()
	switch op {
	case backend.Union:
		for _, d := range sets {
			if d == nil {
				continue
			}
			for m := range d.all() {
				out.set(m, struct{}{})
			}
		}
	case backend.Inter:
		if slices.Contains(sets, nil) {
			return out
		}
		smallest := slices.MinFunc(sets, func(a, b *dict[struct{}]) int { return a.len() - b.len() })
		for m := range smallest.all() {
			if !slices.ContainsFunc(sets, func(d *dict[struct{}]) bool { return !d.has(m) }) {
				out.set(m, struct{}{})
			}
		}
	case backend.Diff:
		if sets[0] == nil {
			return out
		}
		for m := range sets[0].all() {
			if !slices.ContainsFunc(sets[1:], func(d *dict[struct{}]) bool { return d != nil && d.has(m) }) {
				out.set(m, struct{}{})
			}
		}
	}
	return out
}

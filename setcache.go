package caches

import (
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/gocaches/caches/internal/backend"
)

// SetCache is a family of sets, each stored in one Redis set of members of
// type T. Make a handle per key with [SetCache.Key]:
//
//	var online = caches.NewSetCache[int64](caches.Options{Prefix: "online"})
//	added, err := online.Key("eu").Add(ctx, userID)   // SADD online:eu 42
//
// A SetCache is safe for concurrent use.
type SetCache[T comparable] struct {
	*family
	members valueCodec[T]
	loads   flightGroup[[]T] // MembersOrLoad and HasOrLoad loads in flight, by key
}

// NewSetCache returns a family of sets configured by opts. The connection is
// resolved at first use.
func NewSetCache[T comparable](opts Options) *SetCache[T] {
	c := &SetCache[T]{family: newFamily(opts), members: newValueCodec[T](opts.Codec)}
	c.loads.init(c.family)
	return c
}

// Key returns the handle of the set whose key is made of the family's prefix
// and args.
func (c *SetCache[T]) Key(args ...any) Set[T] {
	return Set[T]{handle: newHandle(c.family, args), c: c}
}

// Set is one set of a [SetCache]: one Redis set. Every write refreshes the
// whole set's TTL atomically with the write; removals leave it alone. A set
// whose last member is removed no longer exists, as in Redis.
type Set[T comparable] struct {
	handle
	c *SetCache[T]
}

func (s Set[T]) encode(members []T) ([]string, error) {
	out := make([]string, len(members))
	for i, m := range members {
		var err error
		if out[i], err = s.c.members.encode(m); err != nil {
			return nil, keyErr("encode member", s.key, err)
		}
	}
	return out, nil
}

func (s Set[T]) decode(raw []string) ([]T, error) {
	out := make([]T, len(raw))
	for i, r := range raw {
		var err error
		if out[i], err = s.decodeOne(r); err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

func (s Set[T]) decodeOne(r string) (T, error) {
	m, err := s.c.members.decode(r)
	if err != nil {
		return m, &DecodeError{Key: s.key, Field: r, Type: s.c.members.typeName, Err: err}
	}
	return m, nil
}

// prepare returns the backend and the encoded members.
func (s Set[T]) prepare(ctx context.Context, members []T) (backend.Backend, []string, error) {
	b, err := s.backend(ctx)
	if err != nil {
		return nil, nil, err
	}
	enc, err := s.encode(members)
	return b, enc, err
}

// Add adds members and returns how many were not already in the set.
// Redis: SADD and PEXPIRE in one Lua script.
func (s Set[T]) Add(ctx context.Context, members ...T) (_ int, err error) {
	ctx, o := s.f.begin(ctx, "Add")
	defer o.counted(ctx, &s.f.stats.sets, &err)
	if len(members) == 0 {
		return 0, nil
	}
	b, enc, err := s.prepare(ctx, members)
	if err != nil {
		return 0, err
	}
	n, err := b.SAdd(ctx, s.key, s.f.writeTTL(), enc...)
	return int(n), keyErr("add", s.key, err)
}

// Remove removes member, which must be in the set: an absent member returns
// an error wrapping [ErrNotFound] (use [Set.Discard] to ignore it).
// Redis: SREM.
func (s Set[T]) Remove(ctx context.Context, member T) error {
	n, err := s.Discard(ctx, member)
	if err == nil && n == 0 {
		return fmt.Errorf("caches: remove from %q: member %v: %w", s.key, member, ErrNotFound)
	}
	return err
}

// Discard removes the members that are in the set and returns how many
// were. Redis: SREM.
func (s Set[T]) Discard(ctx context.Context, members ...T) (_ int, err error) {
	ctx, o := s.f.begin(ctx, "Discard")
	defer o.counted(ctx, &s.f.stats.deletes, &err)
	if len(members) == 0 {
		return 0, nil
	}
	b, enc, err := s.prepare(ctx, members)
	if err != nil {
		return 0, err
	}
	n, err := b.SRem(ctx, s.key, enc...)
	return int(n), keyErr("remove", s.key, err)
}

// Has reports whether member is in the set. Redis: SISMEMBER.
func (s Set[T]) Has(ctx context.Context, member T) (ok bool, err error) {
	ctx, o := s.f.begin(ctx, "Has")
	defer func() { o.countRead(ctx, ok, err) }()
	b, enc, err := s.prepare(ctx, []T{member})
	if err != nil {
		return false, err
	}
	ok, err = b.SIsMember(ctx, s.key, enc[0])
	return ok, keyErr("has", s.key, err)
}

// HasMany reports, for each of members in order, whether it is in the set,
// in one round trip. Redis: SMISMEMBER.
func (s Set[T]) HasMany(ctx context.Context, members ...T) (oks []bool, err error) {
	ctx, o := s.f.begin(ctx, "HasMany")
	defer func() { o.countRead(ctx, slices.Contains(oks, true), err) }()
	if len(members) == 0 {
		return nil, nil
	}
	b, enc, err := s.prepare(ctx, members)
	if err != nil {
		return nil, err
	}
	oks, err = b.SMIsMember(ctx, s.key, enc...)
	return oks, keyErr("has", s.key, err)
}

// Len returns the number of members; 0 for a missing set. Redis: SCARD.
func (s Set[T]) Len(ctx context.Context) (n int, err error) {
	ctx, o := s.f.begin(ctx, "Len")
	defer func() { o.countRead(ctx, n > 0, err) }()
	b, err := s.backend(ctx)
	if err != nil {
		return 0, err
	}
	l, err := b.SCard(ctx, s.key)
	return int(l), keyErr("len", s.key, err)
}

// Pop removes and returns a random member; an empty set returns
// [ErrNotFound]. Redis: SPOP.
func (s Set[T]) Pop(ctx context.Context) (T, error) {
	var zero T
	ms, err := s.PopN(ctx, 1)
	if err != nil {
		return zero, err
	}
	if len(ms) == 0 {
		return zero, ErrNotFound
	}
	return ms[0], nil
}

// PopN removes and returns up to n random members. Redis: SPOP with count.
func (s Set[T]) PopN(ctx context.Context, n int) (out []T, err error) {
	ctx, o := s.f.begin(ctx, "PopN")
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	if n <= 0 {
		return nil, nil
	}
	b, err := s.backend(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := b.SPop(ctx, s.key, int64(n))
	if err != nil {
		return nil, keyErr("pop", s.key, err)
	}
	return s.decode(raw)
}

// Random returns up to n distinct random members without removing them.
// Redis: SRANDMEMBER with a positive count.
func (s Set[T]) Random(ctx context.Context, n int) (out []T, err error) {
	ctx, o := s.f.begin(ctx, "Random")
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	if n <= 0 {
		return nil, nil
	}
	b, err := s.backend(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := b.SRandMember(ctx, s.key, int64(n))
	if err != nil {
		return nil, keyErr("random", s.key, err)
	}
	return s.decode(raw)
}

// All iterates over the members without loading the whole set: it asks
// Redis for pages with SSCAN. The order is unspecified. A member present for
// the whole iteration is yielded once; members added or removed meanwhile
// may or may not be. A backend error is yielded once and ends the
// iteration; a member that cannot be decoded is yielded as a
// [*DecodeError]. Each call starts a new scan. A set that one page does not
// hold is scanned with pages that also read the server's run_id, and an
// iteration whose pages come from two server instances (a restart, a
// failover, a moved cluster slot) ends with an error wrapping
// [ErrIterationBroken]; see [Dict.All].
func (s Set[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		ctx, o := s.f.begin(ctx, "All")
		yield, end := countIteration(ctx, &o, yield)
		defer end()
		for page, err := range scanPages(ctx, s.handle, "scan", sscan) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, r := range page {
				if !yield(s.decodeOne(r)) {
					return
				}
			}
		}
	}
}

// Members returns every member, in one round trip; a missing set gives an
// empty slice. For large sets prefer [Set.All]. Redis: SMEMBERS.
func (s Set[T]) Members(ctx context.Context) (out []T, err error) {
	ctx, o := s.f.begin(ctx, "Members")
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	b, err := s.backend(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := b.SMembers(ctx, s.key)
	if err != nil {
		return nil, keyErr("members", s.key, err)
	}
	return s.decode(raw)
}

// Union returns the members of s or any of others, computed by the server.
// Every set must be on the connection of s; on Redis Cluster they must also
// share a slot (see [Options.HashTag]). Redis: SUNION.
func (s Set[T]) Union(ctx context.Context, others ...Set[T]) ([]T, error) {
	return s.combine(ctx, "Union", backend.Union, others)
}

// Intersect returns the members of s that are in every one of others.
// Redis: SINTER.
func (s Set[T]) Intersect(ctx context.Context, others ...Set[T]) ([]T, error) {
	return s.combine(ctx, "Intersect", backend.Inter, others)
}

// Difference returns the members of s that are in none of others. Redis:
// SDIFF.
func (s Set[T]) Difference(ctx context.Context, others ...Set[T]) ([]T, error) {
	return s.combine(ctx, "Difference", backend.Diff, others)
}

func (s Set[T]) combine(ctx context.Context, name string, op backend.SetOp, others []Set[T]) (out []T, err error) {
	ctx, o := s.f.begin(ctx, name)
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	b, keys, err := s.sameConn(ctx, append([]Set[T]{s}, others...))
	if err != nil {
		return nil, err
	}
	raw, err := b.SCombine(ctx, op, keys...)
	if err != nil {
		return nil, keyErr(op.String(), s.key, err)
	}
	return s.decode(raw)
}

// StoreUnion replaces s by the union of sets and returns its size. s gets
// its family's TTL; an empty result deletes s. With no sets it returns an
// error naming s and changes nothing (as do StoreIntersect and
// StoreDifference). Redis: SUNIONSTORE and
// PEXPIRE in one Lua script.
func (s Set[T]) StoreUnion(ctx context.Context, sets ...Set[T]) (int, error) {
	return s.combineStore(ctx, "StoreUnion", backend.Union, sets)
}

// StoreIntersect replaces s by the intersection of sets and returns its
// size. Redis: SINTERSTORE and PEXPIRE in one Lua script.
func (s Set[T]) StoreIntersect(ctx context.Context, sets ...Set[T]) (int, error) {
	return s.combineStore(ctx, "StoreIntersect", backend.Inter, sets)
}

// StoreDifference replaces s by the members of the first of sets that are
// in none of the others, and returns its size. Redis: SDIFFSTORE and
// PEXPIRE in one Lua script.
func (s Set[T]) StoreDifference(ctx context.Context, sets ...Set[T]) (int, error) {
	return s.combineStore(ctx, "StoreDifference", backend.Diff, sets)
}

func (s Set[T]) combineStore(ctx context.Context, name string, op backend.SetOp, sets []Set[T]) (_ int, err error) {
	ctx, o := s.f.begin(ctx, name)
	defer o.counted(ctx, &s.f.stats.sets, &err)
	if len(sets) == 0 {
		return 0, fmt.Errorf("caches: %sSTORE into %q: needs at least one source set; nothing changed", op, s.key)
	}
	b, keys, err := s.sameConn(ctx, append([]Set[T]{s}, sets...))
	if err != nil {
		return 0, err
	}
	n, err := b.SCombineStore(ctx, op, s.key, s.f.writeTTL(), keys[1:]...)
	return int(n), keyErr(op.String()+"STORE", s.key, err)
}

// sameConn returns the sets' common backend and their keys, or an error
// naming the first set on another connection.
func (s Set[T]) sameConn(ctx context.Context, sets []Set[T]) (backend.Backend, []string, error) {
	b, err := s.backend(ctx)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, len(sets))
	for i, o := range sets {
		ob, err := o.backend(ctx)
		if err != nil {
			return nil, nil, err
		}
		if ob != b {
			return nil, nil, fmt.Errorf("caches: sets %q and %q are on different connections", s.key, o.key)
		}
		keys[i] = o.key
	}
	if err := checkSameSlot(b, keys); err != nil {
		return nil, nil, err
	}
	return b, keys, nil
}

// Clear deletes the whole set and reports whether it existed. Redis: DEL.
func (s Set[T]) Clear(ctx context.Context) (bool, error) { return s.clear(ctx) }

// checkSameSlot refuses keys on different cluster slots when the backend
// has slots (see [slotChecker]).
func checkSameSlot(b backend.Backend, keys []string) error {
	if sc, ok := b.(backend.SlotChecker); ok {
		return sc.CheckSameSlot(keys)
	}
	return nil
}

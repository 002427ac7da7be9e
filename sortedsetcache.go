package caches

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strconv"

	"github.com/gocaches/caches/internal/backend"
)

// SortedSetCache is a family of sorted sets, each stored in one Redis
// sorted set: members of type T, each with a float64 score. Members are
// ordered by score, and members with equal scores by their stored bytes, as
// Redis orders them. Make a handle per key with [SortedSetCache.Key]:
//
//	var board = caches.NewSortedSetCache[string](caches.Options{Prefix: "board"})
//	_, err := board.Key("2026").Add(ctx, "ada", 42)   // ZADD board:2026 42 ada
//
// A SortedSetCache is safe for concurrent use.
type SortedSetCache[T comparable] struct {
	*family
	members valueCodec[T]
	loads   flightGroup[[]Scored[T]] // RangeOrLoad loads in flight, by key
}

// NewSortedSetCache returns a family of sorted sets configured by opts. The
// connection is resolved at first use.
func NewSortedSetCache[T comparable](opts Options) *SortedSetCache[T] {
	c := &SortedSetCache[T]{family: newFamily(opts), members: newValueCodec[T](opts.Codec)}
	c.loads.init(c.family)
	return c
}

// Key returns the handle of the sorted set whose key is made of the family's
// prefix and args.
func (c *SortedSetCache[T]) Key(args ...any) SortedSet[T] {
	return SortedSet[T]{handle: newHandle(c.family, args), c: c}
}

// SortedSet is one sorted set of a [SortedSetCache]: one Redis sorted set.
// Every write refreshes the whole set's TTL atomically with the write;
// removals leave it alone. A sorted set whose last member is removed no
// longer exists, as in Redis. Ranks start at 0 for the lowest score.
type SortedSet[T comparable] struct {
	handle
	c *SortedSetCache[T]
}

// Scored is a member with its score.
type Scored[T any] struct {
	Member T       `json:"member"`
	Score  float64 `json:"score"`
}

// ScoreRange selects members by score: Min <= score <= Max, each end left
// out when its Exclusive flag is set, math.Inf for an open end. The zero
// value, ScoreRange{}, selects every score, as [AllScores] does: a range
// written without bounds means no bounds. To select exactly score 0, or
// bounds that come from variables and may both be zero, use [Scores],
// whose range always means what its arguments say.
type ScoreRange struct {
	Min, Max float64
	// MinExclusive and MaxExclusive leave out members whose score equals
	// Min or Max.
	MinExclusive, MaxExclusive bool

	exact bool // made by Scores: the bounds hold even when both are zero
}

// errNaNScore is refused before it reaches the backend: Redis rejects NaN
// scores, and not every Redis-compatible server does.
var errNaNScore = fmt.Errorf("%w: score is NaN", ErrNotNumber)

// AllScores is the [ScoreRange] of every score.
var AllScores = ScoreRange{Min: math.Inf(-1), Max: math.Inf(1)}

// Scores returns the inclusive range min <= score <= max, even when both
// are zero (Scores(0, 0) selects score 0 only). Set MinExclusive or
// MaxExclusive on the result to leave an end out.
func Scores(min, max float64) ScoreRange { return ScoreRange{Min: min, Max: max, exact: true} }

// bounds returns the range in Redis's syntax; the zero value is every
// score.
func (r ScoreRange) bounds() (min, max string) {
	if r == (ScoreRange{}) {
		return "-inf", "+inf"
	}
	return scoreBound(r.Min, r.MinExclusive), scoreBound(r.Max, r.MaxExclusive)
}

func scoreBound(f float64, exclusive bool) string {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = "+inf"
	case math.IsInf(f, -1):
		s = "-inf"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if exclusive {
		return "(" + s
	}
	return s
}

func (z SortedSet[T]) encode(member T) (string, error) {
	s, err := z.c.members.encode(member)
	if err != nil {
		return "", keyErr("encode member", z.key, err)
	}
	return s, nil
}

// decode decodes a reply of a range read or a pop; op names the operation
// in the error of a failed call.
func (z SortedSet[T]) decode(op string, zs []backend.Z, err error) ([]Scored[T], error) {
	if err != nil {
		return nil, keyErr(op, z.key, err)
	}
	out := make([]Scored[T], len(zs))
	for i, s := range zs {
		m, err := z.decodeMember(s.Member)
		if err != nil {
			return out[:i], err
		}
		out[i] = Scored[T]{Member: m, Score: s.Score}
	}
	return out, nil
}

func (z SortedSet[T]) decodeMember(r string) (T, error) {
	m, err := z.c.members.decode(r)
	if err != nil {
		return m, &DecodeError{Key: z.key, Field: r, Type: z.c.members.typeName, Err: err}
	}
	return m, nil
}

// prepare returns the backend and the encoded member.
func (z SortedSet[T]) prepare(ctx context.Context, member T) (backend.Backend, string, error) {
	b, err := z.backend(ctx)
	if err != nil {
		return nil, "", err
	}
	m, err := z.encode(member)
	return b, m, err
}

// Add sets member's score, adding the member if needed, and reports whether
// it was added. Redis: ZADD and PEXPIRE in one Lua script.
func (z SortedSet[T]) Add(ctx context.Context, member T, score float64) (bool, error) {
	n, err := z.zadd(ctx, "Add", backend.ZAddUpsert, []Scored[T]{{member, score}})
	return n == 1, err
}

// AddMany sets the scores of several members in one round trip and returns
// how many members were added. Redis: ZADD and PEXPIRE in one Lua script.
func (z SortedSet[T]) AddMany(ctx context.Context, members ...Scored[T]) (int, error) {
	return z.zadd(ctx, "AddMany", backend.ZAddUpsert, members)
}

// AddNew adds member with score only if it is not in the set, and reports
// whether it added it. Redis: ZADD NX.
func (z SortedSet[T]) AddNew(ctx context.Context, member T, score float64) (bool, error) {
	n, err := z.zadd(ctx, "AddNew", backend.ZAddNX, []Scored[T]{{member, score}})
	return n == 1, err
}

// Update sets member's score only if member is in the set; it never adds.
// Redis: ZADD XX.
func (z SortedSet[T]) Update(ctx context.Context, member T, score float64) error {
	_, err := z.zadd(ctx, "Update", backend.ZAddXX, []Scored[T]{{member, score}})
	return err
}

func (z SortedSet[T]) zadd(ctx context.Context, name string, mode backend.ZAddMode, in []Scored[T]) (_ int, err error) {
	ctx, o := z.f.begin(ctx, name)
	defer o.counted(ctx, &z.f.stats.sets, &err)
	if len(in) == 0 {
		return 0, nil
	}
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	members := make([]backend.Z, len(in))
	for i, s := range in {
		if math.IsNaN(s.Score) {
			return 0, keyErr("add", z.key, errNaNScore)
		}
		if members[i].Member, err = z.encode(s.Member); err != nil {
			return 0, err
		}
		members[i].Score = s.Score
	}
	n, err := b.ZAdd(ctx, z.key, z.f.writeTTL(), mode, members...)
	return int(n), keyErr("add", z.key, err)
}

// Incr adds by to member's score, adding the member with score by if
// needed, and returns the new score. Redis: ZINCRBY and PEXPIRE in one Lua script.
//
// A score is a float64, as in Redis: a sum beyond its range is ±Inf, a
// legal score that reads back as such. by must be finite: a NaN or infinite
// increment returns an error wrapping [ErrNotNumber] before anything is
// sent (an infinite score is set with [SortedSet.Add]), so no increment
// makes a score NaN.
func (z SortedSet[T]) Incr(ctx context.Context, member T, by float64) (_ float64, err error) {
	ctx, o := z.f.begin(ctx, "Incr")
	defer o.counted(ctx, &z.f.stats.sets, &err)
	if math.IsNaN(by) {
		return 0, keyErr("incr", z.key, errNaNScore)
	}
	if math.IsInf(by, 0) {
		return 0, keyErr("incr", z.key, fmt.Errorf("%w: increment is infinite", ErrNotNumber))
	}
	b, m, err := z.prepare(ctx, member)
	if err != nil {
		return 0, err
	}
	s, err := b.ZIncrBy(ctx, z.key, m, by, z.f.writeTTL())
	return s, keyErr("incr", z.key, err)
}

// Score returns member's score, or [ErrNotFound]. Redis: ZSCORE.
func (z SortedSet[T]) Score(ctx context.Context, member T) (_ float64, err error) {
	ctx, o := z.f.begin(ctx, "Score")
	defer o.counted(ctx, &z.f.stats.hits, &err)
	b, m, err := z.prepare(ctx, member)
	if err != nil {
		return 0, err
	}
	s, ok, err := b.ZScore(ctx, z.key, m)
	if err != nil {
		return 0, keyErr("score", z.key, err)
	}
	if !ok {
		return 0, ErrNotFound
	}
	return s, nil
}

// Has reports whether member is in the set. Redis: ZSCORE.
func (z SortedSet[T]) Has(ctx context.Context, member T) (bool, error) {
	_, err := z.Score(ctx, member)
	if err == ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// Rank returns member's rank in ascending order of score (0 is the lowest),
// or [ErrNotFound]. Redis: ZRANK.
func (z SortedSet[T]) Rank(ctx context.Context, member T) (int, error) {
	return z.rank(ctx, "Rank", member, false)
}

// RevRank returns member's rank in descending order of score (0 is the
// highest), or [ErrNotFound]. Redis: ZREVRANK.
func (z SortedSet[T]) RevRank(ctx context.Context, member T) (int, error) {
	return z.rank(ctx, "RevRank", member, true)
}

func (z SortedSet[T]) rank(ctx context.Context, name string, member T, rev bool) (_ int, err error) {
	ctx, o := z.f.begin(ctx, name)
	defer o.counted(ctx, &z.f.stats.hits, &err)
	b, m, err := z.prepare(ctx, member)
	if err != nil {
		return 0, err
	}
	r, ok, err := b.ZRank(ctx, z.key, m, rev)
	if err != nil {
		return 0, keyErr("rank", z.key, err)
	}
	if !ok {
		return 0, ErrNotFound
	}
	return int(r), nil
}

// Remove removes members and returns how many were in the set. Redis: ZREM.
func (z SortedSet[T]) Remove(ctx context.Context, members ...T) (_ int, err error) {
	ctx, o := z.f.begin(ctx, "Remove")
	defer o.counted(ctx, &z.f.stats.deletes, &err)
	if len(members) == 0 {
		return 0, nil
	}
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	enc := make([]string, len(members))
	for i, m := range members {
		if enc[i], err = z.encode(m); err != nil {
			return 0, err
		}
	}
	n, err := b.ZRem(ctx, z.key, enc...)
	return int(n), keyErr("remove", z.key, err)
}

// Len returns the number of members; 0 for a missing set. Redis: ZCARD.
func (z SortedSet[T]) Len(ctx context.Context) (n int, err error) {
	ctx, o := z.f.begin(ctx, "Len")
	defer func() { o.countRead(ctx, n > 0, err) }()
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	l, err := b.ZCard(ctx, z.key)
	return int(l), keyErr("len", z.key, err)
}

// PopMin removes and returns the member with the lowest score (of equal
// scores, the lowest member); an empty set returns [ErrNotFound]. Redis:
// ZPOPMIN.
func (z SortedSet[T]) PopMin(ctx context.Context) (T, float64, error) {
	return z.popOne(ctx, "PopMin", false)
}

// PopMax removes and returns the member with the highest score; an empty
// set returns [ErrNotFound]. Redis: ZPOPMAX.
func (z SortedSet[T]) PopMax(ctx context.Context) (T, float64, error) {
	return z.popOne(ctx, "PopMax", true)
}

func (z SortedSet[T]) popOne(ctx context.Context, name string, max bool) (_ T, _ float64, err error) {
	ctx, o := z.f.begin(ctx, name)
	defer o.counted(ctx, &z.f.stats.hits, &err)
	var zero T
	b, err := z.backend(ctx)
	if err != nil {
		return zero, 0, err
	}
	zs, err := b.ZPop(ctx, z.key, 1, max)
	if err != nil {
		return zero, 0, keyErr("pop", z.key, err)
	}
	if len(zs) == 0 {
		return zero, 0, ErrNotFound
	}
	m, err := z.decodeMember(zs[0].Member)
	if err != nil {
		return zero, 0, err
	}
	return m, zs[0].Score, nil
}

// PopMinN removes and returns up to n members with the lowest scores, lowest
// first. Redis: ZPOPMIN with count.
func (z SortedSet[T]) PopMinN(ctx context.Context, n int) ([]Scored[T], error) {
	return z.popN(ctx, "PopMinN", n, false)
}

// PopMaxN removes and returns up to n members with the highest scores,
// highest first. Redis: ZPOPMAX with count.
func (z SortedSet[T]) PopMaxN(ctx context.Context, n int) ([]Scored[T], error) {
	return z.popN(ctx, "PopMaxN", n, true)
}

// popN is pop, counted as a read.
func (z SortedSet[T]) popN(ctx context.Context, name string, n int, max bool) (out []Scored[T], err error) {
	ctx, o := z.f.begin(ctx, name)
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	return z.pop(ctx, n, max)
}

func (z SortedSet[T]) pop(ctx context.Context, n int, max bool) ([]Scored[T], error) {
	if n <= 0 {
		return nil, nil
	}
	b, err := z.backend(ctx)
	if err != nil {
		return nil, err
	}
	zs, err := b.ZPop(ctx, z.key, int64(n), max)
	return z.decode("pop", zs, err)
}

// Range returns the members ranked start to stop inclusive, in ascending
// order; negative ranks count from the highest (-1 is the last). Redis:
// ZRANGE … WITHSCORES.
func (z SortedSet[T]) Range(ctx context.Context, start, stop int) ([]Scored[T], error) {
	return z.rangeByRank(ctx, "Range", start, stop, false)
}

// RevRange is [SortedSet.Range] in descending order: rank 0 is the highest
// score. Redis: ZRANGE … REV WITHSCORES.
func (z SortedSet[T]) RevRange(ctx context.Context, start, stop int) ([]Scored[T], error) {
	return z.rangeByRank(ctx, "RevRange", start, stop, true)
}

func (z SortedSet[T]) rangeByRank(ctx context.Context, name string, start, stop int, rev bool) (out []Scored[T], err error) {
	ctx, o := z.f.begin(ctx, name)
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	return z.ranks(ctx, start, stop, rev)
}

// ranks is rangeByRank without counting, for the pages of All.
func (z SortedSet[T]) ranks(ctx context.Context, start, stop int, rev bool) ([]Scored[T], error) {
	b, err := z.backend(ctx)
	if err != nil {
		return nil, err
	}
	zs, err := b.ZRange(ctx, z.key, int64(start), int64(stop), rev)
	return z.decode("range", zs, err)
}

// RangeByScore returns the members whose scores are in r, in ascending
// order, skipping offset of them and returning at most limit (limit < 0:
// all; 0: none, without a round trip). Redis: ZRANGE … BYSCORE LIMIT …
// WITHSCORES.
func (z SortedSet[T]) RangeByScore(ctx context.Context, r ScoreRange, offset, limit int) ([]Scored[T], error) {
	return z.rangeByScore(ctx, "RangeByScore", r, offset, limit, false)
}

// RevRangeByScore is [SortedSet.RangeByScore] in descending order. Redis:
// ZRANGE … BYSCORE REV LIMIT … WITHSCORES.
func (z SortedSet[T]) RevRangeByScore(ctx context.Context, r ScoreRange, offset, limit int) ([]Scored[T], error) {
	return z.rangeByScore(ctx, "RevRangeByScore", r, offset, limit, true)
}

func (z SortedSet[T]) rangeByScore(ctx context.Context, name string, r ScoreRange, offset, limit int, rev bool) (out []Scored[T], err error) {
	if limit == 0 {
		return nil, nil
	}
	ctx, o := z.f.begin(ctx, name)
	defer func() { o.countRead(ctx, len(out) > 0, err) }()
	b, err := z.backend(ctx)
	if err != nil {
		return nil, err
	}
	min, max := r.bounds()
	zs, err := b.ZRangeByScore(ctx, z.key, min, max, rev, int64(offset), int64(limit))
	return z.decode("range", zs, err)
}

// Count returns how many members have scores in r. Redis: ZCOUNT.
func (z SortedSet[T]) Count(ctx context.Context, r ScoreRange) (n int, err error) {
	ctx, o := z.f.begin(ctx, "Count")
	defer func() { o.countRead(ctx, n > 0, err) }()
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	min, max := r.bounds()
	c, err := b.ZCount(ctx, z.key, min, max)
	return int(c), keyErr("count", z.key, err)
}

// RemoveRangeByRank removes the members ranked start to stop inclusive
// (negative from the end) and returns how many went. Redis:
// ZREMRANGEBYRANK.
func (z SortedSet[T]) RemoveRangeByRank(ctx context.Context, start, stop int) (_ int, err error) {
	ctx, o := z.f.begin(ctx, "RemoveRangeByRank")
	defer o.counted(ctx, &z.f.stats.deletes, &err)
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	n, err := b.ZRemRangeByRank(ctx, z.key, int64(start), int64(stop))
	return int(n), keyErr("remove", z.key, err)
}

// RemoveRangeByScore removes the members whose scores are in r and returns
// how many went. Redis: ZREMRANGEBYSCORE.
func (z SortedSet[T]) RemoveRangeByScore(ctx context.Context, r ScoreRange) (_ int, err error) {
	ctx, o := z.f.begin(ctx, "RemoveRangeByScore")
	defer o.counted(ctx, &z.f.stats.deletes, &err)
	b, err := z.backend(ctx)
	if err != nil {
		return 0, err
	}
	min, max := r.bounds()
	n, err := b.ZRemRangeByScore(ctx, z.key, min, max)
	return int(n), keyErr("remove", z.key, err)
}

// All iterates over the members in ascending order, asking Redis for pages
// of pageSize members by rank (a pageSize of zero or less means 256), so a
// large set is never loaded at once. Members added or removed during the
// iteration shift the ranks of those after them, which may skip or repeat
// members at a page boundary. An error is yielded once and ends the
// iteration.
func (z SortedSet[T]) All(ctx context.Context, pageSize int) iter.Seq2[Scored[T], error] {
	if pageSize <= 0 {
		pageSize = scanPageSize
	}
	return func(yield func(Scored[T], error) bool) {
		ctx, o := z.f.begin(ctx, "All")
		yield, end := countIteration(ctx, &o, yield)
		defer end()
		for start := 0; ; start += pageSize {
			page, err := z.ranks(ctx, start, start+pageSize-1, false)
			if err != nil {
				yield(Scored[T]{}, err)
				return
			}
			for _, m := range page {
				if !yield(m, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}

// Clear deletes the whole sorted set and reports whether it existed. Redis:
// DEL.
func (z SortedSet[T]) Clear(ctx context.Context) (bool, error) { return z.clear(ctx) }

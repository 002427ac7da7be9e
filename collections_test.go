package caches

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireFamilyTTL checks that h's key has about the family's TTL.
func requireFamilyTTL(t *testing.T, h handle, want time.Duration) {
	t.Helper()
	got, err := h.TTL(context.Background())
	require.NoError(t, err)
	require.InDelta(t, float64(want), float64(got), float64(time.Second), "TTL of %s", h.key)
}

// ttlOpts returns options with a one-minute TTL.
func (e *env) ttlOpts(prefix string) Options {
	o := e.opts(prefix)
	o.TTL = time.Minute
	return o
}

func TestDictCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := NewDictCache[int, string](e.ttlOpts("dict")).Key("d")

		_, err := d.Get(ctx, 1)
		require.ErrorIs(t, err, ErrNotFound, "missing hash")
		n, err := d.Len(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		m, err := d.Map(ctx)
		require.NoError(t, err)
		require.Empty(t, m)

		require.NoError(t, d.Set(ctx, 1, "one"))
		requireFamilyTTL(t, d.handle, time.Minute)
		e.advance(t, 30*time.Second)
		require.NoError(t, d.SetMany(ctx, map[int]string{2: "two", 3: "three", 0: ""}))
		requireFamilyTTL(t, d.handle, time.Minute)

		v, err := d.Get(ctx, 0)
		require.NoError(t, err, "a stored empty string is not a miss")
		require.Equal(t, "", v)
		_, err = d.Get(ctx, 9)
		require.ErrorIs(t, err, ErrNotFound)

		got, err := d.GetMany(ctx, 1, 9, 3)
		require.NoError(t, err)
		require.Equal(t, map[int]string{1: "one", 3: "three"}, got)

		added, err := d.Add(ctx, 1, "uno")
		require.NoError(t, err)
		require.False(t, added)
		added, err = d.Add(ctx, 4, "four")
		require.NoError(t, err)
		require.True(t, added)

		has, err := d.Has(ctx, 4)
		require.NoError(t, err)
		require.True(t, has)
		n, _ = d.Len(ctx)
		require.Equal(t, 5, n)

		m, err = d.Map(ctx)
		require.NoError(t, err)
		require.Equal(t, map[int]string{0: "", 1: "one", 2: "two", 3: "three", 4: "four"}, m, "int fields round-trip")

		v, err = d.Pop(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, "two", v)
		_, err = d.Pop(ctx, 2)
		require.ErrorIs(t, err, ErrNotFound)

		deleted, err := d.Delete(ctx, 3, 9)
		require.NoError(t, err)
		require.Equal(t, 1, deleted)

		seen := map[int]string{}
		for item, err := range d.All(ctx) {
			require.NoError(t, err)
			seen[item.Field] = item.Value
		}
		require.Equal(t, map[int]string{0: "", 1: "one", 4: "four"}, seen)

		for i := 0; i < 3; i++ {
			k, v, err := d.PopItem(ctx)
			require.NoError(t, err)
			require.Equal(t, seen[k], v)
			delete(seen, k)
		}
		_, _, err = d.PopItem(ctx)
		require.ErrorIs(t, err, ErrNotFound)
		exists, _ := d.exists(ctx)
		require.False(t, exists, "an emptied hash no longer exists")

		nums := NewDictCache[string, int64](e.ttlOpts("dict")).Key("nums")
		x, err := nums.Incr(ctx, "a", 5)
		require.NoError(t, err)
		require.Equal(t, int64(5), x)
		x, err = nums.Incr(ctx, "a", -7)
		require.NoError(t, err)
		require.Equal(t, int64(-2), x)
		requireFamilyTTL(t, nums.handle, time.Minute)
		floats := NewDictCache[string, float64](e.ttlOpts("dict")).Key("nums")
		f, err := floats.Incr(ctx, "b", 0.5)
		require.NoError(t, err)
		require.Equal(t, 0.5, f)
		_, err = nums.Incr(ctx, "b", 1)
		require.ErrorIs(t, err, ErrNotNumber, "0.5 is not an integer")

		cleared, err := nums.Clear(ctx)
		require.NoError(t, err)
		require.True(t, cleared)
		cleared, err = nums.Clear(ctx)
		require.NoError(t, err)
		require.False(t, cleared)
	})
}

func TestDictCacheStructs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := NewDictCache[string, profile](e.opts("people")).Key()
		require.NoError(t, d.Set(ctx, "ada", profile{Name: "Ada", Age: 36}))
		p, err := d.Get(ctx, "ada")
		require.NoError(t, err)
		require.Equal(t, profile{Name: "Ada", Age: 36}, p)

		_, err = e.b.HSet(ctx, "people", 0, "bad", "{nope")
		require.NoError(t, err)
		_, err = d.Get(ctx, "bad")
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "people", de.Key)
		require.Equal(t, "bad", de.Field)

		var errs, ok int
		for _, err := range d.All(ctx) {
			if errors.As(err, &de) {
				errs++
			} else {
				require.NoError(t, err)
				ok++
			}
		}
		require.Equal(t, 1, errs, "the undecodable value is reported")
		require.Equal(t, 1, ok, "and the iteration goes on")
	})
}

func TestSetCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o := e.ttlOpts("set")
		o.HashTag = true // set algebra across handles needs one slot on a cluster
		fam := NewSetCache[string](o)
		s := fam.Key("s")

		members, err := s.Members(ctx)
		require.NoError(t, err)
		require.Empty(t, members)
		_, err = s.Pop(ctx)
		require.ErrorIs(t, err, ErrNotFound)

		n, err := s.Add(ctx, "a", "b", "c", "a")
		require.NoError(t, err)
		require.Equal(t, 3, n)
		requireFamilyTTL(t, s.handle, time.Minute)
		e.advance(t, 30*time.Second)
		n, err = s.Add(ctx, "c", "")
		require.NoError(t, err)
		require.Equal(t, 1, n, "the empty string is a member too")
		requireFamilyTTL(t, s.handle, time.Minute)

		has, err := s.Has(ctx, "")
		require.NoError(t, err)
		require.True(t, has)
		many, err := s.HasMany(ctx, "a", "z", "c")
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, true}, many)

		require.NoError(t, s.Remove(ctx, ""))
		err = s.Remove(ctx, "")
		require.ErrorIs(t, err, ErrNotFound, "Remove of an absent member")
		require.ErrorContains(t, err, `"{set}:s"`)
		removed, err := s.Discard(ctx, "z", "c")
		require.NoError(t, err)
		require.Equal(t, 1, removed)

		l, err := s.Len(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, l)
		rnd, err := s.Random(ctx, 5)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"a", "b"}, rnd)

		var all []string
		for m, err := range s.All(ctx) {
			require.NoError(t, err)
			all = append(all, m)
		}
		require.ElementsMatch(t, []string{"a", "b"}, all)

		other := fam.Key("other")
		_, err = other.Add(ctx, "b", "x")
		require.NoError(t, err)
		u, err := s.Union(ctx, other)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"a", "b", "x"}, u)
		i, err := s.Intersect(ctx, other)
		require.NoError(t, err)
		require.Equal(t, []string{"b"}, i)
		d, err := s.Difference(ctx, other)
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, d)

		dest := fam.Key("dest")
		size, err := dest.StoreUnion(ctx, s, other)
		require.NoError(t, err)
		require.Equal(t, 3, size)
		requireFamilyTTL(t, dest.handle, time.Minute)
		size, err = dest.StoreDifference(ctx, other, s)
		require.NoError(t, err)
		require.Equal(t, 1, size)
		got, _ := dest.Members(ctx)
		require.Equal(t, []string{"x"}, got)
		size, err = dest.StoreIntersect(ctx, s, fam.Key("missing"))
		require.NoError(t, err)
		require.Zero(t, size)
		exists, _ := dest.exists(ctx)
		if strings.HasPrefix(e.name, "miniredis") { // miniredis+near too
			// miniredis v2.40 keeps an empty destination; Redis deletes it.
			require.True(t, exists, "miniredis quirk fixed? then drop this branch")
		} else {
			require.False(t, exists, "an empty result deletes the destination")
		}

		elsewhere := NewSetCache[string](Options{Prefix: "set", Conn: NewMemoryConn(MemoryOptions{})})
		defer elsewhere.family.conn.Close()
		_, err = s.Union(ctx, elsewhere.Key("other"))
		require.ErrorContains(t, err, "different connections")

		popped, err := s.PopN(ctx, 5)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"a", "b"}, popped)
		cleared, err := other.Clear(ctx)
		require.NoError(t, err)
		require.True(t, cleared)
	})
}

func TestSetCacheTypedMembers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := NewSetCache[int](e.opts("ints")).Key()
		_, err := s.Add(ctx, 3, 1, 2)
		require.NoError(t, err)
		ms, err := s.Members(ctx)
		require.NoError(t, err)
		slices.Sort(ms)
		require.Equal(t, []int{1, 2, 3}, ms)

		_, err = e.b.SAdd(ctx, "ints", 0, "not-a-number")
		require.NoError(t, err)
		_, err = s.Members(ctx)
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "not-a-number", de.Field)
	})
}

func TestSortedSetCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := NewSortedSetCache[string](e.ttlOpts("zset")).Key("z")
		sortedSetMissing(ctx, t, z)
		sortedSetWrites(ctx, t, e, z)
		sortedSetRanks(ctx, t, z)
		sortedSetScoreRanges(ctx, t, z)
		sortedSetPops(ctx, t, z)
		sortedSetRemovals(ctx, t, z)
	})
}

// sortedSetMissing checks the reads of a missing sorted set z.
func sortedSetMissing(ctx context.Context, t *testing.T, z SortedSet[string]) {
	t.Helper()
	_, _, err := z.PopMin(ctx)
	require.ErrorIs(t, err, ErrNotFound, "pop of a missing set")
	r, err := z.Range(ctx, 0, -1)
	require.NoError(t, err)
	require.Empty(t, r)
}

// sortedSetWrites checks Add, AddMany, AddNew and Update on the missing
// sorted set z and the TTL they keep; z then holds zed -1, alpha 2, bar 2
// and che 9.
func sortedSetWrites(ctx context.Context, t *testing.T, e *env, z SortedSet[string]) {
	t.Helper()
	added, err := z.Add(ctx, "bar", 1)
	require.NoError(t, err)
	require.True(t, added)
	requireFamilyTTL(t, z.handle, time.Minute)
	e.advance(t, 30*time.Second)
	added, err = z.Add(ctx, "bar", 2)
	require.NoError(t, err)
	require.False(t, added, "an update is not an add")
	requireFamilyTTL(t, z.handle, time.Minute)

	n, err := z.AddMany(ctx, Scored[string]{"che", 10}, Scored[string]{"alpha", 2}, Scored[string]{"zed", -1})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	ok, err := z.AddNew(ctx, "che", 0)
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, z.Update(ctx, "nobody", 5))
	has, _ := z.Has(ctx, "nobody")
	require.False(t, has, "Update never adds")
	require.NoError(t, z.Update(ctx, "che", 9))
}

// sortedSetRanks checks the ranges by rank, the ranks and the scores of z
// as sortedSetWrites left it; alpha's score is then 2.5.
func sortedSetRanks(ctx context.Context, t *testing.T, z SortedSet[string]) {
	t.Helper()
	// zed -1, alpha 2, bar 2, che 9: ties by member bytes.
	r, err := z.Range(ctx, 0, -1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"zed", -1}, {"alpha", 2}, {"bar", 2}, {"che", 9}}, r)
	r, err = z.RevRange(ctx, 0, 1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"che", 9}, {"bar", 2}}, r)

	rank, err := z.Rank(ctx, "bar")
	require.NoError(t, err)
	require.Equal(t, 2, rank)
	rank, err = z.RevRank(ctx, "bar")
	require.NoError(t, err)
	require.Equal(t, 1, rank)
	_, err = z.Rank(ctx, "nobody")
	require.ErrorIs(t, err, ErrNotFound)

	score, err := z.Incr(ctx, "alpha", 0.5)
	require.NoError(t, err)
	require.Equal(t, 2.5, score)
	score, err = z.Score(ctx, "alpha")
	require.NoError(t, err)
	require.Equal(t, 2.5, score)
	_, err = z.Score(ctx, "nobody")
	require.ErrorIs(t, err, ErrNotFound)
}

// sortedSetScoreRanges checks the ranges by score, Count and All on z:
// zed -1, bar 2, alpha 2.5, che 9.
func sortedSetScoreRanges(ctx context.Context, t *testing.T, z SortedSet[string]) {
	t.Helper()
	r, err := z.RangeByScore(ctx, Scores(2, 9), 0, -1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"bar", 2}, {"alpha", 2.5}, {"che", 9}}, r)
	r, err = z.RangeByScore(ctx, ScoreRange{Min: 2, Max: 9, MinExclusive: true, MaxExclusive: true}, 0, -1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"alpha", 2.5}}, r)
	r, err = z.RevRangeByScore(ctx, AllScores, 1, 2)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"alpha", 2.5}, {"bar", 2}}, r)
	r, err = z.RangeByScore(ctx, ScoreRange{Min: math.Inf(-1), Max: 2}, 0, -1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"zed", -1}, {"bar", 2}}, r)
	c, err := z.Count(ctx, Scores(0, 5))
	require.NoError(t, err)
	require.Equal(t, 2, c)

	var all []Scored[string]
	for m, err := range z.All(ctx, 3) {
		require.NoError(t, err)
		all = append(all, m)
	}
	require.Equal(t, []Scored[string]{{"zed", -1}, {"bar", 2}, {"alpha", 2.5}, {"che", 9}}, all)
}

// sortedSetPops checks the pops from both ends of z (zed -1, bar 2,
// alpha 2.5, che 9), which then holds alpha 2.5 and d 4.
func sortedSetPops(ctx context.Context, t *testing.T, z SortedSet[string]) {
	t.Helper()
	m, s, err := z.PopMin(ctx)
	require.NoError(t, err)
	require.Equal(t, "zed", m)
	require.Equal(t, -1.0, s)
	m, s, err = z.PopMax(ctx)
	require.NoError(t, err)
	require.Equal(t, "che", m)
	require.Equal(t, 9.0, s)

	_, err = z.AddMany(ctx, Scored[string]{"d", 4}, Scored[string]{"e", 5}, Scored[string]{"f", 6})
	require.NoError(t, err)
	popped, err := z.PopMaxN(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"f", 6}, {"e", 5}}, popped)
	popped, err = z.PopMinN(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, []Scored[string]{{"bar", 2}}, popped)
}

// sortedSetRemovals checks Remove, the removals of ranges, Len, the refusal
// of NaN and Clear on z (alpha 2.5, d 4).
func sortedSetRemovals(ctx context.Context, t *testing.T, z SortedSet[string]) {
	t.Helper()
	removed, err := z.Remove(ctx, "d", "nobody")
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	_, err = z.AddMany(ctx, Scored[string]{"g", 7}, Scored[string]{"h", 8})
	require.NoError(t, err)
	removed, err = z.RemoveRangeByRank(ctx, -1, -1)
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	removed, err = z.RemoveRangeByScore(ctx, ScoreRange{Min: 2.5, Max: math.Inf(1), MinExclusive: true})
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	l, err := z.Len(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, l)

	_, err = z.Add(ctx, "nan", math.NaN())
	require.ErrorIs(t, err, ErrNotNumber, "a NaN score is refused")
	_, err = z.Incr(ctx, "alpha", math.NaN())
	require.ErrorIs(t, err, ErrNotNumber, "a NaN increment is refused")
	cleared, err := z.Clear(ctx)
	require.NoError(t, err)
	require.True(t, cleared)
}

func TestCounterCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := NewCounterCache[string](e.ttlOpts("count")).Key("views")

		n, err := c.Get(ctx, "/home")
		require.NoError(t, err)
		require.Zero(t, n, "absent counts are zero")
		total, err := c.Total(ctx)
		require.NoError(t, err)
		require.Zero(t, total)

		n, err = c.Incr(ctx, "/home", 5)
		require.NoError(t, err)
		require.Equal(t, int64(5), n)
		requireFamilyTTL(t, c.handle, time.Minute)
		e.advance(t, 30*time.Second)
		n, err = c.Decr(ctx, "/home", 2)
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		requireFamilyTTL(t, c.handle, time.Minute)

		require.NoError(t, c.Set(ctx, "/about", 10))
		require.NoError(t, c.Update(ctx, map[string]int64{"/home": 1, "/blog": 4, "/about": -1}))
		got, err := c.Map(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"/home": 4, "/about": 9, "/blog": 4}, got)
		total, err = c.Total(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(17), total)
		l, err := c.Len(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, l)

		top, err := c.MostCommon(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, []Counted[string]{{"/about", 9}, {"/blog", 4}}, top, "ties in ascending key order")
		top, err = c.MostCommon(ctx, -1)
		require.NoError(t, err)
		require.Len(t, top, 3)

		seen := map[string]int64{}
		for ct, err := range c.All(ctx) {
			require.NoError(t, err)
			seen[ct.Key] = ct.Count
		}
		require.Equal(t, got, seen)

		deleted, err := c.Delete(ctx, "/blog", "/none")
		require.NoError(t, err)
		require.Equal(t, 1, deleted)

		ints := NewCounterCache[int](e.opts("count")).Key("ints")
		require.NoError(t, ints.Update(ctx, map[int]int64{1: 1, 2: 2}))
		im, err := ints.Map(ctx)
		require.NoError(t, err)
		require.Equal(t, map[int]int64{1: 1, 2: 2}, im, "int keys round-trip")

		_, err = e.b.HSet(ctx, "count:views", 0, "/bad", "x")
		require.NoError(t, err)
		_, err = c.Incr(ctx, "/bad", 1)
		require.ErrorIs(t, err, ErrNotNumber)
		_, err = c.Get(ctx, "/bad")
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "/bad", de.Field)
		require.Equal(t, []string{"/about", "/bad", "/home"}, slices.Sorted(maps.Keys(must(e.b.HGetAll(ctx, "count:views")))))
	})
}

// must returns the fields of an HGETALL reply as a map, failing on error.
func must(fv []string, err error) map[string]string {
	if err != nil {
		panic(err)
	}
	return pairs(fv)
}

func TestCollectionsWrongType(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		require.NoError(t, e.b.Set(ctx, "w:k", "string", 0))
		checks := map[string]error{}
		checks["dict get"] = second(NewDictCache[string, string](e.opts("w")).Key("k").Get(ctx, "f"))
		checks["dict set"] = NewDictCache[string, string](e.opts("w")).Key("k").Set(ctx, "f", "v")
		checks["set add"] = second(NewSetCache[string](e.opts("w")).Key("k").Add(ctx, "m"))
		checks["zset add"] = second(NewSortedSetCache[string](e.opts("w")).Key("k").Add(ctx, "m", 1))
		checks["zset range"] = second(NewSortedSetCache[string](e.opts("w")).Key("k").Range(ctx, 0, -1))
		checks["counter incr"] = second(NewCounterCache[string](e.opts("w")).Key("k").Incr(ctx, "m", 1))
		for _, err := range NewSetCache[string](e.opts("w")).Key("k").All(ctx) {
			checks["set all"] = err
		}
		for name, err := range checks {
			require.ErrorIs(t, err, ErrWrongType, name)
			require.ErrorContains(t, err, `"w:k"`, name)
		}
	})
}

func second[T any](_ T, err error) error { return err }

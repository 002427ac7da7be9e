package caches

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kinds of family the stats table runs operations on.
const (
	statsKey     = iota // KeyCache[int]
	statsLoaded         // KeyCache[int] whose Load hook returns 7
	statsFailing        // KeyCache[int] whose Load, Write and Remove hooks fail
	statsDict           // DictCache[string, int]
	statsSet            // SetCache[int]
	statsZSet           // SortedSetCache[int]
	statsCounter        // CounterCache[string]
)

// The states of the key an operation of the stats table runs on.
const (
	statePresent     = iota // holds an item: value 1, field "f" = 1, member 1 (score 1)
	stateAbsent             // does not exist
	stateWrongType          // holds another Redis type
	stateUndecodable        // holds three items the family cannot decode
)

var stateNames = [...]string{"present", "absent", "wrong type", "undecodable"}

// statsHandles are what an operation of the stats table works on: the
// handle of its row's kind at key "k", and for a set a second, missing set
// on the same slot.
type statsHandles struct {
	keys  *KeyCache[int]
	key   Key[int]
	dict  Dict[string, int]
	set   Set[int]
	other Set[int]
	zset  SortedSet[int]
	ctr   Counter[string]
}

var errHook = errors.New("hook failed")

// newStatsHandles makes a family of kind with prefix and returns its
// handles, the family and the key to fill.
func newStatsHandles(e *env, kind int, prefix string) (statsHandles, *family, string) {
	o := e.opts(prefix)
	o.HashTag = true
	var h statsHandles
	switch kind {
	case statsKey, statsLoaded, statsFailing:
		h.keys = NewKeyCache[int](o)
		if kind == statsLoaded {
			h.keys.WithHooks(Hooks[int]{Load: func(context.Context, Key[int]) (int, error) { return 7, nil }})
		}
		if kind == statsFailing {
			h.keys.WithHooks(Hooks[int]{
				Load:   func(context.Context, Key[int]) (int, error) { return 0, errHook },
				Write:  func(context.Context, Key[int], int) error { return errHook },
				Remove: func(context.Context, Key[int]) error { return errHook },
			})
		}
		h.key = h.keys.Key("k")
		return h, h.keys.family, h.key.key
	case statsDict:
		c := NewDictCache[string, int](o)
		h.dict = c.Key("k")
		return h, c.family, h.dict.key
	case statsSet:
		c := NewSetCache[int](o)
		h.set, h.other = c.Key("k"), c.Key("other")
		return h, c.family, h.set.key
	case statsZSet:
		c := NewSortedSetCache[int](o)
		h.zset = c.Key("k")
		return h, c.family, h.zset.key
	}
	c := NewCounterCache[string](o)
	h.ctr = c.Key("k")
	return h, c.family, h.ctr.key
}

// fillStats puts key of a family of kind in state, through the backend.
func fillStats(t *testing.T, e *env, kind, state int, key string) {
	t.Helper()
	ctx, b := context.Background(), e.b
	stringKind := kind == statsKey || kind == statsLoaded || kind == statsFailing
	var err error
	switch {
	case state == stateAbsent:
	case state == stateWrongType && stringKind:
		_, err = b.HSet(ctx, key, time.Hour, "f", "1")
	case state == stateWrongType:
		err = b.Set(ctx, key, "x", time.Hour)
	case stringKind:
		err = b.Set(ctx, key, map[int]string{statePresent: "1", stateUndecodable: "x"}[state], time.Hour)
	case kind == statsDict || kind == statsCounter:
		fv := []string{"f", "1"}
		if state == stateUndecodable {
			fv = []string{"f", "x", "g", "x", "h", "x"}
		}
		_, err = b.HSet(ctx, key, time.Hour, fv...)
	default:
		members, scores := []string{"1"}, []float64{1}
		if state == stateUndecodable {
			members, scores = []string{"x", "y", "z"}, []float64{1, 2, 3}
		}
		if kind == statsSet {
			_, err = b.SAdd(ctx, key, time.Hour, members...)
		} else {
			_, err = b.ZAdd(ctx, key, time.Hour, backend.ZAddUpsert, zs(members, scores)...)
		}
	}
	require.NoError(t, err)
}

// statsDelta spells the counters of s, each as its letter repeated: h hits,
// m misses, s sets, d deletes, e errors, l loads, i invalidations, a
// abandoned.
func statsDelta(s Stats) string {
	var b strings.Builder
	for _, c := range []struct {
		letter string
		n      uint64
	}{
		{"h", s.Hits}, {"m", s.Misses}, {"s", s.Sets}, {"d", s.Deletes}, {"e", s.Errors},
		{"l", s.Loads}, {"i", s.Invalidations + s.InvalidatedKeys}, {"a", s.Abandoned},
	} {
		b.WriteString(strings.Repeat(c.letter, int(c.n)))
	}
	return b.String()
}

// firstErr drains an iterator and returns the first error it yielded.
func firstErr[T any](seq func(func(T, error) bool)) (first error) {
	for _, err := range seq {
		if first == nil {
			first = err
		}
	}
	return first
}

type statsRow struct {
	name string
	kind int
	op   func(ctx context.Context, h statsHandles) error
	want [4]string // by state, as statsDelta spells it
}

func all4(s string) [4]string { return [4]string{s, s, s, s} }

// Reads: a hit when they found something, a miss when not. Writes: a set.
// Removals: a delete. A failure: one error and nothing else.
var (
	read        = [4]string{"h", "m", "e", "e"} // a read that decodes what it found
	readRaw     = [4]string{"h", "m", "e", "h"} // a read that finds the undecodable items and decodes nothing
	readOne     = [4]string{"h", "m", "e", "m"} // a read of member 1, absent from the undecodable set
	write       = [4]string{"s", "s", "e", "s"} // a write to a collection
	writeNumber = [4]string{"s", "s", "e", "e"} // an increment of an undecodable number fails
	remove      = [4]string{"d", "d", "e", "d"} // a removal from a collection
)

var statsRows = []statsRow{
	{"Key.Get", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Get(ctx)) }, read},
	{"Key.GetOr", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.GetOr(ctx, 3)) }, read},
	{"Key.Set", statsKey, func(ctx context.Context, h statsHandles) error { return h.key.Set(ctx, 2) }, all4("s")},
	{"Key.SetTTL", statsKey, func(ctx context.Context, h statsHandles) error { return h.key.SetTTL(ctx, 2, time.Minute) }, all4("s")},
	{"Key.SetTTL(0)", statsKey, func(ctx context.Context, h statsHandles) error { return h.key.SetTTL(ctx, 2, 0) }, all4("d")},
	{"Key.Add", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Add(ctx, 2)) }, all4("s")},
	{"Key.Pop", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Pop(ctx)) }, read},
	{"Key.Delete", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Delete(ctx)) }, all4("d")},
	{"Key.Has", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Has(ctx)) }, [4]string{"h", "m", "h", "h"}},
	{"Key.Incr", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Incr(ctx, 1)) }, writeNumber},
	{"Key.Decr", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Decr(ctx, 1)) }, writeNumber},
	{"Key.TTL", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.TTL(ctx)) }, [4]string{"h", "m", "h", "h"}},
	{"Key.Expire", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Expire(ctx, time.Minute)) }, all4("s")},
	{"Key.ExpireAt", statsKey, func(ctx context.Context, h statsHandles) error {
		return second(h.key.ExpireAt(ctx, time.Now().Add(time.Hour)))
	}, all4("s")},
	{"Key.Persist", statsKey, func(ctx context.Context, h statsHandles) error { return second(h.key.Persist(ctx)) }, all4("s")},
	{"KeyCache.GetMany", statsKey, func(ctx context.Context, h statsHandles) error {
		_, _, err := h.keys.GetMany(ctx, h.key, h.keys.Key("other"))
		return err
	}, [4]string{"hm", "mm", "mm", "e"}}, // another Redis type is missing for MGET
	{"KeyCache.SetMany", statsKey, func(ctx context.Context, h statsHandles) error {
		return h.keys.SetMany(ctx, Entry[int]{h.key, 2}, Entry[int]{h.keys.Key("other"), 3})
	}, all4("ss")},
	{"KeyCache.DeleteMany", statsKey, func(ctx context.Context, h statsHandles) error {
		return second(h.keys.DeleteMany(ctx, h.key, h.keys.Key("other")))
	}, all4("dd")},

	{"Key.Get(Load)", statsLoaded, func(ctx context.Context, h statsHandles) error { return second(h.key.Get(ctx)) }, [4]string{"h", "ml", "e", "e"}},
	{"Key.GetOr(Load)", statsLoaded, func(ctx context.Context, h statsHandles) error { return second(h.key.GetOr(ctx, 3)) }, [4]string{"h", "ml", "e", "e"}},
	{"Key.Get(Load fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return second(h.key.Get(ctx)) }, [4]string{"h", "el", "e", "e"}},
	{"Key.Set(Write fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return h.key.Set(ctx, 2) }, all4("e")},
	{"Key.SetTTL(Write fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return h.key.SetTTL(ctx, 2, time.Minute) }, all4("e")},
	{"Key.Add(Write fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return second(h.key.Add(ctx, 2)) }, [4]string{"s", "e", "s", "s"}},
	{"Key.Delete(Remove fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return second(h.key.Delete(ctx)) }, all4("e")},
	{"Key.Pop(Remove fails)", statsFailing, func(ctx context.Context, h statsHandles) error { return second(h.key.Pop(ctx)) }, all4("e")},

	{"Dict.Get", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Get(ctx, "f")) }, read},
	{"Dict.GetMany", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.GetMany(ctx, "f", "n")) }, read},
	{"Dict.Set", statsDict, func(ctx context.Context, h statsHandles) error { return h.dict.Set(ctx, "f", 2) }, write},
	{"Dict.SetMany", statsDict, func(ctx context.Context, h statsHandles) error { return h.dict.SetMany(ctx, map[string]int{"f": 2}) }, write},
	{"Dict.Add", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Add(ctx, "n", 2)) }, write},
	{"Dict.Delete", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Delete(ctx, "f")) }, remove},
	{"Dict.Has", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Has(ctx, "f")) }, readRaw},
	{"Dict.Len", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Len(ctx)) }, readRaw},
	{"Dict.Pop", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Pop(ctx, "f")) }, read},
	{"Dict.PopItem", statsDict, func(ctx context.Context, h statsHandles) error {
		_, _, err := h.dict.PopItem(ctx)
		return err
	}, read},
	{"Dict.Incr", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Incr(ctx, "f", 1)) }, writeNumber},
	{"Dict.All", statsDict, func(ctx context.Context, h statsHandles) error { return firstErr(h.dict.All(ctx)) }, read},
	{"Dict.Map", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Map(ctx)) }, read},
	{"Dict.Clear", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Clear(ctx)) }, all4("d")},
	{"Dict.TTL", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.TTL(ctx)) }, [4]string{"h", "m", "h", "h"}},
	{"Dict.Persist", statsDict, func(ctx context.Context, h statsHandles) error { return second(h.dict.Persist(ctx)) }, all4("s")},

	{"Set.Add", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Add(ctx, 2)) }, write},
	{"Set.Remove", statsSet, func(ctx context.Context, h statsHandles) error {
		if err := h.set.Remove(ctx, 1); !errors.Is(err, ErrNotFound) {
			return err // an absent member's ErrNotFound is not a failure
		}
		return nil
	}, remove},
	{"Set.Discard", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Discard(ctx, 1)) }, remove},
	{"Set.Has", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Has(ctx, 1)) }, readOne},
	{"Set.HasMany", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.HasMany(ctx, 1, 2)) }, readOne},
	{"Set.Len", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Len(ctx)) }, readRaw},
	{"Set.Pop", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Pop(ctx)) }, read},
	{"Set.PopN", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.PopN(ctx, 2)) }, read},
	{"Set.Random", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Random(ctx, 2)) }, read},
	{"Set.All", statsSet, func(ctx context.Context, h statsHandles) error { return firstErr(h.set.All(ctx)) }, read},
	{"Set.Members", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Members(ctx)) }, read},
	{"Set.Union", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Union(ctx, h.other)) }, read},
	{"Set.Intersect", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Intersect(ctx, h.set)) }, read},
	{"Set.Difference", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Difference(ctx, h.other)) }, read},
	{"Set.StoreUnion", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.StoreUnion(ctx, h.set, h.other)) }, write},
	{"Set.StoreIntersect", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.StoreIntersect(ctx, h.set)) }, write},
	{"Set.StoreDifference", statsSet, func(ctx context.Context, h statsHandles) error {
		return second(h.set.StoreDifference(ctx, h.set, h.other))
	}, write},
	{"Set.Clear", statsSet, func(ctx context.Context, h statsHandles) error { return second(h.set.Clear(ctx)) }, all4("d")},

	{"SortedSet.Add", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Add(ctx, 2, 2)) }, write},
	{"SortedSet.AddMany", statsZSet, func(ctx context.Context, h statsHandles) error {
		return second(h.zset.AddMany(ctx, Scored[int]{2, 2}, Scored[int]{3, 3}))
	}, write},
	{"SortedSet.AddNew", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.AddNew(ctx, 2, 2)) }, write},
	{"SortedSet.Update", statsZSet, func(ctx context.Context, h statsHandles) error { return h.zset.Update(ctx, 1, 5) }, write},
	{"SortedSet.Incr", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Incr(ctx, 1, 1)) }, write},
	{"SortedSet.Score", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Score(ctx, 1)) }, readOne},
	{"SortedSet.Has", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Has(ctx, 1)) }, readOne},
	{"SortedSet.Rank", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Rank(ctx, 1)) }, readOne},
	{"SortedSet.RevRank", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.RevRank(ctx, 1)) }, readOne},
	{"SortedSet.Remove", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Remove(ctx, 1)) }, remove},
	{"SortedSet.Len", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Len(ctx)) }, readRaw},
	{"SortedSet.PopMin", statsZSet, func(ctx context.Context, h statsHandles) error {
		_, _, err := h.zset.PopMin(ctx)
		return err
	}, read},
	{"SortedSet.PopMax", statsZSet, func(ctx context.Context, h statsHandles) error {
		_, _, err := h.zset.PopMax(ctx)
		return err
	}, read},
	{"SortedSet.PopMinN", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.PopMinN(ctx, 2)) }, read},
	{"SortedSet.PopMaxN", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.PopMaxN(ctx, 2)) }, read},
	{"SortedSet.Range", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Range(ctx, 0, -1)) }, read},
	{"SortedSet.RevRange", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.RevRange(ctx, 0, -1)) }, read},
	{"SortedSet.RangeByScore", statsZSet, func(ctx context.Context, h statsHandles) error {
		return second(h.zset.RangeByScore(ctx, AllScores, 0, -1))
	}, read},
	{"SortedSet.RevRangeByScore", statsZSet, func(ctx context.Context, h statsHandles) error {
		return second(h.zset.RevRangeByScore(ctx, AllScores, 0, -1))
	}, read},
	{"SortedSet.Count", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Count(ctx, AllScores)) }, readRaw},
	{"SortedSet.RemoveRangeByRank", statsZSet, func(ctx context.Context, h statsHandles) error {
		return second(h.zset.RemoveRangeByRank(ctx, 0, -1))
	}, remove},
	{"SortedSet.RemoveRangeByScore", statsZSet, func(ctx context.Context, h statsHandles) error {
		return second(h.zset.RemoveRangeByScore(ctx, AllScores))
	}, remove},
	{"SortedSet.All", statsZSet, func(ctx context.Context, h statsHandles) error { return firstErr(h.zset.All(ctx, 2)) }, read},
	{"SortedSet.Clear", statsZSet, func(ctx context.Context, h statsHandles) error { return second(h.zset.Clear(ctx)) }, all4("d")},

	{"Counter.Incr", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Incr(ctx, "f", 1)) }, writeNumber},
	{"Counter.Decr", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Decr(ctx, "f", 1)) }, writeNumber},
	{"Counter.Decr(MinInt64)", statsCounter, func(ctx context.Context, h statsHandles) error {
		return second(h.ctr.Decr(ctx, "f", math.MinInt64))
	}, all4("e")},
	{"Counter.Get", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Get(ctx, "f")) }, read},
	{"Counter.Set", statsCounter, func(ctx context.Context, h statsHandles) error { return h.ctr.Set(ctx, "f", 3) }, write},
	{"Counter.Update", statsCounter, func(ctx context.Context, h statsHandles) error {
		return h.ctr.Update(ctx, map[string]int64{"f": 1})
	}, writeNumber},
	{"Counter.Delete", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Delete(ctx, "f")) }, remove},
	{"Counter.Len", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Len(ctx)) }, readRaw},
	{"Counter.Total", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Total(ctx)) }, read},
	{"Counter.MostCommon", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.MostCommon(ctx, -1)) }, read},
	{"Counter.All", statsCounter, func(ctx context.Context, h statsHandles) error { return firstErr(h.ctr.All(ctx)) }, read},
	{"Counter.Map", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Map(ctx)) }, read},
	{"Counter.Clear", statsCounter, func(ctx context.Context, h statsHandles) error { return second(h.ctr.Clear(ctx)) }, all4("d")},
}

// TestStatsCountEveryOperation runs every operation of every cache type on
// a key that holds an item, on a missing key, on a key of another Redis
// type and on undecodable items, and checks exactly what each counted (see
// Stats): one outcome per call, a failure one error however many items
// failed, a read-through miss a miss and a load.
func TestStatsCountEveryOperation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for i, row := range statsRows {
			t.Run(row.name, func(t *testing.T) {
				for state, want := range row.want {
					h, fam, key := newStatsHandles(e, row.kind, fmt.Sprintf("st%dx%d", i, state))
					fillStats(t, e, row.kind, state, key)
					err := row.op(ctx, h)
					assert.Equal(t, want, statsDelta(fam.Stats()), "%s: counted (error %v)", stateNames[state], err)
					if strings.Contains(want, "e") {
						assert.Error(t, err, "%s: a counted error is returned", stateNames[state])
					}
				}
			})
		}
	})
}

// TestStatsCountNoopReads checks that a read with nothing to read counts
// one outcome, a miss, as every other call with nothing to do counts one.
func TestStatsCountNoopReads(t *testing.T) {
	ctx := context.Background()
	conn := NewMemoryConn(MemoryOptions{})
	defer conn.Close()
	dicts := NewDictCache[string, int](Options{Prefix: "noopd", Conn: conn})
	_, err := dicts.Key("h").GetMany(ctx)
	require.NoError(t, err)
	require.Equal(t, Stats{Misses: 1}, dicts.Stats())
	counters := NewCounterCache[string](Options{Prefix: "noopc", Conn: conn})
	_, err = counters.Key("c").MostCommon(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, Stats{Misses: 1}, counters.Stats())
}

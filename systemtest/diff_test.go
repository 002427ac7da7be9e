package systemtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/redis/go-redis/v9"
)

// TestDifferential runs the same random operations over all five caches on
// the in-process store and on the real redis-server, side by side, and
// requires the same result and the same kind of error from both after every
// operation. The families share their keys, so wrong types, missing keys and
// emptied collections come up all the time.
//
// CACHES_DIFF_OPS sets the number of operations (default 20,000; the full
// run in RELIABILITY.md uses 200,000) and CACHES_DIFF_SEED the seed (default:
// the clock); the seed is printed on failure.
func TestDifferential(t *testing.T) {
	ops := envInt(t, "CACHES_DIFF_OPS", 20_000)
	seed := uint64(envInt(t, "CACHES_DIFF_SEED", int(time.Now().UnixNano()%1e9)))
	srv := realRedis.Get(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	ctx := context.Background()
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mem := caches.NewMemoryConn(caches.MemoryOptions{})
	defer mem.Close()
	sides := [2]*diffSide{newDiffSide(mem), newDiffSide(caches.NewRedisConn(client))}
	rng := rand.New(rand.NewPCG(seed, seed))
	var history []string // the operations on each key, most recent last
	for i := 0; i < ops; i++ {
		op := diffOps[rng.IntN(len(diffOps))]
		args := diffArgs{key: rng.IntN(6), field: strconv.Itoa(rng.IntN(4)), n: int64(rng.IntN(11) - 5),
			score: float64(rng.IntN(9)-4) / 2, flip: rng.IntN(2) == 0}
		got := [2]string{op.run(ctx, sides[0], args), op.run(ctx, sides[1], args)}
		history = append(history, fmt.Sprintf("%d %s%+v -> %s", i, op.name, args, got[1]))
		if got[0] != got[1] {
			t.Fatalf("seed %d, operation %d, %s%+v:\n  memstore: %s\n  redis:    %s\nearlier operations on key %d:\n%s",
				seed, i, op.name, args, got[0], got[1], args.key, keyHistory(history, args.key))
		}
	}
	t.Logf("seed %d: %d operations, no divergence", seed, ops)
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// diffSide is one backend's families, all on the prefix "d".
type diffSide struct {
	ints     *caches.KeyCache[int64]
	strs     *caches.KeyCache[string]
	dicts    *caches.DictCache[string, int64]
	sets     *caches.SetCache[string]
	zsets    *caches.SortedSetCache[string]
	counters *caches.CounterCache[string]
}

func newDiffSide(conn *caches.Conn) *diffSide {
	o := caches.Options{Prefix: "d", Conn: conn, TTL: time.Hour}
	return &diffSide{
		ints: caches.NewKeyCache[int64](o), strs: caches.NewKeyCache[string](o), dicts: caches.NewDictCache[string, int64](o),
		sets: caches.NewSetCache[string](o), zsets: caches.NewSortedSetCache[string](o), counters: caches.NewCounterCache[string](o),
	}
}

type diffArgs struct {
	key   int
	field string
	n     int64
	score float64
	flip  bool
}

type diffOp struct {
	name string
	run  func(ctx context.Context, s *diffSide, a diffArgs) string
}

// show renders a result and the kind of its error, the part both backends
// must agree on.
func show(v any, err error) string {
	var de *caches.DecodeError
	switch {
	case err == nil:
		return fmt.Sprintf("%v", v)
	case errors.Is(err, caches.ErrNotFound):
		return "not found"
	case errors.Is(err, caches.ErrWrongType):
		return "wrong type"
	case errors.Is(err, caches.ErrNotNumber):
		return "not a number"
	case errors.As(err, &de):
		return "decode error: " + de.Key + " " + de.Field
	}
	return "error: " + err.Error()
}

func sorted[T any](vs []T, err error) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	slices.Sort(s)
	return show(s, err)
}

func ttlShow(d time.Duration, err error) string {
	if err == nil && d > 0 {
		return show(d.Round(10*time.Second), nil)
	}
	return show(d, err)
}

var diffOps = []diffOp{
	{"int.Set", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.ints.Key(a.key).Set(ctx, a.n))
	}},
	{"int.Get", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.ints.Key(a.key).Get(ctx)) }},
	{"int.Incr", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.ints.Key(a.key).Incr(ctx, a.n))
	}},
	{"int.Add", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.ints.Key(a.key).Add(ctx, a.n))
	}},
	{"int.Pop", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.ints.Key(a.key).Pop(ctx)) }},
	{"str.Set", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.strs.Key(a.key).Set(ctx, "v"+a.field))
	}},
	{"str.Get", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.strs.Key(a.key).Get(ctx)) }},
	{"key.Delete", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.strs.Key(a.key).Delete(ctx)) }},
	{"key.Has", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.strs.Key(a.key).Has(ctx)) }},
	{"key.TTL", func(ctx context.Context, s *diffSide, a diffArgs) string { return ttlShow(s.strs.Key(a.key).TTL(ctx)) }},
	{"key.Expire", func(ctx context.Context, s *diffSide, a diffArgs) string {
		ttl := time.Duration(a.n) * time.Minute // zero or negative deletes
		return show(s.strs.Key(a.key).Expire(ctx, ttl))
	}},
	{"key.Persist", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.strs.Key(a.key).Persist(ctx)) }},
	{"dict.Set", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.dicts.Key(a.key).Set(ctx, a.field, a.n))
	}},
	{"dict.Get", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.dicts.Key(a.key).Get(ctx, a.field))
	}},
	{"dict.Add", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.dicts.Key(a.key).Add(ctx, a.field, a.n))
	}},
	{"dict.Delete", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.dicts.Key(a.key).Delete(ctx, a.field))
	}},
	{"dict.Incr", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.dicts.Key(a.key).Incr(ctx, a.field, a.n))
	}},
	{"dict.Pop", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.dicts.Key(a.key).Pop(ctx, a.field))
	}},
	{"dict.Len", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.dicts.Key(a.key).Len(ctx)) }},
	{"dict.Map", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.dicts.Key(a.key).Map(ctx)) }},
	{"set.Add", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.sets.Key(a.key).Add(ctx, a.field, "m"))
	}},
	{"set.Discard", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.sets.Key(a.key).Discard(ctx, a.field))
	}},
	{"set.Remove", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.sets.Key(a.key).Remove(ctx, a.field))
	}},
	{"set.HasMany", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.sets.Key(a.key).HasMany(ctx, a.field, "m", "x"))
	}},
	{"set.Len", func(ctx context.Context, s *diffSide, a diffArgs) string { return show(s.sets.Key(a.key).Len(ctx)) }},
	{"set.Members", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return sorted(s.sets.Key(a.key).Members(ctx))
	}},
	{"zset.Add", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).Add(ctx, a.field, a.score))
	}},
	{"zset.AddNew", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).AddNew(ctx, a.field, a.score))
	}},
	{"zset.Update", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.zsets.Key(a.key).Update(ctx, a.field, a.score))
	}},
	{"zset.Incr", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).Incr(ctx, a.field, a.score))
	}},
	{"zset.Score", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).Score(ctx, a.field))
	}},
	{"zset.Rank", func(ctx context.Context, s *diffSide, a diffArgs) string {
		if a.flip {
			return show(s.zsets.Key(a.key).RevRank(ctx, a.field))
		}
		return show(s.zsets.Key(a.key).Rank(ctx, a.field))
	}},
	{"zset.Remove", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).Remove(ctx, a.field))
	}},
	{"zset.Range", func(ctx context.Context, s *diffSide, a diffArgs) string {
		if a.flip {
			return show(s.zsets.Key(a.key).RevRange(ctx, int(a.n), -1))
		}
		return show(s.zsets.Key(a.key).Range(ctx, 0, int(a.n)))
	}},
	{"zset.RangeByScore", func(ctx context.Context, s *diffSide, a diffArgs) string {
		r := caches.ScoreRange{Min: a.score, Max: a.score + 1.5, MinExclusive: a.flip}
		if a.n < 0 {
			return show(s.zsets.Key(a.key).RevRangeByScore(ctx, r, 0, -1))
		}
		return show(s.zsets.Key(a.key).RangeByScore(ctx, r, int(a.n%3), 2))
	}},
	{"zset.Count", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).Count(ctx, caches.ScoreRange{Min: a.score, Max: 2, MaxExclusive: a.flip}))
	}},
	{"zset.Pop", func(ctx context.Context, s *diffSide, a diffArgs) string {
		if a.flip {
			return show(s.zsets.Key(a.key).PopMaxN(ctx, 2))
		}
		return show(s.zsets.Key(a.key).PopMinN(ctx, 1))
	}},
	{"zset.RemoveRangeByRank", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.zsets.Key(a.key).RemoveRangeByRank(ctx, int(a.n), int(a.n)+1))
	}},
	{"counter.Incr", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.counters.Key(a.key).Incr(ctx, a.field, a.n))
	}},
	{"counter.Get", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.counters.Key(a.key).Get(ctx, a.field))
	}},
	{"counter.Update", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(nil, s.counters.Key(a.key).Update(ctx, map[string]int64{a.field: a.n, "z": 1}))
	}},
	{"counter.Total", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.counters.Key(a.key).Total(ctx))
	}},
	{"counter.MostCommon", func(ctx context.Context, s *diffSide, a diffArgs) string {
		return show(s.counters.Key(a.key).MostCommon(ctx, 2))
	}},
}

// keyHistory returns the last operations of history on key.
func keyHistory(history []string, key int) string {
	var out []string
	for _, h := range history {
		if strings.Contains(h, "{key:"+strconv.Itoa(key)+" ") {
			out = append(out, "  "+h)
		}
	}
	return strings.Join(out[max(0, len(out)-12):], "\n")
}

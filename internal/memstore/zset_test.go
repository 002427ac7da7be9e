package memstore

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

func zrange(key string, start, stop int64, rev bool) step {
	return func(s *Store) []any { return r(splitZ(s.ZRange(bg, key, start, stop, rev))) }
}

func zbyscore(key, min, max string, rev bool, offset, count int64) step {
	return func(s *Store) []any { return r(splitZ(s.ZRangeByScore(bg, key, min, max, rev, offset, count))) }
}

func TestSortedSetCommands(t *testing.T) {
	wrongType := "WRONGTYPE Operation against a key holding the wrong kind of value"
	inf := math.Inf(1)
	zaddMode := func(key, mode string, ttl time.Duration, members []string, scores []float64) step {
		return func(s *Store) []any { return r(s.ZAdd(bg, key, ttl, zmode(mode), zs(members, scores)...)) }
	}
	zincr := func(key, member string, incr float64) step {
		return func(s *Store) []any { return r(s.ZIncrBy(bg, key, member, incr, 0)) }
	}
	zscore := func(key, member string) step {
		return func(s *Store) []any { return r(s.ZScore(bg, key, member)) }
	}
	zrank := func(key, member string, rev bool) step {
		return func(s *Store) []any { return r(s.ZRank(bg, key, member, rev)) }
	}
	zpop := func(key string, count int64, max bool) step {
		return func(s *Store) []any { return r(splitZ(s.ZPop(bg, key, count, max))) }
	}
	zcount := func(key, min, max string) step {
		return func(s *Store) []any { return r(s.ZCount(bg, key, min, max)) }
	}
	all := func(key string) step { return zrange(key, 0, -1, false) }
	// z holds a b c d e with scores 1 2 2 3 +inf; b and c tie.
	z := []step{zadd("z", 0, "e", inf, "c", 2, "a", 1, "d", 3, "b", 2), set("str", "v", 0)}
	runScenarios(t, []scenario{
		{name: "zadd", setup: z, run: then(zadd("z", time.Minute, "a", 5, "f", 0, "f", -1), all("z"), pttl("z")),
			want: "[1 <nil> [f b c d a e] [-1 2 2 3 5 +Inf] <nil> 1m0s true <nil>]"},
		{name: "zadd nx", setup: z, run: then(zaddMode("z", "NX", 0, []string{"a", "x"}, []float64{9, 9}), zscore("z", "a"), zscore("z", "x")),
			want: "[1 <nil> 1 true <nil> 9 true <nil>]"},
		{name: "zadd xx", setup: z, run: then(zaddMode("z", "xx", 0, []string{"a", "x"}, []float64{9, 9}), zscore("z", "a"), zscore("z", "x")),
			want: "[0 <nil> 9 true <nil> 0 false <nil>]"},
		{name: "zadd xx never creates", run: then(zaddMode("n", "XX", time.Hour, []string{"a"}, []float64{1}), exists("n")),
			want: "[0 <nil> false <nil>]"},
		{name: "zadd nan before type check", setup: z, run: zaddMode("str", "", 0, []string{"a"}, []float64{math.NaN()}),
			want: "[0 ERR value is not a valid float]"},
		{name: "zadd wrong type", setup: z, run: zaddMode("str", "", 0, []string{"a"}, []float64{1}), want: "[0 " + wrongType + "]"},
		{name: "zadd bad mode", run: zaddMode("z", "GT", 0, []string{"a"}, []float64{1}), want: "[0 ERR syntax error]"},
		{name: "zadd nothing", run: zaddMode("z", "", 0, nil, nil), want: "[0 ERR wrong number of arguments for 'zadd' command]"},
		{name: "zadd negative zero", run: then(zadd("z", 0, "a", math.Copysign(0, -1)), func(s *Store) []any {
			sc, _, _ := s.ZScore(bg, "z", "a")
			return r(math.Signbit(sc))
		}), want: "[1 <nil> false]"},

		{name: "zincrby", setup: z, run: then(zincr("z", "a", 1.5), zincr("z", "new", -2), zincr("n", "m", 3), all("z")),
			want: "[2.5 <nil> -2 <nil> 3 <nil> [new b c a d e] [-2 2 2 2.5 3 +Inf] <nil>]"},
		{name: "zincrby nan result", setup: z, run: then(zincr("z", "e", math.Inf(-1)), zscore("z", "e")),
			want: "[0 ERR resulting score is not a number (NaN) +Inf true <nil>]"},
		{name: "zincrby nan increment", setup: z, run: zincr("str", "a", math.NaN()), want: "[0 ERR value is not a valid float]"},
		{name: "zincrby wrong type", setup: z, run: zincr("str", "a", 1), want: "[0 " + wrongType + "]"},
		{name: "zincrby ttl", run: then(func(s *Store) []any { return r(s.ZIncrBy(bg, "z", "a", 1, time.Second)) }, pttl("z")),
			want: "[1 <nil> 1s true <nil>]"},

		{name: "zscore zrank", setup: z,
			run:  then(zscore("z", "c"), zscore("z", "x"), zrank("z", "a", false), zrank("z", "c", false), zrank("z", "c", true), zrank("z", "e", true), zrank("z", "x", false), zrank("n", "a", false)),
			want: "[2 true <nil> 0 false <nil> 0 true <nil> 2 true <nil> 2 true <nil> 0 true <nil> 0 false <nil> 0 false <nil>]"},
		{name: "zscore zrank zcard wrong type", setup: z,
			run:  then(zscore("str", "a"), zrank("str", "a", false), func(s *Store) []any { return r(s.ZCard(bg, "str")) }),
			want: "[0 false " + wrongType + " 0 false " + wrongType + " 0 " + wrongType + "]"},
		{name: "zcard", setup: z, run: then(func(s *Store) []any { return r(s.ZCard(bg, "z")) }, func(s *Store) []any { return r(s.ZCard(bg, "n")) }),
			want: "[5 <nil> 0 <nil>]"},

		{name: "zrem", setup: append(z, func(s *Store) []any { return r(s.PExpire(bg, "z", time.Minute)) }),
			run:  then(func(s *Store) []any { return r(s.ZRem(bg, "z", "a", "x", "a", "e")) }, all("z"), pttl("z")),
			want: "[2 <nil> [b c d] [2 2 3] <nil> 1m0s true <nil>]"},
		{name: "zrem last deletes key", setup: []step{zadd("z", 0, "a", 1)},
			run: then(func(s *Store) []any { return r(s.ZRem(bg, "z", "a")) }, exists("z")), want: "[1 <nil> false <nil>]"},
		{name: "zrem nothing", run: func(s *Store) []any { return r(s.ZRem(bg, "z")) }, want: "[0 ERR wrong number of arguments for 'zrem' command]"},

		{name: "zpopmin", setup: z, run: then(zpop("z", 2, false), all("z")), want: "[[a b] [1 2] <nil> [c d e] [2 3 +Inf] <nil>]"},
		{name: "zpopmax", setup: z, run: then(zpop("z", 3, true), all("z")), want: "[[e d c] [+Inf 3 2] <nil> [a b] [1 2] <nil>]"},
		{name: "zpop all deletes key", setup: z, run: then(zpop("z", 10, false), exists("z")),
			want: "[[a b c d e] [1 2 2 3 +Inf] <nil> false <nil>]"},
		{name: "zpop zero and missing", setup: z, run: then(zpop("z", 0, false), zpop("n", 1, true)), want: "[[] [] <nil> [] [] <nil>]"},
		{name: "zpop negative before type check", setup: z, run: zpop("str", -1, false),
			want: "[[] [] ERR value is out of range, must be positive]"},
		{name: "zpop wrong type", setup: z, run: zpop("str", 1, false), want: "[[] [] " + wrongType + "]"},

		{name: "zrange", setup: z,
			run: then(zrange("z", 0, -1, false), zrange("z", 1, 2, false), zrange("z", -2, -1, false), zrange("z", -100, 1, false),
				zrange("z", 3, 100, false), zrange("z", 3, 2, false), zrange("z", 5, 10, false), zrange("z", -100, -6, false)),
			want: "[[a b c d e] [1 2 2 3 +Inf] <nil> [b c] [2 2] <nil> [d e] [3 +Inf] <nil> [a b] [1 2] <nil> " +
				"[d e] [3 +Inf] <nil> [] [] <nil> [] [] <nil> [] [] <nil>]"},
		{name: "zrange rev", setup: z,
			run:  then(zrange("z", 0, -1, true), zrange("z", 0, 1, true), zrange("z", -2, -1, true), zrange("z", 2, 2, true)),
			want: "[[e d c b a] [+Inf 3 2 2 1] <nil> [e d] [+Inf 3] <nil> [b a] [2 1] <nil> [c] [2] <nil>]"},
		{name: "zrange missing and wrong type", setup: z, run: then(zrange("n", 0, -1, false), zrange("str", 0, -1, false)),
			want: "[[] [] <nil> [] [] " + wrongType + "]"},
		{name: "zrange ties by member bytes", setup: []step{zadd("t", 0, "b", 1, "B", 1, "a", 1, "", 1, "ab", 1, "é", 1)},
			run: then(zrange("t", 0, -1, false), zrange("t", 0, -1, true)), want: "[[ B a ab b é] [1 1 1 1 1 1] <nil> [é b ab a B ] [1 1 1 1 1 1] <nil>]"},

		{name: "zrangebyscore", setup: z,
			run: then(zbyscore("z", "-inf", "+inf", false, 0, -1), zbyscore("z", "2", "3", false, 0, -1), zbyscore("z", "(2", "3", false, 0, -1),
				zbyscore("z", "2", "(3", false, 0, -1), zbyscore("z", "(1", "(3", false, 0, -1), zbyscore("z", "3", "inf", false, 0, -1),
				zbyscore("z", "4", "1", false, 0, -1), zbyscore("z", "(2", "2", false, 0, -1)),
			want: "[[a b c d e] [1 2 2 3 +Inf] <nil> [b c d] [2 2 3] <nil> [d] [3] <nil> [b c] [2 2] <nil> [b c] [2 2] <nil> " +
				"[d e] [3 +Inf] <nil> [] [] <nil> [] [] <nil>]"},
		{name: "zrangebyscore rev", setup: z,
			run:  then(zbyscore("z", "-inf", "+inf", true, 0, -1), zbyscore("z", "2", "(3", true, 0, -1), zbyscore("z", "(1", "3", true, 1, 2)),
			want: "[[e d c b a] [+Inf 3 2 2 1] <nil> [c b] [2 2] <nil> [c b] [2 2] <nil>]"},
		{name: "zrangebyscore limit", setup: z,
			run: then(zbyscore("z", "-inf", "+inf", false, 1, 2), zbyscore("z", "-inf", "+inf", false, 4, 5), zbyscore("z", "-inf", "+inf", false, 5, 1),
				zbyscore("z", "-inf", "+inf", false, 0, 0), zbyscore("z", "-inf", "+inf", false, -1, 2), zbyscore("z", "2", "+inf", false, 2, -1)),
			want: "[[b c] [2 2] <nil> [e] [+Inf] <nil> [] [] <nil> [] [] <nil> [] [] <nil> [d e] [3 +Inf] <nil>]"},
		{name: "zrangebyscore bad bound before type check", setup: z,
			run:  then(zbyscore("str", "x", "1", false, 0, -1), zbyscore("z", "1", "(nan", false, 0, -1), zbyscore("str", "1", "2", false, 0, -1)),
			want: "[[] [] ERR min or max is not a float [] [] ERR min or max is not a float [] [] " + wrongType + "]"},

		{name: "zcount", setup: z,
			run: then(zcount("z", "-inf", "+inf"), zcount("z", "2", "2"), zcount("z", "(1", "(3"), zcount("z", "(3", "+inf"),
				zcount("z", "3", "2"), zcount("z", "", "1"), zcount("z", " 2", "0x3"), zcount("n", "0", "1"), zcount("str", "0", "1"), zcount("z", "a", "1")),
			want: "[5 <nil> 2 <nil> 2 <nil> 1 <nil> 0 <nil> 1 <nil> 3 <nil> 0 <nil> 0 " + wrongType + " 0 ERR min or max is not a float]"},

		{name: "zremrangebyrank", setup: z,
			run: then(func(s *Store) []any { return r(s.ZRemRangeByRank(bg, "z", 1, -2)) }, all("z"),
				func(s *Store) []any { return r(s.ZRemRangeByRank(bg, "z", 5, 10)) },
				func(s *Store) []any { return r(s.ZRemRangeByRank(bg, "z", 0, -1)) }, exists("z")),
			want: "[3 <nil> [a e] [1 +Inf] <nil> 0 <nil> 2 <nil> false <nil>]"},
		{name: "zremrangebyscore", setup: z,
			run: then(func(s *Store) []any { return r(s.ZRemRangeByScore(bg, "z", "(1", "2")) }, all("z"),
				func(s *Store) []any { return r(s.ZRemRangeByScore(bg, "z", "-inf", "+inf")) }, exists("z"),
				func(s *Store) []any { return r(s.ZRemRangeByScore(bg, "str", "x", "1")) },
				func(s *Store) []any { return r(s.ZRemRangeByScore(bg, "str", "0", "1")) }),
			want: "[2 <nil> [a d e] [1 3 +Inf] <nil> 3 <nil> false <nil> 0 ERR min or max is not a float 0 " + wrongType + "]"},
	})
}

func TestParseScoreBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		v    float64
		ex   bool
		okay bool
	}{
		{"1.5", 1.5, false, true}, {"(1.5", 1.5, true, true}, {"-inf", math.Inf(-1), false, true},
		{"+inf", math.Inf(1), false, true}, {"(-INF", math.Inf(-1), true, true}, {"Infinity", math.Inf(1), false, true},
		{"", 0, false, true}, {"(", 0, true, true}, {" \t2", 2, false, true}, {"0x10", 16, false, true},
		{"0x1p-1", 0.5, false, true}, {"1e400", math.Inf(1), false, true}, {"-1e400", math.Inf(-1), false, true},
		{"1e-400", 0, false, true}, {".5", 0.5, false, true}, {"5.", 5, false, true}, {"+3", 3, false, true},
		{"nan", 0, false, false}, {"(nan", 0, true, false}, {"1x", 0, false, false}, {" ", 0, false, false},
		{"2 ", 0, false, false}, {"((1", 0, true, false}, {"1e", 0, false, false}, {"0x", 0, false, false},
		{"1_0", 0, false, false}, {"0b1", 0, false, false}, {"--1", 0, false, false},
	} {
		v, ex, ok := parseScoreBound(tc.in)
		if ok != tc.okay || (ok && (v != tc.v || ex != tc.ex)) {
			t.Errorf("parseScoreBound(%q) = %v %v %v, want %v %v %v", tc.in, v, ex, ok, tc.v, tc.ex, tc.okay)
		}
	}
}

// zitem is one member of the naive sorted-set model.
type zitem struct {
	member string
	score  float64
}

// zmodel is a sorted set kept as a slice sorted by (score, member).
type zmodel []zitem

func (m zmodel) find(member string) int {
	return slices.IndexFunc(m, func(it zitem) bool { return it.member == member })
}

func (m zmodel) set(member string, score float64) zmodel {
	if i := m.find(member); i >= 0 {
		m = slices.Delete(m, i, i+1)
	}
	m = append(m, zitem{member, score})
	slices.SortFunc(m, func(a, b zitem) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.member, b.member))
	})
	return m
}

func (m zmodel) inRange(r scoreRange, sc float64) bool { return r.aboveMin(sc) && r.belowMax(sc) }

func (m zmodel) split() ([]string, []float64) {
	members, scores := []string{}, []float64{}
	for _, it := range m {
		members, scores = append(members, it.member), append(scores, it.score)
	}
	return members, scores
}

func reversed(m zmodel) zmodel {
	out := slices.Clone(m)
	slices.Reverse(out)
	return out
}

// TestSortedSetModel runs thousands of random commands on a sorted set and
// on the naive model and compares ranks, ranges and counts after each.
func TestSortedSetModel(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Logf("seed %d", seed)
		t.Fatalf(format, args...)
	}
	s, _ := newTestStore(t)
	var model zmodel
	member := func() string { return fmt.Sprintf("%c%d", 'a'+rng.IntN(3), rng.IntN(100)) }
	score := func() float64 {
		switch rng.IntN(20) {
		case 0:
			return math.Inf(1)
		case 1:
			return math.Inf(-1)
		}
		return float64(rng.IntN(40))/2 - 5
	}
	bound := func() (string, float64, bool) {
		v := score()
		ex := rng.IntN(2) == 0
		str := strconv.FormatFloat(v, 'f', -1, 64)
		if ex {
			str = "(" + str
		}
		return str, v, ex
	}
	for step := range 4000 {
		switch op := rng.IntN(10); {
		case op < 4:
			mem, sc := member(), score()
			mode := []string{"", "", "NX", "XX"}[rng.IntN(4)]
			_, err := s.ZAdd(bg, "z", 0, zmode(mode), zs([]string{mem}, []float64{sc})...)
			if err != nil {
				fail("step %d: ZADD: %v", step, err)
			}
			exists := model.find(mem) >= 0
			if (mode == "NX" && !exists) || (mode == "XX" && exists) || mode == "" {
				model = model.set(mem, sc)
			}
		case op == 4:
			mem, incr := member(), float64(rng.IntN(7)-3)
			old := 0.0
			if i := model.find(mem); i >= 0 {
				old = model[i].score
			}
			got, err := s.ZIncrBy(bg, "z", mem, incr, 0)
			if math.IsNaN(old + incr) {
				if err == nil {
					fail("step %d: ZINCRBY to NaN succeeded", step)
				}
				break
			}
			if err != nil || got != old+incr {
				fail("step %d: ZINCRBY = %v %v, want %v", step, got, err, old+incr)
			}
			model = model.set(mem, old+incr)
		case op == 5:
			mem := member()
			n, err := s.ZRem(bg, "z", mem)
			want := int64(0)
			if i := model.find(mem); i >= 0 {
				model, want = slices.Delete(model, i, i+1), 1
			}
			if err != nil || n != want {
				fail("step %d: ZREM = %d %v, want %d", step, n, err, want)
			}
		case op == 6:
			count, max := int64(rng.IntN(4)), rng.IntN(2) == 0
			members, scores, err := splitZ(s.ZPop(bg, "z", count, max))
			src := model
			if max {
				src = reversed(model)
			}
			k := min(int(count), len(model))
			wm, ws := src[:k].split()
			if err != nil || !slices.Equal(members, wm) || !slices.Equal(scores, ws) {
				fail("step %d: ZPOP %d %v = %v %v %v, want %v %v", step, count, max, members, scores, err, wm, ws)
			}
			if max {
				model = model[:len(model)-k]
			} else {
				model = slices.Clone(model[k:])
			}
		case op == 7 && rng.IntN(10) == 0:
			start, stop := int64(rng.IntN(20)-10), int64(rng.IntN(20)-10)
			n, err := s.ZRemRangeByRank(bg, "z", start, stop)
			lo, hi, ok := rankRange(start, stop, len(model))
			want := 0
			if ok {
				want = hi - lo + 1
				model = slices.Delete(model, lo, hi+1)
			}
			if err != nil || n != int64(want) {
				fail("step %d: ZREMRANGEBYRANK %d %d = %d %v, want %d", step, start, stop, n, err, want)
			}
		case op == 8 && rng.IntN(10) == 0:
			minS, minV, minEx := bound()
			maxS, maxV, maxEx := bound()
			rg := scoreRange{minV, maxV, minEx, maxEx}
			n, err := s.ZRemRangeByScore(bg, "z", minS, maxS)
			before := len(model)
			model = slices.DeleteFunc(model, func(it zitem) bool { return model.inRange(rg, it.score) })
			if err != nil || n != int64(before-len(model)) {
				fail("step %d: ZREMRANGEBYSCORE %s %s = %d %v, want %d", step, minS, maxS, n, err, before-len(model))
			}
		}
		checkZSet(t, s, model, rng, bound, fail, step)
	}
}

func checkZSet(t *testing.T, s *Store, model zmodel, rng *rand.Rand, bound func() (string, float64, bool), fail func(string, ...any), step int) {
	t.Helper()
	if n, _ := s.ZCard(bg, "z"); n != int64(len(model)) {
		fail("step %d: ZCARD = %d, want %d", step, n, len(model))
	}
	if exists, _ := s.Exists(bg, "z"); exists != (len(model) > 0) {
		fail("step %d: EXISTS = %v with %d members", step, exists, len(model))
	}
	if len(model) > 0 {
		i := rng.IntN(len(model))
		it := model[i]
		rank, ok, _ := s.ZRank(bg, "z", it.member, false)
		rev, okRev, _ := s.ZRank(bg, "z", it.member, true)
		sc, okSc, _ := s.ZScore(bg, "z", it.member)
		if !ok || !okRev || !okSc || rank != int64(i) || rev != int64(len(model)-1-i) || sc != it.score {
			fail("step %d: %s: rank %d/%d score %v, want %d/%d %v", step, it.member, rank, rev, sc, i, len(model)-1-i, it.score)
		}
	}
	for _, rev := range []bool{false, true} {
		src := model
		if rev {
			src = reversed(model)
		}
		start, stop := int64(rng.IntN(30)-15), int64(rng.IntN(30)-15)
		members, scores, err := splitZ(s.ZRange(bg, "z", start, stop, rev))
		var wm []string
		var ws []float64
		if lo, hi, ok := rankRange(start, stop, len(src)); ok {
			wm, ws = src[lo : hi+1].split()
		} else {
			wm, ws = zmodel{}.split()
		}
		if err != nil || !slices.Equal(members, wm) || !slices.Equal(scores, ws) {
			fail("step %d: ZRANGE %d %d %v = %v %v, want %v %v", step, start, stop, rev, members, scores, wm, ws)
		}

		minS, minV, minEx := bound()
		maxS, maxV, maxEx := bound()
		rg := scoreRange{minV, maxV, minEx, maxEx}
		offset, count := int64(rng.IntN(6)-1), int64(rng.IntN(8)-1)
		members, scores, err = splitZ(s.ZRangeByScore(bg, "z", minS, maxS, rev, offset, count))
		var match zmodel
		for _, it := range src {
			if model.inRange(rg, it.score) {
				match = append(match, it)
			}
		}
		switch {
		case offset < 0 || count == 0 || int(offset) >= len(model):
			match = nil
		case int(offset) >= len(match):
			match = nil
		default:
			match = match[offset:]
			if count >= 0 && int(count) < len(match) {
				match = match[:count]
			}
		}
		wm, ws = match.split()
		if err != nil || !slices.Equal(members, wm) || !slices.Equal(scores, ws) {
			fail("step %d: ZRANGE %s %s BYSCORE rev=%v LIMIT %d %d = %v %v, want %v %v", step, minS, maxS, rev, offset, count, members, scores, wm, ws)
		}
		n, err := s.ZCount(bg, "z", minS, maxS)
		want := 0
		for _, it := range model {
			if model.inRange(rg, it.score) {
				want++
			}
		}
		if err != nil || n != int64(want) {
			fail("step %d: ZCOUNT %s %s = %d, want %d", step, minS, maxS, n, want)
		}
	}
}

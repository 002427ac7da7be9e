package memstore

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func smembers(key string) step {
	return func(s *Store) []any { return r(s.SMembers(bg, key)) }
}

func TestSetCommands(t *testing.T) {
	wrongType := "WRONGTYPE Operation against a key holding the wrong kind of value"
	combine := func(op string, keys ...string) step {
		return func(s *Store) []any {
			m, err := s.SCombine(bg, setop(op), keys...)
			slices.Sort(m)
			return r(m, err)
		}
	}
	store := func(op, dest string, ttl time.Duration, keys ...string) step {
		return func(s *Store) []any { return r(s.SCombineStore(bg, setop(op), dest, ttl, keys...)) }
	}
	sets := []step{sadd("a", 0, "1", "2", "3", "4"), sadd("b", 0, "3", "4", "5"), sadd("c", 0, "4", "6"), set("str", "v", 0)}
	runScenarios(t, []scenario{
		{name: "sadd counts new", setup: []step{sadd("s", 0, "a")}, run: then(sadd("s", time.Minute, "b", "a", "b", "c"), smembers("s"), pttl("s")),
			want: "[2 <nil> [a b c] <nil> 1m0s true <nil>]"},
		{name: "sadd no members", run: sadd("s", 0), want: "[0 ERR wrong number of arguments for 'sadd' command]"},
		{name: "sadd wrong type", setup: []step{set("s", "v", 0)}, run: sadd("s", 0, "a"), want: "[0 " + wrongType + "]"},
		{name: "sadd negative ttl deletes", run: then(sadd("s", -1, "a"), exists("s")), want: "[1 <nil> false <nil>]"},
		{name: "srem keeps ttl", setup: []step{sadd("s", time.Minute, "a", "b")},
			run:  then(func(s *Store) []any { return r(s.SRem(bg, "s", "a", "x", "a")) }, smembers("s"), pttl("s")),
			want: "[1 <nil> [b] <nil> 1m0s true <nil>]"},
		{name: "srem last deletes key", setup: []step{sadd("s", 0, "a")},
			run: then(func(s *Store) []any { return r(s.SRem(bg, "s", "a")) }, exists("s")), want: "[1 <nil> false <nil>]"},
		{name: "srem no members", run: func(s *Store) []any { return r(s.SRem(bg, "s")) },
			want: "[0 ERR wrong number of arguments for 'srem' command]"},
		{name: "srem wrong type", setup: []step{set("s", "v", 0)}, run: func(s *Store) []any { return r(s.SRem(bg, "s", "a")) },
			want: "[0 " + wrongType + "]"},
		{name: "sismember smismember scard", setup: []step{sadd("s", 0, "a", "b")},
			run: then(func(s *Store) []any { return r(s.SIsMember(bg, "s", "a")) },
				func(s *Store) []any { return r(s.SIsMember(bg, "s", "x")) },
				func(s *Store) []any { return r(s.SMIsMember(bg, "s", "x", "b", "a")) },
				func(s *Store) []any { return r(s.SMIsMember(bg, "missing", "a", "b")) },
				func(s *Store) []any { return r(s.SCard(bg, "s")) },
				func(s *Store) []any { return r(s.SCard(bg, "missing")) }),
			want: "[true <nil> false <nil> [false true true] <nil> [false false] <nil> 2 <nil> 0 <nil>]"},
		{name: "set reads wrong type", setup: []step{set("s", "v", 0)},
			run: then(func(s *Store) []any { return r(s.SIsMember(bg, "s", "a")) },
				func(s *Store) []any { return r(s.SMIsMember(bg, "s", "a")) },
				func(s *Store) []any { return r(s.SCard(bg, "s")) }, smembers("s"),
				func(s *Store) []any { return r(s.SScan(bg, "s", 0, 0)) }),
			want: "[false " + wrongType + " [] " + wrongType + " 0 " + wrongType + " [] " + wrongType + " [] 0 " + wrongType + "]"},
		{name: "smismember no members", run: func(s *Store) []any { return r(s.SMIsMember(bg, "s")) },
			want: "[[] ERR wrong number of arguments for 'smismember' command]"},
		{name: "smembers insertion order", setup: []step{sadd("s", 0, "c", "a", "b"), func(s *Store) []any { return r(s.SRem(bg, "s", "a")) },
			sadd("s", 0, "a", "c")}, run: smembers("s"), want: "[[c b a] <nil>]"},
		{name: "smembers missing", run: smembers("s"), want: "[[] <nil>]"},
		{name: "sscan", setup: []step{sadd("s", 0, "a", "b", "c")},
			run: then(func(s *Store) []any { return r(s.SScan(bg, "s", 0, 2)) }, func(s *Store) []any { return r(s.SScan(bg, "s", 3, 2)) },
				func(s *Store) []any { return r(s.SScan(bg, "missing", 0, 2)) }),
			want: "[[a b] 3 <nil> [c] 0 <nil> [] 0 <nil>]"},

		{name: "spop all", setup: []step{sadd("s", time.Minute, "a", "b")},
			run: then(func(s *Store) []any { return r(s.SPop(bg, "s", 5)) }, exists("s")), want: "[[a b] <nil> false <nil>]"},
		{name: "spop zero and missing", setup: []step{sadd("s", 0, "a")},
			run:  then(func(s *Store) []any { return r(s.SPop(bg, "s", 0)) }, func(s *Store) []any { return r(s.SPop(bg, "x", 3)) }),
			want: "[[] <nil> [] <nil>]"},
		{name: "spop negative before type check", setup: []step{set("s", "v", 0)},
			run: func(s *Store) []any { return r(s.SPop(bg, "s", -1)) }, want: "[[] ERR value is out of range, must be positive]"},
		{name: "spop wrong type", setup: []step{set("s", "v", 0)},
			run: func(s *Store) []any { return r(s.SPop(bg, "s", 1)) }, want: "[[] " + wrongType + "]"},
		{name: "srandmember counts", setup: []step{sadd("s", 0, "a", "b", "c")},
			run: func(s *Store) []any {
				var out []any
				for _, n := range []int64{0, 2, 3, 10, -2, -10} {
					m, err := s.SRandMember(bg, "s", n)
					out = append(out, len(m), err)
				}
				return out
			},
			want: "[0 <nil> 2 <nil> 3 <nil> 3 <nil> 2 <nil> 10 <nil>]"},
		{name: "srandmember missing", run: func(s *Store) []any { return r(s.SRandMember(bg, "s", -3)) }, want: "[[] <nil>]"},
		{name: "srandmember min int before type check", setup: []step{set("s", "v", 0)},
			run:  func(s *Store) []any { return r(s.SRandMember(bg, "s", math.MinInt64)) },
			want: "[[] ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807]"},
		{name: "srandmember wrong type", setup: []step{set("s", "v", 0)},
			run: func(s *Store) []any { return r(s.SRandMember(bg, "s", 1)) }, want: "[[] " + wrongType + "]"},

		{name: "sunion", setup: sets, run: combine("SUNION", "a", "b", "missing", "c"), want: "[[1 2 3 4 5 6] <nil>]"},
		{name: "sinter", setup: sets, run: combine("SINTER", "a", "b", "c"), want: "[[4] <nil>]"},
		{name: "sinter with missing", setup: sets, run: combine("sinter", "a", "missing"), want: "[[] <nil>]"},
		{name: "sinter checks all types", setup: sets, run: combine("SINTER", "missing", "str"), want: "[[] " + wrongType + "]"},
		{name: "sdiff", setup: sets, run: combine("SDIFF", "a", "b", "missing"), want: "[[1 2] <nil>]"},
		{name: "sdiff missing first", setup: sets, run: combine("SDIFF", "missing", "a"), want: "[[] <nil>]"},
		{name: "sdiff same key", setup: sets, run: combine("SDIFF", "a", "a"), want: "[[] <nil>]"},
		{name: "sunion wrong type", setup: sets, run: combine("SUNION", "a", "str"), want: "[[] " + wrongType + "]"},
		{name: "combine no keys", run: combine("SUNION"), want: "[[] ERR wrong number of arguments for 'sunion' command]"},

		{name: "store overwrites dest of any type", setup: append(sets, hset("d", time.Minute, "f", "v")),
			run: then(store("SINTER", "d", time.Hour, "a", "b"), smembers("d"), pttl("d")), want: "[2 <nil> [3 4] <nil> 1h0m0s true <nil>]"},
		{name: "store without ttl", setup: append(sets, sadd("d", time.Minute, "x")),
			run: then(store("SUNION", "d", 0, "c"), smembers("d"), pttl("d")), want: "[2 <nil> [4 6] <nil> -1ns true <nil>]"},
		{name: "store empty deletes dest", setup: append(sets, set("d", "v", 0)),
			run: then(store("SDIFF", "d", time.Hour, "c", "c"), exists("d")), want: "[0 <nil> false <nil>]"},
		{name: "store empty intersection", setup: append(sets, sadd("d", 0, "x")),
			run: then(store("SINTER", "d", time.Hour, "a", "missing"), exists("d")), want: "[0 <nil> false <nil>]"},
		{name: "store into a source", setup: sets,
			run: then(store("SDIFF", "a", 0, "a", "b"), smembers("a")), want: "[2 <nil> [1 2] <nil>]"},
		{name: "store wrong type changes nothing", setup: append(sets, set("d", "v", 0)),
			run: then(store("SUNION", "d", 0, "a", "str"), get("d")), want: "[0 " + wrongType + " v true <nil>]"},
		{name: "store no keys", run: store("SUNION", "d", 0), want: "[0 ERR wrong number of arguments for 'sunionstore' command]"},
	})
}

func TestSPopRandom(t *testing.T) {
	s, _ := newTestStore(t)
	var all []string
	for i := range 100 {
		all = append(all, fmt.Sprint(i))
	}
	_, err := s.SAdd(bg, "s", time.Hour, all...)
	must(t, err)
	seen := map[string]bool{}
	for _, n := range []int64{1, 10, 30, 59} {
		popped, err := s.SPop(bg, "s", n)
		must(t, err)
		if int64(len(popped)) != n {
			t.Fatalf("SPOP %d returned %d members", n, len(popped))
		}
		for _, m := range popped {
			if seen[m] || !slices.Contains(all, m) {
				t.Fatalf("SPOP returned %q twice or unknown", m)
			}
			seen[m] = true
			if ok, _ := s.SIsMember(bg, "s", m); ok {
				t.Fatalf("popped %q is still a member", m)
			}
		}
	}
	if n, _ := s.SCard(bg, "s"); n != 0 {
		t.Fatalf("SCARD after popping everything = %d", n)
	}
	if ok, _ := s.Exists(bg, "s"); ok {
		t.Fatal("empty set still exists")
	}
}

func TestSRandMemberDistribution(t *testing.T) {
	s, _ := newTestStore(t)
	var all []string
	for i := range 20 {
		all = append(all, fmt.Sprint(i))
	}
	_, err := s.SAdd(bg, "s", 0, all...)
	must(t, err)
	for _, n := range []int64{3, 15, 19} { // both sampling strategies
		counts := map[string]int{}
		for range 400 {
			m, err := s.SRandMember(bg, "s", n)
			must(t, err)
			if int64(len(m)) != n {
				t.Fatalf("SRANDMEMBER %d returned %d", n, len(m))
			}
			uniq := slices.Clone(m)
			slices.Sort(uniq)
			if len(slices.Compact(uniq)) != len(m) {
				t.Fatalf("SRANDMEMBER %d repeated a member: %v", n, m)
			}
			for _, v := range m {
				counts[v]++
			}
		}
		if len(counts) != len(all) {
			t.Errorf("SRANDMEMBER %d picked only %d distinct members", n, len(counts))
		}
	}
	m, err := s.SRandMember(bg, "s", -100)
	must(t, err)
	uniq := slices.Clone(m)
	slices.Sort(uniq)
	if len(m) != 100 || len(slices.Compact(uniq)) == 100 {
		t.Errorf("SRANDMEMBER -100 returned %d members, %d distinct", len(m), len(uniq))
	}
	if n, _ := s.SCard(bg, "s"); n != 20 {
		t.Errorf("SRANDMEMBER removed members: %d left", n)
	}
}

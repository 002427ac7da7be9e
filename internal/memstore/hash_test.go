package memstore

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func hgetall(key string) step {
	return func(s *Store) []any { return r(s.HGetAll(bg, key)) }
}

func TestHashCommands(t *testing.T) {
	hget := func(key, field string) step {
		return func(s *Store) []any { return r(s.HGet(bg, key, field)) }
	}
	hincr := func(key, field string, n int64, ttl time.Duration) step {
		return func(s *Store) []any { return r(s.HIncrBy(bg, key, field, n, ttl)) }
	}
	hincrf := func(key, field string, f float64) step {
		return func(s *Store) []any { return r(s.HIncrByFloat(bg, key, field, f, 0)) }
	}
	wrongType := "WRONGTYPE Operation against a key holding the wrong kind of value"
	runScenarios(t, []scenario{
		{name: "hget", setup: []step{hset("h", 0, "f", "v", "g", "")},
			run:  then(hget("h", "f"), hget("h", "g"), hget("h", "x"), hget("x", "f")),
			want: "[v true <nil>  true <nil>  false <nil>  false <nil>]"},
		{name: "hget wrong type", setup: []step{set("h", "v", 0)}, run: hget("h", "f"), want: "[ false " + wrongType + "]"},
		{name: "hmget", setup: []step{hset("h", 0, "a", "1", "b", "2")},
			run: func(s *Store) []any { return r(s.HMGet(bg, "h", "b", "x", "a", "b")) }, want: "[[2  1 2] [true false true true] <nil>]"},
		{name: "hmget missing key", run: func(s *Store) []any { return r(s.HMGet(bg, "h", "a", "b")) }, want: "[[ ] [false false] <nil>]"},
		{name: "hmget no fields", run: func(s *Store) []any { return r(s.HMGet(bg, "h")) },
			want: "[[] [] ERR wrong number of arguments for 'hmget' command]"},
		{name: "hmget wrong type", setup: []step{sadd("h", 0, "m")}, run: func(s *Store) []any { return r(s.HMGet(bg, "h", "a")) },
			want: "[[] [] " + wrongType + "]"},

		{name: "hset counts new fields", setup: []step{hset("h", 0, "a", "1")},
			run: then(hset("h", 0, "a", "x", "b", "2", "b", "3"), hgetall("h")), want: "[1 <nil> [a x b 3] <nil>]"},
		{name: "hset odd arguments", run: then(hset("h", 0, "a", "1", "b"), exists("h")),
			want: "[0 ERR wrong number of arguments for 'hset' command false <nil>]"},
		{name: "hset no arguments", run: hset("h", 0), want: "[0 ERR wrong number of arguments for 'hset' command]"},
		{name: "hset sets ttl", setup: []step{hset("h", 0, "a", "1")}, run: then(hset("h", time.Minute, "a", "2"), pttl("h")),
			want: "[0 <nil> 1m0s true <nil>]"},
		{name: "hset persists", setup: []step{hset("h", time.Minute, "a", "1")}, run: then(hset("h", 0, "b", "2"), pttl("h")),
			want: "[1 <nil> -1ns true <nil>]"},
		{name: "hset wrong type changes nothing", setup: []step{set("h", "v", time.Minute)},
			run: then(hset("h", 0, "a", "1"), get("h"), pttl("h")), want: "[0 " + wrongType + " v true <nil> 1m0s true <nil>]"},
		{name: "hset over expired key", setup: []step{hset("h", time.Second, "a", "1"), after(2 * time.Second)},
			run: then(hset("h", 0, "b", "2"), hgetall("h")), want: "[1 <nil> [b 2] <nil>]"},

		{name: "hsetnx", setup: []step{hset("h", time.Minute, "a", "1")},
			run: then(func(s *Store) []any { return r(s.HSetNX(bg, "h", "a", "x", time.Hour)) },
				func(s *Store) []any { return r(s.HSetNX(bg, "h", "b", "2", time.Hour)) }, hgetall("h"), pttl("h")),
			want: "[false <nil> true <nil> [a 1 b 2] <nil> 1h0m0s true <nil>]"},
		{name: "hsetnx wrong type", setup: []step{set("h", "v", 0)},
			run: func(s *Store) []any { return r(s.HSetNX(bg, "h", "a", "x", 0)) }, want: "[false " + wrongType + "]"},

		{name: "hdel keeps ttl", setup: []step{hset("h", time.Minute, "a", "1", "b", "2")},
			run:  then(func(s *Store) []any { return r(s.HDel(bg, "h", "a", "x", "a")) }, hgetall("h"), pttl("h")),
			want: "[1 <nil> [b 2] <nil> 1m0s true <nil>]"},
		{name: "hdel last field deletes key", setup: []step{hset("h", 0, "a", "1")},
			run: then(func(s *Store) []any { return r(s.HDel(bg, "h", "a")) }, exists("h")), want: "[1 <nil> false <nil>]"},
		{name: "hdel missing", run: func(s *Store) []any { return r(s.HDel(bg, "h", "a")) }, want: "[0 <nil>]"},
		{name: "hdel no fields", run: func(s *Store) []any { return r(s.HDel(bg, "h")) },
			want: "[0 ERR wrong number of arguments for 'hdel' command]"},
		{name: "hdel wrong type", setup: []step{set("h", "v", 0)},
			run: func(s *Store) []any { return r(s.HDel(bg, "h", "a")) }, want: "[0 " + wrongType + "]"},

		{name: "hexists hlen", setup: []step{hset("h", 0, "a", "1", "b", "2")},
			run: then(func(s *Store) []any { return r(s.HExists(bg, "h", "a")) },
				func(s *Store) []any { return r(s.HExists(bg, "h", "x")) },
				func(s *Store) []any { return r(s.HLen(bg, "h")) },
				func(s *Store) []any { return r(s.HLen(bg, "x")) }),
			want: "[true <nil> false <nil> 2 <nil> 0 <nil>]"},
		{name: "hexists hlen wrong type", setup: []step{set("h", "v", 0)},
			run:  then(func(s *Store) []any { return r(s.HExists(bg, "h", "a")) }, func(s *Store) []any { return r(s.HLen(bg, "h")) }),
			want: "[false " + wrongType + " 0 " + wrongType + "]"},

		{name: "hgetdel", setup: []step{hset("h", time.Minute, "a", "1", "b", "2")},
			run: then(func(s *Store) []any { return r(s.HGetDel(bg, "h", "a")) },
				func(s *Store) []any { return r(s.HGetDel(bg, "h", "a")) }, hgetall("h"), pttl("h"),
				func(s *Store) []any { return r(s.HGetDel(bg, "h", "b")) }, exists("h")),
			want: "[1 true <nil>  false <nil> [b 2] <nil> 1m0s true <nil> 2 true <nil> false <nil>]"},
		{name: "hgetdel wrong type", setup: []step{set("h", "v", 0)},
			run: func(s *Store) []any { return r(s.HGetDel(bg, "h", "a")) }, want: "[ false " + wrongType + "]"},

		{name: "hincrby", setup: []step{hset("h", 0, "a", "10")},
			run:  then(hincr("h", "a", -3, time.Minute), hincr("h", "b", 5, time.Minute), hgetall("h"), pttl("h")),
			want: "[7 <nil> 5 <nil> [a 7 b 5] <nil> 1m0s true <nil>]"},
		{name: "hincrby missing key", run: then(hincr("h", "a", 1, 0), hgetall("h")), want: "[1 <nil> [a 1] <nil>]"},
		{name: "hincrby not integer", setup: []step{hset("h", time.Minute, "a", "1.0")},
			run: then(hincr("h", "a", 1, 0), pttl("h")), want: "[0 ERR hash value is not an integer 1m0s true <nil>]"},
		{name: "hincrby overflow", setup: []step{hset("h", 0, "a", "9223372036854775800")},
			run: hincr("h", "a", 100, 0), want: "[0 ERR increment or decrement would overflow]"},
		{name: "hincrby wrong type", setup: []step{set("h", "1", 0)}, run: hincr("h", "a", 1, 0), want: "[0 " + wrongType + "]"},

		{name: "hincrbymany", setup: []step{hset("h", 0, "a", "1", "b", "x", "c", "9223372036854775807")},
			run: then(func(s *Store) []any {
				return r(s.HIncrByMany(bg, "h", time.Minute, []string{"a", "b", "c", "d", "a"}, []int64{1, 1, 1, 4, 10}))
			}, hgetall("h"), pttl("h")),
			want: "[[2 0 0 4 12] ERR hash value is not an integer [a 12 b x c 9223372036854775807 d 4] <nil> 1m0s true <nil>]"},
		{name: "hincrbymany wrong type", setup: []step{set("h", "v", time.Minute)},
			run:  then(func(s *Store) []any { return r(s.HIncrByMany(bg, "h", 0, []string{"a"}, []int64{1})) }, pttl("h")),
			want: "[[] " + wrongType + " 1m0s true <nil>]"},
		{name: "hincrbyfloat", setup: []step{hset("h", 0, "a", "0.1")},
			run: then(hincrf("h", "a", 0.2), hincrf("h", "b", -1.5), hgetall("h")), want: "[0.3 <nil> -1.5 <nil> [a 0.3 b -1.5] <nil>]"},
		{name: "hincrbyfloat not float", setup: []step{hset("h", 0, "a", "x")}, run: hincrf("h", "a", 1),
			want: "[0 ERR hash value is not a float]"},
		{name: "hincrbyfloat nan before type check", setup: []step{set("h", "1", 0)}, run: hincrf("h", "a", math.NaN()),
			want: "[0 ERR value is not a valid float]"},
		{name: "hincrbyfloat infinite increment", run: then(hincrf("h", "a", math.Inf(-1)), exists("h")),
			want: "[0 ERR value is NaN or Infinity false <nil>]"},
		{name: "hincrbyfloat infinite result", setup: []step{hset("h", 0, "a", "-inf")}, run: hincrf("h", "a", 1),
			want: "[0 ERR increment would produce NaN or Infinity]"},
		{name: "hincrbyfloat wrong type", setup: []step{set("h", "1", 0)}, run: hincrf("h", "a", 1), want: "[0 " + wrongType + "]"},

		{name: "hgetall hvals insertion order", setup: []step{hset("h", 0, "c", "3", "a", "1", "b", "2"), hset("h", 0, "c", "30"),
			func(s *Store) []any { return r(s.HDel(bg, "h", "a")) }, hset("h", 0, "a", "10")},
			run:  then(hgetall("h"), func(s *Store) []any { return r(s.HVals(bg, "h")) }),
			want: "[[c 30 b 2 a 10] <nil> [30 2 10] <nil>]"},
		{name: "hgetall hvals missing", run: then(hgetall("h"), func(s *Store) []any { return r(s.HVals(bg, "h")) }),
			want: "[[] <nil> [] <nil>]"},
		{name: "hgetall hvals wrong type", setup: []step{set("h", "v", 0)},
			run:  then(hgetall("h"), func(s *Store) []any { return r(s.HVals(bg, "h")) }),
			want: "[[] " + wrongType + " [] " + wrongType + "]"},

		{name: "hscan", setup: []step{hset("h", 0, "a", "1", "b", "2", "c", "3")},
			run: then(func(s *Store) []any { return r(s.HScan(bg, "h", 0, 2)) },
				func(s *Store) []any { return r(s.HScan(bg, "h", 3, 2)) },
				func(s *Store) []any { return r(s.HScan(bg, "h", 0, 0)) }),
			want: "[[a 1 b 2] 3 <nil> [c 3] 0 <nil> [a 1 b 2 c 3] 0 <nil>]"},
		{name: "hscan missing and wrong type", setup: []step{set("s", "v", 0)},
			run:  then(func(s *Store) []any { return r(s.HScan(bg, "h", 0, 10)) }, func(s *Store) []any { return r(s.HScan(bg, "s", 0, 10)) }),
			want: "[[] 0 <nil> [] 0 " + wrongType + "]"},
	})
}

func TestHPopRandom(t *testing.T) {
	s, _ := newTestStore(t)
	_, _, ok, err := s.HPopRandom(bg, "h")
	equal(t, "pop from missing key", ok, false)
	must(t, err)
	must(t, s.Set(bg, "str", "v", 0))
	_, _, _, err = s.HPopRandom(bg, "str")
	wantErr(t, "pop from a string", err, ErrWrongType)

	want := map[string]string{}
	for i := range 50 {
		f, v := fmt.Sprint("f", i), fmt.Sprint("v", i)
		want[f] = v
		_, err := s.HSet(bg, "h", time.Hour, f, v)
		must(t, err)
	}
	seen := map[string]bool{}
	for range 50 {
		f, v, ok, err := s.HPopRandom(bg, "h")
		must(t, err)
		if !ok || want[f] != v || seen[f] {
			t.Fatalf("popped %q=%q ok=%v (seen %v)", f, v, ok, seen[f])
		}
		seen[f] = true
		if ttl, ok, _ := s.PTTL(bg, "h"); ok && ttl != time.Hour {
			t.Fatalf("HPopRandom changed the ttl to %v", ttl)
		}
	}
	if ok, _ := s.Exists(bg, "h"); ok {
		t.Error("empty hash still exists")
	}

	// Every field is picked sometimes.
	counts := map[string]int{}
	for range 2000 {
		_, err := s.HSet(bg, "h", 0, "a", "1", "b", "2", "c", "3", "d", "4")
		must(t, err)
		f, _, _, err := s.HPopRandom(bg, "h")
		must(t, err)
		counts[f]++
	}
	for _, f := range []string{"a", "b", "c", "d"} {
		if counts[f] < 300 {
			t.Errorf("field %s popped %d times in 2000", f, counts[f])
		}
	}
}

// TestScanStability scans a hash and a set in small pages while other
// members come and go: every member present throughout is returned exactly
// once, and the scan ends with cursor 0.
func TestScanStability(t *testing.T) {
	s, _ := newTestStore(t)
	var stable []string
	for i := range 500 {
		m := fmt.Sprint("stable", i)
		stable = append(stable, m)
		_, err := s.HSet(bg, "h", 0, m, "v")
		must(t, err)
		_, err = s.SAdd(bg, "s", 0, m)
		must(t, err)
		for _, c := range []string{fmt.Sprint("churn", 2*i), fmt.Sprint("churn", 2*i+1)} {
			_, err = s.HSet(bg, "h", 0, c, "v")
			must(t, err)
			_, err = s.SAdd(bg, "s", 0, c)
			must(t, err)
		}
	}
	scans := map[string]func(cursor uint64) ([]string, uint64){
		"hash": func(cursor uint64) ([]string, uint64) {
			fv, next, err := s.HScan(bg, "h", cursor, 7)
			must(t, err)
			var fields []string
			for i := 0; i < len(fv); i += 2 {
				fields = append(fields, fv[i])
			}
			return fields, next
		},
		"set": func(cursor uint64) ([]string, uint64) {
			members, next, err := s.SScan(bg, "s", cursor, 7)
			must(t, err)
			return members, next
		},
	}
	for name, scan := range scans {
		seen := map[string]int{}
		cursor, pages := uint64(0), 0
		for {
			members, next := scan(cursor)
			for _, m := range members {
				seen[m]++
			}
			// Churn: delete old churn members (forcing compactions) and add new ones.
			for i := range 20 {
				old, added := fmt.Sprint("churn", pages*20+i), fmt.Sprint("new", pages, "-", i)
				_, err := s.HDel(bg, "h", old)
				must(t, err)
				_, err = s.SRem(bg, "s", old)
				must(t, err)
				if i >= 4 {
					continue
				}
				_, err = s.HSet(bg, "h", 0, added, "v")
				must(t, err)
				_, err = s.SAdd(bg, "s", 0, added)
				must(t, err)
				if i%2 == 0 {
					_, err = s.HDel(bg, "h", added)
					must(t, err)
					_, err = s.SRem(bg, "s", added)
					must(t, err)
				}
			}
			pages++
			if cursor = next; cursor == 0 {
				break
			}
			if pages > 10000 {
				t.Fatalf("%s scan does not end", name)
			}
		}
		for _, m := range stable {
			if seen[m] != 1 {
				t.Errorf("%s scan returned %s %d times", name, m, seen[m])
			}
		}
		for m, n := range seen {
			if n != 1 {
				t.Errorf("%s scan returned %s %d times", name, m, n)
			}
		}
	}
	// The hash still lists fields in insertion order after compactions.
	fv, err := s.HGetAll(bg, "h")
	must(t, err)
	var fields []string
	for i := 0; i < len(fv); i += 2 {
		fields = append(fields, fv[i])
	}
	if i := slices.Index(fields, "stable0"); i < 0 || !slices.Equal(fields[i:i+3], []string{"stable0", "stable1", "stable2"}) {
		t.Errorf("insertion order lost: %v", fields[:10])
	}
}

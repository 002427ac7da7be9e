package memstore

import (
	"math"
	"testing"
	"time"
)

func get(key string) step {
	return func(s *Store) []any { return r(s.Get(bg, key)) }
}

func exists(key string) step {
	return func(s *Store) []any { return r(s.Exists(bg, key)) }
}

func TestStringCommands(t *testing.T) {
	inf := math.Inf(1)
	runScenarios(t, []scenario{
		{name: "get missing", run: get("k"), want: "[ false <nil>]"},
		{name: "get", setup: []step{set("k", "v", 0)}, run: get("k"), want: "[v true <nil>]"},
		{name: "get empty value", setup: []step{set("k", "", 0)}, run: get("k"), want: "[ true <nil>]"},
		{name: "get hash", setup: []step{hset("k", 0, "f", "v")}, run: get("k"), want: "[ false " + msgWrongType + "]"},
		{name: "set overwrites any type", setup: []step{sadd("k", time.Hour, "m")},
			run: then(set("k", "v", 0), get("k"), pttl("k")), want: "[<nil> v true <nil> -1ns true <nil>]"},
		{name: "set clears ttl", setup: []step{set("k", "v", time.Second)},
			run: then(set("k", "w", 0), pttl("k")), want: "[<nil> -1ns true <nil>]"},
		{name: "set replaces ttl", setup: []step{set("k", "v", time.Second)},
			run: then(set("k", "w", time.Hour), pttl("k")), want: "[<nil> 1h0m0s true <nil>]"},
		{name: "set ttl in ms", run: then(set("k", "v", 1500*time.Millisecond), pttl("k")), want: "[<nil> 1.5s true <nil>]"},
		{name: "set ttl under 1ms is 1ms", run: then(set("k", "v", time.Microsecond), pttl("k")), want: "[<nil> 1ms true <nil>]"},
		{name: "set ttl truncated to ms", run: then(set("k", "v", 1900*time.Microsecond), pttl("k")), want: "[<nil> 1ms true <nil>]"},
		{name: "set negative ttl deletes", setup: []step{set("k", "old", 0)},
			run: then(set("k", "v", -time.Second), get("k")), want: "[<nil>  false <nil>]"},
		{name: "alive at deadline", setup: []step{set("k", "v", time.Second), after(time.Second)},
			run: then(get("k"), pttl("k")), want: "[v true <nil> 0s true <nil>]"},
		{name: "expired after deadline", setup: []step{set("k", "v", time.Second), after(time.Second + time.Millisecond)},
			run: then(get("k"), pttl("k"), exists("k")), want: "[ false <nil> 0s false <nil> false <nil>]"},

		{name: "setnx missing", run: then(func(s *Store) []any { return r(s.SetNX(bg, "k", "v", time.Second)) }, get("k"), pttl("k")),
			want: "[true <nil> v true <nil> 1s true <nil>]"},
		{name: "setnx existing keeps value and ttl", setup: []step{set("k", "old", time.Minute)},
			run:  then(func(s *Store) []any { return r(s.SetNX(bg, "k", "v", 0)) }, get("k"), pttl("k")),
			want: "[false <nil> old true <nil> 1m0s true <nil>]"},
		{name: "setnx other type", setup: []step{hset("k", 0, "f", "v")},
			run: func(s *Store) []any { return r(s.SetNX(bg, "k", "v", 0)) }, want: "[false <nil>]"},
		{name: "setnx over expired", setup: []step{set("k", "old", time.Second), after(2 * time.Second)},
			run:  then(func(s *Store) []any { return r(s.SetNX(bg, "k", "v", 0)) }, get("k"), pttl("k")),
			want: "[true <nil> v true <nil> -1ns true <nil>]"},

		{name: "getdel", setup: []step{set("k", "v", time.Hour)},
			run: then(func(s *Store) []any { return r(s.GetDel(bg, "k")) }, exists("k")), want: "[v true <nil> false <nil>]"},
		{name: "getdel missing", run: func(s *Store) []any { return r(s.GetDel(bg, "k")) }, want: "[ false <nil>]"},
		{name: "getdel wrong type", setup: []step{sadd("k", 0, "m")},
			run: then(func(s *Store) []any { return r(s.GetDel(bg, "k")) }, exists("k")), want: "[ false " + msgWrongType + " true <nil>]"},

		{name: "delifequal", setup: []step{set("k", "owner", time.Hour)},
			run: then(func(s *Store) []any { return r(s.DelIfEqual(bg, "k", "other")) }, get("k"),
				func(s *Store) []any { return r(s.DelIfEqual(bg, "k", "owner")) }, exists("k"),
				func(s *Store) []any { return r(s.DelIfEqual(bg, "k", "owner")) }),
			want: "[false <nil> owner true <nil> true <nil> false <nil> false <nil>]"},
		{name: "delifequal wrong type", setup: []step{hset("k", 0, "f", "v")},
			run: func(s *Store) []any { return r(s.DelIfEqual(bg, "k", "v")) }, want: "[false " + msgWrongType + "]"},

		{name: "incrby missing", run: then(func(s *Store) []any { return r(s.IncrBy(bg, "k", 5, time.Second)) }, get("k"), pttl("k")),
			want: "[5 <nil> 5 true <nil> 1s true <nil>]"},
		{name: "incrby", setup: []step{set("k", "10", time.Hour)},
			run:  then(func(s *Store) []any { return r(s.IncrBy(bg, "k", -15, 0)) }, get("k"), pttl("k")),
			want: "[-5 <nil> -5 true <nil> -1ns true <nil>]"},
		{name: "incrby min int", setup: []step{set("k", "-9223372036854775808", 0)},
			run: func(s *Store) []any { return r(s.IncrBy(bg, "k", 0, 0)) }, want: "[-9223372036854775808 <nil>]"},
		{name: "incrby overflow", setup: []step{set("k", "9223372036854775807", time.Hour)},
			run:  then(func(s *Store) []any { return r(s.IncrBy(bg, "k", 1, 0)) }, get("k"), pttl("k")),
			want: "[0 " + msgOverflow + " 9223372036854775807 true <nil> 1h0m0s true <nil>]"},
		{name: "incrby underflow", setup: []step{set("k", "-2", 0)},
			run: func(s *Store) []any { return r(s.IncrBy(bg, "k", math.MinInt64, 0)) }, want: "[0 " + msgOverflow + "]"},
		{name: "incrby wrong type", setup: []step{hset("k", 0, "f", "1")},
			run: func(s *Store) []any { return r(s.IncrBy(bg, "k", 1, 0)) }, want: "[0 " + msgWrongType + "]"},

		{name: "incrbyfloat missing", run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1.5, time.Second)) }, get("k"), pttl("k")),
			want: "[1.5 <nil> 1.5 true <nil> 1s true <nil>]"},
		{name: "incrbyfloat like redis long double", setup: []step{set("k", "0.1", 0)},
			run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 0.2, 0)) }, get("k")), want: "[0.3 <nil> 0.3 true <nil>]"},
		{name: "incrbyfloat integer result", setup: []step{set("k", "5.0e3", 0)},
			run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 200, 0)) }, get("k")), want: "[5200 <nil> 5200 true <nil>]"},
		{name: "incrbyfloat no exponent", run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1e21, 0)) }, get("k")),
			want: "[1e+21 <nil> 1000000000000000000000 true <nil>]"},
		{name: "incrbyfloat 17 decimals", setup: []step{set("k", "1e-30", 0)},
			run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 0, 0)) }, get("k")), want: "[0 <nil> 0 true <nil>]"},
		{name: "incrbyfloat negative zero", setup: []step{set("k", "-0", 0)},
			run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", math.Copysign(0, -1), 0)) }, get("k")), want: "[0 <nil> 0 true <nil>]"},
		{name: "incrbyfloat nan", run: then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", math.NaN(), 0)) }, exists("k")),
			want: "[0 " + msgNotFloat + " false <nil>]"},
		{name: "incrbyfloat inf", run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", inf, 0)) }, want: "[0 " + msgIncrNaNInf + "]"},
		{name: "incrbyfloat on inf", setup: []step{set("k", "inf", 0)},
			run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1, 0)) }, want: "[0 " + msgIncrNaNInf + "]"},
		{name: "incrbyfloat beyond long double", setup: []step{set("k", "1e5000", 0)},
			run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1, 0)) }, want: "[0 " + msgNotFloat + "]"},
		{name: "incrbyfloat beyond float64 is stored", setup: []step{set("k", "1e400", 0)},
			run: func(s *Store) []any {
				_, err := s.IncrByFloat(bg, "k", 1, 0)
				v, _, _ := s.Get(bg, "k")
				return r(err != nil, len(v), v[:30]) // as redis-server 7.0 on amd64 stores it
			},
			want: "[true 401 100000000000000000002818806839]"},
		{name: "incrbyfloat not a float", setup: []step{set("k", "1.5x", time.Hour)},
			run:  then(func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1, 0)) }, pttl("k")),
			want: "[0 " + msgNotFloat + " 1h0m0s true <nil>]"},
		{name: "incrbyfloat leading space", setup: []step{set("k", " 1", 0)},
			run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1, 0)) }, want: "[0 " + msgNotFloat + "]"},
		{name: "incrbyfloat hex", setup: []step{set("k", "0x10", 0)},
			run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", 1, 0)) }, want: "[17 <nil>]"},
		{name: "incrbyfloat wrong type", setup: []step{sadd("k", 0, "m")},
			run: func(s *Store) []any { return r(s.IncrByFloat(bg, "k", math.NaN(), 0)) }, want: "[0 " + msgWrongType + "]"},
	})
}

// TestIncrByParse checks INCRBY's strict integer syntax (string2ll).
func TestIncrByParse(t *testing.T) {
	for _, v := range []string{"", " 1", "1 ", "+1", "01", "-0", "-", "1.0", "1e3", "0x10", "9223372036854775808", "-9223372036854775809", "１"} {
		s, _ := newTestStore(t)
		must(t, s.Set(bg, "k", v, 0))
		if _, err := s.IncrBy(bg, "k", 1, 0); !errorIs(err, ErrNotInteger) {
			t.Errorf("INCRBY on %q: %v", v, err)
		}
	}
	for v, want := range map[string]int64{"0": 1, "-1": 0, "42": 43, "-9223372036854775808": math.MinInt64 + 1} {
		s, _ := newTestStore(t)
		must(t, s.Set(bg, "k", v, 0))
		got, err := s.IncrBy(bg, "k", 1, 0)
		must(t, err)
		equal(t, "INCRBY on "+v, got, want)
	}
}

func TestKeyCommands(t *testing.T) {
	del := func(keys ...string) step {
		return func(s *Store) []any { return r(s.Del(bg, keys...)) }
	}
	pexpire := func(key string, ttl time.Duration) step {
		return func(s *Store) []any { return r(s.PExpire(bg, key, ttl)) }
	}
	pexpireAt := func(key string, at func(s *Store) time.Time) step {
		return func(s *Store) []any { return r(s.PExpireAt(bg, key, at(s))) }
	}
	persist := func(key string) step {
		return func(s *Store) []any { return r(s.Persist(bg, key)) }
	}
	runScenarios(t, []scenario{
		{name: "del counts existing keys once", setup: []step{set("a", "1", 0), hset("b", 0, "f", "v"), sadd("c", time.Hour, "m")},
			run:  then(del("a", "b", "a", "x", "c"), exists("a"), exists("b"), exists("c")),
			want: "[3 <nil> false <nil> false <nil> false <nil>]"},
		{name: "del skips expired", setup: []step{set("a", "1", time.Second), after(2 * time.Second)}, run: del("a"), want: "[0 <nil>]"},
		{name: "del no keys", run: del(), want: "[0 ERR wrong number of arguments for 'del' command]"},
		{name: "exists any type", setup: []step{zadd("z", 0, "m", 1)}, run: exists("z"), want: "[true <nil>]"},

		{name: "pttl missing", run: pttl("k"), want: "[0s false <nil>]"},
		{name: "pttl persistent", setup: []step{sadd("k", 0, "m")}, run: pttl("k"), want: "[-1ns true <nil>]"},
		{name: "pttl counts down", setup: []step{set("k", "v", 10*time.Second), after(2500 * time.Millisecond)},
			run: pttl("k"), want: "[7.5s true <nil>]"},

		{name: "pexpire", setup: []step{hset("k", 0, "f", "v")}, run: then(pexpire("k", 3*time.Second), pttl("k")),
			want: "[true <nil> 3s true <nil>]"},
		{name: "pexpire missing", run: then(pexpire("k", time.Second), exists("k")), want: "[false <nil> false <nil>]"},
		{name: "pexpire zero deletes", setup: []step{set("k", "v", 0)}, run: then(pexpire("k", 0), exists("k")),
			want: "[true <nil> false <nil>]"},
		{name: "pexpire negative deletes", setup: []step{set("k", "v", 0)}, run: then(pexpire("k", -time.Hour), exists("k")),
			want: "[true <nil> false <nil>]"},
		{name: "pexpire under 1ms is 1ms", setup: []step{set("k", "v", 0)}, run: then(pexpire("k", time.Nanosecond), pttl("k")),
			want: "[true <nil> 1ms true <nil>]"},
		{name: "pexpire refreshes", setup: []step{set("k", "v", time.Second)}, run: then(pexpire("k", time.Hour), pttl("k")),
			want: "[true <nil> 1h0m0s true <nil>]"},

		{name: "pexpireat future", setup: []step{set("k", "v", 0)},
			run:  then(pexpireAt("k", func(s *Store) time.Time { return s.Now().Add(90 * time.Second) }), pttl("k")),
			want: "[true <nil> 1m30s true <nil>]"},
		{name: "pexpireat now deletes", setup: []step{set("k", "v", 0)},
			run:  then(pexpireAt("k", func(s *Store) time.Time { return s.Now() }), exists("k")),
			want: "[true <nil> false <nil>]"},
		{name: "pexpireat past deletes", setup: []step{set("k", "v", 0)},
			run:  then(pexpireAt("k", func(s *Store) time.Time { return time.Unix(0, 0) }), exists("k")),
			want: "[true <nil> false <nil>]"},
		{name: "pexpireat missing", run: pexpireAt("k", func(s *Store) time.Time { return s.Now().Add(time.Hour) }),
			want: "[false <nil>]"},

		{name: "persist", setup: []step{set("k", "v", time.Second)}, run: then(persist("k"), pttl("k"), persist("k")),
			want: "[true <nil> -1ns true <nil> false <nil>]"},
		{name: "persist missing", run: persist("k"), want: "[false <nil>]"},
		{name: "persist expired", setup: []step{set("k", "v", time.Second), after(time.Minute)}, run: persist("k"),
			want: "[false <nil>]"},
	})
}

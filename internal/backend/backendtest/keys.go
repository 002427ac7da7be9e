package backendtest

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

func testStrings(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b

	_, ok, err := b.Get(ctx, "s")
	require.NoError(t, err)
	require.False(t, ok, "missing key")

	require.NoError(t, b.Set(ctx, "s", "v1", time.Minute))
	v, ok, err := b.Get(ctx, "s")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v1", v)
	requireTTL(t, b, "s", time.Minute)

	require.NoError(t, b.Set(ctx, "s", "v2", 0), "SET without expiry clears the TTL")
	requireTTL(t, b, "s", -1)

	stored, err := b.SetNX(ctx, "s", "v3", time.Minute)
	require.NoError(t, err)
	require.False(t, stored, "SETNX on an existing key")
	v, _, _ = b.Get(ctx, "s")
	require.Equal(t, "v2", v)
	requireTTL(t, b, "s", -1)

	stored, err = b.SetNX(ctx, "n", "x", time.Minute)
	require.NoError(t, err)
	require.True(t, stored)
	requireTTL(t, b, "n", time.Minute)

	v, ok, err = b.GetDel(ctx, "n")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "x", v)
	_, ok, err = b.GetDel(ctx, "n")
	require.NoError(t, err)
	require.False(t, ok, "GETDEL deleted the key")

	require.NoError(t, b.Set(ctx, "t", "1", 0))
	n, err := b.Del(ctx, "s", "t", "missing")
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	requireExists(t, b, "s", false)

	require.NoError(t, b.Set(ctx, "empty", "", 0))
	v, ok, err = b.Get(ctx, "empty")
	require.NoError(t, err)
	require.True(t, ok, "an empty string is a value, not a miss")
	require.Empty(t, v)
}

// testMisses checks that every read of a missing key, field or member
// reports a false ok (or an empty reply) and no error: a miss is never an
// error.
func testMisses(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	_, err := b.HSet(ctx, "h", 0, "f", "v")
	require.NoError(t, err)
	_, err = b.ZAdd(ctx, "z", 0, backend.ZAddUpsert, backend.Z{Member: "m", Score: 1})
	require.NoError(t, err)

	oks := map[string]func() (bool, error){
		"GET": func() (bool, error) { _, ok, err := b.Get(ctx, "missing"); return ok, err },
		"GETDEL": func() (bool, error) {
			_, ok, err := b.GetDel(ctx, "missing")
			return ok, err
		},
		"PTTL":        func() (bool, error) { _, ok, err := b.PTTL(ctx, "missing"); return ok, err },
		"HGET key":    func() (bool, error) { _, ok, err := b.HGet(ctx, "missing", "f"); return ok, err },
		"HGET field":  func() (bool, error) { _, ok, err := b.HGet(ctx, "h", "g"); return ok, err },
		"HGETDEL key": func() (bool, error) { _, ok, err := b.HGetDel(ctx, "missing", "f"); return ok, err },
		"HGETDEL field": func() (bool, error) {
			_, ok, err := b.HGetDel(ctx, "h", "g")
			return ok, err
		},
		"HPOPRANDOM": func() (bool, error) {
			_, _, ok, err := b.HPopRandom(ctx, "missing")
			return ok, err
		},
		"ZSCORE key":     func() (bool, error) { _, ok, err := b.ZScore(ctx, "missing", "m"); return ok, err },
		"ZSCORE member":  func() (bool, error) { _, ok, err := b.ZScore(ctx, "z", "n"); return ok, err },
		"ZRANK key":      func() (bool, error) { _, ok, err := b.ZRank(ctx, "missing", "m", false); return ok, err },
		"ZREVRANK":       func() (bool, error) { _, ok, err := b.ZRank(ctx, "z", "n", true); return ok, err },
		"EXISTS":         func() (bool, error) { return b.Exists(ctx, "missing") },
		"HEXISTS key":    func() (bool, error) { return b.HExists(ctx, "missing", "f") },
		"HEXISTS field":  func() (bool, error) { return b.HExists(ctx, "h", "g") },
		"SISMEMBER":      func() (bool, error) { return b.SIsMember(ctx, "missing", "m") },
		"PERSIST":        func() (bool, error) { return b.Persist(ctx, "missing") },
		"PEXPIREAT":      func() (bool, error) { return b.PExpireAt(ctx, "missing", e.now().Add(time.Hour)) },
		"DELIFEQUAL key": func() (bool, error) { return b.DelIfEqual(ctx, "missing", "v") },
	}
	for name, f := range oks {
		t.Run(name, func(t *testing.T) {
			ok, err := f()
			require.NoError(t, err)
			require.False(t, ok)
		})
	}

	counts := map[string]func() (int64, error){
		"DEL":    func() (int64, error) { return b.Del(ctx, "missing") },
		"HDEL":   func() (int64, error) { return b.HDel(ctx, "missing", "f") },
		"HLEN":   func() (int64, error) { return b.HLen(ctx, "missing") },
		"SREM":   func() (int64, error) { return b.SRem(ctx, "missing", "m") },
		"SCARD":  func() (int64, error) { return b.SCard(ctx, "missing") },
		"ZREM":   func() (int64, error) { return b.ZRem(ctx, "missing", "m") },
		"ZCARD":  func() (int64, error) { return b.ZCard(ctx, "missing") },
		"ZCOUNT": func() (int64, error) { return b.ZCount(ctx, "missing", "-inf", "+inf") },
	}
	for name, f := range counts {
		t.Run(name, func(t *testing.T) {
			n, err := f()
			require.NoError(t, err)
			require.Zero(t, n)
		})
	}

	lists := map[string]func() (int, error){
		"HGETALL":  func() (int, error) { v, err := b.HGetAll(ctx, "missing"); return len(v), err },
		"HVALS":    func() (int, error) { v, err := b.HVals(ctx, "missing"); return len(v), err },
		"SMEMBERS": func() (int, error) { v, err := b.SMembers(ctx, "missing"); return len(v), err },
		"SPOP":     func() (int, error) { v, err := b.SPop(ctx, "missing", 3); return len(v), err },
		"SRANDMEMBER": func() (int, error) {
			v, err := b.SRandMember(ctx, "missing", 3)
			return len(v), err
		},
		"ZRANGE":  func() (int, error) { v, err := b.ZRange(ctx, "missing", 0, -1, false); return len(v), err },
		"ZPOPMAX": func() (int, error) { v, err := b.ZPop(ctx, "missing", 2, true); return len(v), err },
		"ZRANGE BYSCORE": func() (int, error) {
			v, err := b.ZRangeByScore(ctx, "missing", "-inf", "+inf", false, 0, -1)
			return len(v), err
		},
	}
	for name, f := range lists {
		t.Run(name, func(t *testing.T) {
			n, err := f()
			require.NoError(t, err)
			require.Zero(t, n)
		})
	}

	vals, ok, err := b.HMGet(ctx, "h", "g", "f")
	require.NoError(t, err)
	require.Equal(t, []bool{false, true}, ok)
	require.Equal(t, "v", vals[1])
	vals, ok, err = b.MGet(ctx, "missing", "h")
	require.NoError(t, err)
	require.Equal(t, []bool{false, false}, ok, "MGET: a missing key and a key of another type")
	require.Len(t, vals, 2)
}

func testExpiry(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b

	_, ok, err := b.PTTL(ctx, "missing")
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = b.PExpire(ctx, "missing", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "PEXPIRE of a missing key")

	require.NoError(t, b.Set(ctx, "k", "v", 0))
	ok, err = b.PExpire(ctx, "k", 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	requireTTL(t, b, "k", 10*time.Second)

	e.advance(t, 9*time.Second)
	requireTTL(t, b, "k", time.Second)
	e.advance(t, 2*time.Second)
	_, ok, _ = b.Get(ctx, "k")
	require.False(t, ok, "expired key")
	requireExists(t, b, "k", false)

	require.NoError(t, b.Set(ctx, "k", "v", time.Hour))
	ok, err = b.Persist(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	requireTTL(t, b, "k", -1)
	ok, err = b.Persist(ctx, "k")
	require.NoError(t, err)
	require.False(t, ok, "PERSIST of a key without expiry")

	ok, err = b.PExpireAt(ctx, "k", e.now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	requireTTL(t, b, "k", time.Hour)

	ok, err = b.PExpire(ctx, "k", 0)
	require.NoError(t, err)
	require.True(t, ok, "PEXPIRE 0 of an existing key")
	requireExists(t, b, "k", false)

	require.NoError(t, b.Set(ctx, "k", "v", 0))
	ok, err = b.PExpire(ctx, "k", -time.Second)
	require.NoError(t, err)
	require.True(t, ok, "PEXPIRE of a negative time of an existing key")
	requireExists(t, b, "k", false)

	require.NoError(t, b.Set(ctx, "k", "v", 0))
	ok, err = b.PExpireAt(ctx, "k", e.now().Add(-time.Second))
	require.NoError(t, err)
	require.True(t, ok)
	requireExists(t, b, "k", false)

	_, err = b.HSet(ctx, "h", 10*time.Second, "f", "v")
	require.NoError(t, err)
	e.advance(t, 11*time.Second)
	requireExists(t, b, "h", false)
	n, err := b.HLen(ctx, "h")
	require.NoError(t, err)
	require.Zero(t, n, "an expired hash is gone")
}

// testFarDeadlines checks deadlines beyond what a Duration holds: a
// deadline after 2262 is kept to the millisecond, and a remaining time a
// Duration cannot hold reads as math.MaxInt64.
func testFarDeadlines(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	require.NoError(t, b.Set(ctx, "far", "v", 0))
	at := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	ok, err := b.PExpireAt(ctx, "far", at)
	require.NoError(t, err)
	require.True(t, ok)
	ttl, ok, err := b.PTTL(ctx, "far")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, time.Duration(math.MaxInt64), ttl, "beyond a Duration: the largest one")

	ok, err = b.PExpireAt(ctx, "far", time.UnixMilli(math.MaxInt64))
	require.NoError(t, err)
	require.True(t, ok)
	ttl, _, err = b.PTTL(ctx, "far")
	require.NoError(t, err)
	require.Equal(t, time.Duration(math.MaxInt64), ttl)
	requireExists(t, b, "far", true)

	near := e.now().Add(200 * 365 * 24 * time.Hour)
	ok, err = b.PExpireAt(ctx, "far", near)
	require.NoError(t, err)
	require.True(t, ok)
	requireTTL(t, b, "far", near.Sub(e.now()))
}

// testExpiryRefresh checks the expiry rule of the contract on every method
// that writes: a write with ttl > 0 sets the key's expiry, a write with
// ttl 0 removes it (PERSIST), a write that fails leaves it alone, and a
// command that only removes data leaves it alone.
func testExpiryRefresh(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	for _, w := range writes(ctx, b) {
		t.Run(w.name, func(t *testing.T) {
			key := "{x}" + w.name
			require.NoError(t, w.setup(key), "setup")
			_, err := b.PExpire(ctx, key, time.Hour)
			require.NoError(t, err)
			require.NoError(t, w.write(key, time.Minute))
			requireTTL(t, b, key, time.Minute)
			require.NoError(t, w.write(key, 0))
			requireTTL(t, b, key, -1)
			require.NoError(t, w.write(key, time.Hour))
			requireTTL(t, b, key, time.Hour)

			other := "{x}other " + w.name
			require.NoError(t, w.wrongType(other))
			_, err = b.PExpire(ctx, other, time.Hour)
			require.NoError(t, err)
			requireWrongType(t, w.write(other, time.Minute))
			requireTTL(t, b, other, time.Hour)
			requireWrongType(t, w.write(other, 0))
			requireTTL(t, b, other, time.Hour)
		})
	}
	for _, r := range removals(ctx, b) {
		t.Run(r.name, func(t *testing.T) {
			key := "{x}" + r.name
			require.NoError(t, r.setup(key))
			_, err := b.PExpire(ctx, key, time.Hour)
			require.NoError(t, err)
			require.NoError(t, r.remove(key))
			requireTTL(t, b, key, time.Hour)
		})
	}
}

// write is a method that writes, with how to create its key and a key of
// another type.
type write struct {
	name      string
	setup     func(key string) error
	write     func(key string, ttl time.Duration) error
	wrongType func(key string) error
}

func writes(ctx context.Context, b backend.Backend) []write {
	str := func(key string) error { return b.Set(ctx, key, "1", 0) }
	hash := func(key string) error { _, err := b.HSet(ctx, key, 0, "f", "1", "g", "2"); return err }
	set := func(key string) error { _, err := b.SAdd(ctx, key, 0, "a", "b"); return err }
	zset := func(key string) error {
		_, err := b.ZAdd(ctx, key, 0, backend.ZAddUpsert, backend.Z{Member: "a", Score: 1})
		return err
	}
	return []write{
		{"HSET", hash, func(key string, ttl time.Duration) error {
			_, err := b.HSet(ctx, key, ttl, "f", "3")
			return err
		}, str},
		{"HSETNX", hash, func(key string, ttl time.Duration) error {
			_, err := b.HSetNX(ctx, key, "new "+ttl.String(), "3", ttl)
			return err
		}, str},
		{"HINCRBY", hash, func(key string, ttl time.Duration) error {
			_, err := b.HIncrByWithin(ctx, key, "f", 1, math.MinInt64, math.MaxInt64, ttl)
			return err
		}, str},
		{"HINCRBYFLOAT", hash, func(key string, ttl time.Duration) error {
			_, err := b.HIncrByFloatWithin(ctx, key, "f", 0.5, math.Inf(-1), math.Inf(1), ttl)
			return err
		}, str},
		{"HINCRBYMANY", hash, func(key string, ttl time.Duration) error {
			_, err := b.HIncrByMany(ctx, key, ttl, []string{"f", "g"}, []int64{1, 2})
			return err
		}, str},
		{"INCRBY", str, func(key string, ttl time.Duration) error {
			_, err := b.IncrByWithin(ctx, key, 1, math.MinInt64, math.MaxInt64, ttl)
			return err
		}, hash},
		{"INCRBYFLOAT", str, func(key string, ttl time.Duration) error {
			_, err := b.IncrByFloatWithin(ctx, key, 0.5, math.Inf(-1), math.Inf(1), ttl)
			return err
		}, hash},
		{"SADD", set, func(key string, ttl time.Duration) error {
			_, err := b.SAdd(ctx, key, ttl, "c")
			return err
		}, str},
		{"ZADD", zset, func(key string, ttl time.Duration) error {
			_, err := b.ZAdd(ctx, key, ttl, backend.ZAddUpsert, backend.Z{Member: "b", Score: 2})
			return err
		}, str},
		{"ZINCRBY", zset, func(key string, ttl time.Duration) error {
			_, err := b.ZIncrBy(ctx, key, "a", 1, ttl)
			return err
		}, str},
	}
}

// removal is a method that only removes data, with how to create its key.
type removal struct {
	name   string
	setup  func(key string) error
	remove func(key string) error
}

func removals(ctx context.Context, b backend.Backend) []removal {
	hash := func(key string) error { _, err := b.HSet(ctx, key, 0, "f", "1", "g", "2", "h", "3"); return err }
	set := func(key string) error { _, err := b.SAdd(ctx, key, 0, "a", "b", "c"); return err }
	zset := func(key string) error {
		_, err := b.ZAdd(ctx, key, 0, backend.ZAddUpsert, Zs([]string{"a", "b", "c", "d", "e"}, []float64{1, 2, 3, 4, 5})...)
		return err
	}
	return []removal{
		{"HDEL", hash, func(key string) error { _, err := b.HDel(ctx, key, "f"); return err }},
		{"HGETDEL", hash, func(key string) error { _, _, err := b.HGetDel(ctx, key, "f"); return err }},
		{"HPOPRANDOM", hash, func(key string) error { _, _, _, err := b.HPopRandom(ctx, key); return err }},
		{"SREM", set, func(key string) error { _, err := b.SRem(ctx, key, "a"); return err }},
		{"SPOP", set, func(key string) error { _, err := b.SPop(ctx, key, 1); return err }},
		{"ZREM", zset, func(key string) error { _, err := b.ZRem(ctx, key, "a"); return err }},
		{"ZPOPMIN", zset, func(key string) error { _, err := b.ZPop(ctx, key, 1, false); return err }},
		{"ZPOPMAX", zset, func(key string) error { _, err := b.ZPop(ctx, key, 1, true); return err }},
		{"ZREMRANGEBYRANK", zset, func(key string) error { _, err := b.ZRemRangeByRank(ctx, key, 0, 0); return err }},
		{"ZREMRANGEBYSCORE", zset, func(key string) error {
			_, err := b.ZRemRangeByScore(ctx, key, "(4", "+inf")
			return err
		}},
	}
}

// incrBy, incrByFloat, hIncrBy and hIncrByFloat are the bounded increments
// over their whole range: INCRBY, INCRBYFLOAT, HINCRBY and HINCRBYFLOAT.
func incrBy(ctx context.Context, b backend.Backend, key string, n int64, ttl time.Duration) (int64, error) {
	return b.IncrByWithin(ctx, key, n, math.MinInt64, math.MaxInt64, ttl)
}

func incrByFloat(ctx context.Context, b backend.Backend, key string, f float64, ttl time.Duration) (float64, error) {
	return b.IncrByFloatWithin(ctx, key, f, math.Inf(-1), math.Inf(1), ttl)
}

func hIncrBy(ctx context.Context, b backend.Backend, key, field string, n int64, ttl time.Duration) (int64, error) {
	return b.HIncrByWithin(ctx, key, field, n, math.MinInt64, math.MaxInt64, ttl)
}

func hIncrByFloat(ctx context.Context, b backend.Backend, key, field string, f float64, ttl time.Duration) (float64, error) {
	return b.HIncrByFloatWithin(ctx, key, field, f, math.Inf(-1), math.Inf(1), ttl)
}

func testIncr(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b

	n, err := incrBy(ctx, b, "i", 5, time.Minute)
	require.NoError(t, err)
	require.Equal(t, int64(5), n)
	requireTTL(t, b, "i", time.Minute)
	n, err = incrBy(ctx, b, "i", -7, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(-2), n)
	requireTTL(t, b, "i", time.Hour)
	n, err = incrBy(ctx, b, "i", 1, 0)
	require.NoError(t, err)
	require.Equal(t, int64(-1), n)
	requireTTL(t, b, "i", -1)

	require.NoError(t, b.Set(ctx, "big", strconv.FormatInt(1<<62, 10), 0))
	_, err = incrBy(ctx, b, "big", 1<<62, 0)
	requireNotNumber(t, err)

	require.NoError(t, b.Set(ctx, "word", "abc", 0))
	_, err = incrBy(ctx, b, "word", 1, 0)
	requireNotNumber(t, err)
	_, err = incrByFloat(ctx, b, "word", 1, 0)
	requireNotNumber(t, err)

	f, err := incrByFloat(ctx, b, "f", 1.5, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1.5, f)
	f, err = incrByFloat(ctx, b, "f", 2.25, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 3.75, f)
	v, _, _ := b.Get(ctx, "f")
	require.Equal(t, "3.75", v)
	requireTTL(t, b, "f", time.Minute)

	n, err = incrBy(ctx, b, "f", 1, 0)
	requireNotNumber(t, err)
	require.Zero(t, n)

	n, err = incrBy(ctx, b, "exact", 1<<60+1, 0)
	require.NoError(t, err)
	n, err = incrBy(ctx, b, "exact", 2, 0)
	require.NoError(t, err)
	require.Equal(t, int64(1<<60+3), n, "exact beyond 2^53")
}

// testIncrWithin: a bounded increment out of range writes nothing, not
// even the key it would have created; one within range is stored.
func testIncrWithin(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	_, err := b.IncrByWithin(ctx, "s", 300, 0, 255, time.Minute)
	requireNotNumber(t, err)
	_, err = b.HIncrByWithin(ctx, "h", "f", -1, 0, 255, time.Minute)
	requireNotNumber(t, err)
	_, err = b.IncrByFloatWithin(ctx, "f", 2, -1, 1, time.Minute)
	requireNotNumber(t, err)
	_, err = b.HIncrByFloatWithin(ctx, "hf", "f", -2, -1, 1, time.Minute)
	requireNotNumber(t, err)
	for _, key := range []string{"s", "h", "f", "hf"} {
		requireExists(t, b, key, false)
	}

	n, err := b.HIncrByWithin(ctx, "h", "f", 255, 0, 255, time.Minute)
	require.NoError(t, err)
	require.Equal(t, int64(255), n)
	f, err := b.IncrByFloatWithin(ctx, "f", 1, -1, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 1.0, f)
	requireTTL(t, b, "h", time.Minute)
	requireTTL(t, b, "f", -1)

	require.NoError(t, b.Set(ctx, "s", "250", time.Hour))
	_, err = b.IncrByWithin(ctx, "s", 6, 0, 255, time.Minute)
	requireNotNumber(t, err)
	v, _, _ := b.Get(ctx, "s")
	require.Equal(t, "250", v, "a refused increment leaves the value")
	requireTTL(t, b, "s", time.Hour)
	_, err = b.HIncrByWithin(ctx, "h", "f", 1, 0, 255, 0)
	requireNotNumber(t, err)
	v, _, _ = b.HGet(ctx, "h", "f")
	require.Equal(t, "255", v, "a refused increment leaves the field")
	requireTTL(t, b, "h", time.Minute)
}

func testWrongType(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	require.NoError(t, b.Set(ctx, "{w}str", "v", 0))
	_, err := b.HSet(ctx, "{w}hash", 0, "f", "v")
	require.NoError(t, err)

	checks := map[string]error{}
	_, _, checks["GET hash"] = b.Get(ctx, "{w}hash")
	_, _, checks["GETDEL hash"] = b.GetDel(ctx, "{w}hash")
	_, checks["INCRBY hash"] = incrBy(ctx, b, "{w}hash", 1, 0)
	_, checks["INCRBYFLOAT hash"] = incrByFloat(ctx, b, "{w}hash", 1, 0)
	_, _, checks["HGET str"] = b.HGet(ctx, "{w}str", "f")
	_, checks["HSET str"] = b.HSet(ctx, "{w}str", 0, "f", "v")
	_, checks["HINCRBY str"] = hIncrBy(ctx, b, "{w}str", "f", 1, 0)
	_, checks["HLEN str"] = b.HLen(ctx, "{w}str")
	_, checks["HGETALL str"] = b.HGetAll(ctx, "{w}str")
	_, checks["SADD str"] = b.SAdd(ctx, "{w}str", 0, "m")
	_, checks["SCARD hash"] = b.SCard(ctx, "{w}hash")
	_, checks["SMEMBERS hash"] = b.SMembers(ctx, "{w}hash")
	_, checks["ZADD str"] = b.ZAdd(ctx, "{w}str", 0, backend.ZAddUpsert, Zs([]string{"m"}, []float64{1})...)
	_, _, checks["ZRANGE hash"] = SplitZ(b.ZRange(ctx, "{w}hash", 0, -1, false))
	_, checks["ZRANGE BYSCORE LIMIT 0 0 hash"] = b.ZRangeByScore(ctx, "{w}hash", "-inf", "+inf", false, 0, 0)
	_, checks["ZCARD hash"] = b.ZCard(ctx, "{w}hash")
	_, checks["SUNION str hash"] = b.SCombine(ctx, backend.Union, "{w}str", "{w}hash")
	for name, err := range checks {
		t.Run(name, func(t *testing.T) { requireWrongType(t, err) })
	}
	v, _, _ := b.Get(ctx, "{w}str")
	require.Equal(t, "v", v, "a failed write leaves the value alone")
}

// testBatch checks MGET and the pipelined SETs of SetMany, on keys that a
// cluster puts on different slots.
func testBatch(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	values := []string{"v1", "v2", "", "v4", "v5", "v6"}
	require.NoError(t, b.SetMany(ctx, keys, values, time.Minute))
	for _, k := range keys {
		requireTTL(t, b, k, time.Minute)
	}
	got, ok, err := b.MGet(ctx, keys...)
	require.NoError(t, err)
	require.Equal(t, values, got)
	require.Equal(t, []bool{true, true, true, true, true, true}, ok)

	require.NoError(t, b.SetMany(ctx, []string{"k1", "k2"}, []string{"w1", "w2"}, 0))
	requireTTL(t, b, "k1", -1)
	requireTTL(t, b, "k2", -1)
	require.NoError(t, b.SetMany(ctx, []string{"k5", "k6"}, []string{"v5", "v6"}, time.Minute, 0),
		"one TTL per key")
	requireTTL(t, b, "k5", time.Minute)
	requireTTL(t, b, "k6", -1)
	_, err = b.HSet(ctx, "k3", 0, "f", "v")
	require.Error(t, err, "k3 is a string")
	_, err = b.Del(ctx, "k3")
	require.NoError(t, err)
	_, err = b.HSet(ctx, "k3", 0, "f", "v")
	require.NoError(t, err)

	got, ok, err = b.MGet(ctx, "k2", "missing", "k3", "k1", "k2")
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, false, true, true}, ok, "MGET in order; a hash reads as missing")
	require.Equal(t, "w2", got[0])
	require.Equal(t, "w1", got[3])
	require.Equal(t, "w2", got[4])

	got, ok, err = b.MGet(ctx, "{t}a", "{t}b")
	require.NoError(t, err)
	require.Equal(t, []bool{false, false}, ok)
	require.Len(t, got, 2)

	n, err := b.Del(ctx, keys...)
	require.NoError(t, err)
	require.Equal(t, int64(len(keys)), n, "DEL across slots")
}

// testDelIfEqual checks the lease release: the key goes only while it
// holds the value.
func testDelIfEqual(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	require.NoError(t, b.Set(ctx, "lease", "token", time.Minute))
	ok, err := b.DelIfEqual(ctx, "lease", "other")
	require.NoError(t, err)
	require.False(t, ok)
	requireTTL(t, b, "lease", time.Minute)
	ok, err = b.DelIfEqual(ctx, "lease", "token")
	require.NoError(t, err)
	require.True(t, ok)
	requireExists(t, b, "lease", false)
	ok, err = b.DelIfEqual(ctx, "lease", "token")
	require.NoError(t, err)
	require.False(t, ok)

	_, err = b.HSet(ctx, "hash", 0, "f", "v")
	require.NoError(t, err)
	_, err = b.DelIfEqual(ctx, "hash", "v")
	requireWrongType(t, err)
	requireExists(t, b, "hash", true)
}

package memstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// commands is the method set the caches use, implemented by Store and, in
// this test, by refStore on a real Redis.
type commands interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error)
	GetDel(ctx context.Context, key string) (string, bool, error)
	DelIfEqual(ctx context.Context, key, value string) (bool, error)
	Del(ctx context.Context, keys ...string) (int64, error)
	Exists(ctx context.Context, key string) (bool, error)
	PTTL(ctx context.Context, key string) (time.Duration, bool, error)
	PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	PExpireAt(ctx context.Context, key string, at time.Time) (bool, error)
	Persist(ctx context.Context, key string) (bool, error)
	IncrBy(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error)
	IncrByFloat(ctx context.Context, key string, f float64, ttl time.Duration) (float64, error)
	HGet(ctx context.Context, key, field string) (string, bool, error)
	HMGet(ctx context.Context, key string, fields ...string) ([]string, []bool, error)
	HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error)
	HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error)
	HDel(ctx context.Context, key string, fields ...string) (int64, error)
	HExists(ctx context.Context, key, field string) (bool, error)
	HLen(ctx context.Context, key string) (int64, error)
	HGetDel(ctx context.Context, key, field string) (string, bool, error)
	HIncrBy(ctx context.Context, key, field string, n int64, ttl time.Duration) (int64, error)
	HIncrByFloat(ctx context.Context, key, field string, f float64, ttl time.Duration) (float64, error)
	HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error)
	HScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error)
	HGetAll(ctx context.Context, key string) ([]string, error)
	HVals(ctx context.Context, key string) ([]string, error)
	SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error)
	SRem(ctx context.Context, key string, members ...string) (int64, error)
	SIsMember(ctx context.Context, key, member string) (bool, error)
	SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error)
	SCard(ctx context.Context, key string) (int64, error)
	SPop(ctx context.Context, key string, count int64) ([]string, error)
	SRandMember(ctx context.Context, key string, count int64) ([]string, error)
	SScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error)
	SMembers(ctx context.Context, key string) ([]string, error)
	SCombine(ctx context.Context, op string, keys ...string) ([]string, error)
	SCombineStore(ctx context.Context, op, dest string, ttl time.Duration, keys ...string) (int64, error)
	ZAdd(ctx context.Context, key string, ttl time.Duration, mode string, members []string, scores []float64) (int64, error)
	ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error)
	ZScore(ctx context.Context, key, member string) (float64, bool, error)
	ZRank(ctx context.Context, key, member string, reverse bool) (int64, bool, error)
	ZRem(ctx context.Context, key string, members ...string) (int64, error)
	ZCard(ctx context.Context, key string) (int64, error)
	ZPop(ctx context.Context, key string, count int64, max bool) ([]string, []float64, error)
	ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]string, []float64, error)
	ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]string, []float64, error)
	ZCount(ctx context.Context, key, min, max string) (int64, error)
	ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error)
	ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error)
	DeleteMatching(ctx context.Context, match string, want func(string) bool, batch int64) (int64, error)
}

var _ commands = (*Store)(nil)

// startRedis starts a private redis-server 7.x on a unix socket and returns
// a client for it, or skips the test when none is installed — or fails it
// when CACHES_REQUIRE_REDIS is 1.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("comparison with a real Redis skipped in -short mode")
	}
	skip := t.Skipf
	if os.Getenv("CACHES_REQUIRE_REDIS") == "1" {
		skip = t.Fatalf
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skip("redis-server not installed")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !regexp.MustCompile(`v=7\.`).Match(out) {
		skip("redis-server is not Redis 7: %s", out)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil && rdb.Ping(bg).Err() == nil {
			return rdb
		}
		if i == 100 {
			t.Fatalf("redis-server did not come up")
		}
		<-tick.C
	}
}

// refStore implements commands on a real Redis the way a go-redis backend
// would: each write is followed by PEXPIRE or PERSIST unless it failed.
type refStore struct{ rdb *redis.Client }

func (r refStore) ttl(ctx context.Context, key string, ttl time.Duration, err error) error {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return err
	}
	if ttl == 0 {
		r.rdb.Persist(ctx, key)
	} else {
		r.rdb.PExpire(ctx, key, ttl)
	}
	return err
}

// miss maps redis.Nil to ok == false.
func miss(err error) (bool, error) {
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

func (r refStore) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.rdb.Get(ctx, key).Result()
	ok, err := miss(err)
	return v, ok, err
}

func (r refStore) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	return r.ttl(ctx, key, ttl, r.rdb.Do(ctx, "SET", key, value).Err())
}

func (r refStore) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	args := []any{"SET", key, value, "NX"}
	if ttl > 0 {
		args = append(args, "PX", durationMs(ttl))
	}
	return miss(r.rdb.Do(ctx, args...).Err())
}

func (r refStore) GetDel(ctx context.Context, key string) (string, bool, error) {
	v, err := r.rdb.GetDel(ctx, key).Result()
	ok, err := miss(err)
	return v, ok, err
}

var delIfEqual = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func (r refStore) DelIfEqual(ctx context.Context, key, value string) (bool, error) {
	n, err := delIfEqual.Run(ctx, r.rdb, []string{key}, value).Int64()
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		err = ErrWrongType
	}
	return n == 1, err
}

func (r refStore) Del(ctx context.Context, keys ...string) (int64, error) {
	return r.rdb.Del(ctx, keys...).Result()
}

func (r refStore) Exists(ctx context.Context, key string) (bool, error) {
	n, err := r.rdb.Exists(ctx, key).Result()
	return n == 1, err
}

func (r refStore) PTTL(ctx context.Context, key string) (time.Duration, bool, error) {
	n, err := r.rdb.Do(ctx, "PTTL", key).Int64()
	switch {
	case err != nil || n == -2:
		return 0, false, err
	case n == -1:
		return -1, true, nil
	}
	return time.Duration(n) * time.Millisecond, true, nil
}

func (r refStore) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return r.rdb.PExpire(ctx, key, ttl).Result()
}

func (r refStore) PExpireAt(ctx context.Context, key string, at time.Time) (bool, error) {
	return r.rdb.PExpireAt(ctx, key, at).Result()
}

func (r refStore) Persist(ctx context.Context, key string) (bool, error) {
	return r.rdb.Persist(ctx, key).Result()
}

func (r refStore) IncrBy(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	v, err := r.rdb.IncrBy(ctx, key, n).Result()
	return v, r.ttl(ctx, key, ttl, err)
}

func (r refStore) IncrByFloat(ctx context.Context, key string, f float64, ttl time.Duration) (float64, error) {
	v, err := r.rdb.IncrByFloat(ctx, key, f).Result()
	return v, r.ttl(ctx, key, ttl, err)
}

func (r refStore) HGet(ctx context.Context, key, field string) (string, bool, error) {
	v, err := r.rdb.HGet(ctx, key, field).Result()
	ok, err := miss(err)
	return v, ok, err
}

func (r refStore) HMGet(ctx context.Context, key string, fields ...string) ([]string, []bool, error) {
	vs, err := r.rdb.HMGet(ctx, key, fields...).Result()
	if err != nil {
		return nil, nil, err
	}
	values, ok := make([]string, len(vs)), make([]bool, len(vs))
	for i, v := range vs {
		values[i], ok[i] = v.(string)
	}
	return values, ok, nil
}

func (r refStore) HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error) {
	args := []any{"HSET", key}
	for _, fv := range fieldValues {
		args = append(args, fv)
	}
	n, err := r.rdb.Do(ctx, args...).Int64()
	return n, r.ttl(ctx, key, ttl, err)
}

func (r refStore) HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error) {
	ok, err := r.rdb.HSetNX(ctx, key, field, value).Result()
	return ok, r.ttl(ctx, key, ttl, err)
}

func (r refStore) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	return r.rdb.HDel(ctx, key, fields...).Result()
}

func (r refStore) HExists(ctx context.Context, key, field string) (bool, error) {
	return r.rdb.HExists(ctx, key, field).Result()
}

func (r refStore) HLen(ctx context.Context, key string) (int64, error) {
	return r.rdb.HLen(ctx, key).Result()
}

var hgetdel = redis.NewScript(`local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v`)

func (r refStore) HGetDel(ctx context.Context, key, field string) (string, bool, error) {
	v, err := hgetdel.Run(ctx, r.rdb, []string{key}, field).Text()
	ok, err := miss(err)
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		err = ErrWrongType
	}
	return v, ok, err
}

func (r refStore) HIncrBy(ctx context.Context, key, field string, n int64, ttl time.Duration) (int64, error) {
	v, err := r.rdb.HIncrBy(ctx, key, field, n).Result()
	return v, r.ttl(ctx, key, ttl, err)
}

func (r refStore) HIncrByFloat(ctx context.Context, key, field string, f float64, ttl time.Duration) (float64, error) {
	v, err := r.rdb.HIncrByFloat(ctx, key, field, f).Result()
	return v, r.ttl(ctx, key, ttl, err)
}

// HIncrByMany queues the increments in one MULTI; the ttl follows when
// the key is a hash afterwards.
func (r refStore) HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	cmds := make([]*redis.IntCmd, len(fields))
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, f := range fields {
			cmds[i] = p.HIncrBy(ctx, key, f, ns[i])
		}
		return nil
	})
	out := make([]int64, len(cmds))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	if r.rdb.Type(ctx, key).Val() == "hash" {
		_ = r.ttl(ctx, key, ttl, nil)
	}
	return out, err
}

func (r refStore) HScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return r.rdb.HScan(ctx, key, cursor, "", count).Result()
}

func (r refStore) HGetAll(ctx context.Context, key string) ([]string, error) {
	m, err := r.rdb.HGetAll(ctx, key).Result()
	out := []string{}
	for k, v := range m {
		out = append(out, k, v)
	}
	return out, err
}

func (r refStore) HVals(ctx context.Context, key string) ([]string, error) {
	return r.rdb.HVals(ctx, key).Result()
}

func (r refStore) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	n, err := r.rdb.SAdd(ctx, key, toAny(members)...).Result()
	return n, r.ttl(ctx, key, ttl, err)
}

func (r refStore) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	return r.rdb.SRem(ctx, key, toAny(members)...).Result()
}

func (r refStore) SIsMember(ctx context.Context, key, member string) (bool, error) {
	return r.rdb.SIsMember(ctx, key, member).Result()
}

func (r refStore) SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error) {
	return r.rdb.SMIsMember(ctx, key, toAny(members)...).Result()
}

func (r refStore) SCard(ctx context.Context, key string) (int64, error) {
	return r.rdb.SCard(ctx, key).Result()
}

func (r refStore) SPop(ctx context.Context, key string, count int64) ([]string, error) {
	return r.rdb.SPopN(ctx, key, count).Result()
}

func (r refStore) SRandMember(ctx context.Context, key string, count int64) ([]string, error) {
	return r.rdb.SRandMemberN(ctx, key, count).Result()
}

func (r refStore) SScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return r.rdb.SScan(ctx, key, cursor, "", count).Result()
}

func (r refStore) SMembers(ctx context.Context, key string) ([]string, error) {
	return r.rdb.SMembers(ctx, key).Result()
}

func (r refStore) SCombine(ctx context.Context, op string, keys ...string) ([]string, error) {
	return r.rdb.Do(ctx, append([]any{op}, toAny(keys)...)...).StringSlice()
}

func (r refStore) SCombineStore(ctx context.Context, op, dest string, ttl time.Duration, keys ...string) (int64, error) {
	n, err := r.rdb.Do(ctx, append([]any{op + "STORE", dest}, toAny(keys)...)...).Int64()
	if n == 0 {
		return n, err
	}
	return n, r.ttl(ctx, dest, ttl, err)
}

func (r refStore) ZAdd(ctx context.Context, key string, ttl time.Duration, mode string, members []string, scores []float64) (int64, error) {
	args := []any{"ZADD", key}
	if mode != "" {
		args = append(args, mode)
	}
	for i := range members {
		args = append(args, scores[i], members[i])
	}
	n, err := r.rdb.Do(ctx, args...).Int64()
	return n, r.ttl(ctx, key, ttl, err)
}

func (r refStore) ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error) {
	v, err := r.rdb.ZIncrBy(ctx, key, incr, member).Result()
	return v, r.ttl(ctx, key, ttl, err)
}

func (r refStore) ZScore(ctx context.Context, key, member string) (float64, bool, error) {
	v, err := r.rdb.ZScore(ctx, key, member).Result()
	ok, err := miss(err)
	return v, ok, err
}

func (r refStore) ZRank(ctx context.Context, key, member string, reverse bool) (int64, bool, error) {
	cmd := r.rdb.ZRank
	if reverse {
		cmd = r.rdb.ZRevRank
	}
	v, err := cmd(ctx, key, member).Result()
	ok, err := miss(err)
	return v, ok, err
}

func (r refStore) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	return r.rdb.ZRem(ctx, key, toAny(members)...).Result()
}

func (r refStore) ZCard(ctx context.Context, key string) (int64, error) {
	return r.rdb.ZCard(ctx, key).Result()
}

// withScores splits a RESP2 WITHSCORES reply.
func withScores(v []string, err error) ([]string, []float64, error) {
	if err != nil {
		return nil, nil, err
	}
	members, scores := []string{}, []float64{}
	for i := 0; i < len(v); i += 2 {
		f, err := strconv.ParseFloat(v[i+1], 64)
		if err != nil {
			return nil, nil, err
		}
		members, scores = append(members, v[i]), append(scores, f)
	}
	return members, scores, nil
}

func (r refStore) ZPop(ctx context.Context, key string, count int64, max bool) ([]string, []float64, error) {
	cmd := "ZPOPMIN"
	if max {
		cmd = "ZPOPMAX"
	}
	return withScores(r.rdb.Do(ctx, cmd, key, count).StringSlice())
}

func (r refStore) ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]string, []float64, error) {
	args := []any{"ZRANGE", key, start, stop}
	if reverse {
		args = append(args, "REV")
	}
	return withScores(r.rdb.Do(ctx, append(args, "WITHSCORES")...).StringSlice())
}

func (r refStore) ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]string, []float64, error) {
	args := []any{"ZRANGE", key, min, max, "BYSCORE"}
	if reverse {
		args = []any{"ZRANGE", key, max, min, "BYSCORE", "REV"}
	}
	return withScores(r.rdb.Do(ctx, append(args, "LIMIT", offset, count, "WITHSCORES")...).StringSlice())
}

func (r refStore) ZCount(ctx context.Context, key, min, max string) (int64, error) {
	return r.rdb.ZCount(ctx, key, min, max).Result()
}

func (r refStore) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error) {
	return r.rdb.ZRemRangeByRank(ctx, key, start, stop).Result()
}

func (r refStore) ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error) {
	return r.rdb.ZRemRangeByScore(ctx, key, min, max).Result()
}

// scanPage runs SCAN cursor MATCH match COUNT count; unlike go-redis's
// Scan it sends an empty pattern too.
func scanPage(ctx context.Context, rdb *redis.Client, cursor uint64, match string, count int64) ([]string, uint64, error) {
	cmd := redis.NewScanCmd(ctx, nil, "SCAN", cursor, "MATCH", match, "COUNT", count)
	_ = rdb.Process(ctx, cmd)
	return cmd.Result()
}

// DeleteMatching is SCAN MATCH COUNT batch with a DEL of the keys of each
// page that want accepts.
func (r refStore) DeleteMatching(ctx context.Context, match string, want func(string) bool, batch int64) (int64, error) {
	if batch <= 0 {
		batch = defaultDeleteBatch
	}
	var deleted int64
	for cursor := uint64(0); ; {
		keys, next, err := scanPage(ctx, r.rdb, cursor, match, batch)
		if err != nil {
			return deleted, err
		}
		if want != nil {
			keys = slices.DeleteFunc(keys, func(k string) bool { return !want(k) })
		}
		if len(keys) > 0 {
			n, err := r.rdb.Del(ctx, keys...).Result()
			if deleted += n; err != nil {
				return deleted, err
			}
		}
		if cursor = next; cursor == 0 {
			return deleted, nil
		}
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// diffGen draws arguments from small pools full of edge cases, so that
// keys collide across types and members repeat.
type diffGen struct{ r *rand.Rand }

func pick[T any](g diffGen, pool ...T) T { return pool[g.r.IntN(len(pool))] }

func (g diffGen) key() string { return pick(g, "a", "b", "c", "d") }
func (g diffGen) member() string {
	return pick(g, "m0", "m1", "m2", "m3", "m4", "", "0", "-1", "1.5", "é", "M")
}
func (g diffGen) members() []string {
	out := make([]string, 1+g.r.IntN(4))
	for i := range out {
		out[i] = g.member()
	}
	return out
}
func (g diffGen) value() string {
	if g.r.IntN(3) == 0 {
		return pick(g,
			strconv.FormatFloat(g.randFloat(), 'f', g.r.IntN(25), 64),
			strconv.FormatFloat(g.randFloat(), 'g', -1, 64),
			strconv.FormatInt(g.r.Int64()>>g.r.IntN(64), 10))
	}
	return pick(g, "10", "abc", "1.5", "-0", "01", "+1", " 1", "1 ", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "1e5", "0x10", "inf", "-inf", "nan", "", "3.0",
		"0", "-", "1e-30", "1e400", ".5", "5.", "0x1p3", "1.7976931348623157e308")
}
func (g diffGen) ttl() time.Duration {
	return pick(g, 0, 0, time.Hour, 2*time.Hour+time.Microsecond)
}
func (g diffGen) int() int64 {
	return pick[int64](g, 0, 1, -1, 2, 5, -3, 100, math.MaxInt64, math.MinInt64, math.MinInt64+1)
}

// randFloat returns a float of random sign and magnitude.
func (g diffGen) randFloat() float64 {
	return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(50)-25))
}

func (g diffGen) float() float64 {
	if g.r.IntN(3) == 0 {
		return g.randFloat()
	}
	return pick(g, 0, 0.1, 0.2, -0.3, 1.5, 1e-20, 1e308, -1e308, 3, math.Copysign(0, -1),
		math.Inf(1), math.Inf(-1), math.NaN(), 1.7976931348623157e308)
}
func (g diffGen) score() float64 {
	return pick(g, 0, 1, -1, 1.5, 2.5, 2.5, 3, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e300)
}
func (g diffGen) bound() string {
	return pick(g, "-inf", "+inf", "inf", "-INF", "1", "(1", "1.5", "(2.5", "2.5", "0", "(0", "-1",
		"abc", "(", "", " 1", "0x2", "nan", "1e400", "(-inf", "+inf)", "3", "(3", "1e-400", "-0")
}
func (g diffGen) op() string     { return pick(g, "SUNION", "SINTER", "SDIFF", "sunion") }
func (g diffGen) keys() []string { return []string{g.key(), g.key(), g.key()}[:1+g.r.IntN(3)] }
func (g diffGen) idx() int64     { return pick[int64](g, 0, 1, 2, -1, -2, -3, 5, 100, -100) }
func (g diffGen) count() int64   { return pick[int64](g, 0, 1, 2, 3, 20, -1, -2, -5) }
func (g diffGen) offset() int64  { return pick[int64](g, 0, 0, 1, 2, 5, -1) }
func (g diffGen) fields() []string {
	return g.members()
}

// diffOps are the commands the comparison runs; each returns a printable
// result. Results whose order Redis leaves unspecified are sorted.
var diffOps = []func(ctx context.Context, g diffGen, c commands) any{
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.Get(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.Set(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.Set(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SetNX(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.GetDel(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.Del(ctx, g.keys()...)) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.DelIfEqual(ctx, g.key(), pick(g, "10", "abc", "1.5", "")))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.Exists(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.PExpire(ctx, g.key(), pick(g, -time.Second, 0, -time.Microsecond, time.Hour, 3*time.Hour+time.Microsecond)))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.PExpireAt(ctx, g.key(), pick(g, time.Unix(1, 0), time.Now().Add(5*time.Hour))))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.Persist(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		ttl, ok, err := c.PTTL(ctx, g.key())
		if ttl > 0 {
			ttl = ttl.Round(time.Minute) // the TTLs used are whole hours
		}
		return fmt.Sprintln(ttl, ok, err)
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.IncrBy(ctx, g.key(), g.int(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.IncrByFloat(ctx, g.key(), g.float(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HGet(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HMGet(ctx, g.key(), g.fields()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		fv := []string{}
		for range 1 + g.r.IntN(3) {
			fv = append(fv, g.member(), g.value())
		}
		return fmt.Sprintln(c.HSet(ctx, g.key(), g.ttl(), fv...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HSetNX(ctx, g.key(), g.member(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HDel(ctx, g.key(), g.fields()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HExists(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.HLen(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HGetDel(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HIncrBy(ctx, g.key(), g.member(), g.int(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.HIncrByFloat(ctx, g.key(), g.member(), g.float(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		fields := g.fields()
		ns := make([]int64, len(fields))
		for i := range ns {
			ns[i] = g.int()
		}
		vals, err := c.HIncrByMany(ctx, g.key(), g.ttl(), fields, ns)
		if errors.Is(err, ErrWrongType) || err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return "WRONGTYPE" // the values are all zero, however returned
		}
		return fmt.Sprintln(vals, err)
	},
	func(ctx context.Context, g diffGen, c commands) any { return fullScan(ctx, c.HScan, g.key(), 2) },
	func(ctx context.Context, g diffGen, c commands) any { return pairs(c.HGetAll(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any { return sorted(c.HVals(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SAdd(ctx, g.key(), g.ttl(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SAdd(ctx, g.key(), g.ttl(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SRem(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SIsMember(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SMIsMember(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.SCard(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		// Only counts that make SPOP deterministic.
		return sorted(c.SPop(ctx, g.key(), pick[int64](g, 0, 20, -1)))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		m, err := c.SRandMember(ctx, g.key(), pick[int64](g, 0, 1, 3, 20, -1, -5, math.MinInt64))
		return fmt.Sprintln(len(m), err)
	},
	func(ctx context.Context, g diffGen, c commands) any { return fullScan(ctx, c.SScan, g.key(), 1) },
	func(ctx context.Context, g diffGen, c commands) any { return sorted(c.SMembers(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return sorted(c.SCombine(ctx, g.op(), g.keys()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.SCombineStore(ctx, g.op(), g.key(), g.ttl(), g.keys()...))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		ms := g.members()
		sc := make([]float64, len(ms))
		for i := range sc {
			sc[i] = g.score()
		}
		return fmt.Sprintln(c.ZAdd(ctx, g.key(), g.ttl(), pick(g, "", "", "NX", "XX"), ms, sc))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZAdd(ctx, g.key(), g.ttl(), "", []string{g.member()}, []float64{g.score()}))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZIncrBy(ctx, g.key(), g.member(), pick(g, 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN()), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZScore(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRank(ctx, g.key(), g.member(), g.r.IntN(2) == 0))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRem(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c commands) any { return fmt.Sprintln(c.ZCard(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZPop(ctx, g.key(), g.count(), g.r.IntN(2) == 0))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRange(ctx, g.key(), g.idx(), g.idx(), g.r.IntN(2) == 0))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRangeByScore(ctx, g.key(), g.bound(), g.bound(), g.r.IntN(2) == 0, g.offset(), g.count()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZCount(ctx, g.key(), g.bound(), g.bound()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRemRangeByRank(ctx, g.key(), g.idx(), g.idx()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		return fmt.Sprintln(c.ZRemRangeByScore(ctx, g.key(), g.bound(), g.bound()))
	},
	func(ctx context.Context, g diffGen, c commands) any {
		notB := func(k string) bool { return k != "b" }
		return fmt.Sprintln(c.DeleteMatching(ctx, pick(g, "*", "a", "[ab]", "?", "[^a]", "b*", "x*", `\a`, "[c-d]", "*[bd]"),
			pick(g, nil, notB), pick[int64](g, 0, 1, 2)))
	},
}

// fullScan runs a scan to completion and returns its sorted results; for
// hashes (width 2) field-value pairs stay together.
func fullScan(ctx context.Context, scan func(context.Context, string, uint64, int64) ([]string, uint64, error), key string, width int) string {
	var all []string
	cursor := uint64(0)
	for {
		page, next, err := scan(ctx, key, cursor, 2)
		if err != nil {
			return err.Error()
		}
		for i := 0; i < len(page); i += width {
			all = append(all, strings.Join(page[i:i+width], "="))
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(all)
	return fmt.Sprintln(all)
}

func pairs(fv []string, err error) string {
	var all []string
	for i := 0; i+1 < len(fv); i += 2 {
		all = append(all, fv[i]+"="+fv[i+1])
	}
	return sorted(all, err)
}

func sorted(v []string, err error) string {
	v = slices.Clone(v)
	slices.Sort(v)
	return fmt.Sprintln(v, err)
}

// dump prints key's type, value and whether it has an expiry, from the
// store's internals.
func dumpStore(s *Store, key string) string {
	sh := s.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := s.get(sh, key)
	if e == nil {
		return "none"
	}
	ttl := e.heapIndex >= 0
	switch e.kind {
	case kindString:
		return fmt.Sprintf("string %q %v", e.str, ttl)
	case kindHash:
		var fv []string
		for f, v := range e.hash.all() {
			fv = append(fv, f, v)
		}
		return fmt.Sprintf("hash %s %v", pairs(fv, nil), ttl)
	case kindSet:
		return fmt.Sprintf("set %s %v", sorted(setMembers(e.set), nil), ttl)
	default:
		m, sc := zsetRange(e.zset, 0, -1, false)
		return fmt.Sprintf("zset %v %v %v", m, sc, ttl)
	}
}

func dumpRedis(rdb *redis.Client, key string) string {
	typ := rdb.Type(bg, key).Val()
	ttl := rdb.PTTL(bg, key).Val() > 0
	switch typ {
	case "string":
		return fmt.Sprintf("string %q %v", rdb.Get(bg, key).Val(), ttl)
	case "hash":
		fv, err := refStore{rdb}.HGetAll(bg, key)
		return fmt.Sprintf("hash %s %v", pairs(fv, err), ttl)
	case "set":
		return fmt.Sprintf("set %s %v", sorted(rdb.SMembers(bg, key).Result()), ttl)
	case "zset":
		m, sc, _ := refStore{rdb}.ZRange(bg, key, 0, -1, false)
		return fmt.Sprintf("zset %v %v %v", m, sc, ttl)
	}
	return typ
}

// TestAgainstRedis runs the same random commands on a Store and on a real
// redis-server 7 and requires identical results and identical data.
func TestAgainstRedis(t *testing.T) {
	rdb := startRedis(t)
	s := New(Options{ExpiryInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	ref := refStore{rdb}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for step := range 4000 {
		i := rand.New(rand.NewPCG(seed, uint64(step))).IntN(len(diffOps))
		got := diffOps[i](bg, diffGen{rand.New(rand.NewPCG(seed, uint64(step)))}, s)
		want := diffOps[i](bg, diffGen{rand.New(rand.NewPCG(seed, uint64(step)))}, ref)
		if got != want {
			t.Fatalf("seed %d step %d op %d:\n memstore: %v\n redis:    %v", seed, step, i, got, want)
		}
		for _, k := range []string{"a", "b", "c", "d"} {
			if got, want := dumpStore(s, k), dumpRedis(rdb, k); got != want {
				t.Fatalf("seed %d step %d op %d: key %s\n memstore: %s\n redis:    %s", seed, step, i, k, got, want)
			}
		}
	}
}

// TestDeleteMatchingAgainstRedis compares the keys DeleteMatching deletes
// with those SCAN 0 MATCH p COUNT 1000000 returns on a real Redis, for
// patterns full of special characters and for random ones.
func TestDeleteMatchingAgainstRedis(t *testing.T) {
	rdb := startRedis(t)
	keys := []string{"", "a", "b", "ab", "abc", "a*b", "axb", `a\*b`, `a\b`, "a?", "user:1", "user:", "user:22",
		`user\:1`, "user1", "{user}:1", "{user}:", "{user}", "[a]", "]", "[", "^", "-", "a-b", `\`, "*", "?",
		"hello", "hallo", "hillo", "hbllo", "h\xe9llo", "caf\xc3\xa9", "\x00", "\x01a", "\xff", "\x7f", "\xe0",
		"a\xff:1", "a\xff:", "a\xfe:1", "a\uFFFD:1", "a\\\xff:1", "caf\xc3\xa9\xe2\x82*:1", "caf\xc3\xa9\uFFFD\uFFFD*:1"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	g := diffGen{rand.New(rand.NewPCG(seed, 0))}
	const alphabet = "abc*?[]^-\\:{}\xe9\x00\xff\xbd"
	randomString := func(n int) string {
		b := make([]byte, g.r.IntN(n+1))
		for i := range b {
			b[i] = alphabet[g.r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 150 {
		keys = append(keys, randomString(6))
	}
	for _, k := range keys {
		must(t, rdb.Set(bg, k, "v", 0).Err())
	}
	patterns := []string{"*", "**", "", "?", "??", "a*", "*b", "a*b", `a\*b`, `a\\*b`, "{user}:*", `\{user\}:*`,
		"user:*", `user\:*`, `user\\:*`, "user?*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "[a-c]*",
		"[z-a]", "[a-]", "[]]", "[^]]", "[ab", "[", "[^", `[\`, `\`, `a\`, `[\]]`, `[\-]*`, "*[", "[*]", "[?]",
		"\x00", "[\x01-\xff]*", "[\xe0-\xef]", "[a-\xe9]*", "*\xa9", "[^a-z]*", "*\\*", "a**?", "*?*",
		"a\xff:*", "a?:*", "a\uFFFD:*", "a\\\xff:*", "a\\\\\xff:*", "[\\\xff]*", "[^\xff]*", "caf\xc3\xa9\xe2\x82\\*:*", "caf\xc3\xa9??\\*:*"}
	for range 300 {
		patterns = append(patterns, randomString(5))
	}
	for _, p := range patterns {
		var want []string
		for cursor := uint64(0); ; {
			page, next, err := scanPage(bg, rdb, cursor, p, 1000000)
			must(t, err)
			want = append(want, page...)
			if cursor = next; cursor == 0 {
				break
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)

		s := New(Options{ExpiryInterval: -1, Shards: 4})
		for _, k := range keys {
			must(t, s.Set(bg, k, "v", 0))
		}
		before := s.Keys()
		n, err := s.DeleteMatching(bg, p, nil, 3)
		must(t, err)
		after := s.Keys()
		got := slices.DeleteFunc(before, func(k string) bool { return slices.Contains(after, k) })
		must(t, s.Close())
		if !slices.Equal(got, want) || n != int64(len(want)) {
			t.Errorf("pattern %q: memstore deleted %d: %q\nredis SCAN MATCH: %q", p, n, got, want)
		}
	}
}

package backendtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// Gen draws the arguments of random operations from small pools full of
// edge cases, so that keys collide across types, members repeat, numbers
// overflow and bounds do not parse. Two Gens made with the same seed and
// stream draw the same arguments.
type Gen struct{ r *rand.Rand }

// NewGen returns the generator of seed and stream (a PCG source).
func NewGen(seed, stream uint64) Gen {
	return Gen{rand.New(rand.NewPCG(seed, stream))}
}

// Keys are the keys the operations use.
var Keys = []string{"a", "b", "c", "d"}

func pick[T any](g Gen, pool ...T) T { return pool[g.r.IntN(len(pool))] }

// Key returns one of [Keys].
func (g Gen) Key() string { return Keys[g.r.IntN(len(Keys))] }

func (g Gen) keys() []string { return []string{g.Key(), g.Key(), g.Key()}[:1+g.r.IntN(3)] }

func (g Gen) member() string {
	return pick(g, "m0", "m1", "m2", "m3", "m4", "", "0", "-1", "1.5", "é", "M")
}

func (g Gen) members() []string {
	out := make([]string, 1+g.r.IntN(4))
	for i := range out {
		out[i] = g.member()
	}
	return out
}

func (g Gen) value() string {
	if g.r.IntN(3) == 0 {
		return pick(g,
			strconv.FormatFloat(g.randFloat(), 'f', g.r.IntN(25), 64),
			strconv.FormatFloat(g.randFloat(), 'g', -1, 64),
			strconv.FormatInt(g.r.Int64()>>g.r.IntN(64), 10))
	}
	return pick(g, "10", "abc", "1.5", "-0", "01", "+1", " 1", "1 ", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "1e5", "0x10", "inf", "-inf", "nan", "", "3.0",
		"0", "-", "1e-30", "1e400", ".5", "5.", "0x1p3", "1.7976931348623157e308", "255", "-128")
}

// ttl returns an expiry of whole hours (or none), so that the remaining
// times two backends report round to the same hour; the microsecond is
// below what Redis keeps.
func (g Gen) ttl() time.Duration {
	return pick(g, 0, 0, time.Hour, 2*time.Hour+time.Microsecond)
}

func (g Gen) int() int64 {
	return pick[int64](g, 0, 1, -1, 2, 5, -3, 100, 200, math.MaxInt64, math.MinInt64, math.MinInt64+1)
}

// intBounds returns the bounds of a bounded integer increment: those of
// the value types the caches use, mostly.
func (g Gen) intBounds() (min, max int64) {
	switch g.r.IntN(8) {
	case 0:
		return backend.IntRange(8)
	case 1:
		return 0, backend.UintMax(8)
	case 2:
		return backend.IntRange(32)
	case 3:
		return 0, backend.UintMax(64)
	case 4:
		return pick[int64](g, -5, 0, 10), pick[int64](g, -10, 0, 5, 100)
	}
	return math.MinInt64, math.MaxInt64
}

// floatBounds returns the bounds of a bounded float increment.
func (g Gen) floatBounds() (min, max float64) {
	switch g.r.IntN(6) {
	case 0:
		return -backend.MaxFloat32Text, backend.MaxFloat32Text
	case 1:
		return -math.MaxFloat64, math.MaxFloat64
	case 2:
		return pick(g, -1.5, 0, 1e-20), pick(g, -1, 0, 2.5, 1e300)
	}
	return math.Inf(-1), math.Inf(1)
}

// randFloat returns a float of random sign and magnitude.
func (g Gen) randFloat() float64 {
	return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(50)-25))
}

func (g Gen) float() float64 {
	if g.r.IntN(3) == 0 {
		return g.randFloat()
	}
	return pick(g, 0, 0.1, 0.2, -0.3, 1.5, 1e-20, 1e308, -1e308, 3, math.Copysign(0, -1),
		math.Inf(1), math.Inf(-1), math.NaN(), 1.7976931348623157e308, 3.4e38)
}

func (g Gen) score() float64 {
	return pick(g, 0, 1, -1, 1.5, 2.5, 2.5, 3, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e300)
}

func (g Gen) bound() string {
	return pick(g, "-inf", "+inf", "inf", "-INF", "1", "(1", "1.5", "(2.5", "2.5", "0", "(0", "-1",
		"abc", "(", "", " 1", "0x2", "nan", "1e400", "(-inf", "+inf)", "3", "(3", "1e-400", "-0")
}

func (g Gen) setOp() backend.SetOp { return pick(g, backend.Union, backend.Inter, backend.Diff) }
func (g Gen) zaddMode() backend.ZAddMode {
	return pick(g, backend.ZAddUpsert, backend.ZAddUpsert, backend.ZAddNX, backend.ZAddXX)
}
func (g Gen) idx() int64    { return pick[int64](g, 0, 1, 2, -1, -2, -3, 5, 100, -100) }
func (g Gen) count() int64  { return pick[int64](g, 0, 1, 2, 3, 20, -1, -2, -5) }
func (g Gen) offset() int64 { return pick[int64](g, 0, 0, 1, 2, 5, -1) }
func (g Gen) flip() bool    { return g.r.IntN(2) == 0 }

// Op is one kind of random operation: Run draws its arguments from g,
// calls b and returns the results, printed. Results whose order Redis
// leaves unspecified are sorted, random ones reduced to what is
// determined (a count), and errors shown by [errText], so that two
// backends that keep the contract print the same.
type Op struct {
	Name string
	Run  func(ctx context.Context, g Gen, b backend.Backend) string
}

// show prints the results of a call, errors by their text.
func show(vals ...any) string {
	for i, v := range vals {
		if err, ok := v.(error); ok {
			vals[i] = "error: " + errText(err)
		}
	}
	return fmt.Sprintln(vals...)
}

// showSorted prints a reply whose order is unspecified.
func showSorted(v []string, err error) string { return show(sortedCopy(v), err) }

// showPairs prints alternating fields and values whose order is
// unspecified.
func showPairs(fv []string, err error) string {
	var all []string
	for i := 0; i+1 < len(fv); i += 2 {
		all = append(all, fv[i]+"="+fv[i+1])
	}
	return showSorted(all, err)
}

// showTTL prints a remaining time rounded to the hour (the operations use
// whole hours).
func showTTL(ttl time.Duration, ok bool, err error) string {
	if ttl > 0 {
		ttl = ttl.Round(time.Hour)
	}
	return show(ttl, ok, err)
}

// Ops are the random operations, every method of [backend.Backend] that
// reads or writes data.
var Ops = append(append(append(keyOps, hashOps...), setOps...), zsetOps...)

var keyOps = []Op{
	{"GET", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.Get(ctx, g.Key())) }},
	{"SET", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.Set(ctx, g.Key(), g.value(), g.ttl()))
	}},
	{"SETNX", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SetNX(ctx, g.Key(), g.value(), g.ttl()))
	}},
	{"GETDEL", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.GetDel(ctx, g.Key())) }},
	{"DEL", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.Del(ctx, g.keys()...)) }},
	{"DELIFEQUAL", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.DelIfEqual(ctx, g.Key(), pick(g, "10", "abc", "1.5", "")))
	}},
	{"MGET", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.MGet(ctx, g.keys()...)) }},
	{"SETMANY", func(ctx context.Context, g Gen, b backend.Backend) string {
		keys := g.keys()
		values := make([]string, len(keys))
		for i := range values {
			values[i] = g.value()
		}
		return show(b.SetMany(ctx, keys, values, g.ttl()))
	}},
	{"EXISTS", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.Exists(ctx, g.Key())) }},
	{"PEXPIRE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.PExpire(ctx, g.Key(), pick(g, -time.Second, 0, -time.Microsecond, time.Hour, 3*time.Hour+time.Microsecond)))
	}},
	{"PEXPIREAT", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.PExpireAt(ctx, g.Key(), pick(g, time.Unix(1, 0), time.Now().Add(5*time.Hour))))
	}},
	{"PERSIST", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.Persist(ctx, g.Key())) }},
	{"PTTL", func(ctx context.Context, g Gen, b backend.Backend) string { return showTTL(b.PTTL(ctx, g.Key())) }},
	{"INCRBY", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.IncrByWithin(ctx, g.Key(), g.int(), math.MinInt64, math.MaxInt64, g.ttl()))
	}},
	{"INCRBY within", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, n := g.Key(), g.int()
		lo, hi := g.intBounds()
		return show(b.IncrByWithin(ctx, key, n, lo, hi, g.ttl()))
	}},
	{"INCRBYFLOAT", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.IncrByFloatWithin(ctx, g.Key(), g.float(), math.Inf(-1), math.Inf(1), g.ttl()))
	}},
	{"INCRBYFLOAT within", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, f := g.Key(), g.float()
		lo, hi := g.floatBounds()
		return show(b.IncrByFloatWithin(ctx, key, f, lo, hi, g.ttl()))
	}},
	{"DELETEMATCHING", func(ctx context.Context, g Gen, b backend.Backend) string {
		notB := func(k string) bool { return k != "b" }
		return show(b.DeleteMatching(ctx, pick(g, "*", "a", "[ab]", "?", "[^a]", "b*", "x*", `\a`, "[c-d]", "*[bd]"),
			pick(g, nil, notB), pick[int64](g, 0, 1, 2)))
	}},
}

var hashOps = []Op{
	{"HGET", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HGet(ctx, g.Key(), g.member()))
	}},
	{"HMGET", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HMGet(ctx, g.Key(), g.members()...))
	}},
	{"HSET", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, ttl := g.Key(), g.ttl()
		fv := []string{}
		for range 1 + g.r.IntN(3) {
			fv = append(fv, g.member(), g.value())
		}
		return show(b.HSet(ctx, key, ttl, fv...))
	}},
	{"HSETNX", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HSetNX(ctx, g.Key(), g.member(), g.value(), g.ttl()))
	}},
	{"HDEL", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HDel(ctx, g.Key(), g.members()...))
	}},
	{"HEXISTS", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HExists(ctx, g.Key(), g.member()))
	}},
	{"HLEN", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.HLen(ctx, g.Key())) }},
	{"HGETDEL", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HGetDel(ctx, g.Key(), g.member()))
	}},
	{"HPOPRANDOM all", hPopAll},
	{"HINCRBY", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HIncrByWithin(ctx, g.Key(), g.member(), g.int(), math.MinInt64, math.MaxInt64, g.ttl()))
	}},
	{"HINCRBY within", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, field, n := g.Key(), g.member(), g.int()
		lo, hi := g.intBounds()
		return show(b.HIncrByWithin(ctx, key, field, n, lo, hi, g.ttl()))
	}},
	{"HINCRBYFLOAT", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.HIncrByFloatWithin(ctx, g.Key(), g.member(), g.float(), math.Inf(-1), math.Inf(1), g.ttl()))
	}},
	{"HINCRBYFLOAT within", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, field, f := g.Key(), g.member(), g.float()
		lo, hi := g.floatBounds()
		return show(b.HIncrByFloatWithin(ctx, key, field, f, lo, hi, g.ttl()))
	}},
	{"HINCRBYMANY", hIncrByMany},
	{"HSCAN", func(ctx context.Context, g Gen, b backend.Backend) string { return fullScan(ctx, b.HScan, g.Key(), 2) }},
	{"HSCAN instance", func(ctx context.Context, g Gen, b backend.Backend) string {
		return fullScanInstance(ctx, b.HScanInstance, g.Key(), 2)
	}},
	{"HGETALL", func(ctx context.Context, g Gen, b backend.Backend) string { return showPairs(b.HGetAll(ctx, g.Key())) }},
	{"HVALS", func(ctx context.Context, g Gen, b backend.Backend) string { return showSorted(b.HVals(ctx, g.Key())) }},
}

// hPopAll pops fields at random until the hash is empty and prints them
// sorted: which field a single pop takes is not determined.
func hPopAll(ctx context.Context, g Gen, b backend.Backend) string {
	key := g.Key()
	var popped []string
	for range 20 {
		f, v, ok, err := b.HPopRandom(ctx, key)
		if err != nil || !ok {
			return show(sortedCopy(popped), ok, err)
		}
		popped = append(popped, f+"="+v)
	}
	return show(sortedCopy(popped), "not emptied by 20 pops")
}

func hIncrByMany(ctx context.Context, g Gen, b backend.Backend) string {
	key, ttl, fields := g.Key(), g.ttl(), g.members()
	ns := make([]int64, len(fields))
	for i := range ns {
		ns[i] = g.int()
	}
	vals, err := b.HIncrByMany(ctx, key, ttl, fields, ns)
	if err != nil {
		return show(err) // the values of a failed call are not specified
	}
	return show(vals, err)
}

var setOps = []Op{
	{"SADD", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SAdd(ctx, g.Key(), g.ttl(), g.members()...))
	}},
	{"SADD again", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SAdd(ctx, g.Key(), g.ttl(), g.members()...))
	}},
	{"SREM", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SRem(ctx, g.Key(), g.members()...))
	}},
	{"SISMEMBER", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SIsMember(ctx, g.Key(), g.member()))
	}},
	{"SMISMEMBER", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SMIsMember(ctx, g.Key(), g.members()...))
	}},
	{"SCARD", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.SCard(ctx, g.Key())) }},
	{"SPOP", func(ctx context.Context, g Gen, b backend.Backend) string {
		// Only counts that make SPOP deterministic.
		return showSorted(b.SPop(ctx, g.Key(), pick[int64](g, 0, 20, -1)))
	}},
	{"SRANDMEMBER", func(ctx context.Context, g Gen, b backend.Backend) string {
		m, err := b.SRandMember(ctx, g.Key(), pick[int64](g, 0, 1, 3, 20, -1, -5, math.MinInt64))
		return show(len(m), err)
	}},
	{"SSCAN", func(ctx context.Context, g Gen, b backend.Backend) string { return fullScan(ctx, b.SScan, g.Key(), 1) }},
	{"SSCAN instance", func(ctx context.Context, g Gen, b backend.Backend) string {
		return fullScanInstance(ctx, b.SScanInstance, g.Key(), 1)
	}},
	{"SMEMBERS", func(ctx context.Context, g Gen, b backend.Backend) string {
		return showSorted(b.SMembers(ctx, g.Key()))
	}},
	{"SCOMBINE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return showSorted(b.SCombine(ctx, g.setOp(), g.keys()...))
	}},
	{"SCOMBINESTORE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.SCombineStore(ctx, g.setOp(), g.Key(), g.ttl(), g.keys()...))
	}},
}

var zsetOps = []Op{
	{"ZADD", func(ctx context.Context, g Gen, b backend.Backend) string {
		key, ttl, mode, ms := g.Key(), g.ttl(), g.zaddMode(), g.members()
		sc := make([]float64, len(ms))
		for i := range sc {
			sc[i] = g.score()
		}
		return show(b.ZAdd(ctx, key, ttl, mode, Zs(ms, sc)...))
	}},
	{"ZADD one", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZAdd(ctx, g.Key(), g.ttl(), backend.ZAddUpsert, backend.Z{Member: g.member(), Score: g.score()}))
	}},
	{"ZINCRBY", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZIncrBy(ctx, g.Key(), g.member(), pick(g, 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN()), g.ttl()))
	}},
	{"ZSCORE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZScore(ctx, g.Key(), g.member()))
	}},
	{"ZRANK", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZRank(ctx, g.Key(), g.member(), g.flip()))
	}},
	{"ZREM", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZRem(ctx, g.Key(), g.members()...))
	}},
	{"ZCARD", func(ctx context.Context, g Gen, b backend.Backend) string { return show(b.ZCard(ctx, g.Key())) }},
	{"ZPOP", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(SplitZ(b.ZPop(ctx, g.Key(), g.count(), g.flip())))
	}},
	{"ZRANGE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(SplitZ(b.ZRange(ctx, g.Key(), g.idx(), g.idx(), g.flip())))
	}},
	{"ZRANGE BYSCORE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(SplitZ(b.ZRangeByScore(ctx, g.Key(), g.bound(), g.bound(), g.flip(), g.offset(), g.count())))
	}},
	{"ZCOUNT", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZCount(ctx, g.Key(), g.bound(), g.bound()))
	}},
	{"ZREMRANGEBYRANK", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZRemRangeByRank(ctx, g.Key(), g.idx(), g.idx()))
	}},
	{"ZREMRANGEBYSCORE", func(ctx context.Context, g Gen, b backend.Backend) string {
		return show(b.ZRemRangeByScore(ctx, g.Key(), g.bound(), g.bound()))
	}},
}

// scanFunc is HScan or SScan.
type scanFunc func(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error)

// fullScan runs a scan to completion (at most 1000 pages) and prints its
// sorted results; for hashes (width 2) field-value pairs stay together.
func fullScan(ctx context.Context, scan scanFunc, key string, width int) string {
	var all []string
	cursor := uint64(0)
	for range 1000 {
		page, next, err := scan(ctx, key, cursor, 2)
		if err != nil {
			return show(err)
		}
		all = appendPage(all, page, width)
		if cursor = next; cursor == 0 {
			return showSorted(all, nil)
		}
	}
	return show("scan of", key, "did not end")
}

// fullScanInstance is fullScan of the scans that report their instance;
// it prints whether every page reported the same one.
func fullScanInstance(ctx context.Context, scan func(context.Context, string, uint64, int64) ([]string, uint64, string, error), key string, width int) string {
	var all []string
	instances := map[string]bool{}
	cursor := uint64(0)
	for range 1000 {
		page, next, inst, err := scan(ctx, key, cursor, 2)
		if err != nil {
			return show(err)
		}
		instances[inst] = true
		all = appendPage(all, page, width)
		if cursor = next; cursor == 0 {
			return show(sortedCopy(all), "instances:", len(instances))
		}
	}
	return show("scan of", key, "did not end")
}

func appendPage(all, page []string, width int) []string {
	for i := 0; i+width <= len(page); i += width {
		all = append(all, strings.Join(page[i:i+width], "="))
	}
	return all
}

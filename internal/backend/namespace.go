package backend

import (
	"context"
	"strings"
	"time"
)

// Namespace returns a backend over b that writes every key with ns before
// it and never sees a key without it: isolated key spaces on one server,
// for tests that run in parallel. pattern is ns as a SCAN MATCH pattern
// (glob-escaped); DeleteMatching matches only within ns. Closing the
// namespace does not close b. The capabilities of b ([HashMapReader],
// [SlotChecker], [BudgetGetter], [InProcess], [Clock]) are kept: the
// namespace has them all and falls back to the plain methods where b
// lacks one.
func Namespace(b Backend, ns, pattern string) Backend {
	return &namespaced{b: b, ns: ns, pattern: pattern}
}

// namespaced is the Backend of Namespace.
type namespaced struct {
	b       Backend
	ns      string // written before every key
	pattern string // ns, glob-escaped
}

func (n *namespaced) k(key string) string { return n.ns + key }

func (n *namespaced) ks(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = n.ns + k
	}
	return out
}

func (n *namespaced) Get(ctx context.Context, key string) (string, bool, error) {
	return n.b.Get(ctx, n.k(key))
}

func (n *namespaced) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	return n.b.Set(ctx, n.k(key), value, ttl)
}

func (n *namespaced) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	return n.b.SetNX(ctx, n.k(key), value, ttl)
}

func (n *namespaced) GetDel(ctx context.Context, key string) (string, bool, error) {
	return n.b.GetDel(ctx, n.k(key))
}

func (n *namespaced) DelIfEqual(ctx context.Context, key, value string) (bool, error) {
	return n.b.DelIfEqual(ctx, n.k(key), value)
}

func (n *namespaced) Del(ctx context.Context, keys ...string) (int64, error) {
	return n.b.Del(ctx, n.ks(keys)...)
}

func (n *namespaced) MGet(ctx context.Context, keys ...string) ([]string, []bool, error) {
	return n.b.MGet(ctx, n.ks(keys)...)
}

func (n *namespaced) SetMany(ctx context.Context, keys, values []string, ttls ...time.Duration) error {
	return n.b.SetMany(ctx, n.ks(keys), values, ttls...)
}

func (n *namespaced) Exists(ctx context.Context, key string) (bool, error) {
	return n.b.Exists(ctx, n.k(key))
}

func (n *namespaced) PTTL(ctx context.Context, key string) (time.Duration, bool, error) {
	return n.b.PTTL(ctx, n.k(key))
}

func (n *namespaced) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return n.b.PExpire(ctx, n.k(key), ttl)
}

func (n *namespaced) PExpireAt(ctx context.Context, key string, at time.Time) (bool, error) {
	return n.b.PExpireAt(ctx, n.k(key), at)
}

func (n *namespaced) Persist(ctx context.Context, key string) (bool, error) {
	return n.b.Persist(ctx, n.k(key))
}

func (n *namespaced) IncrByWithin(ctx context.Context, key string, i, min, max int64, ttl time.Duration) (int64, error) {
	return n.b.IncrByWithin(ctx, n.k(key), i, min, max, ttl)
}

func (n *namespaced) IncrByFloatWithin(ctx context.Context, key string, f, min, max float64, ttl time.Duration) (float64, error) {
	return n.b.IncrByFloatWithin(ctx, n.k(key), f, min, max, ttl)
}

func (n *namespaced) HGet(ctx context.Context, key, field string) (string, bool, error) {
	return n.b.HGet(ctx, n.k(key), field)
}

func (n *namespaced) HMGet(ctx context.Context, key string, fields ...string) ([]string, []bool, error) {
	return n.b.HMGet(ctx, n.k(key), fields...)
}

func (n *namespaced) HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error) {
	return n.b.HSet(ctx, n.k(key), ttl, fieldValues...)
}

func (n *namespaced) HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error) {
	return n.b.HSetNX(ctx, n.k(key), field, value, ttl)
}

func (n *namespaced) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	return n.b.HDel(ctx, n.k(key), fields...)
}

func (n *namespaced) HExists(ctx context.Context, key, field string) (bool, error) {
	return n.b.HExists(ctx, n.k(key), field)
}

func (n *namespaced) HLen(ctx context.Context, key string) (int64, error) {
	return n.b.HLen(ctx, n.k(key))
}

func (n *namespaced) HGetDel(ctx context.Context, key, field string) (string, bool, error) {
	return n.b.HGetDel(ctx, n.k(key), field)
}

func (n *namespaced) HPopRandom(ctx context.Context, key string) (string, string, bool, error) {
	return n.b.HPopRandom(ctx, n.k(key))
}

func (n *namespaced) HIncrByWithin(ctx context.Context, key, field string, i, min, max int64, ttl time.Duration) (int64, error) {
	return n.b.HIncrByWithin(ctx, n.k(key), field, i, min, max, ttl)
}

func (n *namespaced) HIncrByFloatWithin(ctx context.Context, key, field string, f, min, max float64, ttl time.Duration) (float64, error) {
	return n.b.HIncrByFloatWithin(ctx, n.k(key), field, f, min, max, ttl)
}

func (n *namespaced) HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	return n.b.HIncrByMany(ctx, n.k(key), ttl, fields, ns)
}

func (n *namespaced) HScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return n.b.HScan(ctx, n.k(key), cursor, count)
}

func (n *namespaced) HScanInstance(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, string, error) {
	return n.b.HScanInstance(ctx, n.k(key), cursor, count)
}

func (n *namespaced) HGetAll(ctx context.Context, key string) ([]string, error) {
	return n.b.HGetAll(ctx, n.k(key))
}

func (n *namespaced) HVals(ctx context.Context, key string) ([]string, error) {
	return n.b.HVals(ctx, n.k(key))
}

func (n *namespaced) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	return n.b.SAdd(ctx, n.k(key), ttl, members...)
}

func (n *namespaced) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	return n.b.SRem(ctx, n.k(key), members...)
}

func (n *namespaced) SIsMember(ctx context.Context, key, member string) (bool, error) {
	return n.b.SIsMember(ctx, n.k(key), member)
}

func (n *namespaced) SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error) {
	return n.b.SMIsMember(ctx, n.k(key), members...)
}

func (n *namespaced) SCard(ctx context.Context, key string) (int64, error) {
	return n.b.SCard(ctx, n.k(key))
}

func (n *namespaced) SPop(ctx context.Context, key string, count int64) ([]string, error) {
	return n.b.SPop(ctx, n.k(key), count)
}

func (n *namespaced) SRandMember(ctx context.Context, key string, count int64) ([]string, error) {
	return n.b.SRandMember(ctx, n.k(key), count)
}

func (n *namespaced) SScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return n.b.SScan(ctx, n.k(key), cursor, count)
}

func (n *namespaced) SScanInstance(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, string, error) {
	return n.b.SScanInstance(ctx, n.k(key), cursor, count)
}

func (n *namespaced) SMembers(ctx context.Context, key string) ([]string, error) {
	return n.b.SMembers(ctx, n.k(key))
}

func (n *namespaced) SCombine(ctx context.Context, op SetOp, keys ...string) ([]string, error) {
	return n.b.SCombine(ctx, op, n.ks(keys)...)
}

func (n *namespaced) SCombineStore(ctx context.Context, op SetOp, dest string, ttl time.Duration, keys ...string) (int64, error) {
	return n.b.SCombineStore(ctx, op, n.k(dest), ttl, n.ks(keys)...)
}

func (n *namespaced) ZAdd(ctx context.Context, key string, ttl time.Duration, mode ZAddMode, members ...Z) (int64, error) {
	return n.b.ZAdd(ctx, n.k(key), ttl, mode, members...)
}

func (n *namespaced) ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error) {
	return n.b.ZIncrBy(ctx, n.k(key), member, incr, ttl)
}

func (n *namespaced) ZScore(ctx context.Context, key, member string) (float64, bool, error) {
	return n.b.ZScore(ctx, n.k(key), member)
}

func (n *namespaced) ZRank(ctx context.Context, key, member string, reverse bool) (int64, bool, error) {
	return n.b.ZRank(ctx, n.k(key), member, reverse)
}

func (n *namespaced) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	return n.b.ZRem(ctx, n.k(key), members...)
}

func (n *namespaced) ZCard(ctx context.Context, key string) (int64, error) {
	return n.b.ZCard(ctx, n.k(key))
}

func (n *namespaced) ZPop(ctx context.Context, key string, count int64, max bool) ([]Z, error) {
	return n.b.ZPop(ctx, n.k(key), count, max)
}

func (n *namespaced) ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]Z, error) {
	return n.b.ZRange(ctx, n.k(key), start, stop, reverse)
}

func (n *namespaced) ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]Z, error) {
	return n.b.ZRangeByScore(ctx, n.k(key), min, max, reverse, offset, count)
}

func (n *namespaced) ZCount(ctx context.Context, key, min, max string) (int64, error) {
	return n.b.ZCount(ctx, n.k(key), min, max)
}

func (n *namespaced) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error) {
	return n.b.ZRemRangeByRank(ctx, n.k(key), start, stop)
}

func (n *namespaced) ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error) {
	return n.b.ZRemRangeByScore(ctx, n.k(key), min, max)
}

// DeleteMatching matches within the namespace only: match and the keys
// want sees are those of the namespace, without ns.
func (n *namespaced) DeleteMatching(ctx context.Context, match string, want func(key string) bool, batch int64) (int64, error) {
	inner := func(key string) bool {
		rest, ok := strings.CutPrefix(key, n.ns)
		return ok && (want == nil || want(rest))
	}
	return n.b.DeleteMatching(ctx, n.pattern+match, inner, batch)
}

func (n *namespaced) CoarseMillis() (int64, bool) { return n.b.CoarseMillis() }

// Close leaves b open: it belongs to the connection the namespace is in.
func (n *namespaced) Close() error { return nil }

func (n *namespaced) HGetAllMap(ctx context.Context, key string) (map[string]string, error) {
	if mr, ok := n.b.(HashMapReader); ok {
		return mr.HGetAllMap(ctx, n.k(key))
	}
	flat, err := n.b.HGetAll(ctx, n.k(key))
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m, nil
}

func (n *namespaced) CheckSameSlot(keys []string) error {
	if sc, ok := n.b.(SlotChecker); ok {
		return sc.CheckSameSlot(n.ks(keys))
	}
	return nil
}

func (n *namespaced) GetWithin(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	if bg, ok := n.b.(BudgetGetter); ok {
		return bg.GetWithin(ctx, n.k(key), budget)
	}
	if n.InProcess() {
		return n.b.Get(ctx, n.k(key))
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	return n.b.Get(ctx, n.k(key))
}

func (n *namespaced) InProcess() bool {
	ip, ok := n.b.(InProcess)
	return ok && ip.InProcess()
}

// Now is b's clock, or the real time when b keeps none.
func (n *namespaced) Now() time.Time {
	if c, ok := n.b.(Clock); ok {
		return c.Now()
	}
	return time.Now()
}

var (
	_ HashMapReader = (*namespaced)(nil)
	_ SlotChecker   = (*namespaced)(nil)
	_ BudgetGetter  = (*namespaced)(nil)
	_ InProcess     = (*namespaced)(nil)
	_ Clock         = (*namespaced)(nil)
)

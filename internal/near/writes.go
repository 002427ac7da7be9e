package near

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// Every write goes to Redis and then drops the copy of the key it wrote,
// whatever its outcome (a failed call may still have written): the
// writing process reads its own write at once, before Redis's push
// arrives.

func (c *Cache) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	defer c.drop(key)
	return c.inner.Set(ctx, key, value, ttl)
}

func (c *Cache) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	defer c.drop(key)
	return c.inner.SetNX(ctx, key, value, ttl)
}

func (c *Cache) GetDel(ctx context.Context, key string) (string, bool, error) {
	defer c.drop(key)
	return c.inner.GetDel(ctx, key)
}

func (c *Cache) DelIfEqual(ctx context.Context, key, value string) (bool, error) {
	defer c.drop(key)
	return c.inner.DelIfEqual(ctx, key, value)
}

func (c *Cache) Del(ctx context.Context, keys ...string) (int64, error) {
	defer c.drop(keys...)
	return c.inner.Del(ctx, keys...)
}

func (c *Cache) SetMany(ctx context.Context, keys, values []string, ttls ...time.Duration) error {
	defer c.drop(keys...)
	return c.inner.SetMany(ctx, keys, values, ttls...)
}

func (c *Cache) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	defer c.drop(key)
	return c.inner.PExpire(ctx, key, ttl)
}

func (c *Cache) PExpireAt(ctx context.Context, key string, at time.Time) (bool, error) {
	defer c.drop(key)
	return c.inner.PExpireAt(ctx, key, at)
}

func (c *Cache) Persist(ctx context.Context, key string) (bool, error) {
	defer c.drop(key)
	return c.inner.Persist(ctx, key)
}

func (c *Cache) IncrByWithin(ctx context.Context, key string, n, lo, hi int64, ttl time.Duration) (int64, error) {
	defer c.drop(key)
	return c.inner.IncrByWithin(ctx, key, n, lo, hi, ttl)
}

func (c *Cache) IncrByFloatWithin(ctx context.Context, key string, f, lo, hi float64, ttl time.Duration) (float64, error) {
	defer c.drop(key)
	return c.inner.IncrByFloatWithin(ctx, key, f, lo, hi, ttl)
}

func (c *Cache) HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error) {
	defer c.drop(key)
	return c.inner.HSet(ctx, key, ttl, fieldValues...)
}

func (c *Cache) HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error) {
	defer c.drop(key)
	return c.inner.HSetNX(ctx, key, field, value, ttl)
}

func (c *Cache) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	defer c.drop(key)
	return c.inner.HDel(ctx, key, fields...)
}

func (c *Cache) HGetDel(ctx context.Context, key, field string) (string, bool, error) {
	defer c.drop(key)
	return c.inner.HGetDel(ctx, key, field)
}

func (c *Cache) HPopRandom(ctx context.Context, key string) (string, string, bool, error) {
	defer c.drop(key)
	return c.inner.HPopRandom(ctx, key)
}

func (c *Cache) HIncrByWithin(ctx context.Context, key, field string, n, lo, hi int64, ttl time.Duration) (int64, error) {
	defer c.drop(key)
	return c.inner.HIncrByWithin(ctx, key, field, n, lo, hi, ttl)
}

func (c *Cache) HIncrByFloatWithin(ctx context.Context, key, field string, f, lo, hi float64, ttl time.Duration) (float64, error) {
	defer c.drop(key)
	return c.inner.HIncrByFloatWithin(ctx, key, field, f, lo, hi, ttl)
}

func (c *Cache) HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	defer c.drop(key)
	return c.inner.HIncrByMany(ctx, key, ttl, fields, ns)
}

func (c *Cache) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	defer c.drop(key)
	return c.inner.SAdd(ctx, key, ttl, members...)
}

func (c *Cache) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	defer c.drop(key)
	return c.inner.SRem(ctx, key, members...)
}

func (c *Cache) SPop(ctx context.Context, key string, count int64) ([]string, error) {
	defer c.drop(key)
	return c.inner.SPop(ctx, key, count)
}

func (c *Cache) SCombineStore(ctx context.Context, op backend.SetOp, dest string, ttl time.Duration, keys ...string) (int64, error) {
	defer c.drop(dest)
	return c.inner.SCombineStore(ctx, op, dest, ttl, keys...)
}

func (c *Cache) ZAdd(ctx context.Context, key string, ttl time.Duration, mode backend.ZAddMode, members ...backend.Z) (int64, error) {
	defer c.drop(key)
	return c.inner.ZAdd(ctx, key, ttl, mode, members...)
}

func (c *Cache) ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error) {
	defer c.drop(key)
	return c.inner.ZIncrBy(ctx, key, member, incr, ttl)
}

func (c *Cache) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	defer c.drop(key)
	return c.inner.ZRem(ctx, key, members...)
}

func (c *Cache) ZPop(ctx context.Context, key string, count int64, max bool) ([]backend.Z, error) {
	defer c.drop(key)
	return c.inner.ZPop(ctx, key, count, max)
}

func (c *Cache) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error) {
	defer c.drop(key)
	return c.inner.ZRemRangeByRank(ctx, key, start, stop)
}

func (c *Cache) ZRemRangeByScore(ctx context.Context, key, lo, hi string) (int64, error) {
	defer c.drop(key)
	return c.inner.ZRemRangeByScore(ctx, key, lo, hi)
}

// DeleteMatching drops every copy: the keys it deletes are not known in
// advance.
func (c *Cache) DeleteMatching(ctx context.Context, match string, want func(key string) bool, batch int64) (int64, error) {
	defer c.flush()
	return c.inner.DeleteMatching(ctx, match, want, batch)
}

// CheckSameSlot is the inner backend's [backend.SlotChecker], or no check.
func (c *Cache) CheckSameSlot(keys []string) error {
	if sc, ok := c.inner.(backend.SlotChecker); ok {
		return sc.CheckSameSlot(keys)
	}
	return nil
}

var (
	_ backend.Backend       = (*Cache)(nil)
	_ backend.HashMapReader = (*Cache)(nil)
	_ backend.BudgetGetter  = (*Cache)(nil)
	_ backend.SlotChecker   = (*Cache)(nil)
)

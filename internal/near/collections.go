package near

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// A copy of a hash, a set or a sorted set is the whole key, read by
// HGETALL, SMEMBERS or ZRANGE 0 -1 WITHSCORES: every read of one of its
// fields or members, or of a range, is then local.

// kind is the Redis type of a collection copy.
type kind uint8

const (
	hashKind kind = iota
	setKind
	zsetKind
)

// whole is the content of a collection as read from Redis: fields and
// values or members in items, or the members of a sorted set in zs.
type whole struct {
	items []string
	zs    []backend.Z
}

func (w whole) empty() bool { return len(w.items) == 0 && len(w.zs) == 0 }

// collection runs read on the copy of key, filling it first when there is
// none, or on Redis when there can be none (the cache is down, the key is
// absent or the fill lost a race).
func (c *Cache) collection(ctx context.Context, key string, k kind, read func(b backend.Backend) error) error {
	if !c.armed() {
		return read(c.inner)
	}
	if done, err := c.readCopy(ctx, key, read); done {
		if c.hit() {
			return err
		}
		return read(c.inner)
	}
	c.misses.Add(1)
	if c.fillCollection(ctx, key, k) {
		if done, err := c.readCopy(ctx, key, read); done {
			return err
		}
	}
	return read(c.inner)
}

// readCopy runs read on the local copy of key; done is false when there is
// none. The key is checked before and after under the shard's read lock:
// an invalidation cannot intervene, and a copy that expired or was evicted
// meanwhile is not trusted.
func (c *Cache) readCopy(ctx context.Context, key string, read func(b backend.Backend) error) (done bool, err error) {
	sh := c.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if ok, _ := c.local.Exists(ctx, key); !ok {
		return false, nil
	}
	err = read(c.local)
	if ok, _ := c.local.Exists(ctx, key); !ok {
		return false, nil
	}
	return true, err
}

// fillCollection copies the hash or set at key from Redis and reports
// whether it kept the copy.
func (c *Cache) fillCollection(ctx context.Context, key string, k kind) bool {
	f, ok := c.begin(key)
	if !ok {
		return false
	}
	w, err := c.readWhole(ctx, key, k)
	if err != nil || w.empty() {
		c.abandon(f)
		return false
	}
	pttl, exists, err := c.inner.PTTL(ctx, key)
	if err != nil || !exists {
		c.abandon(f)
		return false
	}
	stored := false
	c.commit(f, func() bool {
		stored = c.storeCollection(ctx, key, k, w, c.localTTL(f.start, pttl))
		return stored
	})
	return stored
}

// readWhole reads the whole collection at key from Redis.
func (c *Cache) readWhole(ctx context.Context, key string, k kind) (w whole, err error) {
	switch k {
	case hashKind:
		w.items, err = c.inner.HGetAll(ctx, key)
	case setKind:
		w.items, err = c.inner.SMembers(ctx, key)
	default:
		// At most maxZCopy+1 members: a larger sorted set is not copied
		// (its range reads, as in SortedSet.All, stay pages from Redis).
		w.zs, err = c.inner.ZRange(ctx, key, 0, maxZCopy, false)
		if len(w.zs) > maxZCopy {
			w.zs = nil
		}
	}
	return w, err
}

// maxZCopy is the most members of a sorted set the cache copies.
const maxZCopy = 4096

func (c *Cache) storeCollection(ctx context.Context, key string, k kind, w whole, ttl time.Duration) bool {
	if ttl <= 0 {
		return false
	}
	bg := context.WithoutCancel(ctx)
	if _, err := c.local.Del(bg, key); err != nil {
		return false
	}
	var err error
	switch k {
	case hashKind:
		_, err = c.local.HSet(bg, key, ttl, w.items...)
	case setKind:
		_, err = c.local.SAdd(bg, key, ttl, w.items...)
	default:
		_, err = c.local.ZAdd(bg, key, ttl, backend.ZAddUpsert, w.zs...)
	}
	return err == nil
}

// Hashes.

func (c *Cache) HGet(ctx context.Context, key, field string) (v string, ok bool, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		v, ok, err = b.HGet(ctx, key, field)
		return err
	})
	return v, ok, err
}

func (c *Cache) HMGet(ctx context.Context, key string, fields ...string) (vs []string, ok []bool, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		vs, ok, err = b.HMGet(ctx, key, fields...)
		return err
	})
	return vs, ok, err
}

func (c *Cache) HExists(ctx context.Context, key, field string) (ok bool, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		ok, err = b.HExists(ctx, key, field)
		return err
	})
	return ok, err
}

func (c *Cache) HLen(ctx context.Context, key string) (n int64, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		n, err = b.HLen(ctx, key)
		return err
	})
	return n, err
}

func (c *Cache) HGetAll(ctx context.Context, key string) (fv []string, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		fv, err = b.HGetAll(ctx, key)
		return err
	})
	return fv, err
}

// HGetAllMap is [backend.HashMapReader]: the whole hash as a map.
func (c *Cache) HGetAllMap(ctx context.Context, key string) (m map[string]string, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		if mr, ok := b.(backend.HashMapReader); ok {
			m, err = mr.HGetAllMap(ctx, key)
			return err
		}
		fv, err := b.HGetAll(ctx, key)
		m = make(map[string]string, len(fv)/2)
		for i := 0; i+1 < len(fv); i += 2 {
			m[fv[i]] = fv[i+1]
		}
		return err
	})
	return m, err
}

func (c *Cache) HVals(ctx context.Context, key string) (vs []string, err error) {
	err = c.collection(ctx, key, hashKind, func(b backend.Backend) error {
		vs, err = b.HVals(ctx, key)
		return err
	})
	return vs, err
}

// Sets.

func (c *Cache) SIsMember(ctx context.Context, key, member string) (ok bool, err error) {
	err = c.collection(ctx, key, setKind, func(b backend.Backend) error {
		ok, err = b.SIsMember(ctx, key, member)
		return err
	})
	return ok, err
}

func (c *Cache) SMIsMember(ctx context.Context, key string, members ...string) (ok []bool, err error) {
	err = c.collection(ctx, key, setKind, func(b backend.Backend) error {
		ok, err = b.SMIsMember(ctx, key, members...)
		return err
	})
	return ok, err
}

func (c *Cache) SCard(ctx context.Context, key string) (n int64, err error) {
	err = c.collection(ctx, key, setKind, func(b backend.Backend) error {
		n, err = b.SCard(ctx, key)
		return err
	})
	return n, err
}

func (c *Cache) SMembers(ctx context.Context, key string) (ms []string, err error) {
	err = c.collection(ctx, key, setKind, func(b backend.Backend) error {
		ms, err = b.SMembers(ctx, key)
		return err
	})
	return ms, err
}

// Sorted sets.

func (c *Cache) ZScore(ctx context.Context, key, member string) (score float64, ok bool, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		score, ok, err = b.ZScore(ctx, key, member)
		return err
	})
	return score, ok, err
}

func (c *Cache) ZRank(ctx context.Context, key, member string, reverse bool) (rank int64, ok bool, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		rank, ok, err = b.ZRank(ctx, key, member, reverse)
		return err
	})
	return rank, ok, err
}

func (c *Cache) ZCard(ctx context.Context, key string) (n int64, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		n, err = b.ZCard(ctx, key)
		return err
	})
	return n, err
}

func (c *Cache) ZRange(ctx context.Context, key string, start, stop int64, reverse bool) (zs []backend.Z, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		zs, err = b.ZRange(ctx, key, start, stop, reverse)
		return err
	})
	return zs, err
}

func (c *Cache) ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) (zs []backend.Z, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		zs, err = b.ZRangeByScore(ctx, key, min, max, reverse, offset, count)
		return err
	})
	return zs, err
}

func (c *Cache) ZCount(ctx context.Context, key, min, max string) (n int64, err error) {
	err = c.collection(ctx, key, zsetKind, func(b backend.Backend) error {
		n, err = b.ZCount(ctx, key, min, max)
		return err
	})
	return n, err
}

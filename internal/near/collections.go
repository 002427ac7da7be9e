package near

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// A copy of a hash or a set is the whole key, read by HGETALL or
// SMEMBERS: every read of one of its fields or members is then local.

// kind is the Redis type of a collection copy.
type kind uint8

const (
	hashKind kind = iota
	setKind
)

// collection runs read on the copy of key, filling it first when there is
// none, or on Redis when there can be none (the cache is down, the key is
// absent or the fill lost a race).
func (c *Cache) collection(ctx context.Context, key string, k kind, read func(b backend.Backend) error) error {
	if !c.live.Load() {
		return read(c.inner)
	}
	if done, err := c.readCopy(ctx, key, read); done {
		c.hits.Add(1)
		return err
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
	var items []string
	var err error
	if k == hashKind {
		items, err = c.inner.HGetAll(ctx, key)
	} else {
		items, err = c.inner.SMembers(ctx, key)
	}
	if err != nil || len(items) == 0 {
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
		stored = c.storeCollection(ctx, key, k, items, c.localTTL(f.start, pttl))
		return stored
	})
	return stored
}

func (c *Cache) storeCollection(ctx context.Context, key string, k kind, items []string, ttl time.Duration) bool {
	if ttl <= 0 {
		return false
	}
	bg := context.WithoutCancel(ctx)
	if _, err := c.local.Del(bg, key); err != nil {
		return false
	}
	var err error
	if k == hashKind {
		_, err = c.local.HSet(bg, key, ttl, items...)
	} else {
		_, err = c.local.SAdd(bg, key, ttl, items...)
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

package caches

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/memstore"
)

// backend is the narrow set of Redis commands the caches use. Both the
// go-redis adapter ([redisBackend]) and the in-process store
// ([memstore.Store]) implement it with Redis semantics.
//
// Conventions shared by every method:
//   - A miss is reported by a false ok, never by an error; redis.Nil never
//     crosses this interface.
//   - Every method that writes data takes ttl and refreshes the expiry of the
//     key it writes atomically with the write: ttl > 0 sets it (PEXPIRE),
//     ttl == 0 removes it (PERSIST). Commands that only remove data leave the
//     expiry alone.
//   - Errors keep the text Redis uses ("WRONGTYPE …", "ERR value is not an
//     integer or out of range", …); the caches map them to sentinels.
//   - Score bounds (min, max) use the Redis syntax: "1.5", "(1.5", "-inf",
//     "+inf".
type backend interface {
	// Keys.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	SetNX(ctx context.Context, key, value string, ttl time.Duration) (stored bool, err error)
	GetDel(ctx context.Context, key string) (value string, ok bool, err error)
	// DelIfEqual deletes key only if it holds the string value, atomically,
	// and reports whether it did.
	DelIfEqual(ctx context.Context, key, value string) (bool, error)
	// Del deletes keys, which may live on different cluster slots.
	Del(ctx context.Context, keys ...string) (deleted int64, err error)
	// MGet returns the string values of keys in order (ok false for a
	// missing key or one of another type), in one round trip per cluster
	// slot.
	MGet(ctx context.Context, keys ...string) (values []string, ok []bool, err error)
	// SetMany stores values[i] at keys[i] with ttl, in one round trip per
	// cluster slot; it is atomic per key, not across keys.
	SetMany(ctx context.Context, keys, values []string, ttl time.Duration) error
	Exists(ctx context.Context, key string) (bool, error)
	// PTTL reports the remaining time to live; ok is false when the key does
	// not exist, and ttl is -1 when it exists without an expiry. A time that
	// a Duration cannot hold to the millisecond (about 292 years; Redis
	// keeps deadlines up to the year 292 million) is math.MaxInt64.
	PTTL(ctx context.Context, key string) (ttl time.Duration, ok bool, err error)
	// PExpire with ttl <= 0 deletes the key, as Redis does.
	PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// PExpireAt sets the deadline to at in Unix milliseconds, clamped to
	// the int64 range; a time not in the future deletes the key.
	PExpireAt(ctx context.Context, key string, at time.Time) (bool, error)
	Persist(ctx context.Context, key string) (bool, error)
	// IncrByWithin is INCRBY for a value type narrower than int64: a result
	// not within [min, max] writes nothing, the expiry included, and fails
	// with an error starting "ERR increment", as an overflow does. The
	// result is exact over the whole int64 range.
	IncrByWithin(ctx context.Context, key string, n, min, max int64, ttl time.Duration) (int64, error)
	// IncrByFloatWithin is INCRBYFLOAT for a value type narrower than the
	// long double Redis computes in: a result that, read as a float64 (±Inf
	// beyond its range), is not within [min, max] writes nothing and fails
	// like IncrByWithin.
	IncrByFloatWithin(ctx context.Context, key string, f, min, max float64, ttl time.Duration) (float64, error)

	// Hashes.
	HGet(ctx context.Context, key, field string) (value string, ok bool, err error)
	HMGet(ctx context.Context, key string, fields ...string) (values []string, ok []bool, err error)
	// HSet takes alternating fields and values and reports how many fields
	// were new.
	HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (added int64, err error)
	HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (stored bool, err error)
	HDel(ctx context.Context, key string, fields ...string) (deleted int64, err error)
	HExists(ctx context.Context, key, field string) (bool, error)
	HLen(ctx context.Context, key string) (int64, error)
	// HGetDel atomically returns a field's value and removes the field.
	HGetDel(ctx context.Context, key, field string) (value string, ok bool, err error)
	// HPopRandom atomically removes an arbitrary field and returns it.
	HPopRandom(ctx context.Context, key string) (field, value string, ok bool, err error)
	// HIncrByWithin and HIncrByFloatWithin are IncrByWithin and
	// IncrByFloatWithin for a field of a hash (HINCRBY, HINCRBYFLOAT).
	HIncrByWithin(ctx context.Context, key, field string, n, min, max int64, ttl time.Duration) (int64, error)
	HIncrByFloatWithin(ctx context.Context, key, field string, f, min, max float64, ttl time.Duration) (float64, error)
	// HIncrByMany adds ns[i] to fields[i] for every i, atomically, and
	// returns the new values. A failing increment (a field that is not an
	// integer, an overflow) fails the call; the others may have been applied
	// on Redis, which does not roll a MULTI back.
	HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error)
	// HScan returns alternating fields and values and the next cursor (0 when
	// the scan is complete).
	HScan(ctx context.Context, key string, cursor uint64, count int64) (fieldValues []string, next uint64, err error)
	// HScanInstance is HScan that also returns instance, which identifies
	// the server instance that served the page. A cursor means something
	// only to the instance that issued it: a scan whose pages report
	// different instances has not seen the hash once. See
	// [redisBackend.HScanInstance] and [memstore.Store.HScanInstance].
	HScanInstance(ctx context.Context, key string, cursor uint64, count int64) (fieldValues []string, next uint64, instance string, err error)
	HGetAll(ctx context.Context, key string) (fieldValues []string, err error)
	HVals(ctx context.Context, key string) ([]string, error)

	// Sets.
	SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (added int64, err error)
	SRem(ctx context.Context, key string, members ...string) (removed int64, err error)
	SIsMember(ctx context.Context, key, member string) (bool, error)
	SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error)
	SCard(ctx context.Context, key string) (int64, error)
	SPop(ctx context.Context, key string, count int64) ([]string, error)
	// SRandMember follows Redis: a negative count may repeat members.
	SRandMember(ctx context.Context, key string, count int64) ([]string, error)
	SScan(ctx context.Context, key string, cursor uint64, count int64) (members []string, next uint64, err error)
	// SScanInstance is SScan that also returns the instance that served
	// the page, as HScanInstance does.
	SScanInstance(ctx context.Context, key string, cursor uint64, count int64) (members []string, next uint64, instance string, err error)
	SMembers(ctx context.Context, key string) ([]string, error)
	// SCombine computes the union ("SUNION"), intersection ("SINTER") or
	// difference ("SDIFF") of the sets at keys.
	SCombine(ctx context.Context, op string, keys ...string) ([]string, error)
	// SCombineStore stores the result of SCombine at dest and returns its
	// size; a non-empty result gets ttl.
	SCombineStore(ctx context.Context, op, dest string, ttl time.Duration, keys ...string) (int64, error)

	// Sorted sets.
	// ZAdd adds members with scores; mode is "" (add or update), "NX" (only
	// add) or "XX" (only update). It reports how many members were added.
	ZAdd(ctx context.Context, key string, ttl time.Duration, mode string, members []string, scores []float64) (added int64, err error)
	ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error)
	ZScore(ctx context.Context, key, member string) (score float64, ok bool, err error)
	ZRank(ctx context.Context, key, member string, reverse bool) (rank int64, ok bool, err error)
	ZRem(ctx context.Context, key string, members ...string) (removed int64, err error)
	ZCard(ctx context.Context, key string) (int64, error)
	// ZPop removes and returns up to count members with the lowest scores
	// (ZPOPMIN), or the highest when max is set (ZPOPMAX).
	ZPop(ctx context.Context, key string, count int64, max bool) (members []string, scores []float64, err error)
	// ZRange returns members by rank, start and stop inclusive and negative
	// from the end, as ZRANGE … [REV] WITHSCORES.
	ZRange(ctx context.Context, key string, start, stop int64, reverse bool) (members []string, scores []float64, err error)
	// ZRangeByScore returns members with min <= score <= max in ascending
	// order (descending when reverse), skipping offset and returning at most
	// count (count < 0: all), as ZRANGE … BYSCORE [REV] LIMIT WITHSCORES.
	ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) (members []string, scores []float64, err error)
	ZCount(ctx context.Context, key, min, max string) (int64, error)
	ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error)
	ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error)

	// DeleteMatching deletes every key that matches the glob pattern match
	// (the syntax of SCAN MATCH) and that want accepts (every matching key
	// when want is nil), and returns how many it deleted. It never blocks the
	// server for long: on Redis it is SCAN MATCH COUNT batch and UNLINK of the
	// wanted keys of each page, on every master of a cluster. Keys written
	// meanwhile may or may not be deleted.
	DeleteMatching(ctx context.Context, match string, want func(key string) bool, batch int64) (deleted int64, err error)

	// CoarseMillis returns the real time in unix milliseconds from a clock
	// cheaper to read than time.Now, and true, when the backend keeps one
	// (the in-process store on the real clock); otherwise 0 and false.
	CoarseMillis() (ms int64, ok bool)

	// Close releases the backend's resources. It is called once.
	Close() error
}

// Optional capabilities. A backend may offer a faster or more exact path
// for some operations; domain code asks for it by asserting one of these
// interfaces on the backend, never a concrete backend type, and uses the
// plain methods of [backend] when the backend does not have it.

// hashMapReader returns a whole hash as a map: HGETALL without the flat
// slice of [backend.HGetAll], for a client that already builds a map.
type hashMapReader interface {
	HGetAllMap(ctx context.Context, key string) (map[string]string, error)
}

// slotChecker refuses, before anything is sent, a command across keys that
// the deployment would reject: on a Redis Cluster, keys on different slots
// (an error wrapping [ErrCrossSlot]). Backends without slots lack it.
type slotChecker interface {
	CheckSameSlot(keys []string) error
}

// inProcess is the capability of a backend that lives in this process:
// its calls never wait on a network or another process, so they need no
// time budget of their own (see [MemoOptions.CacheTimeout]).
type inProcess interface {
	InProcess() bool
}

var (
	_ backend       = (*memstore.Store)(nil)
	_ backend       = (*redisBackend)(nil)
	_ hashMapReader = (*redisBackend)(nil)
	_ slotChecker   = (*redisBackend)(nil)
	_ inProcess     = (*memstore.Store)(nil)
)

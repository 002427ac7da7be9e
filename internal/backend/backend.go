// Package backend is the contract between the caches and what stores their
// data: the narrow set of Redis commands the caches use, with Redis's
// semantics. Two packages implement it: the go-redis adapter
// (internal/redisbackend), for single nodes, Sentinel and Cluster, and the
// in-process store (internal/memstore). Package backendtest checks an
// implementation against the contract.
//
// Optional capabilities, in the manner of database/sql/driver: a backend
// may offer a faster or more exact path for some operations by
// implementing one of the small interfaces below ([HashMapReader],
// [SlotChecker], [InProcess]). Code that uses a backend finds a capability
// by asserting the interface on its [Backend], never a concrete backend
// type, and falls back to the plain methods of [Backend] without it.
package backend

import (
	"context"
	"errors"
	"math"
	"time"
)

// Backend is the set of Redis commands the caches use. Both the go-redis
// adapter and the in-process store implement it with Redis semantics.
//
// Conventions shared by every method:
//   - A miss is reported by a false ok, never by an error; redis.Nil never
//     crosses this interface.
//   - Every method that writes data takes ttl and refreshes the expiry of the
//     key it writes atomically with the write: ttl > 0 sets it (PEXPIRE),
//     ttl == 0 removes it (PERSIST). Commands that only remove data leave the
//     expiry alone.
//   - Errors keep the text Redis uses ("WRONGTYPE …", "ERR value is not an
//     integer or out of range", …); the caches map them to sentinels. A
//     call on a closed backend returns an error that [IsClosed] recognises.
//   - Score bounds (min, max) use the Redis syntax: "1.5", "(1.5", "-inf",
//     "+inf".
//   - Keys of one multi-key call that a deployment would refuse together
//     (a Cluster's different slots) fail with an error wrapping
//     [ErrCrossSlot] where the backend checks them (see [SlotChecker]).
type Backend interface {
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
	// SetMany stores values[i] at keys[i] with ttls[i], or with ttls[0]
	// for every key when ttls holds one TTL (see [TTLOf]), in one round
	// trip per cluster slot; it is atomic per key, not across keys.
	SetMany(ctx context.Context, keys, values []string, ttls ...time.Duration) error
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
	// different instances has not seen the hash once: the caller stops
	// with an error rather than return a partial or repeated walk. On Redis
	// the instance is the server's run_id; on the in-process store, the
	// store's own generation.
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
	// SCombine computes the union, intersection or difference (op) of the
	// sets at keys.
	SCombine(ctx context.Context, op SetOp, keys ...string) ([]string, error)
	// SCombineStore stores the result of SCombine at dest and returns its
	// size; a non-empty result gets ttl.
	SCombineStore(ctx context.Context, op SetOp, dest string, ttl time.Duration, keys ...string) (int64, error)

	// Sorted sets.
	// ZAdd adds members with their scores as ZADD with mode does and
	// reports how many members were added.
	ZAdd(ctx context.Context, key string, ttl time.Duration, mode ZAddMode, members ...Z) (added int64, err error)
	ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error)
	ZScore(ctx context.Context, key, member string) (score float64, ok bool, err error)
	ZRank(ctx context.Context, key, member string, reverse bool) (rank int64, ok bool, err error)
	ZRem(ctx context.Context, key string, members ...string) (removed int64, err error)
	ZCard(ctx context.Context, key string) (int64, error)
	// ZPop removes and returns up to count members with the lowest scores
	// (ZPOPMIN), or the highest when max is set (ZPOPMAX).
	ZPop(ctx context.Context, key string, count int64, max bool) ([]Z, error)
	// ZRange returns members by rank, start and stop inclusive and negative
	// from the end, as ZRANGE … [REV] WITHSCORES.
	ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]Z, error)
	// ZRangeByScore returns members with min <= score <= max in ascending
	// order (descending when reverse), skipping offset and returning at most
	// count (count < 0: all), as ZRANGE … BYSCORE [REV] LIMIT WITHSCORES.
	ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]Z, error)
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

// Z is a member of a sorted set and its score.
type Z struct {
	Member string
	Score  float64
}

// ZAddMode is the condition of a [Backend.ZAdd].
type ZAddMode uint8

const (
	// ZAddUpsert adds new members and updates existing ones (plain ZADD).
	ZAddUpsert ZAddMode = iota
	// ZAddNX only adds new members (ZADD NX).
	ZAddNX
	// ZAddXX only updates existing members and never creates the key
	// (ZADD XX).
	ZAddXX
)

// String returns the ZADD flag of m: "", "NX" or "XX".
func (m ZAddMode) String() string {
	switch m {
	case ZAddNX:
		return "NX"
	case ZAddXX:
		return "XX"
	}
	return ""
}

// SetOp is the operation of [Backend.SCombine] and [Backend.SCombineStore].
type SetOp uint8

const (
	// Union is SUNION: members of any of the sets.
	Union SetOp = iota
	// Inter is SINTER: members of every set.
	Inter
	// Diff is SDIFF: members of the first set and of none of the others.
	Diff
)

// String returns the Redis command of op: "SUNION", "SINTER" or "SDIFF".
func (op SetOp) String() string {
	switch op {
	case Inter:
		return "SINTER"
	case Diff:
		return "SDIFF"
	}
	return "SUNION"
}

// The bounds the caches pass to the Within increments for their value
// types; a backend may keep their texts ready.

// IntRange returns the range of a signed integer type of bits bits.
func IntRange(bits int) (min, max int64) {
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

// UintMax returns the largest value of an unsigned integer type of bits
// bits that an increment may store: Redis's integers stop at the int64
// maximum.
func UintMax(bits int) int64 {
	return int64(min(uint64(1)<<bits-1, math.MaxInt64))
}

// MaxFloat32Text is the largest float64 below the midpoint between
// math.MaxFloat32 and 2^128: a number below that midpoint, stored as text,
// reads back as a finite float32 (it rounds to math.MaxFloat32 at most),
// and a number at or above it does not.
var MaxFloat32Text = math.Nextafter(math.MaxFloat32+0x1p103, 0)

// Errors a backend returns, compared with [errors.Is].
var (
	// ErrClosed is wrapped, or is, the error of a call on a backend after
	// its Close. (go-redis's own redis.ErrClosed is recognised by
	// [IsClosed] as well.)
	ErrClosed = errors.New("backend closed")

	// ErrCrossSlot is wrapped by a call across keys that a Redis Cluster
	// would refuse, refused before anything is sent.
	ErrCrossSlot = errors.New("caches: keys on different cluster slots")
)

// closedErrs are the errors, beyond ErrClosed, that mean "closed"; a backend
// package registers its client's own with [RegisterClosed].
var closedErrs []error

// RegisterClosed records err as one more error that means a closed backend,
// for [IsClosed]. It is called from a backend package's init, before any
// call.
func RegisterClosed(err error) { closedErrs = append(closedErrs, err) }

// IsClosed reports whether err comes from a call on a closed backend.
func IsClosed(err error) bool {
	if errors.Is(err, ErrClosed) {
		return true
	}
	for _, c := range closedErrs {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// Optional capabilities. A backend implements the ones it has a faster or
// more exact path for; a caller asserts the interface on its [Backend] and
// uses the plain methods without it.

// HashMapReader returns a whole hash as a map: HGETALL without the flat
// slice of [Backend.HGetAll], for a client that already builds a map.
type HashMapReader interface {
	HGetAllMap(ctx context.Context, key string) (map[string]string, error)
}

// SlotChecker refuses, before anything is sent, a command across keys that
// the deployment would reject: on a Redis Cluster, keys on different slots
// (an error wrapping [ErrCrossSlot]). Backends without slots lack it.
type SlotChecker interface {
	CheckSameSlot(keys []string) error
}

// BudgetGetter reads a key within a time budget as well as within ctx,
// cheaper than a context.WithTimeout around Get: the read of a cache that falls
// back to its source when the cache is slow. A budget that runs out fails
// the call with an error wrapping context.DeadlineExceeded (or the
// client's timeout error).
type BudgetGetter interface {
	GetWithin(ctx context.Context, key string, budget time.Duration) (value string, ok bool, err error)
}

// InProcess is the capability of a backend that lives in this process: its
// calls never wait on a network or another process, so they need no time
// budget of their own.
type InProcess interface {
	InProcess() bool
}

// Clock is the capability of a backend that keeps time of its own, the
// time its expiries follow: the in-process store, whose clock a test may
// move. Code that stores deadlines next to values (Memoize's early
// refresh) reads this clock so that both agree.
type Clock interface {
	Now() time.Time
}

// Attacher is the capability of a backend that answers some string reads
// from process memory without a round trip, and keeps there, next to a
// string, a value a caller derived from it (a decoded result), so that the
// next read of the same string skips the derivation: the near cache.
type Attacher interface {
	// GetLocal returns the string at key when it can answer from process
	// memory, with the value attached to exactly that string (nil when
	// none); ok is false when it cannot, and the caller reads with Get.
	GetLocal(ctx context.Context, key string) (value string, attached any, ok bool)
	// Attach attaches v to the string at key if key still holds value in
	// process memory; it goes when that copy goes.
	Attach(ctx context.Context, key, value string, v any)
}

// TTLGetter reads a string and its remaining time to live (-1 for none)
// in one round trip: what a near cache's fill needs. ok is false when the
// key is missing (or expired between the two reads).
type TTLGetter interface {
	GetPTTL(ctx context.Context, key string) (value string, pttl time.Duration, ok bool, err error)
}

// TTLOf returns the TTL of the i-th key of a [Backend.SetMany] call:
// ttls[i], or ttls[0] when ttls holds one TTL for every key (none: no
// expiry).
func TTLOf(ttls []time.Duration, i int) time.Duration {
	switch len(ttls) {
	case 0:
		return 0
	case 1:
		return ttls[0]
	}
	return ttls[i]
}

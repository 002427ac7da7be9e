package caches

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/gocaches/caches/internal/backend"
)

// CounterCache is a family of counters, each stored in one Redis hash that
// maps keys of type K to int64 counts, atomically: every change is an HINCRBY on the server, never a read followed by
// a write. Make a handle per hash with [CounterCache.Key]:
//
//	var views = caches.NewCounterCache[string](caches.Options{Prefix: "views"})
//	n, err := views.Key("2026-11-21").Incr(ctx, "/home", 1)   // HINCRBY views:2026-11-21 /home 1
//
// A CounterCache is safe for concurrent use.
type CounterCache[K comparable] struct {
	*family
	keys valueCodec[K]
}

// NewCounterCache returns a family of counters configured by opts. The
// connection is resolved at first use.
func NewCounterCache[K comparable](opts Options) *CounterCache[K] {
	return &CounterCache[K]{family: newFamily(opts), keys: newValueCodec[K](opts.Codec)}
}

// Key returns the handle of the counter whose Redis key is made of the
// family's prefix and args.
func (c *CounterCache[K]) Key(args ...any) Counter[K] {
	return Counter[K]{handle: newHandle(c.family, args), c: c}
}

// Counter is one counter of a [CounterCache]: one Redis hash of counts.
// Every write refreshes the whole hash's TTL atomically with the write;
// removals leave it alone. A missing count is 0.
type Counter[K comparable] struct {
	handle
	c *CounterCache[K]
}

// Counted is a counter key with its count.
type Counted[K comparable] struct {
	Key   K     `json:"key"`
	Count int64 `json:"count"`
}

func (c Counter[K]) encode(k K) (string, error) {
	s, err := c.c.keys.encode(k)
	if err != nil {
		return "", keyErr("encode field", c.key, err)
	}
	return s, nil
}

func (c Counter[K]) decode(field, count string) (Counted[K], error) {
	k, err := c.c.keys.decode(field)
	if err != nil {
		return Counted[K]{}, &DecodeError{Key: c.key, Field: field, Type: c.c.keys.typeName, Err: err}
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil {
		return Counted[K]{Key: k}, &DecodeError{Key: c.key, Field: field, Type: "int64", Err: err}
	}
	return Counted[K]{Key: k, Count: n}, nil
}

// prepare returns the backend and the encoded counter key.
func (c Counter[K]) prepare(ctx context.Context, k K) (backend.Backend, string, error) {
	b, err := c.backend(ctx)
	if err != nil {
		return nil, "", err
	}
	f, err := c.encode(k)
	return b, f, err
}

// Incr adds n to k's count atomically and returns the new count; a missing
// count starts at 0. A count that would overflow int64 returns an error
// wrapping [ErrNotNumber] and stays as it was. Redis: HINCRBY and PEXPIRE in
// one script.
func (c Counter[K]) Incr(ctx context.Context, k K, n int64) (_ int64, err error) {
	ctx, o := c.f.begin(ctx, "Incr")
	defer o.counted(ctx, &c.f.stats.sets, &err)
	b, f, err := c.prepare(ctx, k)
	if err != nil {
		return 0, err
	}
	r, err := b.HIncrByWithin(ctx, c.key, f, n, math.MinInt64, math.MaxInt64, c.f.writeTTL())
	return r, keyErr("incr", c.key, err)
}

// Decr subtracts n from k's count; see [Counter.Incr].
func (c Counter[K]) Decr(ctx context.Context, k K, n int64) (int64, error) {
	if n == minInt64 {
		return 0, c.failed(keyErr("decr", c.key, ErrNotNumber))
	}
	return c.Incr(ctx, k, -n)
}

// Get returns k's count: 0 when absent. Redis: HGET.
func (c Counter[K]) Get(ctx context.Context, k K) (_ int64, err error) {
	found := false
	ctx, o := c.f.begin(ctx, "Get")
	defer func() { o.countRead(ctx, found, err) }()
	b, f, err := c.prepare(ctx, k)
	if err != nil {
		return 0, err
	}
	s, found, err := b.HGet(ctx, c.key, f)
	if err != nil || !found {
		return 0, keyErr("get", c.key, err)
	}
	got, err := c.decode(f, s)
	return got.Count, err
}

// Set sets k's count to n. Redis: HSET and PEXPIRE in one Lua script.
func (c Counter[K]) Set(ctx context.Context, k K, n int64) (err error) {
	ctx, o := c.f.begin(ctx, "Set")
	defer o.counted(ctx, &c.f.stats.sets, &err)
	b, f, err := c.prepare(ctx, k)
	if err != nil {
		return err
	}
	_, err = b.HSet(ctx, c.key, c.f.writeTTL(), f, strconv.FormatInt(n, 10))
	return keyErr("set", c.key, err)
}

// Update adds each count of m to its key (a key absent from the hash starts
// at 0), atomically and in one round trip. Redis: HINCRBY per key and
// PEXPIRE in one Lua script (MULTI/EXEC beyond 2,000 keys).
func (c Counter[K]) Update(ctx context.Context, m map[K]int64) (err error) {
	ctx, o := c.f.begin(ctx, "Update")
	defer o.counted(ctx, &c.f.stats.sets, &err)
	if len(m) == 0 {
		return nil
	}
	b, err := c.backend(ctx)
	if err != nil {
		return err
	}
	fields, ns := make([]string, 0, len(m)), make([]int64, 0, len(m))
	for k, n := range m {
		f, err := c.encode(k)
		if err != nil {
			return err
		}
		fields, ns = append(fields, f), append(ns, n)
	}
	_, err = b.HIncrByMany(ctx, c.key, c.f.writeTTL(), fields, ns)
	return keyErr("update", c.key, err)
}

// Delete removes the counts of keys and returns how many existed. Redis:
// HDEL.
func (c Counter[K]) Delete(ctx context.Context, keys ...K) (_ int, err error) {
	ctx, o := c.f.begin(ctx, "Delete")
	defer o.counted(ctx, &c.f.stats.deletes, &err)
	if len(keys) == 0 {
		return 0, nil
	}
	b, err := c.backend(ctx)
	if err != nil {
		return 0, err
	}
	fields := make([]string, len(keys))
	for i, k := range keys {
		if fields[i], err = c.encode(k); err != nil {
			return 0, err
		}
	}
	n, err := b.HDel(ctx, c.key, fields...)
	return int(n), keyErr("delete", c.key, err)
}

// Len returns how many keys have a count. Redis: HLEN.
func (c Counter[K]) Len(ctx context.Context) (n int, err error) {
	ctx, o := c.f.begin(ctx, "Len")
	defer func() { o.countRead(ctx, n > 0, err) }()
	b, err := c.backend(ctx)
	if err != nil {
		return 0, err
	}
	l, err := b.HLen(ctx, c.key)
	return int(l), keyErr("len", c.key, err)
}

// Total returns the sum of all counts, read in one round trip. A sum that
// an int64 cannot hold (each count can) returns an error wrapping
// [ErrNotNumber]. Redis: HVALS.
func (c Counter[K]) Total(ctx context.Context) (_ int64, err error) {
	var vals []string
	ctx, o := c.f.begin(ctx, "Total")
	defer func() { o.countRead(ctx, len(vals) > 0, err) }()
	b, err := c.backend(ctx)
	if err != nil {
		return 0, err
	}
	vals, err = b.HVals(ctx, c.key)
	if err != nil {
		return 0, keyErr("total", c.key, err)
	}
	// The sum is kept in 128 bits, hi and lo, so that only the total must
	// fit an int64, whatever order HVALS gives the counts in.
	var lo uint64
	var hi int64
	for _, v := range vals {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, &DecodeError{Key: c.key, Type: "int64", Err: err}
		}
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(n), 0)
		hi += n>>63 + int64(carry)
	}
	if hi != int64(lo)>>63 {
		return 0, keyErr("total", c.key, errTotalOverflow)
	}
	return int64(lo), nil
}

var errTotalOverflow = fmt.Errorf("%w: the total of the counts overflows int64", ErrNotNumber)

// MostCommon returns the n keys with the highest counts, highest first
// (equal counts in ascending order of their stored text); n < 0 returns
// every key, n == 0 none without a round trip. It reads the whole hash.
// Redis: HGETALL.
func (c Counter[K]) MostCommon(ctx context.Context, n int) (top []Counted[K], err error) {
	ctx, o := c.f.begin(ctx, "MostCommon")
	defer func() { o.countRead(ctx, len(top) > 0, err) }()
	if n == 0 {
		return nil, nil
	}
	fv, err := c.getAll(ctx)
	if err != nil {
		return nil, err
	}
	type entry struct {
		field string
		n     int64
	}
	entries := make([]entry, 0, len(fv)/2)
	for i := 0; i+1 < len(fv); i += 2 {
		got, err := strconv.ParseInt(fv[i+1], 10, 64)
		if err != nil {
			return nil, &DecodeError{Key: c.key, Field: fv[i], Type: "int64", Err: err}
		}
		entries = append(entries, entry{fv[i], got})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.field, b.field))
	})
	if n >= 0 && n < len(entries) {
		entries = entries[:n]
	}
	out := make([]Counted[K], len(entries))
	for i, e := range entries {
		if out[i], err = c.decode(e.field, strconv.FormatInt(e.n, 10)); err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

// All iterates over the counts without loading the whole hash (HSCAN pages).
// The order is unspecified; see [Dict.All] for what concurrent writes,
// errors and a change of server ([ErrIterationBroken]) do.
func (c Counter[K]) All(ctx context.Context) iter.Seq2[Counted[K], error] {
	return func(yield func(Counted[K], error) bool) {
		ctx, o := c.f.begin(ctx, "All")
		yield, end := countIteration(ctx, &o, yield)
		defer end()
		for fv, err := range scanPages(ctx, c.handle, "scan", hscan) {
			if err != nil {
				yield(Counted[K]{}, err)
				return
			}
			for i := 0; i+1 < len(fv); i += 2 {
				if !yield(c.decode(fv[i], fv[i+1])) {
					return
				}
			}
		}
	}
}

// Map returns every count as a Go map, in one round trip. Redis: HGETALL.
func (c Counter[K]) Map(ctx context.Context) (m map[K]int64, err error) {
	ctx, o := c.f.begin(ctx, "Map")
	defer func() { o.countRead(ctx, len(m) > 0, err) }()
	fv, err := c.getAll(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[K]int64, len(fv)/2)
	for i := 0; i+1 < len(fv); i += 2 {
		got, err := c.decode(fv[i], fv[i+1])
		if err != nil {
			return out, err
		}
		out[got.Key] = got.Count
	}
	return out, nil
}

// Clear deletes the whole counter and reports whether it existed. Redis:
// DEL.
func (c Counter[K]) Clear(ctx context.Context) (bool, error) { return c.clear(ctx) }

// getAll reads the whole hash as alternating fields and counts. Redis:
// HGETALL.
func (c Counter[K]) getAll(ctx context.Context) ([]string, error) {
	b, err := c.backend(ctx)
	if err != nil {
		return nil, err
	}
	fv, err := b.HGetAll(ctx, c.key)
	return fv, keyErr("getall", c.key, err)
}

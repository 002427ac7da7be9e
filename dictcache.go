package caches

import (
	"context"
	"iter"

	"github.com/gocaches/caches/internal/backend"
)

// DictCache is a family of maps, each stored in one Redis hash: fields of
// type K, values of type V. Make a handle per key with [DictCache.Key]:
//
//	var carts = caches.NewDictCache[string, int](caches.Options{Prefix: "cart"})
//	err := carts.Key(userID).Set(ctx, "sku-42", 2)   // HSET cart:7 sku-42 2
//
// Fields are encoded like values: strings, integers and the other raw kinds
// as their text, so an int field comes back as an int. A DictCache is safe
// for concurrent use.
type DictCache[K comparable, V any] struct {
	*family
	fields valueCodec[K]
	values valueCodec[V]
	loads  flightGroup[map[K]V] // MapOrLoad and GetOrLoad loads in flight, by key
}

// NewDictCache returns a family of maps configured by opts. The connection
// is resolved at first use.
func NewDictCache[K comparable, V any](opts Options) *DictCache[K, V] {
	c := &DictCache[K, V]{family: newFamily(opts), fields: newValueCodec[K](opts.Codec), values: newValueCodec[V](opts.Codec)}
	c.loads.init(c.family)
	return c
}

// Key returns the handle of the hash whose key is made of the family's
// prefix and args.
func (c *DictCache[K, V]) Key(args ...any) Dict[K, V] {
	return Dict[K, V]{handle: newHandle(c.family, args), c: c}
}

// Dict is one map of a [DictCache]: one Redis hash. Every write refreshes the
// whole hash's TTL atomically with the write; removals leave it alone. A
// hash whose last field is removed no longer exists, as in Redis.
type Dict[K comparable, V any] struct {
	handle
	c *DictCache[K, V]
}

// Item is a field and its value.
type Item[K comparable, V any] struct {
	Field K `json:"field"`
	Value V `json:"value"`
}

func (d Dict[K, V]) encodeField(field K) (string, error) {
	s, err := d.c.fields.encode(field)
	if err != nil {
		return "", keyErr("encode field", d.key, err)
	}
	return s, nil
}

func (d Dict[K, V]) decodeField(s string) (K, error) {
	f, err := d.c.fields.decode(s)
	if err != nil {
		return f, &DecodeError{Key: d.key, Field: s, Type: d.c.fields.typeName, Err: err}
	}
	return f, nil
}

func (d Dict[K, V]) decodeValue(field, s string) (V, error) {
	v, err := d.c.values.decode(s)
	if err != nil {
		return v, &DecodeError{Key: d.key, Field: field, Type: d.c.values.typeName, Err: err}
	}
	return v, nil
}

// Get returns the value of field, or [ErrNotFound] when the field or the
// hash is missing. Redis: HGET.
func (d Dict[K, V]) Get(ctx context.Context, field K) (_ V, err error) {
	ctx, o := d.f.begin(ctx, "Get")
	defer o.counted(ctx, &d.f.stats.hits, &err)
	var zero V
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return zero, err
	}
	s, ok, err := b.HGet(ctx, d.key, f)
	if err != nil {
		return zero, keyErr("get", d.key, err)
	}
	if !ok {
		return zero, ErrNotFound
	}
	return d.decodeValue(f, s)
}

// prepare returns the backend and the encoded field.
func (d Dict[K, V]) prepare(ctx context.Context, field K) (backend.Backend, string, error) {
	b, err := d.backend(ctx)
	if err != nil {
		return nil, "", err
	}
	f, err := d.encodeField(field)
	return b, f, err
}

// GetMany returns the values of the fields that exist, in one round trip;
// missing fields are absent from the map. No fields: an empty map, without
// a round trip. Redis: HMGET.
func (d Dict[K, V]) GetMany(ctx context.Context, fields ...K) (m map[K]V, err error) {
	ctx, o := d.f.begin(ctx, "GetMany")
	defer func() { o.countRead(ctx, len(m) > 0, err) }()
	if len(fields) == 0 {
		return map[K]V{}, nil
	}
	b, err := d.backend(ctx)
	if err != nil {
		return nil, err
	}
	enc, raw := any(fields).([]string) // string fields are sent as they are
	if !raw {
		enc = make([]string, len(fields))
		for i, field := range fields {
			if enc[i], err = d.encodeField(field); err != nil {
				return nil, err
			}
		}
	}
	vals, oks, err := b.HMGet(ctx, d.key, enc...)
	if err != nil {
		return nil, keyErr("get", d.key, err)
	}
	out := make(map[K]V, len(fields))
	for i, ok := range oks {
		if !ok {
			continue
		}
		v, err := d.decodeValue(enc[i], vals[i])
		if err != nil {
			return out, err
		}
		out[fields[i]] = v
	}
	return out, nil
}

// Set stores value under field. Redis: HSET and PEXPIRE in one Lua script.
func (d Dict[K, V]) Set(ctx context.Context, field K, value V) (err error) {
	ctx, o := d.f.begin(ctx, "Set")
	defer o.counted(ctx, &d.f.stats.sets, &err)
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return err
	}
	v, err := d.c.values.encode(value)
	if err != nil {
		return keyErr("encode", d.key, err)
	}
	_, err = b.HSet(ctx, d.key, d.f.writeTTL(), f, v)
	return keyErr("set", d.key, err)
}

// SetMany stores every entry of m in one round trip. Redis: HSET with all
// the fields, and PEXPIRE in one Lua script (MULTI/EXEC beyond
// 2,000 fields).
func (d Dict[K, V]) SetMany(ctx context.Context, m map[K]V) (err error) {
	ctx, o := d.f.begin(ctx, "SetMany")
	defer o.counted(ctx, &d.f.stats.sets, &err)
	if len(m) == 0 {
		return nil
	}
	b, err := d.backend(ctx)
	if err != nil {
		return err
	}
	fv := make([]string, 0, 2*len(m))
	for field, value := range m {
		f, err := d.encodeField(field)
		if err != nil {
			return err
		}
		v, err := d.c.values.encode(value)
		if err != nil {
			return keyErr("encode", d.key, err)
		}
		fv = append(fv, f, v)
	}
	_, err = b.HSet(ctx, d.key, d.f.writeTTL(), fv...)
	return keyErr("set", d.key, err)
}

// Add stores value under field only if the field does not exist, and
// reports whether it stored it. Redis: HSETNX and PEXPIRE in one Lua script.
func (d Dict[K, V]) Add(ctx context.Context, field K, value V) (_ bool, err error) {
	ctx, o := d.f.begin(ctx, "Add")
	defer o.counted(ctx, &d.f.stats.sets, &err)
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return false, err
	}
	v, err := d.c.values.encode(value)
	if err != nil {
		return false, keyErr("encode", d.key, err)
	}
	stored, err := b.HSetNX(ctx, d.key, f, v, d.f.writeTTL())
	return stored, keyErr("add", d.key, err)
}

// Delete removes fields and returns how many existed. Redis: HDEL.
func (d Dict[K, V]) Delete(ctx context.Context, fields ...K) (_ int, err error) {
	ctx, o := d.f.begin(ctx, "Delete")
	defer o.counted(ctx, &d.f.stats.deletes, &err)
	if len(fields) == 0 {
		return 0, nil
	}
	b, err := d.backend(ctx)
	if err != nil {
		return 0, err
	}
	enc := make([]string, len(fields))
	for i, field := range fields {
		if enc[i], err = d.encodeField(field); err != nil {
			return 0, err
		}
	}
	n, err := b.HDel(ctx, d.key, enc...)
	return int(n), keyErr("delete", d.key, err)
}

// Has reports whether field exists. Redis: HEXISTS.
func (d Dict[K, V]) Has(ctx context.Context, field K) (ok bool, err error) {
	ctx, o := d.f.begin(ctx, "Has")
	defer func() { o.countRead(ctx, ok, err) }()
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return false, err
	}
	ok, err = b.HExists(ctx, d.key, f)
	return ok, keyErr("has", d.key, err)
}

// Len returns the number of fields; 0 for a missing hash. Redis: HLEN.
func (d Dict[K, V]) Len(ctx context.Context) (n int, err error) {
	ctx, o := d.f.begin(ctx, "Len")
	defer func() { o.countRead(ctx, n > 0, err) }()
	b, err := d.backend(ctx)
	if err != nil {
		return 0, err
	}
	l, err := b.HLen(ctx, d.key)
	return int(l), keyErr("len", d.key, err)
}

// Pop returns the value of field and removes the field, atomically: of
// several concurrent callers only one gets the value. A missing field
// returns [ErrNotFound]. Redis: HGET and HDEL in MULTI.
func (d Dict[K, V]) Pop(ctx context.Context, field K) (_ V, err error) {
	ctx, o := d.f.begin(ctx, "Pop")
	defer o.counted(ctx, &d.f.stats.hits, &err)
	var zero V
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return zero, err
	}
	s, ok, err := b.HGetDel(ctx, d.key, f)
	if err != nil {
		return zero, keyErr("pop", d.key, err)
	}
	if !ok {
		return zero, ErrNotFound
	}
	return d.decodeValue(f, s)
}

// PopItem removes an arbitrary field and returns it with its value,
// atomically. An empty or missing hash returns [ErrNotFound]. Redis:
// HRANDFIELD and HDEL in a script.
func (d Dict[K, V]) PopItem(ctx context.Context) (_ K, _ V, err error) {
	ctx, o := d.f.begin(ctx, "PopItem")
	defer o.counted(ctx, &d.f.stats.hits, &err)
	var (
		zk K
		zv V
	)
	b, err := d.backend(ctx)
	if err != nil {
		return zk, zv, err
	}
	f, s, ok, err := b.HPopRandom(ctx, d.key)
	if err != nil {
		return zk, zv, keyErr("popitem", d.key, err)
	}
	if !ok {
		return zk, zv, ErrNotFound
	}
	return d.decodeItem(f, s)
}

func (d Dict[K, V]) decodeItem(f, s string) (K, V, error) {
	var zv V
	k, err := d.decodeField(f)
	if err != nil {
		return k, zv, err
	}
	v, err := d.decodeValue(f, s)
	return k, v, err
}

// Incr adds n to the number stored under field atomically and returns the
// result; a missing field counts as zero. V must be an integer or float
// kind; a stored value that is not a number, a NaN or infinite n, and a
// result that V cannot hold return an error wrapping [ErrNotNumber], and
// then nothing is written (see [Key.Incr]). Redis: HINCRBY or HINCRBYFLOAT,
// the range check and PEXPIRE in one script.
func (d Dict[K, V]) Incr(ctx context.Context, field K, n V) (_ V, err error) {
	ctx, o := d.f.begin(ctx, "Incr")
	defer o.counted(ctx, &d.f.stats.sets, &err)
	var zero V
	b, f, err := d.prepare(ctx, field)
	if err != nil {
		return zero, err
	}
	out, err := incrValue(d.c.values, n, false,
		func(i, min, max int64) (int64, error) {
			return b.HIncrByWithin(ctx, d.key, f, i, min, max, d.f.writeTTL())
		},
		func(x, min, max float64) (float64, error) {
			return b.HIncrByFloatWithin(ctx, d.key, f, x, min, max, d.f.writeTTL())
		})
	if err != nil {
		return zero, keyErr("incr", d.key, err)
	}
	return d.decodeValue(f, out)
}

// All iterates over the hash's fields and values without loading the whole
// hash: it asks Redis for pages with HSCAN. The order is unspecified. A field
// present for the whole iteration is yielded once; fields added or removed
// meanwhile may or may not be. A backend error is yielded once and ends the
// iteration; a field or value that cannot be decoded is yielded as a
// [*DecodeError] and the iteration goes on if the loop does. Each call
// starts a new scan.
//
// A SCAN cursor means something only to the server instance that issued
// it. A hash that one page does not hold is scanned again from the start
// with pages that also read the server's run_id (INFO server, in one
// MULTI/EXEC with the HSCAN, so an ACL user needs the INFO command), and the
// iteration ends with an error wrapping [ErrIterationBroken] at the first
// page from another instance than the first page's: after a restart, a
// failover or the move of the key's cluster slot.
func (d Dict[K, V]) All(ctx context.Context) iter.Seq2[Item[K, V], error] {
	return func(yield func(Item[K, V], error) bool) {
		ctx, o := d.f.begin(ctx, "All")
		yield, end := countIteration(ctx, &o, yield)
		defer end()
		for fv, err := range scanPages(ctx, d.handle, "scan", hscan) {
			if err != nil {
				yield(Item[K, V]{}, err)
				return
			}
			for i := 0; i+1 < len(fv); i += 2 {
				k, v, err := d.decodeItem(fv[i], fv[i+1])
				if !yield(Item[K, V]{Field: k, Value: v}, err) {
					return
				}
			}
		}
	}
}

// Map returns the whole hash as a Go map, in one round trip; a missing hash
// gives an empty map. For large hashes prefer [Dict.All]. Redis: HGETALL.
func (d Dict[K, V]) Map(ctx context.Context) (m map[K]V, err error) {
	ctx, o := d.f.begin(ctx, "Map")
	defer func() { o.countRead(ctx, len(m) > 0, err) }()
	b, err := d.backend(ctx)
	if err != nil {
		return nil, err
	}
	if mr, ok := b.(backend.HashMapReader); ok {
		return d.mapOf(mr.HGetAllMap(ctx, d.key))
	}
	fv, err := b.HGetAll(ctx, d.key)
	if err != nil {
		return nil, keyErr("getall", d.key, err)
	}
	out := make(map[K]V, len(fv)/2)
	for i := 0; i+1 < len(fv); i += 2 {
		k, v, err := d.decodeItem(fv[i], fv[i+1])
		if err != nil {
			return out, err
		}
		out[k] = v
	}
	return out, nil
}

// mapOf is Map's result from HGETALL as go-redis returns it, on Redis: for
// string fields and values that map is the result (their codec is the
// identity), for other types it is decoded without the flat slice of
// [backend.HGetAll].
func (d Dict[K, V]) mapOf(m map[string]string, err error) (map[K]V, error) {
	if err != nil {
		return nil, keyErr("getall", d.key, err)
	}
	if out, ok := any(m).(map[K]V); ok {
		return out, nil
	}
	out := make(map[K]V, len(m))
	for f, s := range m {
		k, v, err := d.decodeItem(f, s)
		if err != nil {
			return out, err
		}
		out[k] = v
	}
	return out, nil
}

// Clear deletes the whole hash and reports whether it existed. Redis: DEL.
func (d Dict[K, V]) Clear(ctx context.Context) (bool, error) { return d.clear(ctx) }

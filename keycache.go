package caches

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// KeyCache is a family of single values, each stored in one Redis string
// key. Configure it once, then make a handle per key with [KeyCache.Key]:
//
//	var sessions = caches.NewKeyCache[Session](caches.Options{Prefix: "session", TTL: time.Hour})
//	s, err := sessions.Key(userID).Get(ctx)
//
// A KeyCache is safe for concurrent use.
type KeyCache[V any] struct {
	*family
	codec valueCodec[V]
	hooks Hooks[V]
	loads flightGroup[V] // Load calls in flight, by key
	lease leaser         // the cross-process lease of loads (Hooks.Lease)
	// keepDecoded: V is decoded by a codec and holds no references, so a
	// decoded value may be kept next to a near copy (see localDecoded).
	keepDecoded bool
}

// NewKeyCache returns a family of values of type V configured by opts.
// Nothing is connected yet: the connection is resolved at first use, and an
// invalid configuration is reported by every operation.
func NewKeyCache[V any](opts Options) *KeyCache[V] {
	c := &KeyCache[V]{family: newFamily(opts), codec: newValueCodec[V](opts.Codec)}
	t := reflect.TypeOf((*V)(nil)).Elem()
	c.keepDecoded = rawCodec[V](t).decode == nil && holdsNoReferences(t)
	c.WithHooks(Hooks[V]{})
	return c
}

// Key returns the handle of the key made of the family's prefix and args (see
// "Keys" in the package documentation). Handles are small values, safe for
// concurrent use; keep one to avoid building its key again.
func (c *KeyCache[V]) Key(args ...any) Key[V] {
	return Key[V]{handle: newHandle(c.family, args), c: c}
}

// Key is one value of a [KeyCache]: one Redis string key.
type Key[V any] struct {
	handle
	c *KeyCache[V]
}

// Get returns the stored value. A missing or expired key returns
// [ErrNotFound], so a miss is distinguishable from a stored zero value; a
// value the codec cannot decode returns a [*DecodeError]. Redis: GET.
func (k Key[V]) Get(ctx context.Context) (V, error) {
	if observer.Load() != nil {
		return k.getObserved(ctx)
	}
	v, loaded, err := k.getWith(ctx, k.c.hooks.Load)
	if !loaded { // a load counted itself
		k.f.count(&k.f.stats.hits, err) // not deferred: Get is the hottest path
	}
	return v, err
}

// getObserved is Get with an observer installed, kept apart so that Get
// without one costs a single atomic load more.
func (k Key[V]) getObserved(ctx context.Context) (V, error) {
	ctx, o := k.f.begin(ctx, "Get")
	b, err := k.backend(ctx)
	if err != nil {
		o.count(ctx, &k.f.stats.hits, err)
		var zero V
		return zero, err
	}
	if v, ok := k.nearHit(ctx, b); ok {
		k.f.count(&k.f.stats.hits, nil)
		o.end(ctx, OutcomeNearHit, nil, 0)
		return v, nil
	}
	v, loaded, err := k.getFrom(ctx, b, k.c.hooks.Load)
	if !loaded {
		o.count(ctx, &k.f.stats.hits, err)
	} else {
		o.loaded(ctx, err)
	}
	return v, err
}

// nearHit returns the value of the key's copy in b, when b is a near cache
// and has one that decodes (and no Validate hook to ask): the read getFrom
// would answer without a round trip, told apart for the observer.
func (k *Key[V]) nearHit(ctx context.Context, b backend.Backend) (V, bool) {
	var zero V
	if k.c.hooks.Validate != nil {
		return zero, false
	}
	if k.c.keepDecoded {
		return k.localDecoded(ctx, b)
	}
	l, ok := b.(backend.Attacher)
	if !ok {
		return zero, false
	}
	s, _, ok := l.GetLocal(ctx, k.key)
	if !ok {
		return zero, false
	}
	v, err := k.c.codec.decode(s)
	return v, err == nil
}

// getWith is Get with load as the loader (none when nil); loaded reports
// that the loader was asked.
func (k *Key[V]) getWith(ctx context.Context, load func(context.Context, Key[V]) (V, error)) (_ V, loaded bool, _ error) {
	b, err := k.backend(ctx)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return k.getFrom(ctx, b, load)
}

// getFrom is getWith on b, the key's backend.
func (k *Key[V]) getFrom(ctx context.Context, b backend.Backend, load func(context.Context, Key[V]) (V, error)) (_ V, loaded bool, _ error) {
	if k.c.keepDecoded {
		if v, ok := k.localDecoded(ctx, b); ok {
			if k.c.hooks.Validate == nil || k.valid(ctx, v) {
				return v, false, nil
			}
			return k.missed(ctx, load, nil)
		}
	}
	s, ok, err := b.Get(ctx, k.key)
	if err == nil && ok {
		v, err := k.decode(s)
		if err != nil || k.c.hooks.Validate == nil || k.valid(ctx, v) {
			return v, false, err
		}
	}
	return k.missed(ctx, load, err)
}

// missed ends a get that found no usable value (err: the backend's
// failure, if that was why): load serves it when there is a loader.
func (k *Key[V]) missed(ctx context.Context, load func(context.Context, Key[V]) (V, error), err error) (_ V, loaded bool, _ error) {
	var zero V
	err = keyErr("get", k.key, err)
	switch {
	case err != nil && (load == nil || !k.c.fallsBack(ctx, err)):
		return zero, false, err
	case err != nil:
		k.f.stats.errors.Add(1) // the backend failed: the source serves the call
		v, err := k.load(ctx, load, false)
		return v, true, err
	case load == nil:
		return zero, false, ErrNotFound
	}
	v, err := k.load(ctx, load, true)
	return v, true, err
}

// GetOrLoad returns the stored value or, on a miss (or a value the
// Validate hook rejects), the value of load, stored with the family's TTL:
// get-or-compute without hooks. Concurrent misses of the key in this
// process call load once, as [Hooks.Load] is called: under a context
// detached from the callers' (their values kept), bounded by LoadTimeout
// (one minute without hooks), a caller's context cancelling only that
// caller. An error from load is returned and nothing is stored. When the
// backend fails, load serves the call and nothing is stored, unless
// [Hooks.Strict]. Redis: GET, then SET on a miss.
func (k Key[V]) GetOrLoad(ctx context.Context, load func(context.Context) (V, error)) (V, error) {
	ctx, o := k.f.begin(ctx, "GetOrLoad")
	v, loaded, err := k.getWith(ctx, func(ctx context.Context, _ Key[V]) (V, error) { return load(ctx) })
	if !loaded {
		o.count(ctx, &k.f.stats.hits, err)
	} else {
		o.loaded(ctx, err)
	}
	return v, err
}

// decodedCopy is a value decoded from a near copy, attached to it.
type decodedCopy[V any] struct {
	owner *family // the family that decoded it: another of the prefix decodes its own
	v     V
}

// localDecoded returns the value of a near copy of the key, decoding it
// only on the copy's first hit: the decoded value is attached to the copy
// and goes with it. ok is false when there is no copy, or it does not
// decode (the read from the backend then reports that).
func (k *Key[V]) localDecoded(ctx context.Context, b backend.Backend) (_ V, ok bool) {
	var zero V
	l, ok := b.(backend.Attacher)
	if !ok {
		return zero, false
	}
	s, att, ok := l.GetLocal(ctx, k.key)
	if !ok {
		return zero, false
	}
	if d, ok := att.(*decodedCopy[V]); ok && d.owner == k.f {
		return d.v, true
	}
	v, err := k.c.codec.decode(s)
	if err != nil {
		return zero, false
	}
	l.Attach(ctx, k.key, s, &decodedCopy[V]{owner: k.f, v: v})
	return v, true
}

func (k *Key[V]) decode(s string) (V, error) {
	v, err := k.c.codec.decode(s)
	if err != nil {
		return v, &DecodeError{Key: k.key, Type: k.c.codec.typeName, Err: err}
	}
	return v, nil
}

// GetOr returns the stored value, or def when the key is missing. Other
// errors are returned with def.
func (k Key[V]) GetOr(ctx context.Context, def V) (V, error) {
	v, err := k.Get(ctx)
	if errors.Is(err, ErrNotFound) {
		return def, nil
	}
	if err != nil {
		return def, err
	}
	return v, nil
}

// Set stores v with the family's TTL, replacing any value and expiry.
// Redis: SET key value EX seconds (PX milliseconds for a TTL that is not a
// whole number of seconds; no expiry for a family without one).
func (k Key[V]) Set(ctx context.Context, v V) error {
	return k.writeThrough(ctx, "Set", v, func(ctx context.Context) error { return k.set(ctx, v, k.f.writeTTL()) })
}

// SetTTL stores v to expire after ttl instead of the family's TTL; with
// [NoExpiry] it stores v without an expiry. Any other ttl of zero or less
// stores nothing and deletes the value that was there, as Redis's EXPIRE
// does. Redis: SET key value EX seconds (PX milliseconds for a ttl that is
// not a whole number of seconds; neither for NoExpiry).
func (k Key[V]) SetTTL(ctx context.Context, v V, ttl time.Duration) error {
	switch {
	case ttl == NoExpiry:
		ttl = 0 // the backend's "no expiry"
	case ttl <= 0:
		_, err := k.Delete(ctx)
		return err
	default:
		ttl = max(ttl, time.Millisecond)
	}
	return k.writeThrough(ctx, "SetTTL", v, func(ctx context.Context) error { return k.set(ctx, v, ttl) })
}

func (k Key[V]) set(ctx context.Context, v V, ttl time.Duration) error {
	b, err := k.backend(ctx)
	if err != nil {
		return err
	}
	s, err := k.c.codec.encode(v)
	if err != nil {
		return keyErr("encode", k.key, err)
	}
	return keyErr("set", k.key, b.Set(ctx, k.key, s, ttl))
}

// Add stores v with the family's TTL only if the key does not exist, and
// reports whether it stored it. An existing key, its value and its expiry
// are left alone. Redis: SET key value NX, with EX or PX as [Key.Set]
// sends them.
func (k Key[V]) Add(ctx context.Context, v V) (_ bool, err error) {
	ctx, o := k.f.begin(ctx, "Add")
	defer o.counted(ctx, &k.f.stats.sets, &err)
	b, err := k.backend(ctx)
	if err != nil {
		return false, err
	}
	s, err := k.c.codec.encode(v)
	if err != nil {
		return false, keyErr("encode", k.key, err)
	}
	stored, err := b.SetNX(ctx, k.key, s, k.f.writeTTL())
	if err != nil || !stored || k.c.hooks.Write == nil {
		return stored, keyErr("add", k.key, err)
	}
	if err := k.c.hooks.Write(ctx, k, v); err != nil {
		k.del(context.WithoutCancel(ctx))
		return false, fmt.Errorf("caches: write %q: %w", k.key, err)
	}
	return true, nil
}

// Pop returns the stored value and deletes the key, atomically: of several
// concurrent callers only one gets the value, the others [ErrNotFound].
// Redis: GETDEL.
func (k Key[V]) Pop(ctx context.Context) (_ V, err error) {
	ctx, o := k.f.begin(ctx, "Pop")
	defer o.counted(ctx, &k.f.stats.hits, &err)
	var zero V
	b, err := k.backend(ctx)
	if err != nil {
		return zero, err
	}
	if err := k.removeThrough(ctx); err != nil {
		return zero, err
	}
	s, ok, err := b.GetDel(ctx, k.key)
	if err != nil {
		return zero, keyErr("pop", k.key, err)
	}
	if !ok {
		return zero, ErrNotFound
	}
	return k.decode(s)
}

// Delete removes the key and reports whether it existed. Redis: DEL.
func (k Key[V]) Delete(ctx context.Context) (_ bool, err error) {
	ctx, o := k.f.begin(ctx, "Delete")
	defer o.counted(ctx, &k.f.stats.deletes, &err)
	if err := k.removeThrough(ctx); err != nil {
		return false, err
	}
	return k.del(ctx)
}

// Has reports whether the key exists. Redis: EXISTS.
func (k Key[V]) Has(ctx context.Context) (ok bool, err error) {
	ctx, o := k.f.begin(ctx, "Has")
	defer func() { o.countRead(ctx, ok, err) }()
	return k.exists(ctx)
}

// Incr adds n to the stored number atomically and returns the result; a
// missing key counts as zero. The key gets the family's TTL, atomically with
// the increment. It works when V is an integer or float kind; other types,
// a stored value that is not a number, a NaN or infinite n, and a result
// that V cannot hold (int8 127+1, uint64 0-1, a float beyond V's largest
// finite value) return an error wrapping [ErrNotNumber], and then nothing
// is written: the stored value and its expiry stay as they were. Redis:
// INCRBY or INCRBYFLOAT, the range check and PEXPIRE in one script.
func (k Key[V]) Incr(ctx context.Context, n V) (V, error) {
	return k.incr(ctx, "Incr", n, false)
}

// Decr subtracts n from the stored number; see [Key.Incr].
func (k Key[V]) Decr(ctx context.Context, n V) (V, error) {
	return k.incr(ctx, "Decr", n, true)
}

func (k Key[V]) incr(ctx context.Context, name string, n V, negate bool) (_ V, err error) {
	ctx, o := k.f.begin(ctx, name)
	defer o.counted(ctx, &k.f.stats.sets, &err)
	var zero V
	b, err := k.backend(ctx)
	if err != nil {
		return zero, err
	}
	out, err := incrValue(k.c.codec, n, negate,
		func(i, min, max int64) (int64, error) { return b.IncrByWithin(ctx, k.key, i, min, max, k.f.writeTTL()) },
		func(f, min, max float64) (float64, error) {
			return b.IncrByFloatWithin(ctx, k.key, f, min, max, k.f.writeTTL())
		})
	if err != nil {
		return zero, keyErr("incr", k.key, err)
	}
	return k.decode(out)
}

// load runs load for k, once for all concurrent callers (once across
// processes with [Hooks.Lease]), and stores its value when store is set.
// It counts a miss (a load that found nothing too) or the failure, and
// each call of load.
func (k Key[V]) load(ctx context.Context, load func(context.Context, Key[V]) (V, error), store bool) (V, error) {
	return coalescedLoad(ctx, &k.c.loads, k.f, k.key, func(ctx context.Context) (V, error) {
		if store && k.c.hooks.Lease {
			return k.leasedLoad(ctx, load)
		}
		return k.loadAndStore(ctx, load, store)
	})
}

// leasedLoad is loadAndStore under the key's cross-process lease: the
// value another process stored while holding it is returned instead.
func (k Key[V]) leasedLoad(ctx context.Context, load func(context.Context, Key[V]) (V, error)) (V, error) {
	b, err := k.backend(ctx)
	if err != nil {
		return k.loadAndStore(ctx, load, false)
	}
	stored := func(ctx context.Context) (V, bool) {
		v, _, err := k.getWith(ctx, nil)
		return v, err == nil
	}
	return leased(ctx, &k.c.lease, k.key, b, stored, func() (V, error) { return k.loadAndStore(ctx, load, true) })
}

// loadAndStore calls load, counted, and stores its value when store is
// set and the load was not abandoned.
func (k Key[V]) loadAndStore(ctx context.Context, load func(context.Context, Key[V]) (V, error), store bool) (V, error) {
	var set func(context.Context, V)
	if store {
		set = func(ctx context.Context, v V) {
			if k.set(ctx, v, k.f.writeTTL()) != nil {
				k.f.stats.errors.Add(1)
			}
		}
	}
	return loadStored(ctx, k.f, k.key, func(ctx context.Context) (V, error) { return load(ctx, k) }, set)
}

// writeThrough runs the Write hook, then store, and counts a set or the
// failure; see [Hooks.Write].
func (k Key[V]) writeThrough(ctx context.Context, name string, v V, store func(context.Context) error) (err error) {
	ctx, o := k.f.begin(ctx, name)
	defer o.counted(ctx, &k.f.stats.sets, &err)
	if w := k.c.hooks.Write; w != nil {
		if err := w(ctx, k, v); err != nil {
			return fmt.Errorf("caches: write %q: %w", k.key, err)
		}
	}
	if err := store(ctx); err != nil {
		if k.c.hooks.Write != nil {
			k.del(context.WithoutCancel(ctx))
		}
		return err
	}
	return nil
}

// removeThrough runs the Remove hook before a removal.
func (k Key[V]) removeThrough(ctx context.Context) error {
	if r := k.c.hooks.Remove; r != nil {
		if err := r(ctx, k); err != nil {
			return fmt.Errorf("caches: remove %q: %w", k.key, err)
		}
	}
	return nil
}

// valid applies the Validate hook to a value Get read, deleting it when
// rejected.
func (k Key[V]) valid(ctx context.Context, v V) bool {
	if val := k.c.hooks.Validate; val != nil && !val(k, v) {
		k.del(ctx)
		return false
	}
	return true
}

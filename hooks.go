package caches

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Hooks connect a [KeyCache] to the data it caches: read-through (Load),
// write-through (Write, Remove) and validation. Every hook is
// optional and runs in the caller's goroutine (Load in a goroutine of its
// own, shared by concurrent callers), never under a lock of the library.
type Hooks[V any] struct {
	// Load makes Get read-through: on a miss (or a value Validate rejects)
	// Get calls Load, stores its value with the family's TTL and returns it.
	// Concurrent misses of one key call Load once in this process; a
	// caller's context cancels only that caller, and Load runs under a
	// context detached from the callers, bounded by LoadTimeout. An error
	// from Load is returned and nothing is stored.
	Load func(ctx context.Context, key Key[V]) (V, error)

	// Write makes Set and SetTTL write-through: it is called first, with the
	// value; when it fails its error is returned and the cache is left as it
	// was, so the cache never holds what the source refused. When it
	// succeeds and the cache write then fails, the cached value is deleted
	// (best effort) so that no stale value outlives the new one, and the
	// error is returned. Add calls it after storing (only if it stored) and
	// deletes its entry again when it fails. Incr and Decr do not call it.
	Write func(ctx context.Context, key Key[V], value V) error

	// Remove is called first by Delete, Pop and SetTTL with a non-positive
	// TTL; when it fails its error is returned and the cache is left as it
	// was.
	Remove func(ctx context.Context, key Key[V]) error

	// Validate is asked about every value Get and GetOr read: false turns it
	// into a miss (then Load, if set) and deletes it from the cache.
	Validate func(key Key[V], value V) bool

	// LoadTimeout bounds one call of Load. A Load still running when it
	// passes is abandoned: its callers get an error wrapping
	// context.DeadlineExceeded, the next Get calls Load anew (while the
	// abandoned goroutine may still run; its value is dropped), and the
	// family's [Stats] count it in Abandoned. A Load that panics panics in
	// every caller's goroutine; one that ends with runtime.Goexit is an
	// error for each of them. Default: one minute.
	LoadTimeout time.Duration
}

// WithHooks sets the family's hooks and returns the family. Call it before
// the family is used, typically where it is declared:
//
//	var users = caches.NewKeyCache[User](opts).WithHooks(caches.Hooks[User]{Load: loadUser})
func (c *KeyCache[V]) WithHooks(h Hooks[V]) *KeyCache[V] {
	if h.LoadTimeout <= 0 {
		h.LoadTimeout = time.Minute
	}
	c.hooks = h
	c.loads.timeout, c.loads.abandoned = h.LoadTimeout, &c.family.stats.abandoned
	return c
}

// load runs the Load hook for k, once for all concurrent callers, and stores
// its value. It counts a miss (a Load that found nothing too) or the
// failure, and each call of Load.
func (k Key[V]) load(ctx context.Context) (V, error) {
	v, _, err := k.c.loads.do(ctx, k.key, func(ctx context.Context) (V, error) {
		k.f.stats.loads.Add(1)
		v, err := k.c.hooks.Load(ctx, k)
		if err != nil {
			return v, fmt.Errorf("caches: load %q: %w", k.key, err)
		}
		// Past LoadTimeout the load was abandoned, and a newer one may have
		// stored its value already.
		if ctx.Err() == nil && k.set(ctx, v, k.f.ttl) != nil {
			k.f.stats.errors.Add(1)
		}
		return v, nil
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		k.f.stats.misses.Add(1)
	} else {
		k.f.stats.errors.Add(1)
	}
	return v, err
}

// writeThrough runs the Write hook, then store, and counts a set or the
// failure; see [Hooks.Write].
func (k Key[V]) writeThrough(ctx context.Context, v V, store func() error) (err error) {
	defer k.counted(&k.f.stats.sets, &err)
	if w := k.c.hooks.Write; w != nil {
		if err := w(ctx, k, v); err != nil {
			return fmt.Errorf("caches: write %q: %w", k.key, err)
		}
	}
	if err := store(); err != nil {
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

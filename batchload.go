package caches

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// GetManyOrLoad returns the values of handles in argument order, as
// [KeyCache.GetMany] does, loading the missing ones with one call of load:
// batch read-through. load gets the missing handles (each key once) and
// returns entries for those it found, which are stored with the family's
// TTL in one round trip ([KeyCache.SetMany]; one per node on a cluster)
// and returned; found[i] is false for a handle load returned nothing for.
// Loads coalesce with concurrent ones of the same keys in this process: a
// missing key that a [Key.GetOrLoad], a Get with [Hooks.Load] or another
// GetManyOrLoad is loading already is not passed to load but waits for
// that load, and those calls wait for this one's keys. load runs as
// Hooks.Load does: once for all its keys, under a context detached from
// the caller's, bounded by LoadTimeout, a caller's context cancelling only
// that caller; [Hooks.Lease] does not apply. An error of load, or an entry
// for a handle it was not given, fails the call and nothing is stored.
// When the read fails, load serves the call and nothing is stored, unless
// [Hooks.Strict]. Redis: MGET, then pipelined SETs of the loaded values.
func (c *KeyCache[V]) GetManyOrLoad(ctx context.Context, handles []Key[V], load func(ctx context.Context, missing []Key[V]) ([]Entry[V], error)) (values []V, found []bool, err error) {
	if _, err := c.keysOf(handles); err != nil {
		return nil, nil, err
	}
	values, found, err = c.GetMany(ctx, handles...)
	store := err == nil
	if err != nil && !c.fallsBack(ctx, err) {
		return nil, nil, err
	}
	if err != nil {
		values, found = make([]V, len(handles)), make([]bool, len(handles))
	}
	var missing []int
	for i, ok := range found {
		if !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return values, found, nil
	}
	return values, found, c.loadMissing(ctx, handles, missing, values, found, &loadBatch[V]{c: c, load: load, store: store})
}

// fallsBack reports whether a failed read is served by the loader: the
// backend failed (not the data: a key of another type, a value that cannot
// be decoded), the caller is still waiting, and the family is not strict;
// see [Hooks.Strict].
func (c *KeyCache[V]) fallsBack(ctx context.Context, err error) bool {
	var de *DecodeError
	return !c.hooks.Strict && ctx.Err() == nil && !errors.Is(err, ErrWrongType) && !errors.As(err, &de)
}

// loadMissing fills values and found at the indexes missing, joining the
// loads in flight of those keys and loading the others with lb.
func (c *KeyCache[V]) loadMissing(ctx context.Context, handles []Key[V], missing []int, values []V, found []bool, lb *loadBatch[V]) error {
	keys := make([]string, len(missing))
	for j, i := range missing {
		keys[j] = flightKey(ctx, handles[i].key)
	}
	flights := c.loads.joinAll(ctx, keys, func(claimed []int) func(int) func(context.Context) (V, error) {
		for _, j := range claimed {
			lb.keys = append(lb.keys, handles[missing[j]])
		}
		return func(j int) func(context.Context) (V, error) {
			return func(ctx context.Context) (V, error) { return lb.get(ctx, handles[missing[j]].key) }
		}
	})
	for j, f := range flights {
		v, err := f.wait(ctx)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			values[missing[j]], found[missing[j]] = v, true
		}
	}
	return nil
}

// loadBatch is one call of a GetManyOrLoad loader, shared by the flights
// of the keys it loads: the first of them to run calls it.
type loadBatch[V any] struct {
	c     *KeyCache[V]
	load  func(context.Context, []Key[V]) ([]Entry[V], error)
	store bool     // store the loaded values
	keys  []Key[V] // the keys to load; set before any flight runs

	once sync.Once
	vals map[string]V // the loaded values by key; set by once
	err  error        // the batch's failure; set by once
}

// get returns key's loaded value, or ErrNotFound when load did not find
// it, calling load first unless a flight of the batch did.
func (lb *loadBatch[V]) get(ctx context.Context, key string) (V, error) {
	lb.once.Do(func() {
		lb.err = fmt.Errorf("caches: load %q and %d more: the loader did not return", lb.keys[0].key, len(lb.keys)-1)
		lb.vals, lb.err = lb.run(ctx)
	})
	v, ok := lb.vals[key]
	switch {
	case lb.err != nil:
		return v, lb.err
	case !ok:
		return v, ErrNotFound
	}
	return v, nil
}

// run calls load, counted, checks what it returned and stores it.
func (lb *loadBatch[V]) run(ctx context.Context) (map[string]V, error) {
	c := lb.c
	c.stats.loads.Add(1)
	entries, err := lb.load(ctx, lb.keys)
	if err != nil {
		return nil, fmt.Errorf("caches: load %q and %d more: %w", lb.keys[0].key, len(lb.keys)-1, err)
	}
	asked := make(map[string]bool, len(lb.keys))
	for _, k := range lb.keys {
		asked[k.key] = true
	}
	vals := make(map[string]V, len(entries))
	for _, e := range entries {
		if !asked[e.Key.key] {
			return nil, fmt.Errorf("caches: load returned key %q, which it was not given", e.Key.key)
		}
		vals[e.Key.key] = e.Value
	}
	if lb.store && ctx.Err() == nil && len(entries) > 0 && c.SetMany(ctx, entries...) != nil {
		c.stats.errors.Add(1)
	}
	return vals, nil
}

package caches

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Get-or-compute of the collection caches: on a miss of the whole key
// (Redis keeps no empty hash, set or sorted set, so a missing key is an
// empty one), a loader's whole collection is stored in one command with the
// family's TTL, atomically (HSET, SADD or ZADD and PEXPIRE in one script:
// no other client sees part of it), and the call is answered from it.
// Concurrent misses of one key in this process call the loader once, as
// [Hooks.Load] is called: under a context detached from the callers',
// bounded by defaultLoadTimeout. An empty collection stores nothing, so
// the next call loads again. In [Stats] the read counts its hit or miss,
// each call of a loader a load (and its store a set), and a failed load an
// error. [KeyCache] has its own, in keycache.go.

// defaultLoadTimeout bounds a load without [Hooks.LoadTimeout].
const defaultLoadTimeout = time.Minute

// init readies g for loads counted in f's stats.
func (g *flightGroup[T]) init(f *family) {
	g.timeout, g.abandoned = defaultLoadTimeout, &f.stats.abandoned
}

// coalescedLoad runs fn for key once for all concurrent callers and counts
// the call: a miss when it loaded (or found nothing), an error otherwise.
func coalescedLoad[T any](ctx context.Context, g *flightGroup[T], f *family, key string, fn func(context.Context) (T, error)) (T, error) {
	v, _, err := g.do(ctx, flightKey(ctx, key), fn)
	if err == nil || errors.Is(err, ErrNotFound) {
		f.stats.misses.Add(1)
	} else {
		f.stats.errors.Add(1)
	}
	return v, err
}

// loadStored calls load, counted in f's stats, and, unless it failed or
// was abandoned at its timeout (a newer load may have stored its value
// already), hands its value to store (nil: not stored), which counts its
// own failure.
func loadStored[T any](ctx context.Context, f *family, key string, load func(context.Context) (T, error), store func(context.Context, T)) (T, error) {
	f.stats.loads.Add(1)
	lctx, o := f.begin(ctx, "Load")
	v, err := load(lctx)
	o.done(lctx, err)
	if err != nil {
		return v, fmt.Errorf("caches: load %q: %w", key, err)
	}
	if store != nil && ctx.Err() == nil {
		store(ctx, v)
	}
	return v, nil
}

// loadWhole loads h's whole collection with load, once for all concurrent
// callers, and stores it with store. The read before it counted the miss;
// a failure counts an error too.
func loadWhole[T any](ctx context.Context, g *flightGroup[T], h *handle, load func(context.Context) (T, error), store func(context.Context, T)) (T, error) {
	v, _, err := g.do(ctx, flightKey(ctx, h.key), func(ctx context.Context) (T, error) {
		return loadStored(ctx, h.f, h.key, load, store)
	})
	if err != nil {
		h.f.stats.errors.Add(1)
	}
	return v, err
}

// missingKey reports whether the key of h is missing, after a read that
// found nothing in it (found false, err nil or ErrNotFound); otherwise it
// returns the read's err, or the failure to tell.
func missingKey(ctx context.Context, h *handle, found bool, err error) (bool, error) {
	if found || err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	exists, xerr := h.exists(ctx)
	if xerr != nil {
		return false, xerr
	}
	return !exists, err
}

// MapOrLoad returns the whole map, as [Dict.Map] does, or, when the hash is
// missing, the map load returns, stored (see "Get-or-compute" in the
// README). Redis: HGETALL, then HSET and PEXPIRE in one script.
func (d Dict[K, V]) MapOrLoad(ctx context.Context, load func(context.Context) (map[K]V, error)) (map[K]V, error) {
	m, err := d.Map(ctx)
	if err != nil || len(m) > 0 {
		return m, err
	}
	return d.load(ctx, load)
}

// GetOrLoad returns the value of field, as [Dict.Get] does, or, when the
// hash is missing, field's value in the map load returns, which is stored
// whole; a field missing from an existing hash, or from the loaded map, is
// [ErrNotFound]. Redis: HGET, EXISTS on a miss, then HSET and PEXPIRE in
// one script.
func (d Dict[K, V]) GetOrLoad(ctx context.Context, field K, load func(context.Context) (map[K]V, error)) (V, error) {
	v, err := d.Get(ctx, field)
	if missing, err := missingKey(ctx, &d.handle, err == nil, err); !missing {
		return v, err
	}
	m, err := d.load(ctx, load)
	if v, ok := m[field]; ok || err != nil {
		return v, err
	}
	return v, ErrNotFound
}

func (d Dict[K, V]) load(ctx context.Context, load func(context.Context) (map[K]V, error)) (map[K]V, error) {
	return loadWhole(ctx, &d.c.loads, &d.handle, load, func(ctx context.Context, m map[K]V) { d.SetMany(ctx, m) })
}

// MembersOrLoad returns every member, as [Set.Members] does, or, when the
// set is missing, the members load returns, stored (see "Get-or-compute"
// in the README). Redis: SMEMBERS, then SADD and PEXPIRE in one script.
func (s Set[T]) MembersOrLoad(ctx context.Context, load func(context.Context) ([]T, error)) ([]T, error) {
	m, err := s.Members(ctx)
	if err != nil || len(m) > 0 {
		return m, err
	}
	return s.load(ctx, load)
}

// HasOrLoad reports whether member is in the set, as [Set.Has] does, or,
// when the set is missing, whether it is among the members load returns,
// which are stored. Redis: SISMEMBER, EXISTS on a miss, then SADD and
// PEXPIRE in one script.
func (s Set[T]) HasOrLoad(ctx context.Context, member T, load func(context.Context) ([]T, error)) (bool, error) {
	ok, err := s.Has(ctx, member)
	if missing, err := missingKey(ctx, &s.handle, ok, err); !missing {
		return ok, err
	}
	m, err := s.load(ctx, load)
	return slices.Contains(m, member), err
}

func (s Set[T]) load(ctx context.Context, load func(context.Context) ([]T, error)) ([]T, error) {
	return loadWhole(ctx, &s.c.loads, &s.handle, load, func(ctx context.Context, m []T) { s.Add(ctx, m...) })
}

// RangeOrLoad returns the members ranked start to stop, as
// [SortedSet.Range] does, or, when the sorted set is missing, stores the
// members load returns and returns their range, read back from the store
// (which orders them as Redis does). Redis: ZRANGE, EXISTS on an empty
// range, then ZADD and PEXPIRE in one script and ZRANGE.
func (z SortedSet[T]) RangeOrLoad(ctx context.Context, start, stop int, load func(context.Context) ([]Scored[T], error)) ([]Scored[T], error) {
	out, err := z.Range(ctx, start, stop)
	if missing, err := missingKey(ctx, &z.handle, len(out) > 0, err); !missing {
		return out, err
	}
	loaded, err := loadWhole(ctx, &z.c.loads, &z.handle, load, func(ctx context.Context, m []Scored[T]) { z.AddMany(ctx, m...) })
	if err != nil || len(loaded) == 0 {
		return nil, err
	}
	return z.ranks(ctx, start, stop, false)
}

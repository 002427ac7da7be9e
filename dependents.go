package caches

import (
	"context"
	"fmt"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// Handle is what every handle has in common: [Key], [Dict], [Set],
// [SortedSet], [Counter], and a Memoize result's ([Memo.Handle]). It names
// one Redis key and has the per-key dependents of that key.
type Handle interface {
	// String returns the Redis key.
	String() string
	// DependsOn: see [Key.DependsOn].
	DependsOn(ctx context.Context, parents ...Handle) error
	// Invalidate: see [Key.Invalidate].
	Invalidate(ctx context.Context) (int, error)
	self() handle
}

func (h handle) self() handle { return h }

// Handle returns the handle of a's cached result, to declare that it
// depends on another handle's data (see [Key.DependsOn]).
func (m *Memo[A, R]) Handle(a A) Handle {
	key, err := m.Key(a)
	return handle{f: m.family, key: key, err: err}
}

// dependentsKey is the key of the set of key's dependents. Like a lease's
// (see leaseKey), it cannot be a handle's key.
func dependentsKey(key string) string { return key + dependentsSuffix }

const dependentsSuffix = "%deps"

// maxDependents bounds the keys one handle's Invalidate walks.
const maxDependents = 100_000

// DependsOn records, in the backend, that the handle's entry is derived
// from each of parents: [Key.Invalidate] of a parent deletes it too, on
// every process sharing the backend. The record is a Redis set beside the
// parent's key (its key followed by "%deps"; SADD and PEXPIRE in one
// script) holding the dependent's key; it lives as long as the longer of
// the two families' TTLs, refreshed by each DependsOn, and goes with the
// parent's Invalidate or its family's. Parents and dependents must be on
// one connection. On Redis Cluster each command touches one key, so they
// may live on any slots. Declaring a dependency again changes nothing but
// the record's expiry.
func (h handle) DependsOn(ctx context.Context, parents ...Handle) (err error) {
	ctx, o := h.f.begin(ctx, "DependsOn")
	defer o.counted(ctx, &h.f.stats.sets, &err)
	if h.err != nil {
		return h.err
	}
	for _, p := range parents {
		if err := h.dependOn(ctx, p.self()); err != nil {
			return err
		}
	}
	return nil
}

// dependOn adds h's key to the dependents of p.
func (h handle) dependOn(ctx context.Context, p handle) error {
	b, err := p.backend(ctx)
	if err != nil {
		return err
	}
	_, err = b.SAdd(ctx, dependentsKey(p.key), longerTTL(h.f.ttl, p.f.ttl), h.key)
	return keyErr("depends on", p.key, err)
}

// longerTTL is the longer of two family TTLs, 0 (no expiry) being the
// longest.
func longerTTL(a, b time.Duration) time.Duration {
	if a == 0 || b == 0 {
		return 0
	}
	return max(a, b)
}

// Invalidate deletes the handle's key and the entries that depend on it
// (declared with [Key.DependsOn]), transitively, with their records of
// dependents, on the backend, so for every process sharing it, and returns
// how many of those entries existed. The records are read (SMEMBERS, one
// per entry) and deleted first, then the entries (DEL, one round trip per
// node on a cluster): a dependent declared while it runs
// survives it only if it is stored again afterwards, as a fresh entry. A
// walk of more than 100 000 entries is an error, and deletes nothing. The
// handle's family and its dependent families are left alone; see
// [KeyCache.Invalidate] for a whole family.
func (h handle) Invalidate(ctx context.Context) (n int, err error) {
	ctx, o := h.f.begin(ctx, "InvalidateKey")
	defer func() {
		o.invalidated(ctx, n, err)
		h.f.stats.invalidations.Add(1)
		if err != nil {
			h.f.stats.errors.Add(1)
		}
	}()
	b, err := h.backend(ctx)
	if err != nil {
		return 0, err
	}
	keys, err := dependents(ctx, b, h.key)
	if err != nil {
		return 0, err
	}
	records := make([]string, len(keys))
	for i, k := range keys {
		records[i] = dependentsKey(k)
	}
	if _, err := b.Del(ctx, records...); err != nil {
		return 0, keyErr("invalidate", h.key, err)
	}
	deleted, err := b.Del(ctx, keys...)
	h.f.stats.invalidatedKeys.Add(uint64(deleted))
	return int(deleted), keyErr("invalidate", h.key, err)
}

// dependents returns key and the keys that depend on it, transitively,
// each once, breadth first.
func dependents(ctx context.Context, b backend.Backend, key string) ([]string, error) {
	keys := []string{key}
	seen := map[string]bool{key: true}
	for i := 0; i < len(keys); i++ {
		members, err := b.SMembers(ctx, dependentsKey(keys[i]))
		if err != nil {
			return nil, keyErr("invalidate", keys[i], err)
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				keys = append(keys, m)
			}
		}
		if len(keys) > maxDependents {
			return nil, fmt.Errorf("caches: invalidate %q: more than %d dependents", key, maxDependents)
		}
	}
	return keys, nil
}

// InvalidateDependents deletes every key of the families that depend on
// this one (transitively; see [KeyCache.DependsOn]), leaving the family's
// own keys alone, and returns how many went: the way to refresh what is
// derived from data that has not changed in the cache, such as a [Memo]
// declared to depend on a family whose source changed. It works as
// [KeyCache.Invalidate] does.
func (f *family) InvalidateDependents(ctx context.Context) (int, error) {
	return invalidateFamilies(ctx, f.closure()[1:])
}

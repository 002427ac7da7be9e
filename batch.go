package caches

import (
	"context"
	"fmt"
)

// Entry is a handle and a value, for [KeyCache.SetMany].
type Entry[V any] struct {
	Key   Key[V]
	Value V
}

// keysOf returns the Redis keys of handles, which must all belong to c.
func (c *KeyCache[V]) keysOf(handles []Key[V]) ([]string, error) {
	keys := make([]string, len(handles))
	for i, h := range handles {
		if h.err != nil {
			return nil, h.err
		}
		if h.c != c {
			return nil, fmt.Errorf("caches: key %q belongs to another family", h.key)
		}
		keys[i] = h.key
	}
	return keys, nil
}

// GetMany returns the values of handles in argument order; found[i] is false
// when handles[i] is missing (or holds another Redis type). It takes one
// round trip on a single server, one per node on a cluster (MGET per slot,
// pipelined). A value that cannot be decoded fails the call with a
// [*DecodeError]. Hooks are not called. No handles: empty results, without
// a round trip.
func (c *KeyCache[V]) GetMany(ctx context.Context, handles ...Key[V]) (values []V, found []bool, err error) {
	if len(handles) == 0 {
		return nil, nil, nil
	}
	defer func() { c.countGets(found, err) }()
	keys, err := c.keysOf(handles)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.backend(ctx)
	if err != nil {
		return nil, nil, err
	}
	raw, found, err := b.MGet(ctx, keys...)
	if err != nil {
		return nil, nil, keyErr("getmany", keys[0], err)
	}
	values = make([]V, len(keys))
	for i, ok := range found {
		if !ok {
			continue
		}
		if values[i], err = handles[i].decode(raw[i]); err != nil {
			return nil, nil, err
		}
	}
	return values, found, nil
}

// countGets counts a GetMany as that many Gets: a hit per key found and a
// miss per key missing; a failure counts one error.
func (c *KeyCache[V]) countGets(found []bool, err error) {
	hits := 0
	for _, ok := range found {
		if ok {
			hits++
		}
	}
	c.countMany(&c.stats.hits, hits, err)
	c.countMany(&c.stats.misses, len(found)-hits, nil)
}

// SetMany stores every entry with the family's TTL, pipelined: one round
// trip on a single server, one per node on a cluster. Each key is written
// atomically with its TTL; the entries are not written atomically together.
// Hooks are not called.
func (c *KeyCache[V]) SetMany(ctx context.Context, entries ...Entry[V]) (err error) {
	ctx, o := c.family.begin(ctx, "SetMany")
	defer func() { o.countMany(ctx, &c.stats.sets, len(entries), err) }()
	if len(entries) == 0 {
		return nil
	}
	values := make([]string, len(entries))
	for i, e := range entries {
		var err error
		if values[i], err = c.codec.encode(e.Value); err != nil {
			return keyErr("encode", e.Key.key, err)
		}
	}
	// The keys come straight from the entries (as keysOf checks them): no
	// copy of the handles.
	keys := make([]string, len(entries))
	for i, e := range entries {
		if e.Key.err != nil {
			return e.Key.err
		}
		if e.Key.c != c {
			return fmt.Errorf("caches: key %q belongs to another family", e.Key.key)
		}
		keys[i] = e.Key.key
	}
	b, err := c.backend(ctx)
	if err != nil {
		return err
	}
	return keyErr("setmany", keys[0], b.SetMany(ctx, keys, values, c.family.writeTTLs(len(keys))...))
}

// DeleteMany deletes handles and returns how many existed: one round trip on
// a single server, one per node on a cluster. Hooks are not called.
func (c *KeyCache[V]) DeleteMany(ctx context.Context, handles ...Key[V]) (_ int, err error) {
	ctx, o := c.family.begin(ctx, "DeleteMany")
	defer func() { o.countMany(ctx, &c.stats.deletes, len(handles), err) }()
	if len(handles) == 0 {
		return 0, nil
	}
	keys, err := c.keysOf(handles)
	if err != nil {
		return 0, err
	}
	b, err := c.backend(ctx)
	if err != nil {
		return 0, err
	}
	n, err := b.Del(ctx, keys...)
	return int(n), keyErr("deletemany", keys[0], err)
}

package caches

import (
	"context"

	"github.com/gocaches/caches/internal/stats"
)

// Stats counts what a family's handles did in this process. Every call of
// an operation counts exactly one outcome:
//
//   - a read counts a hit when it found what it asked for and a miss when
//     not. Found means a value, field or member that exists (Get, Score,
//     Rank, TTL; Counter.Get of an absent key returns 0 and is a miss), a
//     true Has (for HasMany, any), a non-zero Len or Count, or a non-empty
//     result (GetMany, Map, Members, Range…, set algebra, MostCommon, Total
//     of a non-empty counter, Random, and every pop: pops count as reads).
//     An iteration (All) counts once, when it ends: a hit if it yielded an
//     item.
//   - a write counts a set, whether or not it changed anything: Set,
//     SetMany, Add, Update, increments, Expire, ExpireAt, Persist and the
//     Store forms of set algebra.
//   - a removal counts a delete, whether or not there was anything to
//     remove: Delete, Discard, Remove, RemoveRange…, Clear, and SetTTL with
//     a TTL that deletes.
//   - a failure counts one error and nothing else, however many items it
//     concerned: a backend error (WRONGTYPE included), a value that cannot
//     be encoded or decoded (for an iteration, once however many it
//     yielded), a hook's error, a closed connection.
//
// The batch calls of [KeyCache] (GetMany, SetMany, DeleteMany) count once
// per key, as that many Get, Set and Delete calls would; a failed batch
// counts one error. Loads counts calls of [Hooks.Load]: a Get that Load
// answered counts a miss and a load (concurrent misses of a key share one
// load), one whose Load failed an error and a load, and when the loaded
// value cannot be stored, an error as well, although the Get returns it.
// Abandoned counts calls of Load still running at their LoadTimeout, and
// LeaseWaits the loads that waited for another process's lease
// ([Hooks.Lease]).
// Invalidations counts calls of Invalidate that reached this family
// (directly or through a dependency) and InvalidatedKeys the keys they
// deleted; Evictions counts the family's keys that the bound of an
// in-process store evicted (on Redis, evictions are the server's: see INFO
// stats evicted_keys). A [Memo] counts its cache lookups in [MemoStats]
// instead.
type Stats struct {
	Hits, Misses, Sets, Deletes    uint64
	Invalidations, InvalidatedKeys uint64
	Evictions                      uint64
	Errors                         uint64
	Loads                          uint64
	Abandoned                      uint64
	LeaseWaits                     uint64
}

type familyCounters struct {
	hits, misses, sets, deletes, invalidations, invalidatedKeys, evictions, errors stats.Counter
	loads, abandoned, leaseWaits                                                   stats.Counter
}

// Stats returns the family's counters so far.
func (f *family) Stats() Stats {
	c := &f.stats
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(), Deletes: c.deletes.Load(),
		Invalidations: c.invalidations.Load(), InvalidatedKeys: c.invalidatedKeys.Load(),
		Evictions: c.evictions.Load(), Errors: c.errors.Load(), Loads: c.loads.Load(), Abandoned: c.abandoned.Load(),
		LeaseWaits: c.leaseWaits.Load(),
	}
}

// count records the outcome of one operation: err, unless nil or a miss,
// counts as an error; otherwise c is incremented (when not nil).
func (f *family) count(c *stats.Counter, err error) {
	switch {
	case err == nil:
		if c != nil {
			c.Add(1)
		}
	case err == ErrNotFound:
		f.stats.misses.Add(1)
	default:
		f.stats.errors.Add(1)
	}
}

// countRead records the outcome of one read: err, unless nil or a miss,
// counts as an error; otherwise found counts a hit and !found a miss.
func (f *family) countRead(found bool, err error) {
	switch {
	case err == nil && found:
		f.stats.hits.Add(1)
	case err == nil || err == ErrNotFound:
		f.stats.misses.Add(1)
	default:
		f.stats.errors.Add(1)
	}
}

// countMany records a batch call of n keys: n increments of c, or one
// error for a failure.
func (f *family) countMany(c *stats.Counter, n int, err error) {
	if err != nil {
		f.stats.errors.Add(1)
		return
	}
	c.Add(uint64(n))
}

// countIteration wraps an iterator's yield so that the iteration, o,
// counts as one read when it ends (call end deferred): an error if it
// yielded one, otherwise a hit if it yielded an item and a miss if not.
func countIteration[T any](ctx context.Context, o *opScope, yield func(T, error) bool) (counted func(T, error) bool, end func()) {
	var (
		items  bool
		failed error
	)
	counted = func(v T, err error) bool {
		if err != nil {
			failed = err
		} else {
			items = true
		}
		return yield(v, err)
	}
	return counted, func() { o.countRead(ctx, items, failed) }
}

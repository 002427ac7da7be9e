package caches

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
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
	// from Load is returned and nothing is stored. When Redis fails, Load
	// serves the call unless Strict.
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

	// Strict makes a backend failure an error of Get and GetOrLoad. By
	// default, as Memoize does (see [MemoOptions.Strict]), a Get whose
	// read fails while Load is set is served by Load (coalesced, its value
	// not stored) and the failure counts as an error in [Stats]. A key of
	// another Redis type ([ErrWrongType]) is an error either way.
	Strict bool

	// LoadTimeout bounds one call of Load. A Load still running when it
	// passes is abandoned: its callers get an error wrapping
	// context.DeadlineExceeded, the next Get calls Load anew (while the
	// abandoned goroutine may still run; its value is dropped), and the
	// family's [Stats] count it in Abandoned. A Load that panics panics in
	// every caller's goroutine; one that ends with runtime.Goexit is an
	// error for each of them. Default: one minute.
	LoadTimeout time.Duration

	// Lease makes one process load a missing value while the others
	// sharing the backend wait for it, for Get with Load and for
	// [Key.GetOrLoad], as [MemoOptions.Lease] does for Memoize: the loading
	// process holds a lease key (the value's key followed by "%lease"; SET
	// NX with a random token and LeaseTTL) that only it releases, and reads
	// the value once more after taking the lease; the others poll for the
	// value every LeasePoll and load it themselves when the lease goes
	// without one (its owner failed, or died and the lease expired).
	// Default: off, so every process loads on its own miss (each only once).
	Lease bool
	// LeaseTTL is how long a lease lives: a process that dies while
	// loading blocks the others at most this long. Default: LoadTimeout.
	LeaseTTL time.Duration
	// LeasePoll is how often a waiting process looks for the value.
	// Default: 20 ms.
	LeasePoll time.Duration
}

// WithHooks sets the family's hooks and returns the family. Call it before
// the family is used, typically where it is declared:
//
//	var users = caches.NewKeyCache[User](opts).WithHooks(caches.Hooks[User]{Load: loadUser})
func (c *KeyCache[V]) WithHooks(h Hooks[V]) *KeyCache[V] {
	if h.LoadTimeout <= 0 {
		h.LoadTimeout = time.Minute
	}
	if h.LeaseTTL <= 0 {
		h.LeaseTTL = h.LoadTimeout
	}
	if h.LeasePoll <= 0 {
		h.LeasePoll = 20 * time.Millisecond
	}
	c.hooks = h
	c.loads.timeout, c.loads.abandoned = h.LoadTimeout, &c.family.stats.abandoned
	c.lease = leaser{f: c.family, ttl: h.LeaseTTL, poll: h.LeasePoll, waits: &c.family.stats.leaseWaits, bound: unbounded,
		failed: func(string, error) { c.family.stats.errors.Add(1) }}
	return c
}

// unbounded leaves a round trip bounded by the caller's context alone.
func unbounded(ctx context.Context, _ backend.Backend) (context.Context, context.CancelFunc) {
	return ctx, func() {}
}

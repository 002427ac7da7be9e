package caches

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// family is what every cache type shares: its key prefix, TTL and
// connection.
type family struct {
	prefix   string        // the key prefix, hash tag applied
	ttl      time.Duration // > 0, or 0 for no expiry
	connName string
	conn     *Conn // Options.Conn: no registry lookup
	err      error // an invalid configuration, reported by every operation

	resolved atomic.Pointer[resolvedConn] // registry lookup cache
	stats    familyCounters
}

// resolvedConn remembers which Conn a name mapped to at a registry
// generation, and whether the family's prefix was refused there.
type resolvedConn struct {
	gen  uint64
	conn *Conn
	err  error // wraps ErrPrefixOverlap
}

func newFamily(o Options) *family {
	prefix, err := keyPrefix(o.Prefix, o.HashTag)
	f := &family{prefix: prefix, ttl: familyTTL(o.TTL), connName: o.Connection, conn: o.Conn, err: err}
	if o.Conn != nil && err == nil {
		f.err = o.Conn.adopt(f)
	}
	return f
}

func familyTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl == 0:
		return DefaultTTL
	case ttl < 0:
		return 0
	}
	return max(ttl, time.Millisecond)
}

// backend returns the family's backend, resolving its connection through
// the registry when the registry changed since the last call.
func (f *family) backend() (backend, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.conn != nil {
		return f.conn.backend()
	}
	gen := registry.gen.Load()
	if r := f.resolved.Load(); r != nil && r.gen == gen {
		if r.err != nil {
			return nil, r.err
		}
		return r.conn.backend()
	}
	c, err := Connection(f.connName)
	if err != nil {
		return nil, err
	}
	r := &resolvedConn{gen: gen, conn: c, err: c.adopt(f)}
	if old := f.resolved.Swap(r); old != nil && old.conn != c {
		old.conn.families.remove(f)
	}
	if r.err != nil {
		return nil, r.err
	}
	return c.backend()
}

// key builds a handle's key; its error is reported by the handle's
// operations.
func (f *family) key(args []any) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return buildKey(f.prefix, args)
}

// Family is what every cache family has in common: [KeyCache],
// [DictCache], [SetCache], [SortedSetCache], [CounterCache] and [Memo].
// Their Invalidate, DependsOn and Stats methods come from it.
type Family interface {
	base() *family
}

func (f *family) base() *family { return f }

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
// Abandoned counts calls of Load still running at their LoadTimeout.
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
}

type familyCounters struct {
	hits, misses, sets, deletes, invalidations, invalidatedKeys, evictions, errors counter
	loads, abandoned                                                               counter
}

// counter is an event count that goroutines on several cores bump without
// contending for one cache line: each Add goes to one of its slots, picked
// at random (math/rand/v2 keeps its state per thread), and Load sums them.
// A single atomic counted on every Get halved the scaling of parallel gets.
type counter struct {
	slots [counterSlots]struct {
		n atomic.Uint64
		_ [56]byte // pads the slot to a cache line
	}
}

const counterSlots = 8

func (c *counter) Add(n uint64) { c.slots[rand.Uint32()%counterSlots].n.Add(n) }

func (c *counter) Load() uint64 {
	var sum uint64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}

// Stats returns the family's counters so far.
func (f *family) Stats() Stats {
	c := &f.stats
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(), Deletes: c.deletes.Load(),
		Invalidations: c.invalidations.Load(), InvalidatedKeys: c.invalidatedKeys.Load(),
		Evictions: c.evictions.Load(), Errors: c.errors.Load(), Loads: c.loads.Load(), Abandoned: c.abandoned.Load(),
	}
}

// count records the outcome of one operation: err, unless nil or a miss,
// counts as an error; otherwise c is incremented (when not nil).
func (f *family) count(c *counter, err error) {
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
func (f *family) countMany(c *counter, n int, err error) {
	if err != nil {
		f.stats.errors.Add(1)
		return
	}
	c.Add(uint64(n))
}

// countIteration wraps an iterator's yield so that the iteration counts as
// one read when it ends (call end deferred): an error if it yielded one,
// otherwise a hit if it yielded an item and a miss if not.
func countIteration[T any](f *family, yield func(T, error) bool) (counted func(T, error) bool, end func()) {
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
	return counted, func() { f.countRead(items, failed) }
}

// DependsOn declares that the family depends on each of others: invalidating
// one of them invalidates this family too, transitively. A declaration that
// would make a cycle is refused with an error and changes nothing.
// Declarations live in the process: every process sharing the backend
// declares the same graph in its code. A declaration lasts as long as the
// family that made it: once the program drops a family (no reference to it
// remains) and the garbage collector reclaims it, it is no longer declared,
// so invalidating what it depended on no longer deletes its keys (they
// expire with their TTL); the families that depended on it keep depending,
// through it, on what it depended on.
func (f *family) DependsOn(others ...Family) error {
	fams := make([]*family, len(others))
	for i, o := range others {
		fams[i] = o.base()
	}
	return deps.add(f, fams)
}

// closure returns f and its dependents, transitively, each once.
func (f *family) closure() []*family { return deps.closure(f) }

func (f *family) describe() string {
	if f.prefix == "" {
		return "a family without prefix"
	}
	return fmt.Sprintf("family %q", f.prefix)
}

// invalidateBatch is the SCAN COUNT and UNLINK batch of an invalidation.
const invalidateBatch = 500

// Invalidate deletes every key of the family, and of the families that
// depend on it (transitively), on its backend, so for every process sharing
// it, and returns how many keys went. On Redis it never blocks the server:
// it walks the keyspace with SCAN MATCH <prefix>:* (the prefix glob-escaped)
// and deletes each page with UNLINK, on every master of a cluster. On a
// cluster the UNLINKs follow MOVED and ASK, and the masters are scanned
// again while a resharding moves slots, so no key is left behind (after
// eight passes with slots still moving it returns an error). The
// leases of [Memo] computations still running are left alone (they expire
// or are released by their owner), so that no other process starts the
// same computation meanwhile. It is not a snapshot: a key written while it
// runs may survive it. To make every old value unreachable at one instant,
// change the family's prefix instead.
func (f *family) Invalidate(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for _, g := range f.closure() {
		n, err := g.invalidateOwn(ctx)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// invalidateOwn deletes the family's own keys.
func (f *family) invalidateOwn(ctx context.Context) (int, error) {
	if f.prefix == "" {
		return 0, errors.New("caches: a family without prefix cannot be invalidated: it would match every key")
	}
	b, err := f.backend()
	if err != nil {
		return 0, err
	}
	n, err := b.DeleteMatching(ctx, globEscape(f.prefix)+":*", f.ownsKey, invalidateBatch)
	if err == nil {
		var own int64
		own, err = b.Del(ctx, f.prefix)
		n += own
	}
	f.stats.invalidations.Add(1)
	f.stats.invalidatedKeys.Add(uint64(n))
	if err != nil {
		f.stats.errors.Add(1)
		return int(n), fmt.Errorf("caches: invalidate %s: %w", f.describe(), classify(err))
	}
	return int(n), nil
}

// ownsKey reports whether key is one of the family's keys made from
// arguments (the prefix, ':' and more) and not the lease of one: it keeps an
// invalidation exact whatever the SCAN MATCH pattern let through, and
// leaves the leases of running Memoize computations to their owners, so
// that no second process starts the same computation. What follows the
// prefix and ':' comes from key building, which never writes "%l" (it
// escapes '%'), so a key there that ends with leaseSuffix is a lease.
func (f *family) ownsKey(key string) bool {
	return len(key) > len(f.prefix) && key[len(f.prefix)] == ':' && key[:len(f.prefix)] == f.prefix &&
		!strings.HasSuffix(key, leaseSuffix)
}

// globEscape returns a SCAN MATCH pattern for s, byte by byte: the bytes
// the pattern syntax treats specially are escaped with '\', and valid UTF-8
// is kept as it is. A byte that is not part of valid UTF-8, and '\' itself,
// become '?' (any one byte), because stores that compile patterns into
// UTF-8 regular expressions fail on them (miniredis panics on such a byte,
// and on "\E" once escaped); the pattern then matches more than s, so the
// keys it finds are checked with [family.ownsKey].
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, s[i] == '\\':
			b.WriteByte('?')
		case strings.IndexByte(`*?[]^-`, s[i]) >= 0:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

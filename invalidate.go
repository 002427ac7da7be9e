package caches

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

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
	return invalidateFamilies(ctx, f.closure())
}

// invalidateFamilies deletes the own keys of each of fams.
func invalidateFamilies(ctx context.Context, fams []*family) (int, error) {
	total := 0
	var errs []error
	for _, g := range fams {
		n, err := g.invalidateOwn(ctx)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// invalidateOwn deletes the family's own keys.
func (f *family) invalidateOwn(ctx context.Context) (n int, err error) {
	ctx, o := f.begin(ctx, "Invalidate")
	defer func() { o.invalidated(ctx, n, err) }()
	return f.deleteOwn(ctx)
}

// deleteOwn deletes the family's own keys and counts the invalidation.
func (f *family) deleteOwn(ctx context.Context) (int, error) {
	if f.prefix == "" {
		return 0, errors.New("caches: a family without prefix cannot be invalidated: it would match every key")
	}
	b, err := f.backend(ctx)
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

package caches

import (
	"math"
	"time"
)

// DefaultTTL is the time to live of a family whose [Options.TTL] is zero.
const DefaultTTL = 2 * time.Hour

// NoExpiry as [Options.TTL] makes a family's keys live until deleted. As a
// per-call TTL ([Key.SetTTL], Expire, [MemoOptions.ErrorTTL]) it means
// without expiry too, while any other TTL of zero or less there deletes (or,
// for ErrorTTL, caches nothing). As the result of a TTL query it means the
// key exists without an expiry. Being a time.Duration, it prints as
// "-1ns": [FormatTTL] prints it as "no expiry".
const NoExpiry time.Duration = -1

// FormatTTL returns a TTL as a handle's TTL method reports it, for people
// to read: "no expiry" for [NoExpiry], "beyond 292 years" for the largest
// Duration (a deadline further than a Duration holds), and d.String()
// otherwise ("1h30m0s"). TTL returns a plain time.Duration so that it
// compares and adds with other durations; print it with FormatTTL.
func FormatTTL(d time.Duration) string {
	switch d {
	case NoExpiry:
		return "no expiry"
	case math.MaxInt64:
		return "beyond 292 years"
	}
	return d.String()
}

// Options configure a cache family: every handle the family makes shares
// them. The zero value is usable: the default connection, no prefix, a two
// hour TTL and JSON for values that are not stored raw.
type Options struct {
	// Prefix starts every key of the family (see "Keys" in the package
	// documentation). Changing it invalidates every stored value at once.
	// On one connection no family's prefix may be another's followed by
	// ":" ("user" and "user:eu" would share keys): the family that comes
	// second is refused, and its operations return an error wrapping
	// [ErrPrefixOverlap] that names both prefixes. Default: none, so the key
	// is made of the arguments alone, and no check applies.
	Prefix string

	// TTL is how long a key lives after each write to it. Every write
	// refreshes it, atomically with the write. Default (zero): [DefaultTTL].
	// [NoExpiry] (or any negative value) keeps keys until deleted. A TTL
	// below one millisecond is rounded up to one millisecond, the
	// resolution of Redis.
	TTL time.Duration

	// TTLJitter spreads the expiries of keys written together, so that a
	// herd of them does not expire (and miss) at once: each write that
	// sets the family's TTL sets TTL minus a random part of TTLJitter
	// instead, uniform at millisecond resolution, so that a key lives
	// more than TTL-TTLJitter and at most TTL after its write. It applies
	// to every write of every cache type that refreshes the family's TTL,
	// each key of a [KeyCache.SetMany] drawn apart, and to the results
	// [Memoize] stores (their early refresh follows the TTL drawn); a TTL
	// given in the call ([Key.SetTTL], Expire, [MemoOptions.ErrorTTL]) is
	// kept exactly. It must be less than the TTL (DefaultTTL when TTL is
	// zero) and not negative, and the TTL must not be NoExpiry: otherwise
	// every operation of the family returns an error naming TTLJitter.
	// Below one millisecond it has no effect. Default: zero, no jitter.
	TTLJitter time.Duration

	// Connection names the connection in the registry: the fragment of a
	// CACHES_DSN variable or a name given to [Register]. Default: "", the
	// default connection.
	Connection string

	// Conn, when set, is used instead of looking Connection up. Tests that
	// run in parallel give each family its own (see package cachestest).
	Conn *Conn

	// HashTag wraps the prefix in braces ({prefix}:…) so that every key of
	// the family lives on one Redis Cluster slot, which multi-key commands
	// across handles need. It requires a Prefix. Default: false.
	HashTag bool

	// Codec encodes values (and collection members and fields) whose type
	// is not stored raw. Default: [JSON].
	Codec Codec

	// Near, when set, keeps copies of the family's keys in this process and
	// answers reads from them until Redis reports a change (see
	// [NearOptions]). Families that share a prefix share one near cache,
	// set up by the first of them to read. Default: none.
	Near *NearOptions
}

package caches

import (
	"sync/atomic"
	"time"
)

// DefaultTTL is the time to live of a family whose [Options.TTL] is zero, as
// in the Python library this one re-creates.
const DefaultTTL = 2 * time.Hour

// NoExpiry as [Options.TTL] makes a family's keys live until deleted. As the
// result of a TTL query it means the key exists without an expiry.
const NoExpiry time.Duration = -1

// Options configure a cache family: every handle the family makes shares
// them. The zero value is usable: the default connection, no prefix, a two
// hour TTL and JSON for values that are not stored raw.
type Options struct {
	// Prefix starts every key of the family (see "Keys" in the package
	// documentation). Changing it invalidates every stored value at once.
	// Default: none, so the key is made of the arguments alone.
	Prefix string

	// TTL is how long a key lives after each write to it. Every write
	// refreshes it, atomically with the write. Default (zero): [DefaultTTL].
	// [NoExpiry] (or any negative value) keeps keys until deleted. A TTL
	// below one millisecond is rounded up to one millisecond, the
	// resolution of Redis.
	TTL time.Duration

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
}

// family is what every cache type shares: its key prefix, TTL and
// connection.
type family struct {
	prefix   string        // the key prefix, hash tag applied
	ttl      time.Duration // > 0, or 0 for no expiry
	connName string
	conn     *Conn // Options.Conn: no registry lookup
	err      error // an invalid configuration, reported by every operation

	resolved atomic.Pointer[resolvedConn] // registry lookup cache
}

// resolvedConn remembers which Conn a name mapped to at a registry
// generation.
type resolvedConn struct {
	gen  uint64
	conn *Conn
}

func newFamily(o Options) family {
	prefix, err := keyPrefix(o.Prefix, o.HashTag)
	return family{prefix: prefix, ttl: familyTTL(o.TTL), connName: o.Connection, conn: o.Conn, err: err}
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
		return r.conn.backend()
	}
	c, err := Connection(f.connName)
	if err != nil {
		return nil, err
	}
	f.resolved.Store(&resolvedConn{gen: gen, conn: c})
	return c.backend()
}

// singleArgKey is the key of one argument whose text is text: what key
// returns for an argument of a raw kind, without boxing it.
func (f *family) singleArgKey(text string) string {
	b := make([]byte, 0, len(f.prefix)+1+len(text))
	b = append(b, f.prefix...)
	if f.prefix != "" {
		b = append(b, ':')
	}
	return string(appendEscaped(b, text))
}

// key builds a handle's key; its error is reported by the handle's
// operations.
func (f *family) key(args []any) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return buildKey(f.prefix, args)
}

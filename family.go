package caches

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// family is what every cache type shares: its key prefix, TTL and
// connection.
type family struct {
	prefix   string              // the key prefix, hash tag applied
	ttl      time.Duration       // > 0, or 0 for no expiry
	jitter   int64               // Options.TTLJitter in milliseconds; 0: none
	randN    func(n int64) int64 // a random number in [0, n), for the jitter
	connName string
	conn     *Conn // Options.Conn: no registry lookup
	err      error // an invalid configuration, reported by every operation

	resolved atomic.Pointer[resolvedConn] // registry lookup cache
	stats    familyCounters
	failures logLimit // the family's log lines of backend failures

	near      *NearOptions               // Options.Near; nil: no near cache
	nearCache atomic.Pointer[familyNear] // the near cache on the last connection used

	ops atomic.Pointer[familyOps] // the Ops an observer saw; nil before the first
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
	f := &family{prefix: prefix, ttl: familyTTL(o.TTL), connName: o.Connection, conn: o.Conn, err: err, near: o.Near}
	f.jitter, f.randN = o.TTLJitter.Milliseconds(), rand.Int64N
	if f.err == nil {
		f.err = f.checkJitter(o.TTLJitter)
	}
	if o.Conn != nil && f.err == nil {
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

// checkJitter refuses an Options.TTLJitter that could make a write's TTL
// zero or less, or that has no TTL to spread.
func (f *family) checkJitter(jitter time.Duration) error {
	switch {
	case jitter < 0:
		return fmt.Errorf("caches: %s: Options.TTLJitter %v is negative", f.describe(), jitter)
	case jitter > 0 && f.ttl == 0:
		return fmt.Errorf("caches: %s: Options.TTLJitter %v needs a TTL; Options.TTL is NoExpiry", f.describe(), jitter)
	case jitter >= f.ttl && f.ttl > 0:
		return fmt.Errorf("caches: %s: Options.TTLJitter %v must be less than the TTL, %v", f.describe(), jitter, f.ttl)
	}
	return nil
}

// writeTTL is the TTL a write sets: the family's TTL, less a random part
// of its jitter. It stays above TTL-TTLJitter, so above zero.
func (f *family) writeTTL() time.Duration {
	if f.jitter <= 0 {
		return f.ttl
	}
	return f.ttl - time.Duration(f.randN(f.jitter))*time.Millisecond
}

// writeTTLs returns the TTLs of n keys written together: one for all
// without jitter, one each with it.
func (f *family) writeTTLs(n int) []time.Duration {
	if f.jitter <= 0 {
		return []time.Duration{f.ttl}
	}
	ttls := make([]time.Duration, n)
	for i := range ttls {
		ttls[i] = f.writeTTL()
	}
	return ttls
}

// backend returns the family's backend for an operation under ctx: that
// of Options.Conn, of a connection bound to ctx (WithConn), or of the
// connection the registry maps the family's name to, resolved again when
// the registry changed since the last call.
func (f *family) backend(ctx context.Context) (backend.Backend, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.conn != nil {
		return f.connBackend(f.conn)
	}
	if c := boundConn(ctx); c != nil {
		return f.boundBackend(c)
	}
	gen := registry.gen.Load()
	if r := f.resolved.Load(); r != nil && r.gen == gen {
		if r.err != nil {
			return nil, r.err
		}
		return f.connBackend(r.conn)
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
	return f.connBackend(c)
}

// connBackend returns c's backend for the family: through its near cache
// when it has one.
func (f *family) connBackend(c *Conn) (backend.Backend, error) {
	b, err := c.backend()
	if err != nil || f.near == nil && c.nearAll == nil {
		return b, err
	}
	return f.withNear(c, b), nil
}

// boundBackend is the backend of c, a connection bound to the operation's
// context, where the family is recorded (and its prefix checked) too.
func (f *family) boundBackend(c *Conn) (backend.Backend, error) {
	if err := c.adopt(f); err != nil {
		return nil, err
	}
	return f.connBackend(c)
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

func (f *family) describe() string {
	if f.prefix == "" {
		return "a family without prefix"
	}
	return fmt.Sprintf("family %q", f.prefix)
}

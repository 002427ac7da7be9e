package caches

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/near"
)

// NearOptions turn on a near cache for a family on Redis: the process keeps
// copies of the keys it reads in its own memory and answers later reads of
// them without a round trip, until Redis reports that the key changed
// (CLIENT TRACKING, Redis 6.0 or later). See "Near cache" in the README for
// what is read locally and what fresh means. On an in-process store the
// option is accepted and changes nothing.
type NearOptions struct {
	// MaxEntries bounds the number of keys kept; default 10,000.
	MaxEntries int
	// MaxBytes bounds their estimated size (as [MemoryOptions.MaxBytes]
	// counts it); default 64 MiB. Beyond either bound the least recently
	// used copies are evicted. The value decoded from a copy, which a
	// KeyCache or Memo keeps next to it for a value type that holds no
	// references (numbers, strings, bools, and arrays and structs of
	// those), is not counted.
	MaxBytes int64
	// TTL is how long a copy is kept at most; default one minute, and never
	// more than the family's TTL. A copy never outlives its key on Redis.
	TTL time.Duration
	// Heartbeat is how often the tracking connections are checked while
	// the cache holds copies, and StallTimeout how long one may take to
	// answer before the near cache is dropped and bypassed until tracking
	// is re-established. Defaults: 100ms and 1s. A write by another client
	// is seen at the latest Heartbeat+StallTimeout after it, whatever
	// happens to the tracking connection; normally as soon as Redis's
	// invalidation arrives.
	Heartbeat, StallTimeout time.Duration

	// observe is called after each invalidation is applied (tests).
	observe func(key string, flush bool)
}

// ErrNearUnsupported is [NearStats.Err] on a server that refuses
// client-side caching (HELLO 3 or CLIENT TRACKING unknown: Redis before
// 6.0, or miniredis). The near cache then changes nothing: every read
// goes to Redis, as without the option, and tracking is tried again every
// 30 seconds.
var ErrNearUnsupported = near.ErrUnsupported

// NearStats count what a family's near cache did.
type NearStats struct {
	Hits, Misses  uint64 // reads answered locally, reads that went to Redis
	Invalidations uint64 // keys Redis reported changed (a flush counts one)
	Flushes       uint64 // times every copy was dropped (tracking lost or re-armed)
	Entries       int    // keys held now
	Live          bool   // tracking is up: reads may be answered locally
	// Err is why tracking is down, while it is (nil while live or while
	// the first tracking connections are being opened):
	// [ErrNearUnsupported], or the failure of the last attempt.
	Err error
}

// NearStats returns the counters of the family's near cache; ok is false
// when the family has none (no Near option, or not on Redis, or not used
// yet).
func (f *family) NearStats() (s NearStats, ok bool) {
	n := f.nearCache.Load()
	if n == nil {
		return s, false
	}
	st := n.cache.Stats()
	return NearStats{Hits: st.Hits, Misses: st.Misses, Invalidations: st.Invalidations,
		Flushes: st.Flushes, Entries: st.Entries, Live: st.Live, Err: st.Err}, true
}

// familyNear is a family's near cache on one connection.
type familyNear struct {
	conn  *Conn
	cache *near.Cache
}

// withNear returns b, the backend of c, or the family's near cache over it.
func (f *family) withNear(c *Conn, b backend.Backend) backend.Backend {
	o := f.near
	if o == nil {
		o = c.nearAll
	}
	if o == nil || c.nears == nil {
		return b
	}
	if n := f.nearCache.Load(); n != nil && n.conn == c {
		return n.cache
	}
	n := c.nears.cache(f, o, b)
	if n == nil {
		return b
	}
	f.nearCache.Store(&familyNear{conn: c, cache: n})
	return n
}

// nearSet holds a Redis connection's near caches, one per key prefix:
// families that share a prefix share it, so that each reads the others'
// writes at once.
type nearSet struct {
	conn   *Conn // the connection it belongs to, for its name in log lines
	topo   near.Topology
	mu     sync.Mutex
	closed bool
	byPref map[string]*near.Cache
}

func (s *nearSet) cache(f *family, o *NearOptions, b backend.Backend) *near.Cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if n := s.byPref[f.prefix]; n != nil {
		return n
	}
	if s.byPref == nil {
		s.byPref = make(map[string]*near.Cache)
	}
	opts := f.nearOptions(*o)
	opts.OnTracking = s.logTracking(f.prefix)
	n := near.New(b, s.topo, opts)
	s.byPref[f.prefix] = n
	return n
}

// logTracking returns what logs the tracking changes of the near cache of
// prefix.
func (s *nearSet) logTracking(prefix string) func(live bool, err error) {
	return func(live bool, err error) {
		attrs := familyAttrs(prefix, s.conn.Name())
		if live {
			logEvent(slog.LevelInfo, "caches: near cache tracking established", attrs...)
			return
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		logEvent(slog.LevelWarn, "caches: near cache tracking lost; reads go to Redis", attrs...)
	}
}

func (s *nearSet) close() {
	s.mu.Lock()
	s.closed = true
	caches := s.byPref
	s.byPref = nil
	s.mu.Unlock()
	for _, n := range caches {
		_ = n.Close()
	}
}

// sync waits until every near cache of the set has applied the
// invalidations Redis had queued for it (see near.Cache.Sync); with keys,
// only the near caches whose prefix one of the keys starts with.
func (s *nearSet) sync(ctx context.Context, keys ...string) error {
	s.mu.Lock()
	caches := make([]*near.Cache, 0, len(s.byPref))
	for pref, n := range s.byPref {
		if len(keys) == 0 || slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, pref) }) {
			caches = append(caches, n)
		}
	}
	s.mu.Unlock()
	for _, n := range caches {
		if err := n.Sync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// snapshot returns the set's near caches by prefix.
func (s *nearSet) snapshot() map[string]*near.Cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.byPref)
}

// hits sums the local reads of the set's near caches.
func (s *nearSet) hits() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, c := range s.byPref {
		n += c.Stats().Hits
	}
	return n
}

func (f *family) nearOptions(o NearOptions) near.Options {
	if o.MaxEntries <= 0 && o.MaxBytes <= 0 {
		o.MaxEntries = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if f.ttl > 0 {
		o.TTL = min(o.TTL, f.ttl)
	}
	return near.Options{
		Prefix: f.prefix, MaxEntries: o.MaxEntries, MaxBytes: o.MaxBytes, TTL: o.TTL,
		Heartbeat: o.Heartbeat, Timeout: o.StallTimeout, OnInvalidate: o.observe,
	}
}

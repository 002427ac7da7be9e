// Package near is a near cache: a [backend.Backend] that keeps copies of
// the keys a family reads from Redis in an in-process store and answers
// later reads of them from there, until Redis itself says the key changed.
//
// Invalidation comes from Redis's client-side caching support: a tracking
// connection to every master, in RESP3, with CLIENT TRACKING ON BCAST
// PREFIX <family prefix>, receives a push naming every key of the family
// that any client modifies (tracker.go). On Linux the pushes of a plain
// socket are read by a goroutine blocked in ppoll(2) rather than in the
// runtime's network poller, which busy processors leave unpolled for up to
// 10 ms (direct_linux.go). A write made through the cache drops its own
// copy at once as well, so a process reads its own writes.
//
// A copy is kept only when it is provably fresh: a fill registers the key
// before its read from Redis, any invalidation of the key (or a flush)
// meanwhile voids the registration, and the value is kept only if the
// registration survived and the tracking epoch is unchanged. While any
// tracking connection is down, stalled or being re-established the cache
// holds nothing and every read goes to Redis.
package near

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/memstore"
	"github.com/gocaches/caches/internal/stats"
)

// Options configure a near cache.
type Options struct {
	// Prefix is the family's key prefix: every key the cache serves
	// starts with it, and the tracking connections subscribe to it.
	Prefix string
	// MaxEntries and MaxBytes bound the local copy (keys, and bytes as the
	// in-process store accounts them); the least recently used copies are
	// evicted beyond them. Zero or less: no bound of that kind.
	MaxEntries int
	MaxBytes   int64
	// TTL is how long a copy is kept at most; a copy never outlives the
	// key's expiry on Redis either. Zero or less: one minute.
	TTL time.Duration
	// Heartbeat is how often, while the cache holds copies, each tracking
	// connection is asked for its ROLE; Timeout is how long a reply may
	// take before the connection counts as stalled. Defaults: 100ms and 1s.
	Heartbeat, Timeout time.Duration
	// OnInvalidate, when set, is called after an invalidation has been
	// applied: with the key, or with flush true when the whole cache was
	// dropped. It must be quick.
	OnInvalidate func(key string, flush bool)
	// OnTracking, when set, is called when tracking changes state: live
	// true once it is up on every master, false (with the error of the
	// failed attempt, or one saying so when an established session ended) when it
	// is lost or, before it was ever up, first fails. Repeated failures
	// while down are not reported again. It is called from the tracker's
	// goroutine and must be quick.
	OnTracking func(live bool, err error)
}

// Stats are a near cache's counters.
type Stats struct {
	Hits, Misses, Invalidations, Flushes uint64
	Entries                              int
	Live                                 bool  // tracking is up: reads may be served locally
	Err                                  error // why tracking is down (ErrUnsupported: for good), nil while live
}

// Cache is the near cache over inner. It implements [backend.Backend]:
// reads it can answer from a copy it answers locally, the other calls go
// to inner, and writes drop the copies of the keys they write.
type Cache struct {
	backend.Backend // inner: every call not overridden below
	inner           backend.Backend
	local           *memstore.Store
	opts            Options

	live  atomic.Bool           // the tracking connections are up
	down  atomic.Pointer[error] // why they are not, nil while they are
	epoch atomic.Uint64         // bumped by every flush
	seed  maphash.Seed
	fills [fillShards]fillShard
	wake  chan struct{} // a copy was stored: the heartbeat may resume

	hits, misses, invalidations, flushes stats.Counter

	// The gate of the local reads (see hit): the current session's
	// sockets read directly, whether an invalidation waits unread in one,
	// and when they were last checked (since gateEpoch).
	sockets  atomic.Pointer[[]*direct]
	waiting  atomic.Bool  // the gate found unread bytes in a socket
	behind   atomic.Int32 // readers that took bytes off their socket and have not applied them
	lastPoll atomic.Int64

	trk *tracker
}

const fillShards = 64

// fillShard guards the fills and invalidations of its keys: a commit, an
// invalidation and a collection read that needs two steps hold mu.
type fillShard struct {
	mu      sync.RWMutex
	pending map[string]*pending
}

// pending is a key being filled: gen counts its invalidations, refs the
// fills under way.
type pending struct {
	gen  uint64
	refs int
}

// New returns a near cache over inner that learns of changes from the
// masters that topo lists. Close stops it; it does not close inner.
func New(inner backend.Backend, topo Topology, o Options) *Cache {
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	c := &Cache{
		Backend: inner, inner: inner, opts: o, seed: maphash.MakeSeed(),
		local: memstore.New(memstore.Options{MaxKeys: o.MaxEntries, MaxBytes: o.MaxBytes}),
		wake:  make(chan struct{}, 1),
	}
	for i := range c.fills {
		c.fills[i].pending = make(map[string]*pending)
	}
	c.trk = startTracker(c, topo)
	return c
}

// Close stops the tracking connections and drops the copies.
func (c *Cache) Close() error {
	c.trk.stop()
	c.live.Store(false)
	return c.local.Close()
}

// Sync returns once every invalidation that Redis had queued for the cache
// when Sync was called has been applied (a round trip on every tracking
// connection), or the cache was dropped: a write that completed before
// Sync is then seen by every read that starts after it.
func (c *Cache) Sync(ctx context.Context) error {
	if !c.live.Load() {
		return nil
	}
	req := make(chan struct{})
	select {
	case c.trk.syncs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.trk.done:
		return nil
	}
	select {
	case <-req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(),
		Flushes: c.flushes.Load(), Entries: c.local.DBSize(), Live: c.live.Load(), Err: c.downErr()}
}

func (c *Cache) downErr() error {
	if e := c.down.Load(); e != nil {
		return *e
	}
	return nil
}

func (c *Cache) shard(key string) *fillShard {
	return &c.fills[maphash.String(c.seed, key)%fillShards]
}

// fill is one fill under way: the key's registration and what the read
// must find unchanged to be kept.
type fill struct {
	key   string
	sh    *fillShard
	p     *pending
	gen   uint64
	epoch uint64
	start time.Time
}

// begin registers a fill of key; ok is false while the cache is down.
func (c *Cache) begin(key string) (f fill, ok bool) {
	if !c.live.Load() {
		return f, false
	}
	sh := c.shard(key)
	sh.mu.Lock()
	p := sh.pending[key]
	if p == nil {
		p = &pending{}
		sh.pending[key] = p
	}
	p.refs++
	f = fill{key: key, sh: sh, p: p, gen: p.gen, epoch: c.epoch.Load(), start: time.Now()}
	sh.mu.Unlock()
	return f, true
}

// commit ends f, running store under the shard lock if no invalidation of
// the key and no flush happened since begin; store reports whether it
// stored a copy.
func (c *Cache) commit(f fill, store func() bool) {
	sh := f.sh
	sh.mu.Lock()
	stored := f.p.gen == f.gen && c.epoch.Load() == f.epoch && c.live.Load() && store()
	if f.p.refs--; f.p.refs == 0 {
		delete(sh.pending, f.key)
	}
	sh.mu.Unlock()
	if stored {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// abandon ends f without keeping anything.
func (c *Cache) abandon(f fill) { c.commit(f, func() bool { return false }) }

// localTTL is how long a copy filled at start may be kept when the key had
// pttl left on Redis (-1: no expiry); 0 or less: not at all.
func (c *Cache) localTTL(start time.Time, pttl time.Duration) time.Duration {
	if pttl < 0 {
		return c.opts.TTL
	}
	return min(c.opts.TTL, time.Until(start.Add(pttl)))
}

// invalidate drops the copy of key and voids the fills of it under way.
func (c *Cache) invalidate(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	if p := sh.pending[key]; p != nil {
		p.gen++
	}
	_, _ = c.local.Del(context.Background(), key)
	sh.mu.Unlock()
}

// drop invalidates keys written through the cache.
func (c *Cache) drop(keys ...string) {
	for _, k := range keys {
		c.invalidate(k)
	}
}

// flush drops every copy and voids every fill under way.
func (c *Cache) flush() {
	for i := range c.fills {
		c.fills[i].mu.Lock()
	}
	c.epoch.Add(1)
	_, _ = c.local.DeleteMatching(context.Background(), "*", nil, 0)
	for i := range c.fills {
		c.fills[i].mu.Unlock()
	}
	c.flushes.Add(1)
}

// received applies an invalidation pushed by Redis: keys, or every key
// when all is set.
func (c *Cache) received(keys []string, all bool) {
	if all {
		c.flush()
		c.invalidations.Add(1)
		if c.opts.OnInvalidate != nil {
			c.opts.OnInvalidate("", true)
		}
		return
	}
	for _, k := range keys {
		c.invalidate(k)
		c.invalidations.Add(1)
		if c.opts.OnInvalidate != nil {
			c.opts.OnInvalidate(k, false)
		}
	}
}

// setLive arms the cache (tracking is up on every master: start from
// nothing) or disarms it (drop everything, read through).
func (c *Cache) setLive(up bool) {
	if !up {
		c.live.Store(false)
	}
	c.flush()
	if c.opts.OnInvalidate != nil {
		c.opts.OnInvalidate("", true)
	}
	if up {
		c.waiting.Store(false)
		c.live.Store(true)
	}
}

// armed reports whether local copies may answer reads: tracking is up,
// and no invalidation was found waiting unread in a tracking socket since
// the reader last caught up (see hit).
func (c *Cache) armed() bool {
	if !c.live.Load() || c.behind.Load() != 0 {
		return false
	}
	return !c.waiting.Load() || c.recheck()
}

// recheck is armed while the gate's finding stands: it checks the sockets
// again (at most once per pollInterval) and, when none holds unread bytes
// and no reader has bytes to apply, the finding is over (a reader read
// and applied them, or found them to be something else).
func (c *Cache) recheck() bool {
	if checked, found := c.unread(); !checked || found {
		return false
	}
	if c.behind.Load() != 0 { // read after the check: not applied yet
		return false
	}
	c.waiting.Store(false)
	return true
}

// unread checks the sockets read directly, unless another read did within
// pollInterval (checked is false then, and when there are none), and
// reports whether one holds unread bytes.
func (c *Cache) unread() (checked, found bool) {
	socks := c.sockets.Load()
	if socks == nil || !c.pollDue() {
		return false, false
	}
	for _, d := range *socks {
		if d.readable() {
			return true, true
		}
	}
	return true, false
}

// pollDue reports whether the sockets are to be checked now: at most once
// per pollInterval, by the first read to ask.
func (c *Cache) pollDue() bool {
	now, last := int64(time.Since(gateEpoch)), c.lastPoll.Load()
	return now-last >= int64(pollInterval) && c.lastPoll.CompareAndSwap(last, now)
}

// hit counts a read answered by a local copy, and checks the gate: false
// (the count taken back) means the copy must not answer, as an
// invalidation waits unread in a tracking socket. The reader applies an
// invalidation as soon as its thread is woken, but a machine whose cores
// are busy may wake it late (milliseconds in a virtual machine whose other
// core is idle): so on about one hit in pollEvery on each processor, at
// most once per pollInterval, the sockets are checked without waiting, and
// a push that arrived makes the reads go to Redis until the reader has
// applied it. While copies are read often, a write by any client is thus
// seen within about pollInterval of its invalidation's arrival, however
// late the reader runs. Sockets read through the network poller (TLS) are
// not checked.
func (c *Cache) hit() bool {
	if c.hits.Every(pollEvery) && c.pushWaiting() {
		c.hits.Add(^uint64(0)) // minus one
		return false
	}
	return true
}

// pollEvery and pollInterval set how often the gate checks: a check every
// 32 hits and 50 us cost a near hit about 10 % on two cores (a clock read
// and a ppoll), these about nothing measurable, and a write is still seen
// within about 0.2 ms.
const (
	pollEvery    = 128
	pollInterval = 200 * time.Microsecond
)

// gateEpoch is the origin of lastPoll: a monotonic clock reading.
var gateEpoch = time.Now()

// pushWaiting reports whether a check of the sockets (see unread) found
// unread bytes, and makes the local reads go to Redis until a reader has
// caught up (waiting).
func (c *Cache) pushWaiting() bool {
	if _, found := c.unread(); found {
		c.waiting.Store(true)
		return true
	}
	return false
}

// reading is called by the reader of l when it took bytes off its socket:
// until it has applied them, the local reads go to Redis.
func (c *Cache) reading(l *link) {
	if !l.behind {
		l.behind = true
		c.behind.Add(1)
	}
}

// caughtUp is called by the reader of l when it has applied everything it
// read: unless another reader has not, the local reads may use the copies
// again. What the gate found unread was read by some reader since.
func (c *Cache) caughtUp(l *link) {
	if l.behind {
		l.behind = false
		c.behind.Add(-1)
	}
	c.waiting.Store(false)
}

// Strings. A copy of a string is its Redis deadline (unix ms, -1 for
// none), 8 bytes, followed by the value.

const hdr = 8

func encodeString(deadline int64, v string) string {
	var b [hdr]byte
	binary.LittleEndian.PutUint64(b[:], uint64(deadline))
	return string(b[:]) + v
}

func decodeDeadline(s string) int64 {
	var u uint64
	for i := hdr - 1; i >= 0; i-- {
		u = u<<8 | uint64(s[i])
	}
	return int64(u)
}

// localString returns the copy of the string at key.
func (c *Cache) localString(ctx context.Context, key string) (copy string, ok bool) {
	if !c.armed() {
		return "", false
	}
	s, ok, err := c.local.Get(ctx, key)
	if err != nil || !ok || len(s) < hdr {
		return "", false
	}
	return s, true
}

func (c *Cache) Get(ctx context.Context, key string) (string, bool, error) {
	if s, ok := c.localString(ctx, key); ok && c.hit() {
		return s[hdr:], true, nil
	}
	return c.fillString(ctx, key, 0)
}

// GetLocal returns the copy of the string at key and what is attached to
// it; ok is false when there is no copy (or the cache is down). See
// [backend.Attacher].
func (c *Cache) GetLocal(ctx context.Context, key string) (value string, attached any, ok bool) {
	if !c.armed() {
		return "", nil, false
	}
	s, att, ok, err := c.local.GetAttached(ctx, key)
	if err != nil || !ok || len(s) < hdr || !c.hit() {
		return "", nil, false
	}
	return s[hdr:], att, true
}

// Attach attaches v to the copy of the string at key if the copy holds
// value; an invalidation, a flush, an eviction or the copy's expiry drops
// v with the copy.
func (c *Cache) Attach(ctx context.Context, key, value string, v any) {
	if s, ok, err := c.local.Get(ctx, key); err == nil && ok && len(s) >= hdr && s[hdr:] == value {
		c.local.Attach(ctx, key, s, v)
	}
}

// GetWithin is Get whose read from Redis, on a miss, is bounded by budget
// (see [backend.BudgetGetter]).
func (c *Cache) GetWithin(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	if s, ok := c.localString(ctx, key); ok && c.hit() {
		return s[hdr:], true, nil
	}
	return c.fillString(ctx, key, budget)
}

// fillString reads key from Redis, within budget when it is positive, and
// keeps a copy when it may.
func (c *Cache) fillString(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	c.misses.Add(1)
	f, ok := c.begin(key)
	if !ok {
		return c.read(ctx, key, budget)
	}
	if budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	v, pttl, ok, err := c.readWithTTL(ctx, key)
	if err != nil || !ok {
		c.abandon(f)
		return v, ok, err
	}
	c.commit(f, func() bool {
		ttl := c.localTTL(f.start, pttl)
		if ttl <= 0 {
			return false
		}
		deadline := int64(-1)
		if pttl >= 0 {
			deadline = f.start.Add(pttl).UnixMilli()
		}
		return c.local.Set(ctx, key, encodeString(deadline, v), ttl) == nil
	})
	return v, true, nil
}

// read reads key from Redis without keeping a copy.
func (c *Cache) read(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	if bg, ok := c.inner.(backend.BudgetGetter); ok && budget > 0 {
		return bg.GetWithin(ctx, key, budget)
	}
	return c.inner.Get(ctx, key)
}

// readWithTTL reads key's value and remaining time to live from Redis, in
// one round trip where the backend can (backend.TTLGetter): a fill costs
// one round trip, and a write by another client is seen one round trip
// after its invalidation arrives. A value whose TTL cannot be read comes
// back with pttl 0, and no copy is kept of it.
func (c *Cache) readWithTTL(ctx context.Context, key string) (v string, pttl time.Duration, ok bool, err error) {
	if tg, ok := c.inner.(backend.TTLGetter); ok {
		return tg.GetPTTL(ctx, key)
	}
	v, ok, err = c.inner.Get(ctx, key)
	if err != nil || !ok {
		return v, 0, ok, err
	}
	pttl, exists, err := c.inner.PTTL(ctx, key)
	if err != nil || !exists {
		return v, 0, true, nil
	}
	return v, pttl, true, nil
}

func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	if c.armed() {
		if ok, err := c.local.Exists(ctx, key); err == nil && ok && c.hit() {
			return true, nil
		}
	}
	return c.inner.Exists(ctx, key)
}

func (c *Cache) PTTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if s, ok := c.localString(ctx, key); ok {
		deadline := decodeDeadline(s)
		if deadline < 0 && c.hit() {
			return -1, true, nil
		}
		if left := time.Until(time.UnixMilli(deadline)); deadline >= 0 && left > 0 && c.hit() {
			return left.Truncate(time.Millisecond), true, nil
		}
	}
	return c.inner.PTTL(ctx, key)
}

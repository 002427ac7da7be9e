package memstore

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// The bytes accounted for a key (its footprint) approximate the memory it
// holds: the lengths of its strings plus fixed overheads standing for the
// Go structures around them. They are estimates, not measurements, chosen
// so that a bound in bytes tracks memory roughly and consistently.
const (
	// entryOverhead is accounted once per key: its entry, its slot in the
	// shard's map and, when it has an expiry, its slot in the heap.
	entryOverhead = 128
	// elementOverhead is accounted per hash field, set member and sorted
	// set member: its dict slot and index entry, or its skiplist node and
	// score map entry.
	elementOverhead = 64
	// scoreSize is accounted for each sorted set member's score.
	scoreSize = 8

	defaultEvictionSamples = 5
)

// footprint returns the bytes accounted for e: entryOverhead and the key's
// length, plus the value's length for a string, the fields' and values'
// lengths and elementOverhead per field for a hash, the members' lengths and
// elementOverhead per member for a set, and the members' lengths and
// elementOverhead+scoreSize per member for a sorted set. It takes O(1).
func (e *entry) footprint() int64 {
	n := entryOverhead + len(e.key)
	switch e.kind {
	case kindString:
		n += len(e.str)
	case kindHash:
		n += e.hash.bytes + e.hash.len()*elementOverhead
	case kindSet:
		n += e.set.bytes + e.set.len()*elementOverhead
	case kindZSet:
		n += e.zset.bytes + e.zset.len()*(elementOverhead+scoreSize)
	}
	return int64(n)
}

// account brings the shard's bytes, and a bounded store's totals, up to
// date with e: keys is 1 for an entry just added, 0 for one rewritten in
// place (its new footprint replaces the one accounted before), and -1 for
// one just dropped (whatever was accounted for it is taken back). The
// caller holds mu for writing.
func (sh *shard) account(e *entry, keys int) {
	d := -e.size
	if keys >= 0 {
		d += e.footprint()
	}
	e.size += d
	sh.bytes += d
	sh.bound.add(keys, d)
}

// UsedBytes returns the bytes accounted for the keys held in memory, expired
// ones not yet reclaimed included: the sum of their footprints (see
// footprint for what is counted).
func (s *Store) UsedBytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		n += sh.bytes
		sh.mu.RUnlock(rs)
	}
	return n
}

// bound is the state of a store bounded by Options.MaxKeys or MaxBytes.
// An unbounded store has none, and every method of a nil *bound does
// nothing, so that an unbounded store pays for no bookkeeping it does not
// use.
//
// Eviction approximates LRU as Redis does: each entry keeps the coarse time
// of its last access, and each eviction compares a few keys picked at random
// (from the shards' pools, see randomEntry) and evicts the one accessed
// least recently. The coarse clock moves with
// the store's clock whenever the store reads it — on every write, every
// reaper tick, FastForward and SetTime — so that a read costs an atomic
// load, and a store only when the clock has moved since the key's last
// access.
type bound struct {
	maxKeys  int64 // 0: no bound on keys
	maxBytes int64 // 0: no bound on bytes
	samples  int

	keys      atomic.Int64 // keys held in memory, expired or not
	bytes     atomic.Int64 // the sum of their footprints
	clock     atomic.Int64 // the coarse access clock, in unix milliseconds
	evictions atomic.Uint64
	// mu serialises evictions, so that writers going over the bound
	// together do not all evict for the same excess.
	mu sync.Mutex
}

// newBound returns the bound opts set, nil when they set none.
func newBound(opts Options) *bound {
	if opts.MaxKeys <= 0 && opts.MaxBytes <= 0 {
		return nil
	}
	b := &bound{
		maxKeys:  int64(max(opts.MaxKeys, 0)),
		maxBytes: max(opts.MaxBytes, 0),
		samples:  opts.EvictionSamples,
	}
	if b.samples <= 0 {
		b.samples = defaultEvictionSamples
	}
	return b
}

// add adds keys and bytes to the store's totals.
func (b *bound) add(keys int, bytes int64) {
	if b == nil {
		return
	}
	b.keys.Add(int64(keys))
	b.bytes.Add(bytes)
}

// over reports whether the store holds more keys or bytes than allowed.
func (b *bound) over() bool {
	return b != nil && (b.maxKeys > 0 && b.keys.Load() > b.maxKeys ||
		b.maxBytes > 0 && b.bytes.Load() > b.maxBytes)
}

// tick moves the access clock to now (unix ms), writing it only when it
// changes so that concurrent callers rarely contend.
func (b *bound) tick(now int64) {
	if b != nil && b.clock.Load() != now {
		b.clock.Store(now)
	}
}

// touch records a read of e at the access clock, writing e only when the
// clock has moved since its last access. A read lock suffices.
func (b *bound) touch(e *entry) {
	if b == nil {
		return
	}
	if c := b.clock.Load(); e.access.Load() != c {
		e.access.Store(c)
	}
}

// stamp records a write of e at now (unix ms).
func (b *bound) stamp(e *entry, now int64) {
	if b != nil {
		e.access.Store(now)
	}
}

// Evictions returns how many keys the store has evicted to stay within
// MaxKeys and MaxBytes, as Redis's evicted_keys; expired keys that eviction
// reclaims are not counted. It is 0 for an unbounded store.
func (s *Store) Evictions() uint64 {
	if s.bound == nil {
		return 0
	}
	return s.bound.evictions.Load()
}

// evict evicts keys while the store exceeds its bound, least recently used
// first by sampling, sparing the keys in spare — those a command has just
// written — unless nothing else is left. Redis evicts before it runs a
// command, so the key written is never a candidate either. evict locks
// shards itself, one at a time, so a command must have released its own
// locks: the commands that can grow the store defer evict before they lock,
// so that it runs after they unlock.
func (s *Store) evict(spare ...string) {
	b := s.bound
	if !b.over() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.over() {
		ok, evicted := s.evictOne(spare)
		if !ok {
			return
		}
		if evicted != "" && s.onEvict != nil {
			s.onEvict(evicted)
		}
	}
}

// evictOne evicts the least recently accessed of a few keys picked at
// random, as Redis's approximated LRU does, or reclaims it if it has
// expired, and reports whether the store had a key to pick and which key it
// evicted, if any. It picks a key in spare only when the store holds no
// other.
func (s *Store) evictOne(spare []string) (ok bool, evicted string) {
	var victim, spared *entry
	var vsh, ssh *shard
	for range s.bound.samples {
		sh, e := s.randomEntry()
		switch {
		case e == nil:
			return false, ""
		case slices.Contains(spare, e.key):
			spared, ssh = e, sh
		case victim == nil || e.access.Load() < victim.access.Load():
			victim, vsh = e, sh
		}
	}
	if victim == nil {
		if s.bound.keys.Load() > int64(len(spare)) {
			return true, "" // only spared keys came up: pick again
		}
		victim, vsh = spared, ssh
	}
	vsh.mu.Lock()
	defer vsh.mu.Unlock()
	if vsh.items[victim.key] != victim {
		return true, "" // deleted or replaced since it was picked: pick again
	}
	if !victim.expired(s.nowMs()) {
		s.bound.evictions.Add(1)
		evicted = victim.key
	}
	vsh.remove(victim)
	return true, evicted
}

// randomEntry returns a key picked at random, expired or not, and its shard,
// or nil when the store is empty: a uniformly random key of a random shard,
// or of the next shard that has keys. (Go's map iteration, though it starts
// at a random place, would favour some keys several times over.)
func (s *Store) randomEntry() (*shard, *entry) {
	start := rand.IntN(len(s.shards))
	for i := range s.shards {
		sh := &s.shards[(start+i)&int(s.mask)]
		var e *entry
		rs := sh.mu.RLock()
		if n := len(sh.pool); n > 0 {
			e = sh.pool[rand.IntN(n)]
		}
		sh.mu.RUnlock(rs)
		if e != nil {
			return sh, e
		}
	}
	return nil, nil
}

// enlist adds e, just added to the shard, to the pool that eviction picks
// keys from. The caller holds mu for writing.
func (sh *shard) enlist(e *entry) {
	if sh.bound == nil {
		return
	}
	e.poolIndex = len(sh.pool)
	sh.pool = append(sh.pool, e)
}

// delist removes e, just dropped from the shard, from the pool, moving the
// last entry into its place; the pool's array is reallocated once it is
// mostly unused. The caller holds mu for writing.
func (sh *shard) delist(e *entry) {
	if sh.bound == nil {
		return
	}
	last := len(sh.pool) - 1
	sh.pool[e.poolIndex] = sh.pool[last]
	sh.pool[e.poolIndex].poolIndex = e.poolIndex
	sh.pool[last] = nil
	sh.pool = sh.pool[:last]
	if cap(sh.pool) >= shrinkMin && len(sh.pool) <= cap(sh.pool)/4 {
		sh.pool = slices.Clone(sh.pool)
	}
}

// Package memstore is an in-process key-value store with the semantics of
// the Redis 7.0 commands the caches use. It is the caches' default backend.
//
// Keys are spread over shards, each guarded by its own reader/writer lock
// with a reader slot per processor (shardlock.go): reads take a read lock
// only and treat expired keys as absent without deleting them;
// writes delete an expired key they meet. A background reaper reclaims
// expired keys through a per-shard min-heap of deadlines, so memory is
// returned without scanning the store.
//
// A store may be bounded in keys or bytes, evicting keys by approximate LRU
// as Redis's allkeys-lru policy does (bound.go), and may be persisted to a
// file, saved at Redis-style save points and on Close (persist.go).
//
// Every method that writes data takes a ttl and applies it to the key it
// wrote, atomically with the write, whenever the key exists once the command
// has succeeded — as if the command were followed by PEXPIRE (ttl > 0) or
// PERSIST (ttl == 0) in one MULTI. A negative ttl deletes the key after the
// write, as PEXPIRE with a time that is not positive does. SetNX is a single
// SET … NX: when the key already exists it is left untouched. A command that
// fails changes nothing.
package memstore

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/coarsetime"
)

const (
	defaultShards         = 64
	maxShards             = 1 << 16
	defaultExpiryInterval = 100 * time.Millisecond
	// reapBudget is how many expired keys the background reaper deletes
	// from one shard per tick, bounding how long it holds a shard's lock.
	reapBudget = 512
)

// Options configures a Store. The zero value selects every default.
type Options struct {
	// Now is the wall clock the store reads; nil means time.Now. The
	// store's time is Now() plus the offset moved by FastForward and
	// SetTime.
	Now func() time.Time
	// Shards is how many independently locked shards hold the keys,
	// rounded up to a power of two (at most 65536); 0 or less means 64.
	Shards int
	// ExpiryInterval is the least time between two passes of the
	// background reaper, which deletes expired keys: it sleeps until the
	// earliest deadline, and not at all while no key has an expiry (on a
	// clock set by Now, which may jump, it passes every ExpiryInterval
	// while any key has one). 0 means 100ms and a negative value starts no
	// reaper (expired keys are then reclaimed by writes, FastForward and
	// SetTime only).
	ExpiryInterval time.Duration

	// MaxKeys bounds the number of keys held in memory, expired keys not
	// yet reclaimed included: a write that takes the store over it evicts
	// keys, least recently used first, until it is back within (see
	// bound.go). 0 or less means no bound.
	MaxKeys int
	// MaxBytes bounds the bytes accounted for the keys, as UsedBytes
	// reports them, the same way. 0 or less means no bound.
	MaxBytes int64
	// EvictionSamples is how many random keys each eviction compares to
	// pick the least recently used, as Redis's maxmemory-samples; 0 or
	// less means 5. It matters only in a bounded store.
	EvictionSamples int

	// OnEvict, if set, is called with each key a bound evicts (not with
	// expired keys), after the key is gone and with no shard locked; evictions
	// are serialised, so it must be quick and must not call the store.
	OnEvict func(key string)

	// Path is the file the store is loaded from by Open and saved to (see
	// persist.go); empty means no persistence. A store with a Path must be
	// created with Open: New panics. The store holds Path, through a lock on
	// Path+".lock", until Close: a second store on it is refused.
	Path string
	// SavePoints are the conditions under which the store saves itself to
	// Path, as Redis's save directive: it saves once any of them is met.
	// nil means the classic defaults — 1 change in 900s, 10 in 300s, 10000
	// in 60s — and an empty non-nil slice means no automatic saves (Save
	// and Close still save). Ignored without a Path.
	SavePoints []SavePoint
	// OnAutoSaveError, if set, is called with the error of each automatic
	// save that fails, from the saver goroutine with no lock held.
	OnAutoSaveError func(err error)
}

// kind is the Redis data type held by a key.
type kind uint8

const (
	kindString kind = iota
	kindHash
	kindSet
	kindZSet
)

// entry is one key: its value and its expiry. Exactly one of str, hash, set
// and zset holds the value, as kind tells.
type entry struct {
	key  string
	str  string
	hash *dict[string]
	set  *dict[struct{}]
	zset *zset
	// deadline is the unix time in milliseconds after which the key is
	// expired; it is meaningful only while heapIndex >= 0.
	deadline int64
	// heapIndex is the entry's position in its shard's expiry heap, or -1
	// when the key has no expiry.
	heapIndex int
	// size is the bytes accounted for the entry (see footprint) the last
	// time its shard accounted it.
	size int64
	// access is the coarse store time, in unix milliseconds, of the key's
	// last read or write, kept only in a bounded store for LRU eviction.
	// It is atomic because reads, which hold mu for reading only, set it.
	access atomic.Int64
	// poolIndex is the entry's position in its shard's pool, in a bounded
	// store.
	poolIndex int
	kind      kind
	// attached is what Attach attached to the string value (attach.go).
	attached atomic.Pointer[attachment]
}

// newEntry returns an empty entry of kind k for key, without expiry.
func newEntry(key string, k kind) *entry {
	e := &entry{key: key, kind: k, heapIndex: -1}
	switch k {
	case kindHash:
		e.hash = newDict[string]()
	case kindSet:
		e.set = newDict[struct{}]()
	case kindZSet:
		e.zset = newZSet()
	}
	return e
}

// expired reports whether the entry's deadline has passed at now (unix ms).
func (e *entry) expired(now int64) bool {
	return e.heapIndex >= 0 && now > e.deadline
}

// setString makes e a string holding v, dropping any other value.
func (e *entry) setString(v string) {
	e.kind, e.str, e.hash, e.set, e.zset = kindString, v, nil, nil, nil
}

// shard is one independently locked part of the keyspace.
type shard struct {
	// mu guards items, expiry, bytes, pool and everything reachable from
	// them: the entries, their values, deadlines, heap and pool positions
	// and sizes (but not their access times, which are atomic).
	mu     shardLock
	items  map[string]*entry
	expiry expiryHeap
	// peak is the most keys items has held since it was last rebuilt: Go
	// maps never return their memory, so items is rebuilt when it shrinks
	// well below its peak.
	peak int
	// bytes is the sum of the entries' sizes.
	bytes int64
	// changes counts the writes to the shard, for the save points; it only
	// grows. It is written under mu and read without it.
	changes atomic.Uint64
	// saveAt is the change count at which a write wakes the saver (see
	// watchChanges); math.MaxUint64 without a saver.
	saveAt atomic.Uint64
	// bound is the store's bound, shared by all its shards, or nil when the
	// store is unbounded.
	bound *bound
	// reaper wakes the store's reaper, nil without one. saver is the
	// store's persistence, nil without a Path: changed wakes its saver.
	reaper *reaperWake
	saver  *persistence
	// pool holds the entries of items in no particular order, in a bounded
	// store, for eviction to pick keys at random from (see enlist).
	pool []*entry
	// The padding keeps neighbouring shards' locks off one cache line.
	_ [64]byte
}

// add stores the new entry e and accounts for it.
func (sh *shard) add(e *entry) {
	sh.items[e.key] = e
	sh.peak = max(sh.peak, len(sh.items))
	sh.account(e, 1)
	sh.enlist(e)
}

// shrinkMin is the smallest peak at which a shard or dict gives memory back.
const shrinkMin = 1024

// shrink rebuilds items once it holds a quarter of its peak or less, so
// that the memory of reclaimed keys is returned; the cost is amortised over
// the deletions since the peak.
func (sh *shard) shrink() {
	if sh.peak < shrinkMin || len(sh.items) > sh.peak/4 {
		return
	}
	items := make(map[string]*entry, len(sh.items))
	for k, e := range sh.items {
		items[k] = e
	}
	sh.items, sh.peak = items, len(items)
}

// lookupWrite returns key's entry, deleting it first if it has expired,
// and records the access. The caller holds mu for writing.
func (sh *shard) lookupWrite(key string, now int64) *entry {
	e := sh.items[key]
	switch {
	case e == nil:
	case e.expired(now):
		sh.remove(e)
		return nil
	default:
		sh.bound.stamp(e, now)
	}
	return e
}

// lookupAt returns key's entry unless it is missing or expired at now. It
// changes nothing, so a read lock suffices.
func (sh *shard) lookupAt(key string, now int64) *entry {
	e := sh.items[key]
	if e == nil || e.expired(now) {
		return nil
	}
	return e
}

// writeEntry returns key's live entry of kind k for a command that writes
// it; when the key is missing it creates an empty one if create is set, and
// returns nil otherwise. A key of another kind yields ErrWrongType. The
// caller holds mu for writing.
func (sh *shard) writeEntry(key string, now int64, k kind, create bool) (*entry, error) {
	e := sh.lookupWrite(key, now)
	switch {
	case e == nil && create:
		e = newEntry(key, k)
		sh.add(e)
	case e != nil && e.kind != k:
		return nil, ErrWrongType
	}
	return e, nil
}

// removedFrom ends a command that removed elements from e's collection:
// it deletes the key when the collection has become empty, as Redis deletes
// a hash, set or sorted set that loses its last element, and otherwise
// accounts for e's new size.
func (sh *shard) removedFrom(e *entry) {
	var empty bool
	switch e.kind {
	case kindHash:
		empty = e.hash.len() == 0
	case kindSet:
		empty = e.set.len() == 0
	case kindZSet:
		empty = e.zset.len() == 0
	}
	if empty {
		sh.remove(e)
		return
	}
	sh.changed()
	sh.account(e, 0)
}

// Store is an in-process store with Redis 7.0 semantics. It is safe for
// concurrent use; create it with New or Open and release it with Close.
type Store struct {
	now     func() time.Time
	offset  atomic.Int64 // nanoseconds added to now, moved by FastForward and SetTime
	seed    maphash.Seed
	shards  []shard
	mask    uint64
	closed  atomic.Bool
	coarse  bool   // the clock is time.Now, read through the coarse clock; the goroutines can sleep toward a deadline
	bound   *bound // nil when the store is unbounded
	onEvict func(key string)
	persist *persistence // nil without a Path

	closeOnce sync.Once
	closeErr  error         // the error of the save made by Close
	stop      chan struct{} // closed by Close to stop the goroutines; nil without any
	done      chan struct{} // closed by the reaper when it exits; nil without one
	reapWake  *reaperWake   // nil without a reaper
}

// New returns an empty Store configured by opts. A zero field takes its
// default: Now nil reads time.Now, Shards 0 or less makes 64 shards (other
// counts are rounded up to a power of two, at most 65536), and
// ExpiryInterval 0 runs the background reaper at most every 100ms. A negative
// ExpiryInterval starts no reaper goroutine; Close must be called to stop
// one that was started.
//
// New panics if opts.Path is set: loading a file can fail, so a persistent
// store is created with Open, which returns the error instead.
func New(opts Options) *Store {
	if opts.Path != "" {
		panic("memstore: New with a Path; use Open, which reports load errors")
	}
	s := newStore(opts)
	s.start(opts)
	return s
}

// newStore returns an empty store configured by opts, without its
// goroutines.
func newStore(opts Options) *Store {
	n := opts.Shards
	if n <= 0 {
		n = defaultShards
	}
	n = 1 << bits.Len(uint(min(n, maxShards)-1))
	s := &Store{
		now:     opts.Now,
		seed:    maphash.MakeSeed(),
		shards:  make([]shard, n),
		mask:    uint64(n - 1),
		bound:   newBound(opts),
		onEvict: opts.OnEvict,
		persist: newPersistence(opts),
	}
	if s.now == nil {
		s.now, s.coarse = time.Now, true
	}
	for i := range s.shards {
		s.shards[i].mu = newShardLock()
		s.shards[i].items = make(map[string]*entry)
		s.shards[i].bound = s.bound
		s.shards[i].saver = s.persist
		s.shards[i].saveAt.Store(math.MaxUint64)
	}
	return s
}

// start starts the background reaper unless opts.ExpiryInterval is
// negative, and the saver when the store has save points.
func (s *Store) start(opts Options) {
	interval := opts.ExpiryInterval
	if interval == 0 {
		interval = defaultExpiryInterval
	}
	saver := s.persist != nil && len(s.persist.points) > 0
	if interval > 0 || saver {
		s.stop = make(chan struct{})
	}
	if interval > 0 {
		s.done = make(chan struct{})
		s.reapWake = &reaperWake{ch: make(chan struct{}, 1)}
		for i := range s.shards {
			s.shards[i].reaper = s.reapWake
		}
		go s.reaper(interval)
	}
	if saver {
		s.persist.done = make(chan struct{})
		go s.saver()
	}
}

// Close stops the background goroutines and waits for them to exit, saves
// the store when it has a Path, and drops every key. Later calls of any
// method return ErrClosed. Close returns the save's error, nil without a
// Path, and is idempotent: later calls return the same.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.stop != nil {
			close(s.stop)
		}
		if s.done != nil {
			<-s.done
		}
		if s.persist != nil {
			if s.persist.done != nil {
				<-s.persist.done
			}
			s.closeErr = s.save(true)
			s.persist.unlock()
		}
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			sh.clear()
			sh.mu.Unlock()
		}
	})
	return s.closeErr
}

// enter is the prologue of every command: it fails with the context's error
// when ctx is done and with ErrClosed after Close.
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Now returns the store's current time: the configured clock plus the
// offset set by FastForward and SetTime.
func (s *Store) Now() time.Time {
	return s.now().Add(time.Duration(s.offset.Load()))
}

// nowMs returns the store's current time in unix milliseconds, the unit of
// Redis expiries, and moves a bounded store's access clock to it.
func (s *Store) nowMs() int64 {
	var now int64
	if s.coarse {
		now = coarsetime.Millis() + s.offset.Load()/int64(time.Millisecond)
	} else {
		now = s.Now().UnixMilli()
	}
	s.bound.tick(now)
	return now
}

// CoarseMillis returns the real time in unix milliseconds, up to about a
// millisecond late, and true when the store's clock is the real one
// (Options.Now nil), so that callers can read the time for each command
// more cheaply than with time.Now; otherwise it returns 0 and false. It
// ignores the offset moved by FastForward and SetTime.
func (s *Store) CoarseMillis() (int64, bool) {
	if !s.coarse {
		return 0, false
	}
	return coarsetime.Millis(), true
}

// FastForward moves the store's clock d ahead, then reclaims every key that
// has expired, like miniredis's FastForward, has the reaper plan again and
// has the saver check the save points.
func (s *Store) FastForward(d time.Duration) {
	s.offset.Add(int64(d))
	s.reap(s.nowMs(), -1)
	s.reapWake.poke()
	s.persist.wake()
}

// SetTime moves the store's clock so that Now returns t (advancing with the
// configured clock from there), then reclaims every key that has expired,
// has the reaper plan again and has the saver check the save points.
func (s *Store) SetTime(t time.Time) {
	s.offset.Store(int64(t.Sub(s.now())))
	s.reap(s.nowMs(), -1)
	s.reapWake.poke()
	s.persist.wake()
}

// shardIndex returns the index of the shard that holds key.
func (s *Store) shardIndex(key string) int {
	return int(maphash.String(s.seed, key) & s.mask)
}

// shard returns the shard that holds key.
func (s *Store) shard(key string) *shard {
	return &s.shards[s.shardIndex(key)]
}

// get returns key's entry in sh if it exists and has not expired, without
// changing anything, so a read lock suffices. It reads the clock only for a
// key with an expiry.
func (s *Store) get(sh *shard, key string) *entry {
	e := sh.items[key]
	if e == nil || (e.heapIndex >= 0 && s.nowMs() > e.deadline) {
		return nil
	}
	return e
}

// readEntry returns key's live entry in sh, nil when it is missing, and
// ErrWrongType when it holds another kind than k; it records the access.
func (s *Store) readEntry(sh *shard, key string, k kind) (*entry, error) {
	e := s.get(sh, key)
	switch {
	case e == nil:
		return nil, nil
	case e.kind != k:
		return nil, ErrWrongType
	}
	s.bound.touch(e)
	return e, nil
}

// shardIndexes returns the indexes of the shards holding keys, ascending and
// without repeats: the order in which multi-key commands lock them, so that
// they are atomic and cannot deadlock.
func (s *Store) shardIndexes(keys []string) []int {
	idx := make([]int, len(keys))
	for i, k := range keys {
		idx[i] = s.shardIndex(k)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

// lock write-locks the shards idx in order.
func (s *Store) lock(idx []int) {
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
}

// unlock releases the write locks taken by lock.
func (s *Store) unlock(idx []int) {
	for _, i := range idx {
		s.shards[i].mu.Unlock()
	}
}

// rlock read-locks the shards idx in order, and returns the reader slots
// that runlock must be given.
func (s *Store) rlock(idx []int) []int {
	slots := make([]int, len(idx))
	for n, i := range idx {
		slots[n] = s.shards[i].mu.RLock()
	}
	return slots
}

// runlock releases the read locks taken by rlock.
func (s *Store) runlock(idx, slots []int) {
	for n, i := range idx {
		s.shards[i].mu.RUnlock(slots[n])
	}
}

// DBSize returns the number of keys that exist and have not expired, as
// the DBSIZE command would once expired keys are reclaimed.
func (s *Store) DBSize() int {
	now := s.nowMs()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		for _, e := range sh.items {
			if !e.expired(now) {
				n++
			}
		}
		sh.mu.RUnlock(rs)
	}
	return n
}

// Keys returns the keys that exist and have not expired, sorted, like
// KEYS * followed by a sort; it is meant for tests and debugging.
func (s *Store) Keys() []string {
	now := s.nowMs()
	keys := []string{}
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		for k, e := range sh.items {
			if !e.expired(now) {
				keys = append(keys, k)
			}
		}
		sh.mu.RUnlock(rs)
	}
	slices.Sort(keys)
	return keys
}

// memStats returns how many keys the shards hold in memory, expired or not,
// and how many deadlines their expiry heaps hold.
func (s *Store) memStats() (keys, deadlines int) {
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		keys += len(sh.items)
		deadlines += len(sh.expiry)
		sh.mu.RUnlock(rs)
	}
	return keys, deadlines
}

// InProcess reports true: the store lives in the caller's process, so its
// commands never wait on a network or another process.
func (s *Store) InProcess() bool { return true }

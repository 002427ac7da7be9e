package memstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/fsutil"
)

// A snapshot file holds, in order:
//
//	header   the magic "MEMSTORE", then the format version, a 4-byte
//	         little-endian uint32 (1)
//	entries  one per live key, in no particular order, each:
//	           type   a byte: 0 string, 1 hash, 2 set, 3 sorted set, plus
//	                  0x80 when the key has an expiry
//	           expiry with 0x80 only: the deadline in unix milliseconds, an
//	                  8-byte little-endian int64
//	           key    a string: its length as a uvarint, then its bytes
//	           value  a string: one string
//	                  a hash: the field count as a uvarint, then each field
//	                  and its value as strings
//	                  a set: the member count as a uvarint, then the members
//	                  a sorted set: the member count as a uvarint, then each
//	                  member as a string and its score's IEEE 754 bits as an
//	                  8-byte little-endian uint64, by ascending score
//	end      the byte 0xFF, then the number of entries as a uvarint
//	trailer  the CRC-32C (Castagnoli) of everything before it, 4 bytes
//	         little-endian
const (
	snapshotMagic   = "MEMSTORE"
	snapshotVersion = 1
	opExpiry        = 0x80 // flag on the type byte of a key with an expiry
	opEnd           = 0xFF
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	// saveCheckInterval is how often the saver checks the save points on a
	// clock set by Options.Now while the changes meet one, as Redis's
	// serverCron does at its default hz of 10.
	saveCheckInterval = 100 * time.Millisecond
	// saveRetryDelay is how long the saver waits after a failed save
	// before it tries again, as Redis's CONFIG_BGSAVE_RETRY_DELAY.
	saveRetryDelay = 5 * time.Second
)

// SavePoint is a condition for saving automatically, as one "save <seconds>
// <changes>" line of redis.conf: the store saves once at least Changes
// changes have been made since the last save and at least Within has passed
// since it, by the store's clock, where the last save is the start of the
// last successful one or, before any, Open (see LastSave). A Changes below
// 1 counts as 1, and a Within of 0 or less does not wait.
type SavePoint struct {
	Changes int
	Within  time.Duration
}

// defaultSavePoints are the save points of a store whose
// Options.SavePoints is nil: those of Redis up to 6.2 and of CacheMan.
var defaultSavePoints = []SavePoint{
	{Changes: 1, Within: 900 * time.Second},
	{Changes: 10, Within: 300 * time.Second},
	{Changes: 10000, Within: 60 * time.Second},
}

// persistence is the state of a store that has a Path.
type persistence struct {
	path    string
	points  []SavePoint
	onError func(error)   // Options.OnAutoSaveError
	lock    *os.File      // path+".lock", flocked from Open to Close
	wakeup  chan struct{} // a buffered poke for the saver to check the save points now
	done    chan struct{} // closed by the saver when it exits; nil without one

	// saving serialises saves and guards final.
	saving sync.Mutex
	final  bool // set by Close's save, after which no save may run
	// mu guards the fields below.
	mu       sync.Mutex
	saved    uint64    // the shards' change count that the last successful save included
	lastSave time.Time // store time at which the last successful save started, or of Open
	lastTry  time.Time // store time at which the last save started
	lastErr  error     // the last save's error, nil after a success
}

// newPersistence returns the persistence opts set, nil without a Path.
func newPersistence(opts Options) *persistence {
	if opts.Path == "" {
		return nil
	}
	points := opts.SavePoints
	if points == nil {
		points = defaultSavePoints
	}
	return &persistence{
		path:    opts.Path,
		points:  append([]SavePoint(nil), points...),
		onError: opts.OnAutoSaveError,
		wakeup:  make(chan struct{}, 1),
	}
}

// wake has the saver check the save points now rather than when it
// planned to.
func (p *persistence) wake() {
	if p == nil {
		return
	}
	select {
	case p.wakeup <- struct{}{}:
	default:
	}
}

// Open returns a Store configured by opts, as New does, after loading it
// from opts.Path when that is set. A missing file yields an empty store
// (created on the first save). A file that cannot be read, or that is not
// a valid snapshot (corrupt, truncated, of another format or version), is an
// error that names the file and says what is wrong, wrapping ErrBadSnapshot
// in the second case; then nothing is started and nothing is ever written,
// so the file is left as it was. A file that is not a regular one (a named
// pipe, a device, a directory) is refused without being read.
//
// The store holds the file from Open to Close: Open takes an exclusive
// flock on Path+".lock" (created, mode 0600, in Path's directory, which
// must exist, and never removed), and fails with an error wrapping
// ErrLocked, naming the file, while another store, in this process or
// another, holds it. On systems without flock (Windows among them) the
// lock file is created but not locked, and a second store is not refused.
// Path is first resolved through symbolic links (of the file, or of its
// directory while the file does not exist yet), so that two spellings of
// one file take one lock, and saves replace the file the link names rather
// than the link. Open then removes the temporary files that saves interrupted by a crash
// left. Keys that have expired by the store's clock are dropped as they are
// loaded, and keys beyond MaxKeys or MaxBytes are evicted. Without a Path,
// Open is New and never fails.
func Open(opts Options) (*Store, error) {
	opts.Path = resolvePath(opts.Path)
	lock, err := lockPath(opts.Path)
	if err != nil {
		return nil, err
	}
	s := newStore(opts)
	if p := s.persist; p != nil {
		p.lock = lock
		if err := s.load(p.path); err != nil {
			p.unlock()
			return nil, err
		}
		removeStaleTemps(p.path)
		p.lastSave = s.Now()
	}
	s.evict()
	s.start(opts)
	return s, nil
}

// Save writes a snapshot of the store to its Path now and returns once it
// is durably on disk, as SAVE does, but without stopping the store: each
// shard is encoded in memory under its read lock, in turn, and written out
// after the lock is released. A snapshot is therefore consistent shard by
// shard, not across shards: a multi-key command that runs during a save may
// be in it for some of its keys only. Keys expired when their shard is
// encoded are left out. The snapshot goes to a temporary file of its own,
// Path+".tmp-" and random digits, created exclusively with mode 0600 (so it
// never follows a link planted there nor keeps another file's mode), which
// is synced and renamed over Path: a crash at any moment leaves either the
// previous snapshot or this one, and at worst a stale temporary file, which
// the next Open removes. Path is thus always a new file of mode 0600. Saves
// are serialised. Save fails with ErrNoPath for a store without a Path.
func (s *Store) Save() error {
	switch {
	case s.closed.Load():
		return ErrClosed
	case s.persist == nil:
		return ErrNoPath
	}
	return s.save(false)
}

// Changes returns how many writes were made since the last successful save,
// or since Open, as Redis's rdb_changes_since_last_save counts them roughly:
// every successful write command counts, a few (those that also reclaim an
// expired key or replace one) twice, and expiries do not count.
func (s *Store) Changes() int64 {
	var saved uint64
	if p := s.persist; p != nil {
		p.mu.Lock()
		saved = p.saved
		p.mu.Unlock()
	}
	return int64(s.changeCount() - saved)
}

// changeCount returns the sum of the shards' change counters.
func (s *Store) changeCount() uint64 {
	var n uint64
	for i := range s.shards {
		n += s.shards[i].changes.Load()
	}
	return n
}

// LastSave returns the store time at which the last successful save
// started, or at which the store was opened if none has succeeded since, as
// LASTSAVE; it is the zero time without a Path.
func (s *Store) LastSave() time.Time {
	if s.persist == nil {
		return time.Time{}
	}
	s.persist.mu.Lock()
	defer s.persist.mu.Unlock()
	return s.persist.lastSave
}

// LastSaveError returns the error of the last save, automatic or not, and
// nil if it succeeded or none was made, as Redis's rdb_last_bgsave_status.
func (s *Store) LastSaveError() error {
	if s.persist == nil {
		return nil
	}
	s.persist.mu.Lock()
	defer s.persist.mu.Unlock()
	return s.persist.lastErr
}

// saver is the background goroutine that saves the store when a save point
// is reached, until Close. It checks the save points when the earliest one
// that the changes made so far meet comes due, when a write may have made
// enough changes to meet another (see watchChanges), and whenever
// FastForward or SetTime wake it; in between it sleeps, with no timer while
// there are no changes. On a clock set by Options.Now, which may jump at
// any time, it checks every saveCheckInterval while the changes meet a save
// point.
func (s *Store) saver() {
	defer close(s.persist.done)
	timer := time.NewTimer(saveCheckInterval)
	defer timer.Stop()
	for {
		if wait, ok := s.planSave(); ok {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-s.stop:
			return
		case <-timer.C:
		case <-s.persist.wakeup:
		}
		s.autoSave()
	}
}

// planSave returns how long the saver may sleep before a save point that
// the changes made so far meet comes due, false when they meet none, and
// has a write wake it when more changes could meet another.
func (s *Store) planSave() (time.Duration, bool) {
	counts, total := s.changeCounts()
	due, need := s.persist.nextSavePoint(total)
	s.watchChanges(counts, need)
	switch {
	case due.IsZero():
		return 0, false
	case !s.coarse:
		return saveCheckInterval, true
	}
	return max(due.Sub(s.Now()), 0), true
}

// changeCounts returns the shards' change counts and their sum.
func (s *Store) changeCounts() ([]uint64, uint64) {
	counts := make([]uint64, len(s.shards))
	var total uint64
	for i := range s.shards {
		counts[i] = s.shards[i].changes.Load()
		total += counts[i]
	}
	return counts, total
}

// nextSavePoint returns, for a total change count, the earliest time at
// which a save point that the changes meet allows a save (zero when they
// meet none), and the fewest more changes that would meet another
// (math.MaxInt64 when none would).
func (p *persistence) nextSavePoint(total uint64) (due time.Time, need int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changes := int64(total - min(p.saved, total)) // a save that followed the count saved more
	need = math.MaxInt64
	for _, sp := range p.points {
		if n := int64(max(sp.Changes, 1)); changes < n {
			need = min(need, n-changes)
			continue
		}
		at := p.lastSave.Add(sp.Within)
		if p.lastErr != nil {
			at = later(at, p.lastTry.Add(saveRetryDelay))
		}
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due, need
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// watchChanges has a write wake the saver once need more changes than
// counts (the shards' change counts) may have been made, math.MaxInt64
// meaning never. Counting them all would take a contended counter;
// instead each shard wakes it once it has taken ceil(need/shards) more
// than its count, which one shard has done by the time need more changes
// are made in all. A change that raced the threshold's store is seen by
// the load that follows it.
func (s *Store) watchChanges(counts []uint64, need int64) {
	step := uint64(math.MaxUint64)
	if need != math.MaxInt64 {
		step = uint64((need + int64(len(s.shards)) - 1) / int64(len(s.shards)))
	}
	for i := range s.shards {
		sh := &s.shards[i]
		at := counts[i] + min(step, math.MaxUint64-counts[i])
		sh.saveAt.Store(at)
		if sh.changes.Load() >= at {
			s.persist.wake()
		}
	}
}

// changed counts a write for the save points, and wakes the saver when the
// shard reaches the count it watches for.
func (sh *shard) changed() {
	if sh.changes.Add(1) >= sh.saveAt.Load() {
		sh.saver.wake()
	}
}

// autoSave saves the store if a save point has been reached. The error is
// kept for LastSaveError and told to Options.OnAutoSaveError.
func (s *Store) autoSave() {
	if !s.savePointReached(s.Now()) {
		return
	}
	err := s.save(false)
	if err != nil && !errors.Is(err, ErrClosed) && s.persist.onError != nil {
		s.persist.onError(err)
	}
}

// savePointReached reports whether one of the save points is met at now
// and, after a failed save, the retry delay has passed, as serverCron
// decides to BGSAVE.
func (s *Store) savePointReached(now time.Time) bool {
	changes := s.Changes()
	p := s.persist
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastErr != nil && now.Sub(p.lastTry) < saveRetryDelay {
		return false
	}
	for _, sp := range p.points {
		if changes >= int64(max(sp.Changes, 1)) && now.Sub(p.lastSave) >= sp.Within {
			return true
		}
	}
	return false
}

// save writes a snapshot to the store's Path and records the outcome.
// Close's save is the final one: a save that was waiting for it then fails
// with ErrClosed rather than save the emptied store over the file.
func (s *Store) save(final bool) error {
	p := s.persist
	p.saving.Lock()
	defer p.saving.Unlock()
	if p.final {
		return ErrClosed
	}
	p.final = final
	start := s.Now()
	changes, err := s.writeSnapshot(p.path)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastTry, p.lastErr = start, err
	if err == nil {
		p.saved, p.lastSave = changes, start
	}
	return err
}

// writeSnapshot writes the store to path atomically: to a temporary file
// of its own in path's directory, created exclusively, which it syncs and
// renames over path before syncing the directory, so that a crash at any
// point leaves path with either its old content or the whole snapshot. It
// returns the shards' change count the snapshot includes.
func (s *Store) writeSnapshot(path string) (uint64, error) {
	f, err := createTemp(path)
	if err != nil {
		return 0, fmt.Errorf("memstore: save %s: %w", path, err)
	}
	tmp := f.Name()
	changes, err := s.encode(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("memstore: save %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return 0, fmt.Errorf("memstore: save %s: sync directory: %w", path, err)
	}
	return changes, nil
}

// tempInfix follows path's base name in the name of a temporary file,
// before the random digits that os.CreateTemp adds.
const tempInfix = ".tmp-"

// createTemp creates a new temporary file, mode 0600, next to path. It is
// created exclusively (O_EXCL), under a name no other save uses, so it
// never follows a link planted in its place, never keeps another file's
// mode and never shares its content with another saver.
func createTemp(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return nil, err
	}
	// os.CreateTemp asks for 0600, which a umask may narrow further.
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// removeStaleTemps removes the temporary files that saves interrupted by a
// crash left next to path. Open calls it holding path's lock, so no save of
// another store is writing them (where there is no flock, such a save would
// fail rather than write a mixed file).
func removeStaleTemps(path string) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+tempInfix
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// resolvePath returns path with its symbolic links resolved: the file's
// when it exists (a link to a missing file is followed to that file), else
// its directory's. A path that cannot be resolved
// (its directory is missing, say) is returned as it is, for Open to
// report.
func resolvePath(path string) string {
	if path == "" {
		return ""
	}
	// A link to a file that does not exist yet resolves to that file: it
	// is followed one step at a time, at most as many as Linux follows.
	for range 40 {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return real
		}
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

// lockPath takes the lock that keeps a second store from opening path:
// an exclusive flock on path+".lock", created if needed and never removed
// (removing it would let two stores lock two different files). It returns
// nil for an empty path, and an error wrapping ErrLocked, naming path, when
// another store holds the lock.
func lockPath(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	// Refuse a path that cannot be loaded before creating a lock file
	// beside it (in /dev, say).
	if err := fsutil.CheckRegular(path); err != nil {
		return nil, fmt.Errorf("memstore: load %s: %w", path, unwrapPath(err))
	}
	name := path + ".lock"
	f, err := fsutil.OpenRegular(name, os.O_RDWR|os.O_CREATE|oNofollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("memstore: open %s: lock: %w", path, err)
	}
	ok, err := tryLock(f)
	if ok {
		return f, nil
	}
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("memstore: open %s: lock %s: %w", path, name, err)
	}
	return nil, &lockedError{path}
}

// unlock releases the lock that Open took.
func (p *persistence) unlock() {
	_ = p.lock.Close()
}

// lockedError is the error of an Open whose path another store holds.
type lockedError struct {
	path string
}

func (e *lockedError) Error() string {
	return "memstore: open " + e.path + ": another store holds the file, in this process or another (it holds " + e.path + ".lock)"
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// syncDir syncs the directory dir, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// encode writes a snapshot of the store to w, encoding each shard in
// memory under its read lock and writing it out after releasing the lock,
// and returns the shards' change count the snapshot includes.
func (s *Store) encode(w io.Writer) (uint64, error) {
	sum := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, sum))
	buf := binary.LittleEndian.AppendUint32([]byte(snapshotMagic), snapshotVersion)
	var changes, entries uint64
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		now := s.nowMs()
		for _, e := range sh.items {
			if !e.expired(now) {
				buf = appendEntry(buf, e)
				entries++
			}
		}
		changes += sh.changes.Load()
		sh.mu.RUnlock(rs)
		if _, err := bw.Write(buf); err != nil {
			return 0, err
		}
		buf = buf[:0]
	}
	buf = binary.AppendUvarint(append(buf, opEnd), entries)
	if _, err := bw.Write(buf); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, sum.Sum32()))
	return changes, err
}

// appendEntry appends the encoding of e to buf.
func appendEntry(buf []byte, e *entry) []byte {
	if e.heapIndex >= 0 {
		buf = append(buf, byte(e.kind)|opExpiry)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.deadline))
	} else {
		buf = append(buf, byte(e.kind))
	}
	buf = appendString(buf, e.key)
	switch e.kind {
	case kindString:
		buf = appendString(buf, e.str)
	case kindHash:
		buf = binary.AppendUvarint(buf, uint64(e.hash.len()))
		for f, v := range e.hash.all() {
			buf = appendString(appendString(buf, f), v)
		}
	case kindSet:
		buf = binary.AppendUvarint(buf, uint64(e.set.len()))
		for m := range e.set.all() {
			buf = appendString(buf, m)
		}
	case kindZSet:
		buf = binary.AppendUvarint(buf, uint64(e.zset.len()))
		for x := e.zset.zsl.header.level[0].forward; x != nil; x = x.level[0].forward {
			buf = appendString(buf, x.member)
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x.score))
		}
	}
	return buf
}

// appendString appends s, preceded by its length as a uvarint, to buf.
func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// load fills the new, not yet shared store from the snapshot at path; a
// missing file leaves it empty.
func (s *Store) load(path string) error {
	f, err := fsutil.OpenRegular(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("memstore: load %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("memstore: load %s: %w", path, err)
	}
	d := &decoder{path: path, r: bufio.NewReader(f), size: info.Size()}
	return d.decode(s, s.nowMs())
}

// unwrapPath returns the cause of a *fs.PathError, whose path the caller
// names already, and other errors as they are.
func unwrapPath(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// snapshotError is the error of a load that found a file not to be a
// valid snapshot.
type snapshotError struct {
	path, problem string
}

func (e *snapshotError) Error() string {
	return "memstore: load " + e.path + ": bad snapshot file: " + e.problem
}

func (e *snapshotError) Unwrap() error { return ErrBadSnapshot }

// decoder reads a snapshot file, keeping the CRC-32C of the bytes read and
// their count, so that it can check the trailer and say where a problem
// lies.
type decoder struct {
	path    string
	r       *bufio.Reader
	size    int64 // the file's size
	off     int64 // bytes read
	sum     uint32
	entry   uint64 // the entry being read, counting from 0
	scratch []byte
	err     error // the first read error
}

// decode reads the whole snapshot into s, dropping the keys expired at now
// (unix ms), and checks its end count and checksum.
func (d *decoder) decode(s *Store, now int64) error {
	if err := d.header(); err != nil {
		return err
	}
	for ; ; d.entry++ {
		op := d.byte()
		switch {
		case d.err != nil:
			return d.err
		case op == opEnd:
			return d.end()
		}
		if err := d.readEntry(s, op, now); err != nil {
			return err
		}
	}
}

// fail returns the error for a problem found at the current offset; a read
// error found earlier takes precedence.
func (d *decoder) fail(format string, args ...any) error {
	if d.err != nil {
		return d.err
	}
	return &snapshotError{d.path, fmt.Sprintf(format, args...) + fmt.Sprintf(" (at byte %d)", d.off)}
}

// header reads and checks the magic and version.
func (d *decoder) header() error {
	magic := d.bytes(len(snapshotMagic))
	if d.err != nil {
		return d.err
	}
	if string(magic) != snapshotMagic {
		return &snapshotError{d.path, fmt.Sprintf("not a memstore snapshot: it starts with %q, not %q", magic, snapshotMagic)}
	}
	version := binary.LittleEndian.Uint32(d.bytes(4))
	switch {
	case d.err != nil:
		return d.err
	case version != snapshotVersion:
		return &snapshotError{d.path, fmt.Sprintf("unsupported format version %d (this build reads version %d)", version, snapshotVersion)}
	}
	return nil
}

// readEntry reads the rest of an entry of type op and adds it to s unless
// it has expired at now.
func (d *decoder) readEntry(s *Store, op byte, now int64) error {
	k := kind(op &^ opExpiry)
	if k > kindZSet {
		return d.fail("entry %d: unknown type byte 0x%02x", d.entry, op)
	}
	hasDeadline := op&opExpiry != 0
	var deadline int64
	if hasDeadline {
		deadline = int64(binary.LittleEndian.Uint64(d.bytes(8)))
	}
	e := newEntry(d.string(), k)
	if err := d.readValue(e); err != nil {
		return err
	}
	sh := s.shard(e.key)
	switch {
	case d.err != nil:
		return d.err
	case sh.items[e.key] != nil:
		return d.fail("entry %d: duplicate key %q", d.entry, e.key)
	case hasDeadline && now > deadline:
		return nil
	}
	sh.add(e)
	if hasDeadline {
		sh.setDeadline(e, deadline)
	}
	return nil
}

// readValue reads e's value, of e's kind.
func (d *decoder) readValue(e *entry) error {
	if e.kind == kindString {
		e.str = d.string()
		return d.err
	}
	n := d.uvarint()
	switch {
	case d.err != nil:
		return d.err
	case n == 0:
		return d.fail("entry %d: empty collection at key %q", d.entry, e.key)
	case n > uint64(d.size-d.off):
		return d.fail("entry %d: %d elements cannot fit in the %d bytes left", d.entry, n, d.size-d.off)
	}
	for range n {
		var fresh bool
		switch e.kind {
		case kindHash:
			f := d.string()
			fresh = e.hash.set(f, d.string())
		case kindSet:
			fresh = e.set.set(d.string(), struct{}{})
		case kindZSet:
			m := d.string()
			score := math.Float64frombits(binary.LittleEndian.Uint64(d.bytes(8)))
			if math.IsNaN(score) && d.err == nil {
				return d.fail("entry %d: NaN score at key %q", d.entry, e.key)
			}
			fresh = zsetAdd(e.zset, m, score, backend.ZAddNX)
		}
		if d.err != nil {
			return d.err
		}
		if !fresh {
			return d.fail("entry %d: duplicate element at key %q", d.entry, e.key)
		}
	}
	return nil
}

// end reads the entry count after the end marker and the trailer, and
// checks them and that nothing follows.
func (d *decoder) end() error {
	n := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if n != d.entry {
		return d.fail("the end marker counts %d entries, but %d precede it", n, d.entry)
	}
	sum := d.sum
	want := binary.LittleEndian.Uint32(d.bytes(4))
	switch {
	case d.err != nil:
		return d.err
	case want != sum:
		return &snapshotError{d.path, fmt.Sprintf("checksum mismatch: the trailer says %08x, the content sums to %08x; the file is corrupt", want, sum)}
	case d.off != d.size:
		return &snapshotError{d.path, fmt.Sprintf("%d unexpected bytes after the checksum", d.size-d.off)}
	}
	return nil
}

// bytes reads the next n bytes into the scratch buffer, valid until the
// next read. On failure it records the error and returns zeros.
func (d *decoder) bytes(n int) []byte {
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n)
	}
	b := d.scratch[:n]
	if d.err == nil && int64(n) > d.size-d.off {
		d.err = d.truncated(uint64(n))
	}
	if d.err == nil {
		if _, err := io.ReadFull(d.r, b); err != nil {
			d.err = d.readError(err, n)
		}
	}
	if d.err != nil {
		clear(b)
		return b
	}
	d.sum = crc32.Update(d.sum, castagnoli, b)
	d.off += int64(n)
	return b
}

// byte reads the next byte; see bytes.
func (d *decoder) byte() byte {
	return d.bytes(1)[0]
}

// ReadByte reads the next byte, for binary.ReadUvarint.
func (d *decoder) ReadByte() (byte, error) {
	b := d.byte()
	return b, d.err
}

// string reads a length-prefixed string; see bytes.
func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(d.size-d.off) {
		if d.err == nil {
			d.err = d.truncated(n)
		}
		return ""
	}
	return string(d.bytes(int(n)))
}

// uvarint reads a uvarint; see bytes.
func (d *decoder) uvarint() uint64 {
	x, err := binary.ReadUvarint(d)
	if err != nil && d.err == nil {
		d.err = d.fail("%s: malformed length", d.where())
	}
	return x
}

// where names the part of the file being read, for error messages.
func (d *decoder) where() string {
	if d.off < int64(len(snapshotMagic)+4) {
		return "header"
	}
	return fmt.Sprintf("entry %d", d.entry)
}

// truncated returns the error for a read of n bytes past the end of the
// file.
func (d *decoder) truncated(n uint64) error {
	return &snapshotError{d.path, fmt.Sprintf("truncated or corrupt: %s needs %d bytes at byte %d, but the file ends at byte %d", d.where(), n, d.off, d.size)}
}

// readError returns the error for a failed read of n bytes.
func (d *decoder) readError(err error, n int) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &snapshotError{d.path, fmt.Sprintf("truncated while being read: %d bytes expected at byte %d", n, d.off)}
	}
	return fmt.Errorf("memstore: load %s: %w", d.path, err)
}

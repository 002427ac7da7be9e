package memstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// describe prints e's type, value and deadline (-1 without); hash fields
// and set members are sorted, since their order may change on a reload.
func describe(e *entry) string {
	deadline := int64(-1)
	if e.heapIndex >= 0 {
		deadline = e.deadline
	}
	var v []string
	switch e.kind {
	case kindString:
		v = []string{strconv.Quote(e.str)}
	case kindHash:
		for f, x := range e.hash.all() {
			v = append(v, strconv.Quote(f)+"="+strconv.Quote(x))
		}
		slices.Sort(v)
	case kindSet:
		for m := range e.set.all() {
			v = append(v, strconv.Quote(m))
		}
		slices.Sort(v)
	case kindZSet:
		for _, z := range zsetRange(e.zset, 0, -1, false) {
			v = append(v, strconv.Quote(z.Member)+"="+strconv.FormatUint(math.Float64bits(z.Score), 16))
		}
	}
	return fmt.Sprint(e.kind, " ", deadline, " ", v)
}

// contents describes every key live at the store's time.
func contents(s *Store) map[string]string {
	now := s.nowMs()
	out := map[string]string{}
	for i := range s.shards {
		sh := &s.shards[i]
		rs := sh.mu.RLock()
		for k, e := range sh.items {
			if !e.expired(now) {
				out[k] = describe(e)
			}
		}
		sh.mu.RUnlock(rs)
	}
	return out
}

// equalContents fails the test unless the two descriptions match.
func equalContents(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: key %q missing, want %s", what, k, w)
		} else if g != w {
			t.Errorf("%s: key %q = %s, want %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected key %q = %s", what, k, g)
		}
	}
}

// openTest opens a store at path on clock without background goroutines,
// closed when the test ends unless closed before.
func openTest(t *testing.T, path string, clock *fakeClock, points ...SavePoint) *Store {
	t.Helper()
	s, err := Open(Options{Path: path, Now: clock.Now, ExpiryInterval: -1, SavePoints: append([]SavePoint{}, points...)})
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fillAllKinds writes keys of every kind, with and without expiries.
func fillAllKinds(t *testing.T, s *Store) {
	t.Helper()
	must(t, s.Set(bg, "", "the empty key", 0))
	must(t, s.Set(bg, "empty value", "", 0))
	must(t, s.Set(bg, "binary\x00\xff", "\x00\x01\xfe\xff", time.Hour))
	must(t, s.Set(bg, "big", strings.Repeat("0123456789", 20000), 1500*time.Millisecond))
	must(t, s.Set(bg, "soon", "gone at reload", 50*time.Millisecond))
	_, err := s.HSet(bg, "hash", 2*time.Hour, "f", "v", "", "empty field", "empty value", "")
	must(t, err)
	_, err = s.SAdd(bg, "set", 0, "a", "", "c\x00")
	must(t, err)
	_, err = s.ZAdd(bg, "zset", time.Minute, backend.ZAddUpsert, zs([]string{"inf", "-inf", "zero", "negzero", "max", "tiny", "third", "same1", "same2"}, []float64{math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, 5e-324, 1.0 / 3, 2, 2})...)
	must(t, err)
	for i := range 2000 {
		must(t, s.Set(bg, fmt.Sprint("k", i), fmt.Sprint("v", i), time.Duration(i%3)*time.Hour))
		_, err := s.HIncrBy(bg, fmt.Sprint("h", i%50), fmt.Sprint("f", i), int64(i), 0)
		must(t, err)
		_, err = s.ZAdd(bg, fmt.Sprint("z", i%7), 0, backend.ZAddUpsert, zs([]string{fmt.Sprint("m", i)}, []float64{float64(i) / 7})...)
		must(t, err)
	}
}

func TestSaveOpenRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	clock := newFakeClock()
	s := openTest(t, path, clock)
	fillAllKinds(t, s)
	want := contents(s)
	used := s.UsedBytes()
	must(t, s.Save())
	must(t, s.Close())

	clock.Advance(100 * time.Millisecond)
	r := openTest(t, path, clock)
	delete(want, "soon") // expired by the reload
	equalContents(t, "reloaded", contents(r), want)
	if n, _ := r.memStats(); n != len(want) {
		t.Errorf("%d keys in memory, want %d: expired keys were loaded", n, len(want))
	}
	ttl, _, err := r.PTTL(bg, "big")
	must(t, err)
	equal(t, "PTTL of big", ttl, 1400*time.Millisecond)
	score, _, err := r.ZScore(bg, "zset", "tiny")
	must(t, err)
	equal(t, "tiny score", score, 5e-324)
	checkAccounting(t, r, "after the reload")
	equal(t, "UsedBytes after the reload", r.UsedBytes(), used-int64(entryOverhead+len("soon")+len("gone at reload")))
	equal(t, "Changes after Open", r.Changes(), int64(0))
}

func TestSaveChangesAndLastSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	clock := newFakeClock()
	s := openTest(t, path, clock)
	equal(t, "LastSave after Open", s.LastSave(), s.Now())
	must(t, s.Set(bg, "a", "1", 0))
	_, err := s.HSet(bg, "h", 0, "f", "v")
	must(t, err)
	_, err = s.Del(bg, "a", "missing")
	must(t, err)
	_, err = s.Persist(bg, "h") // no expiry: no change
	must(t, err)
	equal(t, "Changes", s.Changes(), int64(3))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file written before any save: %v", err)
	}
	s.FastForward(time.Hour) // no save point
	must(t, s.Save())
	equal(t, "Changes after Save", s.Changes(), int64(0))
	equal(t, "LastSave after Save", s.LastSave(), s.Now())
	equal(t, "LastSaveError", s.LastSaveError(), error(nil))

	n := New(Options{ExpiryInterval: -1})
	wantErr(t, "Save without a Path", n.Save(), ErrNoPath)
	must(t, n.Close())
	must(t, s.Close())
	wantErr(t, "Save after Close", s.Save(), ErrClosed)
}

func TestAutoSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	clock := newFakeClock()
	s, err := Open(Options{Path: path, Now: clock.Now, ExpiryInterval: -1,
		SavePoints: []SavePoint{{Changes: 3, Within: time.Minute}, {Changes: 100, Within: time.Second}}})
	must(t, err)
	defer s.Close()
	opened := s.LastSave()

	must(t, s.Set(bg, "a", "1", 0))
	must(t, s.Set(bg, "b", "1", 0))
	s.FastForward(2 * time.Minute)
	if s.savePointReached(s.Now()) {
		t.Fatal("save point reached with 2 changes")
	}
	must(t, s.Set(bg, "c", "1", 0))
	s.FastForward(0) // wakes the saver
	waitFor(t, func() bool { return s.LastSave() != opened })
	equal(t, "Changes after the automatic save", s.Changes(), int64(0))
	equal(t, "LastSave", s.LastSave(), s.Now())

	saved := s.LastSave()
	for i := range 100 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
	}
	s.FastForward(999 * time.Millisecond)
	if s.savePointReached(s.Now()) {
		t.Fatal("save point reached within the second")
	}
	s.FastForward(time.Millisecond)
	waitFor(t, func() bool { return s.LastSave() != saved })
	r := newStore(Options{Now: clock.Now}) // s holds the file: read it without its lock
	must(t, r.load(path))
	equal(t, "keys saved automatically", r.DBSize(), 103)
}

func TestSavePointOptions(t *testing.T) {
	p := newPersistence(Options{Path: "x"})
	equal(t, "default save points", p.points, defaultSavePoints)
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "s"), SavePoints: []SavePoint{}, ExpiryInterval: -1})
	must(t, err)
	if s.stop != nil || s.persist.done != nil {
		t.Error("a store without save points started a goroutine")
	}
	must(t, s.Close())
	s, err = Open(Options{Path: filepath.Join(t.TempDir(), "s"), ExpiryInterval: -1})
	must(t, err)
	if s.persist.done == nil {
		t.Error("a store with save points started no saver")
	}
	must(t, s.Close())
	select {
	case <-s.persist.done:
	default:
		t.Error("Close returned before the saver exited")
	}
}

// TestSaveRetryDelay shows that after a failed save the save points wait
// five seconds before trying again, as Redis does.
func TestSaveRetryDelay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	path := filepath.Join(dir, "store.snap")
	must(t, os.Mkdir(dir, 0o755))
	clock := newFakeClock()
	s := openTest(t, path, clock)
	must(t, os.RemoveAll(dir)) // the saves fail until it is back
	s.persist.points = []SavePoint{{Changes: 1}}
	must(t, s.Set(bg, "a", "1", 0))
	s.autoSave()
	if s.LastSaveError() == nil || !strings.Contains(s.LastSaveError().Error(), path) {
		t.Fatalf("LastSaveError = %v", s.LastSaveError())
	}
	must(t, os.Mkdir(dir, 0o755))
	s.FastForward(4 * time.Second)
	if s.savePointReached(s.Now()) {
		t.Fatal("retrying within five seconds of a failure")
	}
	s.FastForward(time.Second)
	s.autoSave()
	equal(t, "LastSaveError after the retry", s.LastSaveError(), error(nil))
	equal(t, "Changes", s.Changes(), int64(0))
}

func TestCloseSaves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.snap")
	clock := newFakeClock()
	s := openTest(t, path, clock)
	fillAllKinds(t, s)
	want := contents(s)
	must(t, s.Close())
	r := openTest(t, path, clock)
	equalContents(t, "after Close", contents(r), want)

	gone := filepath.Join(dir, "gone")
	must(t, os.Mkdir(gone, 0o755))
	g := openTest(t, filepath.Join(gone, "store.snap"), clock)
	must(t, os.RemoveAll(gone))
	err := g.Close()
	if err == nil || !strings.Contains(err.Error(), gone) {
		t.Fatalf("Close = %v, want the save's error", err)
	}
	equal(t, "second Close", g.Close(), err)
}

// TestSaveRacingClose shows that a Save racing with Close never writes the
// store Close has emptied over the file.
func TestSaveRacingClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	for range 20 {
		s, err := Open(Options{Path: path, Shards: 4, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		must(t, err)
		for i := range 100 {
			must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s.Save() == nil {
				}
			}()
		}
		must(t, s.Close())
		wg.Wait()
		// A Save that passed its closed check before Close set the flag,
		// then waited for Close's save.
		wantErr(t, "a save after Close's", s.save(false), ErrClosed)
		r, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		must(t, err)
		equal(t, "keys after Close", r.DBSize(), 100)
		must(t, r.Close())
	}
}

func TestOpenMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.snap")
	s, err := Open(Options{Path: path})
	must(t, err)
	equal(t, "DBSize", s.DBSize(), 0)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Open created the file: %v", err)
	}
	must(t, s.Set(bg, "k", "v", 0))
	must(t, s.Close())
	r, err := Open(Options{Path: path})
	must(t, err)
	defer r.Close()
	equal(t, "Keys", r.Keys(), []string{"k"})
}

func TestOpenUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(Options{Path: dir})
	if err == nil || !strings.Contains(err.Error(), dir) || errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("Open of a directory: %v", err)
	}
}

func TestNewWithPathPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a Path did not panic")
		}
	}()
	New(Options{Path: "x"})
}

// snapshotBytes returns a small valid snapshot of keys of every kind.
func snapshotBytes(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.snap")
	s, err := Open(Options{Path: path, Shards: 2, ExpiryInterval: -1, SavePoints: []SavePoint{}})
	must(t, err)
	must(t, s.Set(bg, "s", "v", time.Hour))
	_, err = s.HSet(bg, "h", 0, "f", "v", "g", "w")
	must(t, err)
	_, err = s.SAdd(bg, "set", 0, "a", "b")
	must(t, err)
	_, err = s.ZAdd(bg, "z", 0, backend.ZAddUpsert, zs([]string{"m", "n"}, []float64{1, math.Inf(-1)})...)
	must(t, err)
	must(t, s.Close())
	data, err := os.ReadFile(path)
	must(t, err)
	return data
}

// craft returns a snapshot with the given entries and end count, with a
// correct checksum.
func craft(count uint64, entries ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(snapshotMagic), snapshotVersion)
	for _, e := range entries {
		b = append(b, e...)
	}
	b = binary.AppendUvarint(append(b, opEnd), count)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// rawString returns a string entry.
func rawString(key, value string) []byte {
	return appendString(appendString([]byte{byte(kindString)}, key), value)
}

// TestOpenBadFile feeds Open every single-byte corruption and truncation of
// a valid snapshot and a few crafted bad ones: each must fail with an error
// naming the file and saying what is wrong, and leave the file untouched.
func TestOpenBadFile(t *testing.T) {
	good := snapshotBytes(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.snap")
	try := func(what string, data []byte, want string) {
		t.Helper()
		must(t, os.WriteFile(path, data, 0o600))
		s, err := Open(Options{Path: path, Shards: 2})
		if err == nil {
			_ = s.Close()
			t.Fatalf("%s: Open succeeded", what)
		}
		if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q, want ErrBadSnapshot naming the file and saying %q", what, err, want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Fatalf("%s: the file changed", what)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 || entries[1].Name() != "bad.snap.lock" {
			t.Fatalf("%s: %v in the directory, want the file and its lock only", what, entries)
		}
	}
	for i := range good {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			data := slices.Clone(good)
			data[i] ^= mask
			try(fmt.Sprintf("byte %d ^ %#x", i, mask), data, "")
		}
	}
	for n := range len(good) {
		try(fmt.Sprintf("truncated to %d bytes", n), good[:n], "")
	}
	try("truncated in the trailer", good[:len(good)-2], "truncated")
	try("bad magic", append([]byte("REDIS0009"), good[9:]...), "not a memstore snapshot")
	v2 := slices.Clone(good)
	binary.LittleEndian.PutUint32(v2[len(snapshotMagic):], 2)
	try("version 2", v2, "unsupported format version 2")
	flipped := slices.Clone(good)
	flipped[len(good)/2] ^= 0x20
	try("a flipped bit in a value", flipped, "")
	try("trailing bytes", append(slices.Clone(good), 0), "unexpected bytes after the checksum")
	try("empty", nil, "truncated")
	try("duplicate key", craft(2, rawString("k", "a"), rawString("k", "b")), `duplicate key "k"`)
	try("unknown type", craft(1, append([]byte{7}, rawString("k", "a")[1:]...)), "unknown type byte 0x07")
	try("count mismatch", craft(2, rawString("k", "a")), "the end marker counts 2 entries, but 1 precede it")
	try("empty hash", craft(1, binary.AppendUvarint(appendString([]byte{byte(kindHash)}, "h"), 0)), "empty collection")
	nan := binary.LittleEndian.AppendUint64(appendString(binary.AppendUvarint(appendString([]byte{byte(kindZSet)}, "z"), 1), "m"), math.Float64bits(math.NaN()))
	try("NaN score", craft(1, nan), "NaN score")
	dup := appendString(appendString(binary.AppendUvarint(appendString([]byte{byte(kindSet)}, "s"), 2), "m"), "m")
	try("duplicate member", craft(1, dup), "duplicate element")
	long := append(appendString([]byte{byte(kindString)}, "k"), 0xff, 0xff, 0xff, 0xff, 0x0f)
	try("a length past the end", craft(1, long), "truncated or corrupt")
	try("a malformed length", craft(1, append([]byte{byte(kindString)}, bytes.Repeat([]byte{0xff}, 11)...)), "malformed length")

	must(t, os.WriteFile(path, good, 0o600))
	s, err := Open(Options{Path: path, Shards: 2})
	must(t, err)
	equal(t, "keys of the good file", s.Keys(), []string{"h", "s", "set", "z"})
	must(t, s.Close())
}

// blockingWriter blocks its first Write until released.
type blockingWriter struct {
	once             sync.Once
	started, release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.started)
		<-w.release
	})
	return len(p), nil
}

// TestSaveDoesNotBlockWriters shows that the store takes writes to every
// shard while a snapshot is being written out.
func TestSaveDoesNotBlockWriters(t *testing.T) {
	s, _ := newTestStore(t)
	value := strings.Repeat("v", 1<<12)
	for i := range 1000 {
		must(t, s.Set(bg, fmt.Sprint("k", i), value, 0))
	}
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := s.encode(w)
		done <- err
	}()
	<-w.started
	for i := range 1000 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "new", 0))
	}
	close(w.release)
	must(t, <-done)
}

// TestSaveWhileWriting saves repeatedly while goroutines write; under -race
// it checks the snapshot's locking, and every file saved must load.
func TestSaveWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	s, err := Open(Options{Path: path, Shards: 4, ExpiryInterval: time.Millisecond, SavePoints: []SavePoint{{Changes: 1}}})
	must(t, err)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprint("k", rng.IntN(200))
				switch rng.IntN(4) {
				case 0:
					_ = s.Set(bg, k, fmt.Sprint(i), time.Duration(rng.IntN(3))*time.Millisecond)
				case 1:
					_, _ = s.SAdd(bg, k, 0, fmt.Sprint(i%10))
				case 2:
					_, _ = s.ZAdd(bg, k, 0, backend.ZAddUpsert, zs([]string{fmt.Sprint(i % 10)}, []float64{float64(i)})...)
				case 3:
					_, _ = s.Del(bg, k)
				}
			}
		}()
	}
	copied := path + ".copy" // a second store must not save to the same path
	for range 20 {
		must(t, s.Save())
		data, err := os.ReadFile(path)
		must(t, err)
		must(t, os.WriteFile(copied, data, 0o600))
		r, err := Open(Options{Path: copied, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		must(t, err)
		must(t, r.Close())
	}
	close(stop)
	wg.Wait()
	must(t, s.Close())
}

// crashEnv selects the helper mode of the test binary for TestCrashSafety.
const crashEnv = "MEMSTORE_CRASH_HELPER"

// crashKeys is how many keys each generation of the helper writes.
const crashKeys = 300

// TestHelperProcess is not a test: run by TestCrashSafety with crashEnv set
// to a path, it opens a store there and then, generation after generation,
// rewrites all its keys and saves, printing "saved <generation>" after
// each save, until killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	s, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	gen, _ := s.IncrBy(bg, "gen", 0, 0)
	for {
		gen++
		writeGeneration(s, gen)
		if err := s.Save(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		fmt.Println("saved", gen)
	}
}

// writeGeneration makes the store hold generation gen: values whose sizes
// vary from one generation to the next, so that files do too.
func writeGeneration(s *Store, gen int64) {
	for i := range crashKeys {
		_ = s.Set(bg, fmt.Sprint("k", i), generationValue(gen, i), time.Hour)
	}
	_, _ = s.HSet(bg, "h", 0, "gen", fmt.Sprint(gen))
	_, _ = s.ZAdd(bg, "z", 0, backend.ZAddUpsert, zs([]string{"gen"}, []float64{float64(gen)})...)
	_ = s.Set(bg, "gen", fmt.Sprint(gen), 0)
}

func generationValue(gen int64, i int) string {
	return fmt.Sprint(gen, ":", i, ":", strings.Repeat("x", int(gen*7+int64(i))%2000))
}

// checkGeneration fails the test unless the store holds one whole
// generation, and returns it (0 for an empty store).
func checkGeneration(t *testing.T, s *Store) int64 {
	t.Helper()
	gen, err := wholeGeneration(s)
	must(t, err)
	return gen
}

// wholeGeneration returns the generation the store holds (0 for an empty
// store), or an error saying how it does not hold a whole one.
func wholeGeneration(s *Store) (int64, error) {
	v, ok, err := s.Get(bg, "gen")
	switch {
	case err != nil:
		return 0, err
	case !ok && s.DBSize() != 0:
		return 0, fmt.Errorf("%d keys without a generation", s.DBSize())
	case !ok:
		return 0, nil
	}
	gen, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	for i := range crashKeys {
		if got, _, _ := s.Get(bg, fmt.Sprint("k", i)); got != generationValue(gen, i) {
			return 0, fmt.Errorf("generation %d: k%d = %.20q…", gen, i, got)
		}
	}
	h, _, _ := s.HGet(bg, "h", "gen")
	z, _, _ := s.ZScore(bg, "z", "gen")
	if h != v || z != float64(gen) {
		return 0, fmt.Errorf("generation %d: h %s, z %v", gen, h, z)
	}
	return gen, nil
}

// TestCrashSafety kills a process that saves in a tight loop at random
// moments, again and again: every time, the file must open and hold a whole
// generation, at least the last one the process reported saved.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "crash.snap")
	deadline := time.Now().Add(15 * time.Second)
	var kills, midSave, last int64
	for kills < 20 || (kills < 30 && time.Now().Before(deadline)) {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("only %d kills in 20s", kills)
		}
		saved := crashOnce(t, path)
		kills++
		if stale, _ := filepath.Glob(path + tempInfix + "*"); len(stale) > 0 {
			midSave++
		}
		r, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		if err != nil {
			t.Fatalf("kill %d: %v", kills, err)
		}
		if stale, _ := filepath.Glob(path + tempInfix + "*"); len(stale) > 0 {
			t.Fatalf("kill %d: Open left the temporary files %v", kills, stale)
		}
		gen := checkGeneration(t, r)
		must(t, r.Close()) // saves the same generation back

		if gen < saved || gen < last {
			t.Fatalf("kill %d: the file holds generation %d, but %d was saved", kills, gen, max(saved, last))
		}
		last = gen
	}
	t.Logf("%d kills (%d with a snapshot half written), last generation %d", kills, midSave, last)
}

// crashOnce runs the helper process on path and SIGKILLs it at a random
// moment within its first two seconds — mostly while it saves, sometimes
// before its first save — and returns the last generation it reported saved.
func crashOnce(t *testing.T, path string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	started := time.Now()
	gens := make(chan int64, 1<<16)
	go func() {
		defer close(gens)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if g, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
				n, _ := strconv.ParseInt(g, 10, 64)
				gens <- n
			}
		}
	}()
	var last int64
	if rand.IntN(5) > 0 { // let it save at least once
		select {
		case last = <-gens:
		case <-time.After(2 * time.Second):
		}
	}
	// Kill it at a random moment, most likely in the middle of a save.
	<-time.After(min(time.Duration(rand.Int64N(int64(40*time.Millisecond))), 2*time.Second-time.Since(started)))
	_ = cmd.Process.Kill()
	for g := range gens {
		last = g
	}
	err = cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("the helper did not die from the kill: %v\n%s", err, stderr.Bytes())
	}
	return last
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestEncodeError(t *testing.T) {
	s, _ := newTestStore(t)
	must(t, s.Set(bg, "k", "v", 0))
	if _, err := s.encode(errWriter{}); err == nil {
		t.Fatal("encode ignored a write error")
	}
}

//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package memstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenLocked shows that a second live store on one file is refused
// with an error naming the file, and that the file is free again once the
// first is closed, or when an Open fails.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	clock := newFakeClock()
	s := openTest(t, path, clock)
	must(t, s.Set(bg, "k", "v", 0))
	for range 2 {
		_, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		wantErr(t, "a second Open", err, ErrLocked)
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another store") {
			t.Fatalf("the error does not name the file and its holder: %v", err)
		}
	}
	must(t, s.Save())
	must(t, s.Close())

	r := openTest(t, path, clock)
	equal(t, "keys after reopening", r.Keys(), []string{"k"})
	must(t, r.Close())

	// An Open that fails to load lets go of the file.
	must(t, os.WriteFile(path, []byte("not a snapshot"), 0o600))
	for range 2 {
		_, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		wantErr(t, "Open of a bad file", err, ErrBadSnapshot)
	}
}

// lockEnv selects the helper mode of the test binary for the lock tests:
// it holds the path to open.
const lockEnv = "MEMSTORE_LOCK_HELPER"

// TestLockHelperProcess is not a test: run with lockEnv set to a path, it
// opens a store there, prints the error and exits 3 if that fails, and
// otherwise closes it and exits 0.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockEnv)
	if path == "" {
		t.Skip("helper process for the lock tests")
	}
	s, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}

// openInChild opens path in a child process and returns its exit code and
// error output, killing the child if it has not exited within ten seconds.
func openInChild(t *testing.T, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the child opening %s did not exit within 10s", path)
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	must(t, err)
	return 0, stderr.String()
}

// TestOpenLockedAcrossProcesses shows that a store in another process is
// refused the file while this one holds it, and gets it once it is closed.
func TestOpenLockedAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.snap")
	s := openTest(t, path, newFakeClock())
	code, stderr := openInChild(t, path)
	if code != 3 || !strings.Contains(stderr, path) || !strings.Contains(stderr, "another store") {
		t.Fatalf("the child opened the file held here: exit %d, %q", code, stderr)
	}
	must(t, s.Close())
	if code, stderr := openInChild(t, path); code != 0 {
		t.Fatalf("the child could not open the released file: exit %d, %q", code, stderr)
	}
}

// TestTwoSavers runs two processes that open one file and save it in a
// tight loop, while this one loads the file again and again: one of the
// two must be refused, and the file must load, whole, every time.
func TestTwoSavers(t *testing.T) {
	if testing.Short() {
		t.Skip("two-process test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "shared.snap")
	for round := range 3 {
		a, b := startSaver(t, path), startSaver(t, path)
		loads, problems := loadRepeatedly(t, path, a, b)
		a.stop()
		b.stop()
		for _, p := range problems {
			t.Errorf("round %d: %s", round, p)
		}
		if refused := a.refused() + b.refused(); refused != 1 {
			t.Errorf("round %d: %d of the two savers were refused, want 1 (stderr: %q, %q)", round, refused, a.stderr.String(), b.stderr.String())
		}
		r, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
		if err != nil {
			t.Fatalf("round %d: after %d loads: %v", round, loads, err)
		}
		checkGeneration(t, r)
		must(t, r.Close())
	}
}

// saver is a helper process that saves a file in a loop (TestHelperProcess).
type saver struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	saves  chan struct{} // receives a value per save the process reports
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

func startSaver(t *testing.T, path string) *saver {
	t.Helper()
	s := &saver{saves: make(chan struct{}, 1<<16), exited: make(chan struct{})}
	s.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	s.cmd.Env = append(os.Environ(), crashEnv+"="+path)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	must(t, err)
	must(t, s.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "saved ") {
				s.saves <- struct{}{}
			}
		}
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop kills the process, if it still runs, and waits for it.
func (s *saver) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// refused reports 1 if the process exited because Open refused the file.
func (s *saver) refused() int {
	select {
	case <-s.exited:
	default:
		return 0
	}
	if ee := (*exec.ExitError)(nil); errors.As(s.err, &ee) && ee.ExitCode() == 3 && strings.Contains(s.stderr.String(), "another store") {
		return 1
	}
	return 0
}

// loadRepeatedly loads path, without taking its lock, after every save of
// the two savers, until they have saved 200 times between them and one of
// them has exited (refused), or thirty seconds have passed, and returns how
// many loads it made and what was wrong with the file. On a loaded machine
// a saver may start late or save slowly: waiting for the refused one keeps
// it from being killed before it reached Open, and 50 saves in the time
// are enough to count as concurrent saving.
func loadRepeatedly(t *testing.T, path string, a, b *saver) (loads int, problems []string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	aExited, bExited := a.exited, b.exited
	for saves := 0; saves < 200 || (aExited != nil && bExited != nil); {
		select {
		case <-a.saves:
			saves++
		case <-b.saves:
			saves++
		case <-aExited:
			aExited = nil
			continue
		case <-bExited:
			bExited = nil
			continue
		case <-deadline:
			if saves < 50 {
				problems = append(problems, fmt.Sprintf("only %d saves in 30s", saves))
			}
			return loads, problems
		}
		if err := loadUnlocked(path); err != nil {
			problems = append(problems, err.Error())
		}
		loads++
	}
	return loads, problems
}

// loadUnlocked loads the snapshot at path into a store of its own, without
// taking the file's lock, and checks that it holds a whole generation; a
// missing file is fine.
func loadUnlocked(path string) error {
	s := newStore(Options{Now: time.Now})
	if err := s.load(path); err != nil {
		return err
	}
	_, err := wholeGeneration(s)
	return err
}

// TestOpenLockedThroughSymlink checks that a second store is refused when
// it names the held file through a symbolic link, whether the link points
// at the file or at its directory.
func TestOpenLockedThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.snap")
	s := openTest(t, path, newFakeClock())
	defer s.Close()
	link := filepath.Join(dir, "alias.snap")
	must(t, os.Symlink(path, link))
	_, err := Open(Options{Path: link, ExpiryInterval: -1, SavePoints: []SavePoint{}})
	wantErr(t, "an Open through a link to the file", err, ErrLocked)
	dirLink := filepath.Join(t.TempDir(), "dir")
	must(t, os.Symlink(dir, dirLink))
	_, err = Open(Options{Path: filepath.Join(dirLink, "store.snap"), ExpiryInterval: -1, SavePoints: []SavePoint{}})
	wantErr(t, "an Open through a link to the directory", err, ErrLocked)
}

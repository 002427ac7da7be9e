//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package memstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenNonRegular shows that Open refuses a named pipe or a device at
// Path at once, naming the path, instead of waiting for a writer forever.
func TestOpenNonRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	for _, path := range []string{fifo, "/dev/null"} {
		done := make(chan error, 1)
		go func() {
			s, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}})
			if err == nil {
				_ = s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Open(%s) = %v, want an error naming it as not a regular file", path, err)
			}
			if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(%s) created a lock file beside it: %v", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) still blocked after 5s", path)
		}
	}
}

// TestSavePlantedFiles shows that a save never writes through a symlink
// planted at a temporary path, and that the file it leaves is a fresh one,
// mode 0600, whatever was at the temporary path or at Path before.
func TestSavePlantedFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, path, victim string)
	}{
		{"symlink at Path.tmp", func(t *testing.T, path, victim string) {
			must(t, os.Symlink(victim, path+".tmp"))
		}},
		{"0666 file at Path.tmp", func(t *testing.T, path, _ string) {
			must(t, os.WriteFile(path+".tmp", []byte("planted"), 0o666))
			must(t, os.Chmod(path+".tmp", 0o666))
		}},
		{"0644 file at Path", func(t *testing.T, path, _ string) {
			s := openTest(t, path, newFakeClock())
			must(t, s.Close())
			must(t, os.Chmod(path, 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, victim := filepath.Join(dir, "store.snap"), filepath.Join(dir, "victim")
			must(t, os.WriteFile(victim, []byte("precious"), 0o644))
			tc.plant(t, path, victim)
			s := openTest(t, path, newFakeClock())
			for i := range 3 {
				must(t, s.Set(bg, "k", fmt.Sprint(i), 0))
				must(t, s.Save())
				checkSaved(t, path, victim)
			}
			must(t, s.Close())
			checkSaved(t, path, victim)
		})
	}
}

// checkSaved fails the test unless victim holds what it held before the
// saves and path is a regular file of mode 0600.
func checkSaved(t *testing.T, path, victim string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
		t.Fatalf("the victim holds %.20q (%v) after a save", b, err)
	}
	info, err := os.Lstat(path)
	must(t, err)
	if !info.Mode().IsRegular() || info.Mode().Perm() != 0o600 {
		t.Fatalf("Path is %v after a save, want a regular file, mode 0600", info.Mode())
	}
}

// TestLockFileSymlink shows that Open does not follow a symlink planted at
// the lock file's path, whether its target exists or not: it refuses the
// file, and creates or changes nothing through the link.
func TestLockFileSymlink(t *testing.T) {
	dir := t.TempDir()
	path, victim, absent := filepath.Join(dir, "store.snap"), filepath.Join(dir, "victim"), filepath.Join(dir, "absent")
	must(t, os.WriteFile(victim, []byte("precious"), 0o644))
	for _, target := range []string{victim, absent} {
		must(t, os.Symlink(target, path+".lock"))
		if s, err := Open(Options{Path: path, ExpiryInterval: -1, SavePoints: []SavePoint{}}); err == nil {
			_ = s.Close()
			t.Errorf("Open followed the lock file's link to %s", target)
		}
		must(t, os.Remove(path+".lock"))
	}
	if _, err := os.Stat(absent); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the link's target: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the victim holds %q", b)
	}
}

//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	file, fifo, missing := filepath.Join(dir, "file"), filepath.Join(dir, "fifo"), filepath.Join(dir, "missing")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		flag       int
		want       string // "" for success
	}{
		{"regular", file, os.O_RDONLY, ""},
		{"missing", missing, os.O_RDONLY, "no such file"},
		{"created", missing, os.O_RDWR | os.O_CREATE, ""},
		{"directory", dir, os.O_RDONLY, "not a regular file (a directory)"},
		{"named pipe", fifo, os.O_RDONLY, "not a regular file (a named pipe)"},
		{"named pipe, read-write", fifo, os.O_RDWR | os.O_CREATE, "not a regular file (a named pipe)"},
		{"device", "/dev/null", os.O_RDONLY, "not a regular file (a character device)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				f, err := OpenRegular(tc.path, tc.flag, 0o600)
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("OpenRegular(%s) still blocked after 5s", tc.path)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("OpenRegular(%s): %v", tc.path, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path)):
				t.Fatalf("OpenRegular(%s) = %v, want an error naming it and saying %q", tc.path, err, tc.want)
			}
		})
	}
	if err := CheckRegular(filepath.Join(dir, "absent")); err != nil {
		t.Errorf("CheckRegular of a missing file: %v", err)
	}
	var pe *fs.PathError
	if err := CheckRegular(fifo); !errors.As(err, &pe) || pe.Path != fifo {
		t.Errorf("CheckRegular of a named pipe: %v", err)
	}
}

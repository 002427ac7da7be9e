//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package caches

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNonRegularFiles shows that a named pipe, a directory or a device at
// file= or ca_cert= is refused at once with an error naming the option and
// the path; before, opening a named pipe waited for a writer forever.
func TestNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, path := range []string{fifo, dir, "/dev/null"} {
		for _, tc := range []struct{ option, dsn string }{
			{"file", "memory://?file=" + path},
			{"ca_cert", "rediss://localhost:6390?ca_cert=" + path},
		} {
			t.Run(tc.option+"="+path, func(t *testing.T) {
				err := openWithin(t, tc.dsn, 5*time.Second)
				require.ErrorContains(t, err, tc.option+": ")
				require.ErrorContains(t, err, path)
				require.ErrorContains(t, err, "not a regular file")
			})
		}
	}
}

// openWithin opens dsn and returns its error, failing the test if Open
// does not return within d.
func openWithin(t *testing.T, dsn string, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := Open(dsn)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Open(%q) still blocked after %v", dsn, d)
		return nil
	}
}

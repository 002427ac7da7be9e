//go:build unix

package memstore

import (
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
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) still blocked after 5s", path)
		}
	}
}

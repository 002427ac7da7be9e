package memstore

import (
	"testing"
	"time"

	"github.com/gocaches/caches/internal/coarsetime"
)

// TestIdleStoreParksTheClock shows that the coarse clock a store reads
// starts on a burst of reads and parks once they stop.
func TestIdleStoreParksTheClock(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	must(t, s.Set(bg, "k", "v", time.Hour))
	for i := 0; i < 100_000 && !coarsetime.Running(); i++ {
		_, _, err := s.Get(bg, "k")
		must(t, err)
	}
	if !coarsetime.Running() {
		t.Fatal("a burst of reads did not start the coarse clock")
	}
	waitFor(t, func() bool { return !coarsetime.Running() })
}

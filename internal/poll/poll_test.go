package poll

import (
	"testing"
	"time"
)

func TestUntilHolds(t *testing.T) {
	n := 0
	if !Until(5*time.Second, time.Millisecond, func() bool { n++; return n == 3 }) {
		t.Fatal("Until reported false for a condition that came to hold")
	}
	if n != 3 {
		t.Fatalf("cond was checked %d times after it held, want 3 in all", n)
	}
}

func TestUntilGivesUp(t *testing.T) {
	start := time.Now()
	if Until(30*time.Millisecond, 5*time.Millisecond, func() bool { return false }) {
		t.Fatal("Until reported true for a condition that never held")
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("Until gave up after %v, before its timeout of 30ms", took)
	}
}

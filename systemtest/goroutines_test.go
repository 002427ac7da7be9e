package systemtest

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/poll"
)

// goroutineSnapshot is the goroutines of the process, by id.
type goroutineSnapshot map[string]string

// takeGoroutines returns the goroutines of the process now, from the
// stacks of all of them.
func takeGoroutines() goroutineSnapshot {
	buf := make([]byte, 1<<20)
	for i := 0; i < 6; i++ { // at most 64 MiB
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	snap := goroutineSnapshot{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := strings.Cut(string(g), "\n")
		id, _, _ := strings.Cut(strings.TrimPrefix(header, "goroutine "), " ")
		snap[id] = string(g)
	}
	return snap
}

// leakedSince returns the goroutines that are not in base and run code of
// this module or of go-redis.
func (s goroutineSnapshot) leakedSince(base goroutineSnapshot) []string {
	var out []string
	for id, stack := range s {
		if _, old := base[id]; old {
			continue
		}
		if strings.Contains(stack, "github.com/gocaches/caches") || strings.Contains(stack, "github.com/redis/go-redis") {
			out = append(out, stack)
		}
	}
	return out
}

// waitGoroutines waits, at most faultLeakWait, until the process has no
// more goroutines than base and none of this module or go-redis that base
// did not have; it fails t with their stacks otherwise.
func waitGoroutines(t *testing.T, base goroutineSnapshot, baseN int) (after int) {
	t.Helper()
	var n int
	var leaked []string
	back := poll.Until(faultLeakWait, 20*time.Millisecond, func() bool {
		n, leaked = runtime.NumGoroutine(), takeGoroutines().leakedSince(base)
		return n <= baseN && len(leaked) == 0
	})
	if !back {
		t.Errorf("goroutines: %d before, %d after %v; new ones of this module or go-redis:\n%s",
			baseN, n, faultLeakWait, strings.Join(leaked, "\n\n"))
	}
	return n
}

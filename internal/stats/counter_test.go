package stats

import (
	"sync"
	"testing"
)

func TestCounterSumsConcurrentAdds(t *testing.T) {
	var c Counter
	const goroutines, adds = 8, 10000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range adds {
				c.Add(1)
			}
		}()
	}
	wg.Wait()
	c.Add(5)
	if got, want := c.Load(), uint64(goroutines*adds+5); got != want {
		t.Fatalf("Load = %d, want %d", got, want)
	}
}

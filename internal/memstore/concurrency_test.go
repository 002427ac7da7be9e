package memstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// TestConcurrentMix runs goroutines mixing reads, writes, expiries and
// multi-key commands over shared keys, with the reaper running; under -race
// it checks the locking, and a shared counter checks that no increment is
// lost.
func TestConcurrentMix(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Now: clock.Now, Shards: 8, ExpiryInterval: time.Millisecond})
	defer s.Close()
	const workers, iterations = 12, 1500
	key := func(rng *rand.Rand) string { return fmt.Sprint("k", rng.IntN(12)) }
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	incrs := make([]int64, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range iterations {
				var err error
				k := key(rng)
				switch rng.IntN(16) {
				case 0:
					_, _, err = s.Get(bg, k)
				case 1:
					err = s.Set(bg, k, "v", time.Duration(rng.IntN(3))*time.Second)
				case 2:
					_, err = s.HSet(bg, k, time.Second, "f", "v", fmt.Sprint("g", i%5), "w")
				case 3:
					_, err = s.HGetAll(bg, k)
				case 4:
					_, err = s.SAdd(bg, k, 0, fmt.Sprint(rng.IntN(20)), fmt.Sprint(rng.IntN(20)))
				case 5:
					_, err = s.SCombine(bg, backend.Union, key(rng), key(rng), key(rng))
				case 6:
					_, err = s.SCombineStore(bg, backend.Inter, key(rng), time.Second, key(rng), key(rng))
				case 7:
					_, err = s.Del(bg, key(rng), key(rng), key(rng))
				case 8:
					_, err = s.ZAdd(bg, k, time.Second, backend.ZAddUpsert, zs([]string{fmt.Sprint(rng.IntN(30))}, []float64{float64(rng.IntN(10))})...)
				case 9:
					_, _, err = splitZ(s.ZRangeByScore(bg, k, "-inf", "(5", rng.IntN(2) == 0, 0, 5))
				case 10:
					_, _, err = splitZ(s.ZPop(bg, k, 2, rng.IntN(2) == 0))
				case 11:
					_, err = s.PExpire(bg, k, time.Duration(rng.IntN(2000))*time.Millisecond)
				case 12:
					_, err = s.IncrBy(bg, "counter", 1, 0)
					incrs[w]++
				case 13:
					_, err = s.SPop(bg, k, 1)
				case 14:
					if i%50 == 0 {
						clock.Advance(300 * time.Millisecond)
						s.FastForward(100 * time.Millisecond)
						_ = s.DBSize()
						_ = s.Keys()
					}
				case 15:
					_, _, err = s.HScan(bg, k, 0, 3)
				}
				if err != nil && !errors.Is(err, ErrWrongType) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want int64
	for _, n := range incrs {
		want += n
	}
	got, _, err := s.Get(bg, "counter")
	must(t, err)
	equal(t, "counter", got, fmt.Sprint(want))
}

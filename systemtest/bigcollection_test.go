package systemtest

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/gocaches/caches"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// bigSize is the number of fields and members of the big collections.
const bigSize = 1_000_000

// heapLimit is the most the heap may grow while one is iterated.
const heapLimit = 32 << 20

// populateBig fills the hash big:h and the set big:s of the real server with
// bigSize entries each, in pipelined batches.
func populateBig(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	const batch = 1000
	for start := 0; start < bigSize; start += 100 * batch {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for b := start; b < start+100*batch && b < bigSize; b += batch {
				fv := make([]any, 0, 2*batch)
				ms := make([]any, 0, batch)
				for i := b; i < b+batch; i++ {
					f := "field-" + strconv.Itoa(i)
					fv = append(fv, f, i)
					ms = append(ms, f)
				}
				p.HSet(ctx, "big:h", fv...)
				p.SAdd(ctx, "big:s", ms...)
			}
			return nil
		})
		require.NoError(t, err)
	}
}

// heapGrowth tracks the peak of the heap, sampled during an iteration,
// above its size after a GC before it.
type heapGrowth struct {
	base, peak uint64
}

func newHeapGrowth() *heapGrowth {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapGrowth{base: ms.HeapAlloc, peak: ms.HeapAlloc}
}

func (h *heapGrowth) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapAlloc)
}

func (h *heapGrowth) growth() uint64 { return h.peak - h.base }

// TestBigCollectionIterationMemory iterates a hash and a set of 1,000,000
// entries on a real server with All and checks that the heap grows by less
// than heapLimit: the iterators hold one page of SCAN at a time.
func TestBigCollectionIterationMemory(t *testing.T) {
	client := sharedRedisClient(t, redis.Options{})
	conn := caches.NewRedisConn(client)
	populateBig(t, client)
	ctx := context.Background()

	t.Run("hash", func(t *testing.T) {
		d := caches.NewDictCache[string, int](caches.Options{Prefix: "big", Conn: conn}).Key("h")
		h := newHeapGrowth()
		iterateBigHash(ctx, t, d, 50_000, h.sample)
		t.Logf("iterating a hash of %d fields grew the heap by at most %.1f MiB", bigSize, float64(h.growth())/(1<<20))
		require.Less(t, h.growth(), uint64(heapLimit))
	})
	t.Run("set", func(t *testing.T) {
		s := caches.NewSetCache[string](caches.Options{Prefix: "big", Conn: conn}).Key("s")
		h := newHeapGrowth()
		n := 0
		for _, err := range s.All(ctx) {
			require.NoError(t, err)
			if n++; n%50_000 == 0 {
				h.sample()
			}
		}
		h.sample()
		require.Equal(t, bigSize, n)
		t.Logf("iterating a set of %d members grew the heap by at most %.1f MiB", n, float64(h.growth())/(1<<20))
		require.Less(t, h.growth(), uint64(heapLimit))
	})
}

// iterateBigHash iterates the big hash through d, calling sample every
// every fields and once at the end, and checks that every field came once.
func iterateBigHash(ctx context.Context, t *testing.T, d caches.Dict[string, int], every int, sample func()) {
	t.Helper()
	n, sum := 0, 0
	for item, err := range d.All(ctx) {
		require.NoError(t, err)
		n, sum = n+1, sum+item.Value
		if n%every == 0 {
			sample()
		}
	}
	sample()
	require.Equal(t, bigSize, n)
	require.Equal(t, bigSize*(bigSize-1)/2, sum, "every field seen once")
}

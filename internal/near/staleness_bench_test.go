package near

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkStalenessReader compares the two ways of reading a tracking
// connection in one process, in alternating rounds of 200 writes: through
// the network poller and directly (ppoll). A raw client writes a new value;
// a reader that holds a copy reads, yielding between reads, until it sees
// it. It reports, per way, the p50, p99 and max of the time from the
// write's start until the value was seen (-seen-) and of the time from the
// write's reply until the invalidation was applied (-apply-; negative when
// applied first).
func BenchmarkStalenessReader(b *testing.B) {
	srv := redistest.StartForTest(b)
	defer func(d bool) { readDirect = d }(readDirect)
	ways := []struct {
		name   string
		direct bool
	}{{"poller", false}, {"direct", true}}
	seen := make([][]time.Duration, len(ways))
	apply := make([][]time.Duration, len(ways))
	for b.Loop() {
		for i, w := range ways {
			readDirect = w.direct
			s, a := stalenessRound(b, srv, 200)
			seen[i], apply[i] = append(seen[i], s...), append(apply[i], a...)
		}
	}
	for i, w := range ways {
		reportQuantiles(b, w.name+"-seen", seen[i])
		reportQuantiles(b, w.name+"-apply", apply[i])
	}
}

// stalenessRound makes n writes to a key a near cache over srv holds, and
// returns for each the time until the new value was read and the time
// from the write's reply until the invalidation was applied.
func stalenessRound(b *testing.B, srv *redistest.Server, n int) (seen, apply []time.Duration) {
	ctx := context.Background()
	data := redis.NewClient(&redis.Options{Addr: srv.Addr})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer data.Close()
	defer raw.Close()
	rb, err := redisbackend.New(data, false, redisbackend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	topo, _ := ClientTopology(data)
	var applied atomic.Int64
	c := New(rb, topo, Options{Prefix: "p", OnInvalidate: func(string, bool) { applied.Store(time.Now().UnixNano()) }})
	defer c.Close()
	if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
		b.Fatalf("tracking never went live: %v", c.Stats().Err)
	}
	prev := "start"
	if err := raw.Set(ctx, "p:k", prev, 0).Err(); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		readUntil(b, c, prev)
		for range 3 { // a local copy, not a fill
			_, _, _ = c.Get(ctx, "p:k")
		}
		next := strconv.Itoa(i)
		t0 := time.Now()
		if err := raw.Set(ctx, "p:k", next, 0).Err(); err != nil {
			b.Fatal(err)
		}
		replied := time.Now()
		readUntil(b, c, next)
		seen = append(seen, time.Since(t0))
		apply = append(apply, time.Unix(0, applied.Load()).Sub(replied))
		prev = next
	}
	return seen, apply
}

// readUntil reads the key through c, yielding between reads, until it
// holds want (for at most 2s).
func readUntil(b *testing.B, c *Cache, want string) {
	deadline := time.Now().Add(2 * time.Second)
	for n := 0; ; n++ {
		if v, _, _ := c.Get(context.Background(), "p:k"); v == want {
			return
		}
		if n%64 == 0 && time.Now().After(deadline) {
			b.Fatalf("%q not read within 2s", want)
		}
		runtime.Gosched()
	}
}

func reportQuantiles(b *testing.B, name string, d []time.Duration) {
	slices.Sort(d)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), name+"-p50-ms")
	b.ReportMetric(ms(d[len(d)*99/100]), name+"-p99-ms")
	b.ReportMetric(ms(d[len(d)-1]), name+"-max-ms")
}

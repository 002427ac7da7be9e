package near

import (
	"bufio"
	"context"
	"net"
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
// the network poller and directly (ppoll). A reader that holds a copy of a
// key reads it, yielding between reads, until it sees the value just
// written. Two writers: "reply", the reader's goroutine writing through a
// go-redis client and waiting for the reply, as bench/'s
// BenchmarkNearStaleness does (the reader's goroutine is blocked on the
// network when the push arrives, with the reply); "other", a goroutine
// writing on a connection of its own whose replies the reader never waits
// for, as another process does. It reports <reader>-<writer>-p50-ms,
// -p99-ms and -max-ms of the time from the write until the value was read.
func BenchmarkStalenessReader(b *testing.B) {
	srv := redistest.StartForTest(b)
	defer func(d bool) { readDirect = d }(readDirect)
	type run struct {
		name   string
		direct bool
		writer func(testing.TB, string) writer
		seen   []time.Duration
	}
	runs := []*run{
		{name: "poller-reply", writer: replyWriter}, {name: "direct-reply", direct: true, writer: replyWriter},
		{name: "poller-other", writer: otherWriter}, {name: "direct-other", direct: true, writer: otherWriter},
	}
	for b.Loop() {
		for _, r := range runs {
			readDirect = r.direct
			r.seen = append(r.seen, stalenessRound(b, srv.Addr, r.writer, 200)...)
		}
	}
	for _, r := range runs {
		reportQuantiles(b, r.name, r.seen)
	}
}

// A writer sets the key to a value and returns when the write started.
type writer func(v string) (started func() time.Time)

// replyWriter writes with a go-redis client and waits for the reply.
func replyWriter(tb testing.TB, addr string) writer {
	raw := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { raw.Close() })
	return func(v string) func() time.Time {
		t0 := time.Now()
		if err := raw.Set(context.Background(), "p:k", v, 0).Err(); err != nil {
			tb.Error(err)
		}
		return func() time.Time { return t0 }
	}
}

// otherWriter writes from a goroutine of its own on a connection whose
// replies another goroutine reads.
func otherWriter(tb testing.TB, addr string) writer {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	values := make(chan string)
	var t0 atomic.Int64
	go func() { // the replies
		r := bufio.NewReader(conn)
		for {
			if _, err := r.ReadSlice('\n'); err != nil {
				return
			}
		}
	}()
	go func() {
		for v := range values {
			t0.Store(time.Now().UnixNano())
			if _, err := conn.Write(appendCommand(nil, "SET", "p:k", v)); err != nil {
				tb.Error(err)
			}
		}
	}()
	tb.Cleanup(func() { close(values); conn.Close() })
	return func(v string) func() time.Time {
		values <- v
		return func() time.Time { return time.Unix(0, t0.Load()) }
	}
}

// stalenessRound makes n writes with a new writer to a key a new near
// cache holds, and returns for each the time until the value was read.
func stalenessRound(b *testing.B, addr string, newWriter func(testing.TB, string) writer, n int) (seen []time.Duration) {
	data := redis.NewClient(&redis.Options{Addr: addr})
	defer data.Close()
	rb, err := redisbackend.New(data, false, redisbackend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	topo, _ := ClientTopology(data)
	c := New(rb, topo, Options{Prefix: "p"})
	defer c.Close()
	if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
		b.Fatalf("tracking never went live: %v", c.Stats().Err)
	}
	write := newWriter(b, addr)
	prev := "start"
	write(prev)
	for i := range n {
		readUntil(b, c, prev)
		for range 3 { // a local copy, not a fill
			_, _, _ = c.Get(context.Background(), "p:k")
		}
		prev = strconv.Itoa(i)
		started := write(prev)
		readUntil(b, c, prev)
		seen = append(seen, time.Since(started()))
	}
	return seen
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

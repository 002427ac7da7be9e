package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// nearKeys is how many hot keys the near-cache comparison reads, and
// nearCallers from how many goroutines.
const nearKeys, nearCallers = 100, 64

// BenchmarkNearHot compares hot-key reads, 100 keys read by 64 goroutines,
// in turns (see runTurns): ours with a near cache (near=true on the DSN),
// rueidis DoCache (client-side caching with its default tracking), ours on
// memory:// (the ceiling for a local copy) and ours plain on Redis. It
// reports <impl>-ops/s and <impl>-allocs/op.
func BenchmarkNearHot(b *testing.B) {
	ctx := context.Background()
	var closers []func()
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	open := func(dsn string) *caches.Conn {
		c, err := caches.Open(dsn)
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, func() { c.Close() })
		return c
	}
	var targets []parTarget
	for _, t := range []struct{ name, dsn string }{
		{"ours-near", "redis://" + redisAddr + "?near=true"},
		{"ours-memory", "memory://"},
		{"ours-redis", "redis://" + redisAddr},
	} {
		kc := caches.NewKeyCache[string](caches.Options{Prefix: "nh:" + t.name, TTL: ttl, Conn: open(t.dsn)})
		handles := make([]caches.Key[string], nearKeys)
		for k := range handles {
			handles[k] = kc.Key(k)
			if err := handles[k].Set(ctx, value100); err != nil {
				b.Fatal(err)
			}
		}
		targets = append(targets, parTarget{name: t.name, get: func(k int) error {
			s, err := handles[k].Get(ctx)
			return expect(s == value100, err)
		}})
	}
	rue, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}})
	if err != nil {
		b.Fatal(err)
	}
	closers = append(closers, rue.Close)
	rueKeys := make([]string, nearKeys)
	for k := range rueKeys {
		rueKeys[k] = "nh:rueidis:" + strconv.Itoa(k)
		if err := rue.Do(ctx, rue.B().Set().Key(rueKeys[k]).Value(value100).Px(ttl).Build()).Error(); err != nil {
			b.Fatal(err)
		}
	}
	targets = append(targets, parTarget{name: "rueidis-cache", get: func(k int) error {
		s, err := rue.DoCache(ctx, rue.B().Get().Key(rueKeys[k]).Cache(), time.Minute).ToString()
		return expect(s == value100, err)
	}})
	ops := make([]func(i int) error, len(targets))
	for j, t := range targets {
		ops[j] = func(i int) error { return t.get(i % nearKeys) }
		if _, err := drive(nearCallers, 0, 20*nearKeys, ops[j]); err != nil { // fill the copies
			b.Fatalf("%s: %v", t.name, err)
		}
	}
	runTurns(b, nearCallers, targets, ops)
}

// BenchmarkNearStaleness measures, for ours with a near cache and for
// rueidis DoCache, how long after another client starts writing a new
// value a reader that holds a local copy of the key sees it: 200 writes by
// a raw go-redis client, each followed by reads in a loop until the new
// value shows (at most 2s each). It reports <impl>-p50-ms, -p99-ms and
// -max-ms.
func BenchmarkNearStaleness(b *testing.B) {
	ctx := context.Background()
	raw := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer raw.Close()
	conn, err := caches.Open("redis://" + redisAddr + "?near=true")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	kc := caches.NewKeyCache[string](caches.Options{Prefix: "ns", TTL: ttl, Conn: conn})
	rue, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}})
	if err != nil {
		b.Fatal(err)
	}
	defer rue.Close()
	readers := []struct {
		name, key string
		get       func() (string, error)
	}{
		{"ours-near", kc.Key("k").String(), func() (string, error) { return kc.Key("k").Get(ctx) }},
		{"rueidis-cache", "ns:rueidis", func() (string, error) {
			return rue.DoCache(ctx, rue.B().Get().Key("ns:rueidis").Cache(), time.Minute).ToString()
		}},
	}
	for b.Loop() {
		for _, r := range readers {
			lat, err := staleness(ctx, raw, r.key, r.get)
			if err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			b.ReportMetric(ms(lat[len(lat)/2]), r.name+"-p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), r.name+"-p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), r.name+"-max-ms")
		}
	}
}

// staleness writes 200 new values at key through raw, each once get
// returns the previous one (so that the reader holds a copy), and returns
// the sorted times from each write's start until get returned its value.
func staleness(ctx context.Context, raw *redis.Client, key string, get func() (string, error)) ([]time.Duration, error) {
	const samples, limit = 200, 2 * time.Second
	lat := make([]time.Duration, 0, samples)
	prev := "start"
	if err := raw.Set(ctx, key, prev, ttl).Err(); err != nil {
		return nil, err
	}
	for i := range samples {
		if err := await(get, prev, limit); err != nil { // the reader holds prev
			return nil, err
		}
		for range 3 { // a local copy, not a fill
			_, _ = get()
		}
		next := fmt.Sprintf("v%d", i)
		t0 := time.Now()
		if err := raw.Set(ctx, key, next, ttl).Err(); err != nil {
			return nil, err
		}
		if err := await(get, next, limit); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
		prev = next
	}
	slices.Sort(lat)
	return lat, nil
}

var errNeverSeen = errors.New("the new value was not seen within the limit")

// await reads with get until it returns want, for up to limit, yielding
// the processor between reads as a goroutine serving requests does between
// them. A reader that spins without yielding holds its processor until the
// scheduler preempts it (10 ms): on a 2-core machine the goroutine that
// applies the invalidation push then waits for that, and both near caches'
// p99 measured that wait (12-19 ms on an idle machine) instead of the
// invalidation path.
func await(get func() (string, error), want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for n := 0; ; n++ {
		if v, err := get(); err == nil && v == want {
			return nil
		}
		if n%64 == 0 && time.Now().After(deadline) {
			return errNeverSeen
		}
		runtime.Gosched()
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

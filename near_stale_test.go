package caches

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/near"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// staleness is the outcome of one run of the staleness checker.
type staleness struct {
	writes, confirmed, reads, violations int64
	hits, flushes                        uint64
}

func (s staleness) String() string {
	return fmt.Sprintf("%d writes (%d confirmed delivered), %d reads (%d near hits), %d flushes, %d violations",
		s.writes, s.confirmed, s.reads, s.hits, s.flushes, s.violations)
}

// checkStaleness bumps a version at each of keys through raw, another
// client, while readers read them through a near-cached family on conn; a
// write counts as delivered once the near cache applied an invalidation
// (or a flush) after it. A read that starts after a write was delivered
// and returns an older version is a violation. fault, when set, runs
// alongside until the writers are done. The run is bounded by writes per
// key and by time.
func checkStaleness(t *testing.T, conn *Conn, raw redis.UniversalClient, prefix string, fault func(ctx context.Context)) staleness {
	t.Helper()
	const nKeys, writesPerKey, readers = 4, 300, 2
	const pace = 3 * time.Millisecond // between two writes of a key: the run lasts about 1.5s
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var delivered [nKeys]atomic.Int64
	var flushed atomic.Int64
	notify := make(chan struct{}, 1)
	no := &NearOptions{StallTimeout: 300 * time.Millisecond, Heartbeat: 20 * time.Millisecond,
		observe: func(key string, flush bool) {
			if flush {
				flushed.Add(1)
			} else if i, err := strconv.Atoi(strings.TrimPrefix(key, prefix+":")); err == nil && i < nKeys {
				delivered[i].Add(1)
			}
			select {
			case notify <- struct{}{}:
			default:
			}
		}}
	kc := NewKeyCache[int64](Options{Prefix: prefix, Conn: conn, Near: no, TTL: time.Minute})
	for i := range nKeys {
		if err := kc.Key(i).Set(ctx, 0); err != nil {
			t.Fatal(err)
		}
		_, _ = kc.Key(i).Get(ctx)
	}
	waitLive(t, kc)

	var confirmed [nKeys]atomic.Int64
	var res staleness
	var writersDone sync.WaitGroup
	var mu sync.Mutex
	for i := range nKeys {
		writersDone.Add(1)
		go func() {
			defer writersDone.Done()
			key := prefix + ":" + strconv.Itoa(i)
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for v := int64(1); v <= writesPerKey && ctx.Err() == nil; v++ {
				<-tick.C
				// The key's invalidations after the write was sent, or a
				// flush after it completed: a flush that came before then
				// proves nothing about it.
				before := delivered[i].Load()
				if err := raw.Set(ctx, key, v, time.Minute).Err(); err != nil {
					continue // a paused or killed server: the next version
				}
				flushes := flushed.Load()
				mu.Lock()
				res.writes++
				mu.Unlock()
				if waitDelivered(ctx, notify, func() bool { return delivered[i].Load() > before || flushed.Load() > flushes }) {
					confirmed[i].Store(v)
					mu.Lock()
					res.confirmed++
					mu.Unlock()
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readersDone sync.WaitGroup
	var reads, violations atomic.Int64
	for r := range readers {
		readersDone.Add(1)
		go func() {
			defer readersDone.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (n + r) % nKeys
				floor := confirmed[i].Load()
				v, err := kc.Key(i).Get(ctx)
				if err != nil {
					continue
				}
				reads.Add(1)
				if v < floor {
					violations.Add(1)
					t.Errorf("key %d: read version %d after version %d was delivered", i, v, floor)
				}
			}
		}()
	}
	faultDone := make(chan struct{})
	fctx, fcancel := context.WithCancel(ctx)
	go func() {
		defer close(faultDone)
		if fault != nil {
			fault(fctx)
		}
	}()
	writersDone.Wait()
	fcancel()
	<-faultDone
	close(stop)
	readersDone.Wait()
	s, _ := kc.NearStats()
	res.reads, res.violations, res.hits, res.flushes = reads.Load(), violations.Load(), s.Hits, s.Flushes
	if res.writes == 0 || res.confirmed == 0 || res.reads == 0 {
		t.Errorf("the checker did not exercise the cache: %s", res)
	}
	return res
}

// waitDelivered waits on notify until delivered holds, for up to 2s.
func waitDelivered(ctx context.Context, notify chan struct{}, delivered func() bool) bool {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for !delivered() {
		select {
		case <-notify:
		case <-deadline.C:
			return delivered()
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

// killTracking kills the tracking connections of the server at c.
func killTracking(ctx context.Context, c *redis.Client) {
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return
	}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+near.ConnName+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				c.Do(ctx, "CLIENT", "KILL", "ID", id)
			}
		}
	}
}

func TestNearStaleness(t *testing.T) {
	scenarios := []struct {
		name  string
		fault func(srv *redistest.Server, admin *redis.Client) func(ctx context.Context)
	}{
		{"steady", nil},
		{"tracking killed", func(_ *redistest.Server, admin *redis.Client) func(ctx context.Context) {
			return func(ctx context.Context) { every(ctx, 100*time.Millisecond, func() { killTracking(ctx, admin) }) }
		}},
		{"client pause", func(_ *redistest.Server, admin *redis.Client) func(ctx context.Context) {
			return func(ctx context.Context) {
				n := 0
				every(ctx, 700*time.Millisecond, func() {
					// A WRITE pause lets the heartbeat through; an ALL pause
					// of 500ms outlasts the stall timeout (300ms).
					args := [][]any{{"CLIENT", "PAUSE", "150", "WRITE"}, {"CLIENT", "PAUSE", "500", "ALL"}}[n%2]
					n++
					admin.Do(ctx, args...)
				})
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := redistest.StartForTest(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr})
			raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
			admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { client.Close(); raw.Close(); admin.Close() })
			conn := NewRedisConn(client)
			t.Cleanup(func() { conn.Close() })
			var fault func(context.Context)
			if sc.fault != nil {
				fault = sc.fault(srv, admin)
			}
			res := checkStaleness(t, conn, raw, "stale", fault)
			t.Logf("%s: %s", sc.name, res)
		})
	}
}

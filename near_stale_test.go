package caches

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/near"
	"github.com/gocaches/caches/internal/poll"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// staleness is the outcome of one run of the staleness checker.
type staleness struct {
	writes, confirmed, lost, reads, violations, late int64
	hits, flushes                                    uint64
}

func (s staleness) String() string {
	return fmt.Sprintf("%d writes (%d confirmed delivered, %d lost by Redis), %d reads (%d near hits), %d flushes, %d violations, %d late reads",
		s.writes, s.confirmed, s.lost, s.reads, s.hits, s.flushes, s.violations, s.late)
}

// staleRun is one run of the staleness checker: writes through raw,
// another client, reads through a near-cached family of prefix on conn.
// fault, when set, runs alongside; with untilFault the writers go on until
// it returns (a failover), else it is stopped when they are done.
type staleRun struct {
	conn       *Conn
	raw        redis.UniversalClient
	prefix     string
	fault      func(ctx context.Context)
	untilFault bool
}

// Checker timings: the near cache's heartbeat and stall timeout, and the
// slack allowed on top of their sum for the scheduler of a loaded machine.
const (
	staleHeartbeat = 20 * time.Millisecond
	staleStall     = 300 * time.Millisecond
	staleSlack     = 200 * time.Millisecond
)

// checkStaleness bumps a version at each of the keys through r.raw while
// readers read them through a near-cached family on r.conn. Two kinds of
// stale read are counted. A violation: a write counts as delivered once
// the near cache applied an invalidation (or a flush) after it, and a read
// that starts after that returns an older version. A late read: a read
// that starts more than Heartbeat+StallTimeout (+ slack) after a write
// completed returns an older version, the bound the near cache promises
// whatever becomes of its tracking connection, even when no invalidation
// ever arrives (tracking on a server that no longer takes the writes).
// Versions Redis lost (acknowledged by a master that was failed over
// before replicating them)
// do not count: the read is judged against the latest version before them
// that Redis kept. A writer finds them out from the value its SET ... GET
// replaced. The run is bounded by writes per key and by time.
func checkStaleness(t *testing.T, r staleRun) staleness {
	t.Helper()
	const nKeys, writesPerKey, maxWrites, readers = 4, 300, 5000, 2
	const pace = 3 * time.Millisecond // between two writes of a key: the run lasts about 1.5s
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	var delivered [nKeys]atomic.Int64
	var flushed atomic.Int64
	notify := make(chan struct{}, 1)
	no := &NearOptions{StallTimeout: staleStall, Heartbeat: staleHeartbeat,
		observe: func(key string, flush bool) {
			if flush {
				flushed.Add(1)
			} else if i, err := strconv.Atoi(strings.TrimPrefix(key, r.prefix+":")); err == nil && i < nKeys {
				delivered[i].Add(1)
			}
			select {
			case notify <- struct{}{}:
			default:
			}
		}}
	kc := NewKeyCache[int64](Options{Prefix: r.prefix, Conn: r.conn, Near: no, TTL: time.Minute})
	for i := range nKeys {
		if err := kc.Key(i).Set(ctx, 0); err != nil {
			t.Fatal(err)
		}
		_, _ = kc.Key(i).Get(ctx)
	}
	waitLive(t, kc)

	faultDone := make(chan struct{})
	fctx, fcancel := context.WithCancel(ctx)
	go func() {
		defer close(faultDone)
		if r.fault != nil {
			r.fault(fctx)
		}
	}()
	more := func(v int64) bool {
		if v > maxWrites || ctx.Err() != nil {
			return false
		}
		if v <= writesPerKey || !r.untilFault {
			return v <= writesPerKey
		}
		select {
		case <-faultDone:
			return false
		default:
			return true
		}
	}

	var confirmed [nKeys]atomic.Int64
	var completed [nKeys]writeLog
	var res staleness
	var writersDone sync.WaitGroup
	var mu sync.Mutex
	for i := range nKeys {
		writersDone.Add(1)
		go func() {
			defer writersDone.Done()
			key := r.prefix + ":" + strconv.Itoa(i)
			tick := time.NewTicker(pace)
			defer tick.Stop()
			var acked int64
			// write writes version v and waits until its invalidation is
			// delivered; false: the write failed (a paused, killed or
			// demoted server).
			write := func(v int64) bool {
				// The key's invalidations after the write was sent, or a
				// flush after it completed: a flush that came before then
				// proves nothing about it.
				before := delivered[i].Load()
				old, err := r.raw.SetArgs(ctx, key, v, redis.SetArgs{TTL: time.Minute, Get: true}).Result()
				if err != nil {
					return false
				}
				// Redis lost the acknowledged writes the key no longer held
				// (on a master failed over before replicating them).
				if o, _ := strconv.ParseInt(old, 10, 64); o < acked {
					completed[i].markLost(o+1, acked)
				}
				completed[i].add(v, time.Now())
				acked = v
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
				return true
			}
			v := int64(1)
			for ; more(v); v++ {
				<-tick.C
				write(v)
			}
			// A last write on the master tells whether the writes since the
			// previous one that succeeded were lost.
			poll.Until(5*time.Second, 20*time.Millisecond, func() bool { return write(v) })
		}()
	}
	stop := make(chan struct{})
	var readersDone sync.WaitGroup
	var reads atomic.Int64
	var suspects []suspect
	for rd := range readers {
		readersDone.Add(1)
		go func() {
			defer readersDone.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (n + rd) % nKeys
				floor := confirmed[i].Load()
				bound := completed[i].before(time.Now().Add(-(staleHeartbeat + staleStall + staleSlack)))
				v, err := kc.Key(i).Get(ctx)
				if err != nil {
					continue
				}
				reads.Add(1)
				if v < floor || v < bound {
					mu.Lock()
					suspects = append(suspects, suspect{key: i, v: v, floor: floor, bound: bound})
					mu.Unlock()
				}
			}
		}()
	}
	writersDone.Wait()
	fcancel()
	<-faultDone
	close(stop)
	readersDone.Wait()
	s, _ := kc.NearStats()
	res.reads, res.hits, res.flushes = reads.Load(), s.Hits, s.Flushes
	for i := range completed {
		res.lost += completed[i].lostCount()
	}
	for _, sp := range suspects {
		lg := &completed[sp.key]
		if f := lg.surviving(sp.floor); sp.v < f {
			res.violations++
			t.Errorf("key %d: read version %d after version %d was delivered", sp.key, sp.v, f)
		}
		if b := lg.surviving(sp.bound); sp.v < b {
			res.late++
			t.Errorf("key %d: read version %d more than %v after version %d was written", sp.key, sp.v,
				staleHeartbeat+staleStall+staleSlack, b)
		}
	}
	if res.writes == 0 || res.confirmed == 0 || res.reads == 0 || res.hits == 0 {
		t.Errorf("the checker did not exercise the cache: %s", res)
	}
	return res
}

// suspect is a read of version v of key that started after version floor
// was delivered or version bound was written a while ago: a stale read
// unless Redis lost those versions.
type suspect struct {
	key             int
	v, floor, bound int64
}

// writeLog is the versions of a key whose writes completed, with when, and
// the ranges of them Redis lost.
type writeLog struct {
	mu   sync.Mutex
	vs   []int64
	ats  []time.Time
	lost [][2]int64
}

func (w *writeLog) markLost(from, to int64) {
	w.mu.Lock()
	w.lost = append(w.lost, [2]int64{from, to})
	w.mu.Unlock()
}

func (w *writeLog) lostCount() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, r := range w.lost {
		n += r[1] - r[0] + 1
	}
	return n
}

// surviving returns the highest version up to v that Redis did not lose.
func (w *writeLog) surviving(v int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	for changed := true; changed; {
		changed = false
		for _, r := range w.lost {
			if v >= r[0] && v <= r[1] {
				v, changed = r[0]-1, true
			}
		}
	}
	return v
}

func (w *writeLog) add(v int64, at time.Time) {
	w.mu.Lock()
	w.vs, w.ats = append(w.vs, v), append(w.ats, at)
	w.mu.Unlock()
}

// before returns the highest version whose write completed before t, or 0.
func (w *writeLog) before(t time.Time) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := sort.Search(len(w.ats), func(i int) bool { return !w.ats[i].Before(t) })
	if n == 0 {
		return 0
	}
	return w.vs[n-1]
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
			res := checkStaleness(t, staleRun{conn: conn, raw: raw, prefix: "stale", fault: fault})
			t.Logf("%s: %s", sc.name, res)
		})
	}
}

// TestNearStalenessSentinelFailover runs the checker through two forced
// failovers of the shared Sentinel setup: the data client and the writer
// follow the sentinel to the new master, and the tracking connection must
// follow them (it is still on a server that answers ROLE master until the
// former master is demoted).
func TestNearStalenessSentinelFailover(t *testing.T) {
	s := realSentinel.Get(t)
	conn, err := Open("redis+sentinel://:" + s.Password + "@" + s.SentinelAddr + "/" + s.MasterName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	raw := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName,
		SentinelAddrs: []string{s.SentinelAddr}, Password: s.Password, SentinelPassword: s.Password})
	t.Cleanup(func() { raw.Close() })
	fault := func(ctx context.Context) {
		for range 2 {
			if err := s.Failover(ctx); err != nil {
				t.Errorf("failover: %v", err)
				return
			}
		}
	}
	res := checkStaleness(t, staleRun{conn: conn, raw: raw, prefix: "stalesen", fault: fault, untilFault: true})
	t.Logf("sentinel failover: %s", res)
}

// TestNearStalenessCluster runs the checker on the shared Cluster: steady,
// with the tracking connections killed on every master, and while the
// slots of the keys move to other masters and back.
func TestNearStalenessCluster(t *testing.T) {
	cl := realCluster.Get(t)
	const prefix = "stalecl"
	scenarios := []struct {
		name       string
		untilFault bool
		fault      func(t *testing.T) func(ctx context.Context)
	}{
		{"steady", false, nil},
		{"tracking killed", false, func(*testing.T) func(ctx context.Context) {
			return func(ctx context.Context) {
				every(ctx, 100*time.Millisecond, func() {
					for _, a := range cl.Addrs {
						admin := redis.NewClient(&redis.Options{Addr: a, Password: cl.Password})
						killTracking(ctx, admin)
						admin.Close()
					}
				})
			}
		}},
		{"resharding", true, func(t *testing.T) func(ctx context.Context) {
			return func(ctx context.Context) { reshardKeys(ctx, t, cl, prefix) }
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			conn, err := Open("redis+cluster://" + strings.Join(cl.Addrs, ","))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			raw := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, Password: cl.Password})
			t.Cleanup(func() { raw.Close() })
			run := staleRun{conn: conn, raw: raw, prefix: prefix}
			if sc.fault != nil {
				run.fault, run.untilFault = sc.fault(t), sc.untilFault
			}
			res := checkStaleness(t, run)
			t.Logf("cluster %s: %s", sc.name, res)
		})
	}
}

// reshardKeys moves the slot of each of the checker's first two keys to
// another master, with its keys, while the checker runs; the test's
// cleanup moves them back.
func reshardKeys(ctx context.Context, t *testing.T, cl *redistest.Cluster, prefix string) {
	for i := range 2 {
		key := prefix + ":" + strconv.Itoa(i)
		slot, from := redistest.Slot(key), cl.MasterFor(key)
		to := cl.Addrs[(slices.Index(cl.Addrs, from)+1)%len(cl.Addrs)]
		t.Cleanup(func() { restoreSlot(t, cl, nil, slot, from) })
		if err := cl.MoveSlot(ctx, slot, to); err != nil {
			t.Errorf("move slot %d of %s to %s: %v", slot, key, to, err)
			return
		}
	}
}

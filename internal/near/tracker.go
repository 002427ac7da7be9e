package near

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Node is a Redis master to track.
type Node struct {
	Addr               string
	Dial               func(ctx context.Context) (net.Conn, error)
	Username, Password string
	// RunID, when set, returns the run_id of the server the data client
	// sends its commands to now. A tracking connection must be on that
	// very server: behind Sentinel, Addr stays the same through a
	// failover while the server changes.
	RunID func(ctx context.Context) (string, error)
}

// Topology lists the masters whose writes the cache must hear of.
type Topology func(ctx context.Context) ([]Node, error)

// ClientTopology returns the masters of a go-redis client: the one master
// of a *redis.Client (a Sentinel failover client dials the current master
// through its Dialer) or every master of a *redis.ClusterClient. ok is
// false for other clients, which a near cache cannot track.
func ClientTopology(c redis.UniversalClient) (t Topology, ok bool) {
	switch cl := c.(type) {
	case *redis.Client:
		return func(context.Context) ([]Node, error) {
			n := nodeOf(cl.Options())
			n.RunID = func(ctx context.Context) (string, error) { return dataRunID(ctx, cl) }
			return []Node{n}, nil
		}, true
	case *redis.ClusterClient:
		return func(ctx context.Context) ([]Node, error) { return clusterMasters(ctx, cl) }, true
	}
	return nil, false
}

func nodeOf(o *redis.Options) Node {
	dial := o.Dialer
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	network := o.Network
	if network == "" {
		network = "tcp"
	}
	return Node{
		Addr:     o.Addr,
		Dial:     func(ctx context.Context) (net.Conn, error) { return dial(ctx, network, o.Addr) },
		Username: o.Username, Password: o.Password,
	}
}

// dataRunID returns the run_id of the server a command of cl reaches.
func dataRunID(ctx context.Context, cl *redis.Client) (string, error) {
	info, err := cl.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	return runIDOf(info)
}

// runIDOf finds the run_id field of an INFO server reply.
func runIDOf(info string) (string, error) {
	for _, line := range strings.Split(info, "\n") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return id, nil
		}
	}
	return "", errors.New("near: INFO server without run_id")
}

func clusterMasters(ctx context.Context, cl *redis.ClusterClient) ([]Node, error) {
	var (
		mu    sync.Mutex
		nodes []Node
	)
	err := cl.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, nodeOf(m.Options()))
		mu.Unlock()
		return nil
	})
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Addr < nodes[j].Addr })
	return nodes, err
}

// ConnName is the name of the tracking connections, as CLIENT LIST shows
// it.
const ConnName = "caches-near"

// tracker keeps one tracking connection to every master of the topology
// and arms the cache while all of them are up.
type tracker struct {
	c      *Cache
	topo   Topology
	stopCh chan struct{}
	done   chan struct{}
	syncs  chan chan struct{} // Sync requests, answered by serve
	unmet  chan struct{}      // a Sync request serve failed to answer

	mu   sync.Mutex
	sess *session // the current one, closed by stop
}

func startTracker(c *Cache, topo Topology) *tracker {
	t := &tracker{c: c, topo: topo, stopCh: make(chan struct{}), done: make(chan struct{}), syncs: make(chan chan struct{})}
	go t.run()
	return t
}

func (t *tracker) stop() {
	close(t.stopCh)
	t.mu.Lock()
	if t.sess != nil {
		t.sess.close()
	}
	t.mu.Unlock()
	<-t.done
}

func (t *tracker) stopped() bool {
	select {
	case <-t.stopCh:
		return true
	default:
		return false
	}
}

// ErrUnsupported is the error of a server that refuses client-side
// caching: HELLO 3 or CLIENT TRACKING is an unknown command to it (Redis
// before 6.0, or a server that emulates Redis without it, as miniredis
// does). The near cache then stays bypassed, and tracking is tried again
// every UnsupportedRetry.
var ErrUnsupported = errors.New("caches: near cache: the server does not support client-side caching (HELLO 3, CLIENT TRACKING)")

// UnsupportedRetry is how often tracking is tried again on a server that
// refused it with ErrUnsupported (it may be upgraded, or failed over to
// one that supports it).
const UnsupportedRetry = 30 * time.Second

// errLost is why tracking is down after it was up.
var errLost = errors.New("caches: near cache: a tracking connection failed, stalled or no longer reaches the data's server")

// run connects, serves until a connection fails or stalls or the masters
// change, and reconnects with backoff, until stop.
func (t *tracker) run() {
	defer close(t.done)
	const minBackoff, maxBackoff = 20 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	reportedDown := false
	for !t.stopped() {
		s, err := t.open()
		if err != nil {
			t.c.down.Store(&err)
			if !reportedDown && !t.stopped() {
				t.report(false, err)
				reportedDown = true
			}
			wait := backoff
			if errors.Is(err, ErrUnsupported) {
				wait = UnsupportedRetry
			}
			if !t.sleep(wait) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		t.c.down.Store(nil)
		t.c.setLive(true)
		t.report(true, nil)
		t.serve(s)
		t.c.setLive(false)
		t.c.down.Store(&errLost)
		reportedDown = !t.stopped()
		if reportedDown {
			t.report(false, errLost)
		}
		s.close()
		s.wait()
		if t.unmet != nil { // answered now that the copies are gone
			close(t.unmet)
			t.unmet = nil
		}
	}
}

// report tells Options.OnTracking of a change of state.
func (t *tracker) report(live bool, err error) {
	if t.c.opts.OnTracking != nil {
		t.c.opts.OnTracking(live, err)
	}
}

func (t *tracker) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.stopCh:
		return false
	}
}

// open connects to every master and turns tracking on.
func (t *tracker) open() (*session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), t.c.opts.Timeout)
	defer cancel()
	nodes, err := t.topo(ctx)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, errors.New("near: no master to track")
	}
	s := &session{nodes: nodes, failed: make(chan struct{})}
	t.mu.Lock()
	if t.stopped() {
		t.mu.Unlock()
		return nil, errors.New("near: stopped")
	}
	t.sess = s
	t.mu.Unlock()
	for _, n := range nodes {
		l, err := t.connect(ctx, n)
		if err != nil {
			s.close()
			return nil, err
		}
		s.add(l)
	}
	if !sameServers(ctx, nodes, s.links) {
		s.close()
		return nil, errors.New("near: the tracking connection reached another server than the data client")
	}
	s.start(t.c)
	return s, nil
}

// connect opens a RESP3 connection to n with tracking on for the prefix.
func (t *tracker) connect(ctx context.Context, n Node) (*link, error) {
	conn, err := n.Dial(ctx)
	if err != nil {
		return nil, err
	}
	l := &link{conn: conn, in: input{conn}, replies: make(chan value, 4)}
	l.r = bufio.NewReader(&l.in)
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	hello := []string{"HELLO", "3"}
	if n.Password != "" {
		user := n.Username
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, n.Password)
	}
	hello = append(hello, "SETNAME", ConnName)
	for _, cmd := range [][]string{hello, {"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", t.c.opts.Prefix}} {
		if _, err := l.call(cmd...); err != nil {
			_ = conn.Close()
			if strings.HasPrefix(err.Error(), "ERR unknown") {
				return nil, fmt.Errorf("%w: %s on %s: %v", ErrUnsupported, cmd[0], n.Addr, err)
			}
			return nil, fmt.Errorf("near: %s on %s: %w", cmd[0], n.Addr, err)
		}
	}
	if n.RunID != nil {
		info, err := l.call("INFO", "server")
		if err == nil {
			l.runID, err = runIDOf(info.str)
		}
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("near: INFO server on %s: %w", n.Addr, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return l, nil
}

// serve heartbeats while the cache holds copies, and returns when a link
// fails, stalls or leaves the master role, when the masters change, or on
// stop.
func (t *tracker) serve(s *session) {
	hb := time.NewTimer(t.c.opts.Heartbeat)
	defer hb.Stop()
	for {
		// Idle (no copy to keep fresh): wait for a copy, no heartbeat, no
		// CPU spent. Otherwise beat every Heartbeat; a copy stored
		// meanwhile does not postpone the beat.
		wake, beat := t.c.wake, (<-chan time.Time)(nil)
		if t.c.local.DBSize() > 0 {
			hb.Reset(t.c.opts.Heartbeat)
			wake, beat = nil, hb.C
		}
		select {
		case <-wake:
			continue
		case <-beat:
		case req := <-t.syncs:
			if !t.answer(s, req) {
				return
			}
			continue
		case <-s.failed:
			return
		case <-t.stopCh:
			return
		}
		if !t.heartbeat(s) || t.moved(s) {
			return
		}
	}
}

// answer answers a Sync request with a heartbeat; when that fails, the
// request is answered once the copies are dropped.
func (t *tracker) answer(s *session, req chan struct{}) bool {
	if !t.heartbeat(s) {
		t.unmet = req
		return false
	}
	close(req)
	return true
}

// heartbeat asks every master for its ROLE and reports whether all
// answered "master" within the timeout. A reply comes after every
// invalidation Redis queued on the link before it, so a reply proves the
// cache was at most one heartbeat and timeout behind.
func (t *tracker) heartbeat(s *session) bool {
	for _, l := range s.links {
		if l.send("ROLE") != nil {
			return false
		}
	}
	tm := time.NewTimer(t.c.opts.Timeout)
	defer tm.Stop()
	for _, l := range s.links {
		select {
		case v := <-l.replies:
			if len(v.elems) == 0 || v.elems[0].str != "master" {
				return false
			}
		case <-tm.C:
			return false
		case <-s.failed:
			return false
		}
	}
	return true
}

// moved reports whether the masters differ from those of s, or the data
// client now talks to another server than a tracking connection.
func (t *tracker) moved(s *session) bool {
	ctx, cancel := context.WithTimeout(context.Background(), t.c.opts.Timeout)
	defer cancel()
	nodes, err := t.topo(ctx)
	if err != nil {
		return true
	}
	if !slices.EqualFunc(nodes, s.nodes, func(a, b Node) bool { return a.Addr == b.Addr }) {
		return true
	}
	return !sameServers(ctx, nodes, s.links)
}

// sameServers reports whether every link is on the server its node's data
// client reaches now (links[i] tracks nodes[i]).
func sameServers(ctx context.Context, nodes []Node, links []*link) bool {
	for i, n := range nodes {
		if n.RunID == nil {
			continue
		}
		id, err := n.RunID(ctx)
		if err != nil || i >= len(links) || id != links[i].runID {
			return false
		}
	}
	return true
}

// session is one set of tracking connections, one per master.
type session struct {
	nodes   []Node
	readers sync.WaitGroup // the links' readers

	mu      sync.Mutex // guards links and closed
	links   []*link
	failed  chan struct{} // closed when any link fails or on close
	closed  bool
	socks   *[]*direct // the sockets the local reads check, when all are read directly
	gated   *Cache     // whose local reads check socks
	failOne sync.Once
}

func (s *session) add(l *link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = l.conn.Close()
		return
	}
	s.links = append(s.links, l)
}

// start reads every link: on a thread of its own, blocked on the socket
// (see direct), where the connection is a plain socket; through the
// network poller otherwise (TLS).
func (s *session) start(c *Cache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	var socks []*direct
	for _, l := range s.links {
		if d, ok := openDirect(l.conn); ok && readDirect {
			l.dir, l.in.rd = d, d
			socks = append(socks, d)
			if gateReads {
				d.mark = func(reading bool) {
					if reading {
						c.reading(l)
					} else if l.r.Buffered() == 0 {
						c.caughtUp(l)
					}
				}
			}
		}
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			l.read(c, s)
		}()
	}
	if len(socks) == len(s.links) && gateReads {
		s.socks, s.gated = &socks, c
		c.sockets.Store(s.socks)
	}
}

// gateReads is whether the local reads check the sockets read directly
// (see Cache.hit); a benchmark turns it off to compare.
var gateReads = true

// readDirect is whether start reads plain sockets directly; a benchmark
// turns it off to compare with the poller path.
var readDirect = true

func (s *session) fail() { s.failOne.Do(func() { close(s.failed) }) }

// close ends the links; their readers return soon after (see wait).
func (s *session) close() {
	s.fail()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.socks != nil {
		s.gated.sockets.CompareAndSwap(s.socks, nil)
	}
	for _, l := range s.links {
		if l.dir != nil {
			l.dir.shutdown()
		}
		_ = l.conn.Close()
	}
	s.closed = true
}

// wait returns once the readers of a closed session have returned and
// closed their duplicate descriptors.
func (s *session) wait() { s.readers.Wait() }

// link is one tracking connection.
type link struct {
	runID   string // of the server, when node.RunID is set
	conn    net.Conn
	dir     *direct // reads the socket once the reader started, if it can
	in      input   // what r reads from: conn, then dir if set
	r       *bufio.Reader
	wbuf    []byte
	replies chan value // replies to the heartbeat
	behind  bool       // bytes read and not applied yet (its reader's alone)
}

// input is a link's source of bytes, switched from the connection to a
// direct reader when the reader starts (r may hold bytes read before).
type input struct{ rd io.Reader }

func (in *input) Read(p []byte) (int, error) { return in.rd.Read(p) }

func (l *link) send(args ...string) error {
	l.wbuf = appendCommand(l.wbuf[:0], args...)
	_, err := l.conn.Write(l.wbuf)
	return err
}

// call sends a command during setup and reads its reply.
func (l *link) call(args ...string) (value, error) {
	if err := l.send(args...); err != nil {
		return value{}, err
	}
	for {
		v, err := readValue(l.r)
		if err != nil {
			return value{}, err
		}
		if v.push {
			continue
		}
		if v.err != "" {
			return value{}, errors.New(v.err)
		}
		return v, nil
	}
}

// read applies the invalidation pushes and passes replies to the
// heartbeat until the connection fails.
func (l *link) read(c *Cache, s *session) {
	defer s.fail()
	defer c.caughtUp(l) // a reader that ends has nothing left to apply
	if l.dir != nil {
		defer l.dir.close()
	}
	for {
		v, err := readValue(l.r)
		if err != nil {
			return
		}
		l.apply(c, v)
		if l.r.Buffered() == 0 {
			c.caughtUp(l) // nothing read is left unapplied
		}
	}
}

// apply applies an invalidation push, or passes a reply to the heartbeat.
func (l *link) apply(c *Cache, v value) {
	if !v.push {
		select {
		case l.replies <- v:
		default:
		}
		return
	}
	if len(v.elems) < 2 || v.elems[0].str != "invalidate" {
		return
	}
	if v.elems[1].null {
		c.received(nil, true)
		return
	}
	keys := make([]string, len(v.elems[1].elems))
	for i, k := range v.elems[1].elems {
		keys[i] = k.str
	}
	c.received(keys, false)
}

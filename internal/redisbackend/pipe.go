package redisbackend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipe is the library's own automatic pipeline to one Redis server: one
// connection on which the commands of concurrent calls share writes.
//
// A call encodes its command into the connection's write buffer and puts
// itself in the queue of calls awaiting replies, both under one lock, so
// that the queue's order is the order on the wire, and kicks the
// connection's writer goroutine. The writer keeps one write on the wire at
// a time: a write waits until the replies of the one before are all in,
// so that it carries every command that arrived meanwhile (see flush).
// One reader goroutine per connection reads the replies
// in order, decodes each into its call's command and wakes the call.
//
// A call waits for its reply or for its context, whichever comes first;
// an abandoned call's reply is read and dropped, so the replies of later
// calls stay in step. A connection that fails (a read or write error, no
// reply within the read timeout, an unreadable reply) fails every call
// awaiting a reply on it and is replaced by a new one at the next call;
// failed calls are retried as go-redis retries them (network errors,
// LOADING, READONLY, MASTERDOWN, TRYAGAIN), up to the client's MaxRetries.
type pipe struct {
	dial func(ctx context.Context) (net.Conn, error)
	// setup returns the commands that prepare a new connection.
	setup func(ctx context.Context) ([][]any, error)
	o     pipeOptions
	cur   atomic.Pointer[wire]

	// writes and written count the writes to the server and the commands
	// they carried.
	writes, written atomic.Int64

	mu      sync.Mutex
	dialing *dialing // the dial under way, if any
	closed  bool
}

// pipeOptions are the pipe's settings, from the go-redis client's options
// and the adapter's.
type pipeOptions struct {
	dialTimeout, readTimeout, writeTimeout time.Duration
	maxRetries                             int
	minBackoff, maxBackoff                 time.Duration
	maxBatch                               int           // commands per write
	window                                 time.Duration // wait before a write
	readBuffer                             int
}

// dialing is a dial under way, which the calls that need a connection wait
// for.
type dialing struct {
	done chan struct{}
	w    *wire
	err  error
}

// newPipe returns the pipe to the server of the single-node client c, or
// false when the pipe cannot speak for c: a client whose credentials come
// from a streaming provider.
func newPipe(c *redis.Client, o Options) (*pipe, bool) {
	opt := c.Options()
	if opt.StreamingCredentialsProvider != nil {
		return nil, false
	}
	p := &pipe{
		dial: func(ctx context.Context) (net.Conn, error) {
			return opt.Dialer(ctx, opt.Network, opt.Addr)
		},
		o: pipeOptions{
			dialTimeout:  opt.DialTimeout,
			readTimeout:  opt.ReadTimeout,
			writeTimeout: opt.WriteTimeout,
			maxRetries:   opt.MaxRetries,
			minBackoff:   opt.MinRetryBackoff,
			maxBackoff:   opt.MaxRetryBackoff,
			maxBatch:     o.MaxBatch,
			window:       o.Window,
			readBuffer:   opt.ReadBufferSize,
		},
	}
	if p.o.maxBatch <= 0 {
		p.o.maxBatch = 200
	}
	p.setup = func(ctx context.Context) ([][]any, error) { return setupCommands(ctx, opt) }
	return p, true
}

// setupCommands returns what go-redis sends on a new connection that the
// pipe needs too: AUTH (with the credentials of the client's provider, when
// it has one, asked at every new connection), SELECT and CLIENT SETNAME.
// The connection speaks RESP2: the pipe decodes replies into go-redis's
// command values as go-redis decodes them in either protocol.
func setupCommands(ctx context.Context, opt *redis.Options) ([][]any, error) {
	var cmds [][]any
	user, pass := opt.Username, opt.Password
	switch {
	case opt.CredentialsProviderContext != nil:
		var err error
		if user, pass, err = opt.CredentialsProviderContext(ctx); err != nil {
			return nil, err
		}
	case opt.CredentialsProvider != nil:
		user, pass = opt.CredentialsProvider()
	}
	switch {
	case pass != "" && user != "":
		cmds = append(cmds, []any{"auth", user, pass})
	case pass != "":
		cmds = append(cmds, []any{"auth", pass})
	}
	if opt.DB > 0 {
		cmds = append(cmds, []any{"select", opt.DB})
	}
	if opt.ClientName != "" {
		cmds = append(cmds, []any{"client", "setname", opt.ClientName})
	}
	return cmds, nil
}

// do sends cmd and waits for its reply or for ctx. It returns ctx's error
// when ctx ends first (cmd must then not be read: its reply may still be
// written into it), and cmd's error otherwise.
func (p *pipe) do(ctx context.Context, cmd redis.Cmder) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := p.backoff(ctx, attempt); err != nil {
				return err
			}
		}
		err, sent := p.try(ctx, cmd)
		if !sent || err == nil || attempt >= p.o.maxRetries || !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
	}
}

// try makes one attempt at cmd; sent is false when ctx ended first.
func (p *pipe) try(ctx context.Context, cmd redis.Cmder) (err error, sent bool) {
	w, err := p.wire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err(), false
		}
		cmd.SetErr(err)
		return err, true
	}
	c := getCall(cmd)
	if err := w.enqueue(c); err != nil {
		putCall(c)
		cmd.SetErr(err)
		return err, true
	}
	if !c.wait(ctx) {
		return ctx.Err(), false
	}
	putCall(c)
	return cmd.Err(), true
}

// backoff waits before a retry, as go-redis does: exponential with jitter
// between the client's minimum and maximum back-off.
func (p *pipe) backoff(ctx context.Context, attempt int) error {
	d := p.o.minBackoff << min(attempt-1, 16)
	if d <= 0 || d > p.o.maxBackoff {
		d = p.o.maxBackoff
	}
	if d <= 0 {
		return ctx.Err()
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether a call that failed with err is sent again: the
// errors go-redis retries a command after.
func retryable(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errWireFailed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var se serverError
	if errors.As(err, &se) {
		for _, prefix := range []string{"LOADING ", "READONLY ", "MASTERDOWN ", "TRYAGAIN ", "CLUSTERDOWN ", "ERR max number of clients"} {
			if strings.HasPrefix(string(se), prefix) {
				return true
			}
		}
	}
	return false
}

// wire returns the pipe's connection, dialing one when there is none.
func (p *pipe) wire(ctx context.Context) (*wire, error) {
	if w := p.cur.Load(); w != nil {
		return w, nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, redis.ErrClosed
	}
	if w := p.cur.Load(); w != nil {
		p.mu.Unlock()
		return w, nil
	}
	d := p.dialing
	if d == nil {
		d = &dialing{done: make(chan struct{})}
		p.dialing = d
		go p.connect(d)
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.w, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// connect dials and prepares a connection for d, bounded by the dial
// timeout alone: the calls waiting for it each wait under their own
// context.
func (p *pipe) connect(d *dialing) {
	ctx, cancel := context.WithTimeout(context.Background(), p.o.dialTimeout)
	defer cancel()
	w, err := p.open(ctx)
	p.mu.Lock()
	if err == nil && p.closed {
		w.fail(redis.ErrClosed)
		w, err = nil, redis.ErrClosed
	}
	if err == nil {
		p.cur.Store(w)
	}
	p.dialing = nil
	d.w, d.err = w, err
	p.mu.Unlock()
	close(d.done)
}

// open dials a connection, sends the setup commands and starts its reader
// and writer.
func (p *pipe) open(ctx context.Context) (*wire, error) {
	nc, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	w := &wire{p: p, nc: nc, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	w.replied.L = &w.mu
	w.br = bufio.NewReaderSize(readerFunc(w.read), max(p.o.readBuffer, 4096))
	if err := w.prepare(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	go w.readLoop()
	go w.writeLoop()
	return w, nil
}

// close fails the pipe's connection and every call on it with
// redis.ErrClosed, and refuses later calls.
func (p *pipe) close() {
	p.mu.Lock()
	p.closed = true
	w := p.cur.Swap(nil)
	p.mu.Unlock()
	if w != nil {
		w.fail(redis.ErrClosed)
	}
}

// errWireFailed is the error of a call whose connection failed because of
// another call's reply or write.
var errWireFailed = errors.New("redis: connection failed")

// wire is one connection of a pipe.
type wire struct {
	p  *pipe
	nc net.Conn
	br *bufio.Reader

	mu      sync.Mutex
	buf     []byte // encoded commands not written yet
	ends    []int  // the end in buf of each of those commands
	spare   []byte // the buffer being written, or the last one written
	queue   callQueue
	writing bool // the writer goroutine is writing
	// awaiting counts the replies the write on the wire still awaits;
	// replied is signalled when the last comes.
	awaiting int
	replied  sync.Cond
	armed    bool  // the read deadline is set
	err      error // why the connection failed; set once
	kick     chan struct{}
	stop     chan struct{} // closed when the connection fails
}

// readerFunc is an io.Reader of a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// prepare sends the setup commands and reads their replies, before the
// connection is shared.
func (w *wire) prepare(ctx context.Context) error {
	setup, err := w.p.setup(ctx)
	if err != nil || len(setup) == 0 {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = w.nc.SetDeadline(d)
		defer func() { _ = w.nc.SetDeadline(time.Time{}) }()
	}
	var b []byte
	for _, args := range setup {
		if b, err = appendCommand(b, args); err != nil {
			return err
		}
	}
	if _, err := w.nc.Write(b); err != nil {
		return err
	}
	for _, args := range setup {
		cmd := redis.NewStatusCmd(ctx, args...)
		if err := readInto(w.br, cmd); err != nil {
			return err
		}
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
	}
	return nil
}

// read is the reader's source: the connection, with the read timeout
// armed while replies are awaited and disarmed while none is, so that an
// idle connection waits for nothing.
func (w *wire) read(b []byte) (int, error) {
	w.mu.Lock()
	w.arm(w.queue.len() > 0)
	w.mu.Unlock()
	return w.nc.Read(b)
}

// arm sets the read deadline when on, and clears it otherwise; w.mu is
// held.
func (w *wire) arm(on bool) {
	if w.p.o.readTimeout <= 0 {
		return
	}
	if on {
		_ = w.nc.SetReadDeadline(time.Now().Add(w.p.o.readTimeout))
	} else if w.armed {
		_ = w.nc.SetReadDeadline(time.Time{})
	}
	w.armed = on
}

// enqueue encodes c's command for the next write, queues c for its reply
// and kicks the writer unless it is writing already.
func (w *wire) enqueue(c *call) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	n := len(w.buf)
	buf, err := appendCommand(w.buf, c.cmd.Args())
	if err != nil {
		w.buf = buf[:n]
		w.mu.Unlock()
		return err
	}
	w.buf = buf
	w.ends = append(w.ends, len(buf))
	w.queue.push(c)
	if !w.armed {
		w.arm(true)
	}
	if w.writing {
		w.mu.Unlock()
		return nil
	}
	w.writing = true
	w.mu.Unlock()
	w.wake()
	return nil
}

// wake kicks the writer goroutine.
func (w *wire) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// flush writes the buffer until it is empty, one write on the wire at a
// time: before each write it waits until the replies of the one before
// are all in. Writing as soon as the last write is out made writes of 2 or
// 3 commands at 64 callers, each caller's next command sent alone as soon
// as its reply woke it; waiting for the replies makes a write carry the
// command of every caller that came back meanwhile (62 at 64 callers),
// for fewer system calls on both sides. w.mu is held on entry with
// w.writing set; flush releases it.
func (w *wire) flush() {
	for {
		for w.awaiting > 0 && w.err == nil {
			w.replied.Wait()
		}
		if w.err != nil || len(w.buf) == 0 {
			w.writing = false
			w.mu.Unlock()
			return
		}
		out, n := w.take()
		w.awaiting = n
		w.p.writes.Add(1)
		w.p.written.Add(int64(n))
		w.mu.Unlock()
		err := w.write(out)
		w.mu.Lock()
		if cap(out) <= maxKeptBuffer {
			w.spare = out[:0] // else a new one grows for the next write
		}
		if err != nil {
			w.writing = false
			w.mu.Unlock()
			w.fail(err)
			return
		}
	}
}

// maxKeptBuffer is the largest write buffer a connection keeps for the next
// write: one that a large value made bigger is dropped after its write.
const maxKeptBuffer = 1 << 20

// take returns the next write, the buffer's first maxBatch commands, and
// how many commands it holds. w.mu
// is held.
func (w *wire) take() ([]byte, int) {
	if n := len(w.ends); n <= w.p.o.maxBatch {
		out := w.buf
		w.buf, w.spare, w.ends = w.spare[:0], nil, w.ends[:0]
		return out, n
	}
	cut := w.ends[w.p.o.maxBatch-1]
	out := append(w.spare[:0], w.buf[:cut]...)
	rest := copy(w.buf, w.buf[cut:])
	w.buf = w.buf[:rest]
	n := copy(w.ends, w.ends[w.p.o.maxBatch:])
	for i := range w.ends[:n] {
		w.ends[i] -= cut
	}
	w.ends, w.spare = w.ends[:n], nil
	return out, w.p.o.maxBatch
}

func (w *wire) write(b []byte) error {
	if w.p.o.writeTimeout > 0 {
		_ = w.nc.SetWriteDeadline(time.Now().Add(w.p.o.writeTimeout))
	}
	_, err := w.nc.Write(b)
	return err
}

// writeLoop writes what the calls left: after a window, when one is set,
// and until the buffer is empty.
func (w *wire) writeLoop() {
	var window *time.Timer
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		if w.p.o.window > 0 {
			if window == nil {
				window = time.NewTimer(w.p.o.window)
			} else {
				window.Reset(w.p.o.window)
			}
			select {
			case <-window.C:
			case <-w.stop:
				return
			}
		}
		w.mu.Lock()
		w.flush()
	}
}

// readLoop reads the replies in order and hands each to its call, until
// the connection fails.
func (w *wire) readLoop() {
	for {
		if _, err := w.br.Peek(1); err != nil {
			w.fail(err)
			return
		}
		w.mu.Lock()
		c := w.queue.pop()
		w.answered()
		w.mu.Unlock()
		if c == nil {
			w.fail(fmt.Errorf("%w: a reply with no command awaiting it", errProtocol))
			return
		}
		if err := readInto(w.br, c.cmd); err != nil {
			c.cmd.SetErr(err)
			c.finish()
			w.fail(err)
			return
		}
		c.finish()
	}
}

// answered counts a reply against the write on the wire; w.mu is held.
func (w *wire) answered() {
	if w.awaiting > 0 {
		if w.awaiting--; w.awaiting == 0 {
			w.replied.Signal()
		}
	}
}

// fail marks the connection failed with err, closes it and fails every
// call awaiting a reply on it; the pipe dials a new one at its next call.
func (w *wire) fail(err error) {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	if !errors.Is(err, redis.ErrClosed) {
		err = fmt.Errorf("%w: %w", errWireFailed, err)
	}
	w.err = err
	w.replied.Broadcast()
	calls := w.queue.drain()
	w.mu.Unlock()
	close(w.stop)
	_ = w.nc.Close()
	w.p.cur.CompareAndSwap(w, nil)
	for _, c := range calls {
		c.cmd.SetErr(err)
		c.finish()
	}
}

// call is one command awaiting its reply.
type call struct {
	cmd   redis.Cmder
	done  chan struct{} // receives once the reply is in cmd
	state atomic.Int32
}

const (
	waiting int32 = iota
	answered
	abandoned
)

var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall(cmd redis.Cmder) *call {
	c := calls.Get().(*call)
	c.cmd = cmd
	c.state.Store(waiting)
	return c
}

func putCall(c *call) {
	c.cmd = nil
	calls.Put(c)
}

// wait waits for c's reply or for ctx; false means ctx ended first and c
// is abandoned (the reader pools it when its reply comes).
func (c *call) wait(ctx context.Context) bool {
	done := ctx.Done()
	if done == nil {
		<-c.done
		return true
	}
	select {
	case <-c.done:
		return true
	case <-done:
		if c.state.CompareAndSwap(waiting, abandoned) {
			return false
		}
		<-c.done
		return true
	}
}

// finish wakes c's caller, or pools c when its caller has gone.
func (c *call) finish() {
	if c.state.CompareAndSwap(waiting, answered) {
		c.done <- struct{}{}
		return
	}
	putCall(c)
}

// callQueue is a FIFO of calls: a ring that grows.
type callQueue struct {
	ring       []*call
	head, size int
}

func (q *callQueue) len() int { return q.size }

func (q *callQueue) push(c *call) {
	if q.size == len(q.ring) {
		bigger := make([]*call, max(2*len(q.ring), 64))
		n := copy(bigger, q.ring[q.head:])
		copy(bigger[n:], q.ring[:q.head])
		q.ring, q.head = bigger, 0
	}
	q.ring[(q.head+q.size)%len(q.ring)] = c
	q.size++
}

func (q *callQueue) pop() *call {
	if q.size == 0 {
		return nil
	}
	c := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	return c
}

func (q *callQueue) drain() []*call {
	out := make([]*call, 0, q.size)
	for c := q.pop(); c != nil; c = q.pop() {
		out = append(out, c)
	}
	return out
}

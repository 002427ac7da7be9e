//go:build linux

package near

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// direct reads a tracking connection's socket on the calling goroutine's
// thread, blocked in ppoll(2) on a duplicate of the socket's descriptor,
// instead of through the runtime's network poller.
//
// The poller reports a readable socket only when a processor runs out of
// runnable goroutines, or when sysmon polls (every 10 ms at most): while
// every processor is busy, with goroutines that yield (runtime.Gosched) as
// well as with ones that never block, an invalidation push waits there for
// up to 10 ms. The kernel wakes a thread blocked in ppoll as soon as the
// push arrives, and the invalidation is applied by that goroutine at once.
//
// Only the reads take this path: writes (the heartbeat's ROLE) and the
// setup's deadlines stay on the net.Conn, whose descriptor stays
// non-blocking and in the poller. The duplicate shares the socket's open
// file description, so it is non-blocking too, and ppoll does the waiting.
//
// The goroutine is not locked to its thread: while it waits in ppoll its
// thread is its own anyway, and once woken it runs on whichever thread has
// a processor for it first (a locked goroutine would wait for its own
// thread to be handed one). A thread that ended with a locked goroutine
// would also kill the children the program started from it with
// Pdeathsig.
type direct struct {
	pfd  pollFd     // the one descriptor ppoll waits on
	mark func(bool) // see read

	mu sync.Mutex // guards fd against close while shutdown uses it
	fd int        // the duplicate, -1 once closed
}

// pollFd is struct pollfd of poll(2).
type pollFd struct {
	fd              int32
	events, revents int16
}

const pollIn = 0x1 // POLLIN

// openDirect duplicates the descriptor of c; ok is false when c has none,
// as a *tls.Conn or a wrapped connection, which keep the ordinary path.
func openDirect(c net.Conn) (d *direct, ok bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	fd := -1
	err = rc.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e == 0 {
			fd = int(r)
		}
	})
	if err != nil || fd < 0 {
		return nil, false
	}
	return &direct{fd: fd, pfd: pollFd{fd: int32(fd), events: pollIn}}, true
}

// Read reads what the socket holds, waiting in ppoll while it holds
// nothing. Only the goroutine that closes d calls it.
func (d *direct) Read(p []byte) (int, error) {
	for {
		n, err := d.read(p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == syscall.EINTR:
			continue
		case err != syscall.EAGAIN:
			return 0, err
		}
		if err := d.wait(); err != nil {
			return 0, err
		}
		if hold := heldReader.Load(); hold != nil {
			(*hold)()
		}
	}
}

// heldReader, when set (by a test), runs after a reader is woken and
// before it reads: a reader the scheduler runs late.
var heldReader atomic.Pointer[func()]

// read reads the socket without waiting (it is non-blocking). It calls
// mark(true) before and, when it took nothing, mark(false) after: so no
// byte leaves the socket unless its reader is marked as reading, and the
// gate of the local reads never sees an empty socket while bytes taken off
// it wait to be applied.
func (d *direct) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if d.mark != nil {
		d.mark(true)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(d.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if (e != 0 || r == 0) && d.mark != nil {
		d.mark(false)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// wait blocks the thread until the socket is readable, at its end, or
// shut down.
func (d *direct) wait() error {
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&d.pfd)), 1, 0, 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// readable reports whether the socket holds bytes the reader has not read
// yet (or is at its end), without waiting: the check of the local reads'
// gate (see Cache.hit). A closed d reports true, which only makes reads
// go to Redis until the next session.
func (d *direct) readable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return true
	}
	pfd := pollFd{fd: int32(d.fd), events: pollIn}
	var zero syscall.Timespec
	n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	return e != 0 || n > 0
}

// shutdown shuts the socket down for both directions, which ends a Read
// under way or to come; closing the connection would not (the duplicate
// keeps the socket open).
func (d *direct) shutdown() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 {
		_ = syscall.Shutdown(d.fd, syscall.SHUT_RDWR)
	}
}

// close closes the duplicate, once Read no longer runs.
func (d *direct) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 {
		_ = syscall.Close(d.fd)
		d.fd = -1
	}
}

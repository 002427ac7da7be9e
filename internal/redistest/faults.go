package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Faults: crashes, restarts and pauses of a running [Server], for tests of
// how clients live through them. A server's persistence is off, so a crashed
// server comes back empty, as a cache does.

// restartLimit bounds how long [Server.Restart] and [Server.StartAgain] try
// to bring a server back on its address (a variable for the package's
// tests).
var restartLimit = 10 * time.Second

// ErrStopped is returned by [Server.Restart] and [Server.StartAgain] after
// [Server.Stop].
var ErrStopped = errors.New("redistest: server was stopped")

// Kill sends SIGKILL to the server, as a crash would, and waits for the
// process to exit. The address stays the server's: [Server.StartAgain]
// brings it back. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.killWait()
}

// killWait kills the current process and waits for it. s.opMu is held.
func (s *Server) killWait() {
	if p := s.p.Load(); p != nil {
		p.kill()
		<-p.done
	}
}

// StartAgain starts a new redis-server on the server's address with its
// configuration after [Server.Kill], and waits until it answers. It fails
// if the server is running or was stopped, or if no new server answers
// within about ten seconds (another process may have taken the port).
func (s *Server) StartAgain() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if !s.exited() {
		return fmt.Errorf("redistest: redis-server on %s is running", s.Addr)
	}
	return s.relaunch()
}

// Restart crashes the server with SIGKILL and starts a new redis-server on
// the same address with the same configuration, waiting until it answers:
// [Server.Kill] then [Server.StartAgain], with no pause between them. The
// data is gone (persistence is off). It fails after about ten seconds if no
// new server answers.
func (s *Server) Restart() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	s.killWait()
	return s.relaunch()
}

// relaunch starts a new process on s's address, retrying while the port is
// briefly unavailable, for at most restartLimit. s.opMu is held.
func (s *Server) relaunch() error {
	deadline := time.Now().Add(restartLimit)
	var err error
	for attempt := 0; attempt < 50 && time.Now().Before(deadline); attempt++ {
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // let a transient holder of the port go
	}
	return s.errorf("did not start again", err)
}

// PID returns the process id of the current redis-server process, or 0
// when none is running.
func (s *Server) PID() int {
	if s.exited() {
		return 0
	}
	return s.p.Load().cmd.Process.Pid
}

// Pause makes the server stop serving its clients for d (CLIENT PAUSE d
// ALL): commands, of connections old and new, wait until the pause ends,
// while the server still accepts connections. It is sent on a connection
// of its own, closed before Pause returns, which returns at once. Redis 7.0
// holds even CLIENT UNPAUSE during such a pause, so a pause cannot be ended
// early: keep d short.
func (s *Server) Pause(ctx context.Context, d time.Duration) error {
	c := s.client()
	defer c.Close()
	ms := max(d.Milliseconds(), 1)
	if err := c.Do(ctx, "CLIENT", "PAUSE", ms, "ALL").Err(); err != nil {
		return fmt.Errorf("redistest: CLIENT PAUSE on %s: %w", s.Addr, err)
	}
	return nil
}

// DebugSleep blocks the whole server for d (DEBUG SLEEP): unlike a pause,
// it serves nothing at all, not even a new connection's handshake, as a
// server stalled by a slow command or a swapping machine would. It returns
// when the server answers again, about d later. The server must have been
// started with "--enable-debug-command", "local" (or "yes"), as Redis 7
// refuses DEBUG otherwise.
func (s *Server) DebugSleep(ctx context.Context, d time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.password, TLSConfig: s.tls,
		MaxRetries: -1, DialerRetries: 1, ReadTimeout: d + 5*time.Second, ContextTimeoutEnabled: true})
	defer c.Close()
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	if err := c.Do(ctx, "DEBUG", "SLEEP", secs).Err(); err != nil {
		return fmt.Errorf("redistest: DEBUG SLEEP on %s: %w", s.Addr, err)
	}
	return nil
}

// StartForTest starts a dedicated server with [Start] for one test and
// stops it when the test ends. When redis-server is missing the test is
// skipped (failed if [Required]); a server that does not start fails it.
func StartForTest(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, err := Start(args...)
	if err != nil {
		skipOrFail(tb, "redis-server", err)
		return nil // skipOrFail ended the test; reached only with a fake TB
	}
	tb.Cleanup(s.Stop)
	return s
}

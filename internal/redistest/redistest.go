// Package redistest starts real redis-server processes on free loopback
// ports for the tests, and stops them.
//
// When redis-server is not installed, tests skip with a clear message,
// unless the environment variable CACHES_REQUIRE_REDIS is set to 1 (as
// .ci/run does): then a missing server fails the test instead.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the variable that turns a missing redis-server into a test
// failure.
const RequireEnv = "CACHES_REQUIRE_REDIS"

// ErrNotInstalled is returned by [Start] when redis-server is not on PATH.
var ErrNotInstalled = errors.New("redistest: redis-server not found on PATH (install it, e.g. apt-get install redis-server)")

// Server is one redis-server process.
type Server struct {
	Addr string // host:port on loopback

	cmd    *exec.Cmd
	dir    string
	output *bytes.Buffer // the server's log, for failure reports

	stopOnce sync.Once
}

// Start starts redis-server on a free loopback port with persistence off and
// the extra configuration args (e.g. "--requirepass", "x"), and waits until
// it answers PING.
func Start(args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, args)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(bin string, extra []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}, extra...)
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, output: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(extra); err != nil {
		s.Stop()
		return nil, fmt.Errorf("redistest: redis-server on %s did not start: %w\n%s", s.Addr, err, s.output)
	}
	return s, nil
}

// waitReady pings the server for up to five seconds.
func (s *Server) waitReady(extra []string) error {
	opts := &redis.Options{Addr: s.Addr, MaxRetries: -1}
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--requirepass" {
			opts.Password = extra[i+1]
		}
	}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, waits for it to exit and removes its directory.
// Stopping twice is harmless.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		os.RemoveAll(s.dir)
	})
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Required reports whether a missing server must fail the tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Shared is a server started on first use and shared by a test binary's
// tests; TestMain stops it with [Shared.Stop].
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on first use. When it cannot
// start, the test is skipped, or failed if [Required].
func (sh *Shared) Get(tb testing.TB) *Server {
	tb.Helper()
	sh.once.Do(func() { sh.srv, sh.err = Start() })
	if sh.err != nil {
		if Required() || !errors.Is(sh.err, ErrNotInstalled) {
			tb.Fatalf("real redis-server: %v", sh.err)
		}
		tb.Skipf("skipping real redis-server tests: %v (set %s=1 to make this a failure)", sh.err, RequireEnv)
	}
	return sh.srv
}

// Stop stops the shared server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}

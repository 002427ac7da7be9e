// Package redistest starts real redis-server processes on free loopback
// ports for the tests, and stops them: single servers ([Start], [Shared],
// [StartForTest]), TLS-only servers with certificates made for them
// ([StartTLS]), a cluster of masters ([StartCluster], [SharedCluster]) and
// a master with a replica watched by a sentinel ([StartSentinel],
// [SharedSentinel]). A server can be crashed and brought back on its
// address ([Server.Restart], [Server.Kill], [Server.StartAgain]), paused
// ([Server.Pause]) and stalled ([Server.DebugSleep]).
//
// When redis-server is not installed, tests skip with a clear message,
// unless the environment variable CACHES_REQUIRE_REDIS is set to 1 (as
// .ci/run does): then a missing server fails the test instead. A server
// that is installed but does not start always fails the test.
package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the variable that turns a missing redis-server into a test
// failure.
const RequireEnv = "CACHES_REQUIRE_REDIS"

// ErrNotInstalled is returned by [Start] when redis-server is not on PATH.
// Errors for a missing redis-cli match it with [errors.Is].
var ErrNotInstalled = errors.New("redistest: redis-server not found on PATH (install it, e.g. apt-get install redis-server)")

// notInstalled reports a missing program other than redis-server; it
// matches [ErrNotInstalled], so such tests skip the same way.
type notInstalled struct{ prog string }

func (e notInstalled) Error() string {
	return "redistest: " + e.prog + " not found on PATH (install it, e.g. apt-get install redis-server)"
}

func (e notInstalled) Is(target error) bool { return target == ErrNotInstalled }

// Server is one redis-server process on a fixed loopback address. Its
// process can be crashed and replaced ([Server.Restart], [Server.Kill],
// [Server.StartAgain]) without the address changing.
type Server struct {
	Addr string // host:port on loopback

	bin      string      // the redis-server binary
	args     []string    // its command line, reused by a restart
	password string      // what the readiness check authenticates with
	tls      *tls.Config // set for a TLS-only server
	dir      string      // temporary directory: data, configuration, log
	log      string      // the file that receives the server's output

	p atomic.Pointer[proc] // the current process; nil before the first start

	opMu     sync.Mutex // serializes Restart, Kill, StartAgain and Stop
	stopped  bool       // Stop was called; guarded by opMu
	stopOnce sync.Once
}

// proc is one redis-server process of a [Server].
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// serverConfig is what starting a server needs besides its command line.
type serverConfig struct {
	password string      // for the readiness check
	tls      *tls.Config // for a TLS-only server, the client configuration
}

// Start starts redis-server on a free loopback port with persistence off and
// the extra configuration args (e.g. "--requirepass", "x"), and waits until
// it answers PING.
func Start(args ...string) (*Server, error) {
	return startServer(serverConfig{password: passwordOf(args)}, func(port int, dir string) ([]string, error) {
		return append(baseArgs(port, dir), args...), nil
	})
}

// argsFunc builds a server's command line for its port and directory.
type argsFunc func(port int, dir string) ([]string, error)

// baseArgs is the command line every data node starts with.
func baseArgs(port int, dir string) []string {
	return append([]string{"--port", strconv.Itoa(port)}, commonArgs(dir)...)
}

// commonArgs is the command line of every data node but its port: loopback
// only, persistence off, in the foreground.
func commonArgs(dir string) []string {
	return []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}
}

// startServer starts redis-server with the args from build, trying a fresh
// port up to three times (another process may take a free port first).
func startServer(cfg serverConfig, build argsFunc) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, cfg, build)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(bin string, cfg serverConfig, build argsFunc) (*Server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		return nil, err
	}
	args, err := build(port, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, args: args,
		password: cfg.password, tls: cfg.tls, dir: dir, log: filepath.Join(dir, "output.log")}
	if err := s.launch(); err != nil {
		return nil, s.fail("did not start", err)
	}
	return s, nil
}

// launch starts a process with s's command line, appending its output to
// the log, and waits until it answers. On failure the process is killed.
func (s *Server) launch() error {
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	s.p.Store(p)
	if err := s.waitReady(p); err != nil {
		p.kill()
		<-p.done
		return err
	}
	return nil
}

// errorf returns an error naming s, with the tail of its log.
func (s *Server) errorf(what string, err error) error {
	return fmt.Errorf("redistest: redis-server on %s %s: %w\n%s", s.Addr, what, err, s.logTail())
}

// fail stops s and returns an error naming it, with the tail of its log.
func (s *Server) fail(what string, err error) error {
	e := s.errorf(what, err)
	s.Stop()
	return e
}

// passwordOf returns the value of "--requirepass" in args, if any.
func passwordOf(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--requirepass" {
			return args[i+1]
		}
	}
	return ""
}

// waitReady waits up to five seconds until the server answers and has
// loaded its data, and checks that the answer comes from process p and not
// from another server that took the port first.
func (s *Server) waitReady(p *proc) error {
	c := s.client()
	defer c.Close()
	want := "process_id:" + strconv.Itoa(p.cmd.Process.Pid)
	return poll(context.Background(), 5*time.Second, func(ctx context.Context) error {
		if p.exited() {
			return errStop{errors.New("process exited")}
		}
		// A plain dial first: go-redis logs every refused dial.
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return err
		}
		conn.Close()
		info, err := c.Info(ctx, "server", "persistence").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, want+"\r\n") {
			return errStop{errors.New("another process answers on this port")}
		}
		// A server loading its data answers INFO between batches of what
		// it loads, and refuses other commands with LOADING. (A sentinel
		// has no data, and no loading field.)
		if infoFields(info)["loading"] == "1" {
			return errors.New("still loading its data")
		}
		return nil
	})
}

// client returns a client of s for the package's own checks: no retries,
// one dial attempt, calls bounded by their context, the password and TLS
// configuration of s.
func (s *Server) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.password, TLSConfig: s.tls,
		MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true})
}

// exited reports whether the current process has exited (or none started).
func (s *Server) exited() bool {
	p := s.p.Load()
	return p == nil || p.exited()
}

// kill sends SIGKILL to the current process without waiting for it.
func (s *Server) kill() {
	if p := s.p.Load(); p != nil {
		p.kill()
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() { p.cmd.Process.Kill() }

// Stop kills the server, waits for it to exit and removes its directory.
// Stopping twice is harmless; a stopped server cannot be started again.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.opMu.Lock()
		defer s.opMu.Unlock()
		s.stopped = true
		if p := s.p.Load(); p != nil {
			p.kill()
			<-p.done
		}
		os.RemoveAll(s.dir)
	})
}

// logTail returns the last lines of the server's output, for error reports.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return "  | (no log: " + err.Error() + ")"
	}
	return tailLines(string(b), 15)
}

// tailLines returns the last n lines of text, indented.
func tailLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// errStop ends a [poll] at once with the error it wraps.
type errStop struct{ error }

func (e errStop) Unwrap() error { return e.error }

// poll calls check every 50ms until it returns nil, returns an [errStop],
// or limit (or ctx) runs out; it then returns the last error. Each call gets
// a context bounded by one second.
func poll(ctx context.Context, limit time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		err := check(cctx)
		ccancel()
		var stop errStop
		switch {
		case err == nil:
			return nil
		case errors.As(err, &stop):
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %v: %w", limit, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Required reports whether a missing server must fail the tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// skipOrFail ends the test for a setup that could not start: it is skipped
// when redis is not installed, unless [Required], and fails otherwise.
func skipOrFail(tb testing.TB, what string, err error) {
	tb.Helper()
	if Required() || !errors.Is(err, ErrNotInstalled) {
		tb.Fatalf("real %s: %v", what, err)
		return
	}
	skips.record(err)
	tb.Skipf("skipping real %s tests: %v (set %s=1 to make this a failure)", what, err, RequireEnv)
}

// SkipOrFail ends a test whose real server could not start, as the
// helpers of this package do: a skip counted for [ReportSkips] when
// redis-server is not installed and [Required] is unset, a failure
// otherwise.
func SkipOrFail(tb testing.TB, what string, err error) {
	tb.Helper()
	skipOrFail(tb, what, err)
}

// skips counts the tests of this test binary that skipped their real
// server, for ReportSkips.
var skips skipCount

type skipCount struct {
	mu sync.Mutex // guards state
	skipState
}

type skipState struct {
	n      int
	reason string // the first skip's error
}

func (s *skipCount) record(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.reason == "" {
		s.reason = err.Error()
	}
}

// snapshot and restore let the package's own test of the count leave it as
// it was.
func (s *skipCount) snapshot() skipState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipState
}

func (s *skipCount) restore(c skipState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipState = c
}

// SkipSummary returns the line ReportSkips prints: how many tests skipped
// their real server and why, or "" when none did.
func SkipSummary() string {
	skips.mu.Lock()
	defer skips.mu.Unlock()
	if skips.n == 0 {
		return ""
	}
	return fmt.Sprintf("redistest: %d tests skipped their real-server part: %s; set %s=1 to make this a failure\n",
		skips.n, skips.reason, RequireEnv)
}

// ReportSkips prints [SkipSummary], if any, once the tests of a package
// have run; TestMain calls it after m.Run. go test shows a passing
// package's output only with -v, so the line goes to the terminal
// (/dev/tty) when there is one, and to stderr otherwise.
func ReportSkips() {
	line := SkipSummary()
	if line == "" {
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if _, err := tty.WriteString(line); err == nil {
			return
		}
	}
	os.Stderr.WriteString(line)
}

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
		skipOrFail(tb, "redis-server", sh.err)
	}
	return sh.srv
}

// Stop stops the shared server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}

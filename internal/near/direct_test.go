package near

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// nearOver returns a near cache of prefix "p" whose data client has
// options o, once tracking is live.
func nearOver(t *testing.T, o *redis.Options) *Cache {
	t.Helper()
	data := redis.NewClient(o)
	t.Cleanup(func() { data.Close() })
	rb, err := redisbackend.New(data, false, redisbackend.Options{NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	topo, _ := ClientTopology(data)
	c := New(rb, topo, Options{Prefix: "p"})
	t.Cleanup(func() { c.Close() })
	if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
		t.Fatalf("tracking never went live: %v", c.Stats().Err)
	}
	return c
}

// directLinks counts the links of c's session that are read directly,
// and all its links.
func directLinks(c *Cache) (direct, all int) {
	c.trk.mu.Lock()
	s := c.trk.sess
	c.trk.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.dir != nil {
			direct++
		}
	}
	return direct, len(s.links)
}

// TestDirectReads: the tracking connection of a plain TCP or unix socket
// is read directly on Linux, that of a TLS connection through the network
// poller; invalidations arrive either way.
func TestDirectReads(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	plain := redistest.StartForTest(t, "--unixsocket", sock, "--unixsocketperm", "700")
	ts := redistest.StartTLSForTest(t)
	pem, err := os.ReadFile(ts.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	onLinux := 0
	if runtime.GOOS == "linux" {
		onLinux = 1
	}
	for _, tc := range []struct {
		name   string
		opts   *redis.Options
		direct int
	}{
		{"tcp", &redis.Options{Addr: plain.Addr}, onLinux},
		{"unix", &redis.Options{Network: "unix", Addr: sock}, onLinux},
		{"tls", &redis.Options{Addr: ts.Addr, TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := nearOver(t, tc.opts)
			if d, all := directLinks(c); d != tc.direct || all != 1 {
				t.Fatalf("%d of %d links read directly, want %d of 1", d, all, tc.direct)
			}
			raw := redis.NewClient(tc.opts)
			t.Cleanup(func() { raw.Close() })
			ctx := context.Background()
			if err := raw.Set(ctx, "p:k", "old", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if !poll(5*time.Second, func() bool { _, _, _ = c.Get(ctx, "p:k"); return c.Stats().Entries == 1 }) {
				t.Fatalf("no copy kept: %+v", c.Stats())
			}
			if err := raw.Set(ctx, "p:k", "new", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if !poll(5*time.Second, func() bool { return c.Stats().Invalidations > 0 && c.Stats().Entries == 0 }) {
				t.Fatalf("the write's invalidation did not arrive: %+v", c.Stats())
			}
			if v, _, err := c.Get(ctx, "p:k"); v != "new" || err != nil {
				t.Fatalf("Get = %q, %v after the invalidation, want new", v, err)
			}
		})
	}
}

// TestCloseReleasesReaders opens and closes a near cache many times: each
// Close returns promptly (a reader blocked on its socket is woken), and
// the goroutines, descriptors and threads of the process come back to
// what they were.
func TestCloseReleasesReaders(t *testing.T) {
	srv := redistest.StartForTest(t)
	data := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { data.Close() })
	rb, err := redisbackend.New(data, false, redisbackend.Options{NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	topo, _ := ClientTopology(data)
	cycle := func() {
		c := New(rb, topo, Options{Prefix: "p"})
		if !poll(5*time.Second, func() bool { return c.Stats().Live }) {
			out, _ := exec.Command("sh", "-c", "ps -ef | grep redis-server; ls -l /tmp/redistest*/ 2>&1 | tail -20").CombinedOutput()
			t.Fatalf("tracking never went live: %v pid=%d\n%s", c.Stats().Err, srv.PID(), out)
		}
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return within 5s")
		}
	}
	cycle() // the data client's pool holds its connection from now on
	base := usage()
	const cycles = 20
	for range cycles {
		cycle()
	}
	// Close returns once the readers closed their descriptors; their
	// goroutines and threads end just after.
	if u := usage(); u.fds > base.fds {
		t.Fatalf("after %d near caches opened and closed: %d descriptors open, %d before", cycles, u.fds, base.fds)
	}
	back := poll(5*time.Second, func() bool {
		u := usage()
		return u.goroutines <= base.goroutines && u.threads <= base.threads+2
	})
	if !back {
		t.Fatalf("after %d near caches opened and closed: %+v, before: %+v", cycles, usage(), base)
	}
}

// resources is what a process holds that a leak would grow.
type resources struct{ goroutines, fds, threads int }

// usage counts the goroutines, and on Linux the open descriptors and the
// threads, of the process.
func usage() resources {
	r := resources{goroutines: runtime.NumGoroutine()}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		r.fds = len(fds)
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if n, ok := strings.CutPrefix(line, "Threads:"); ok {
				r.threads, _ = strconv.Atoi(strings.TrimSpace(n))
			}
		}
	}
	return r
}

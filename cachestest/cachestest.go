// Package cachestest gives tests of code that uses package caches an
// isolated in-process store with a clock the test moves: no server, no
// sleeping for TTLs, and the store closed by the test's cleanup.
//
// Tests that run in parallel each call [New] and run the code under test
// with [Store.Context]: every family that finds its connection through
// the registry — the package-level families the README declares included —
// uses the test's store for operations under that context, with no change
// to the code under test. Families built in the test can take the store's
// Conn through caches.Options.Conn instead. [Use] registers a store under a
// connection name for the duration of one (non-parallel) test.
//
// Against a real Redis, [Namespace] gives each test a key space of its
// own on one server, bound to a context the same way.
package cachestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches"
)

// Store is an in-process store for one test.
type Store struct {
	// Conn is the connection to the store, closed when the test ends.
	Conn *caches.Conn
	// Clock is the store's clock. It starts at the real time and moves only
	// when the test moves it.
	Clock *Clock
}

// New returns a fresh, empty store for tb, closed by tb.Cleanup.
func New(tb testing.TB) *Store {
	tb.Helper()
	clock := NewClock(time.Now())
	conn := caches.NewMemoryConn(caches.MemoryOptions{Now: clock.Now})
	tb.Cleanup(func() { conn.Close() })
	return &Store{Conn: conn, Clock: clock}
}

// Context returns a copy of ctx under which every family that finds its
// connection through the registry uses the store (see caches.WithConn).
// Pass it, or a context derived from it, to the code under test:
//
//	ctx := st.Context(t.Context())
func (s *Store) Context(ctx context.Context) context.Context {
	return caches.WithConn(ctx, s.Conn)
}

// Use returns a fresh store that is the connection called name ("" is the
// default connection) until tb ends, whatever defines name otherwise: a
// CACHES_DSN variable in the developer's shell (even one that cannot be
// parsed), caches.Register or nothing (see caches.Override). When tb ends,
// what defined name before is back. Tests that call Use must not run in
// parallel with others using the same name; parallel tests use
// [Store.Context] instead.
func Use(tb testing.TB, name string) *Store {
	tb.Helper()
	s := New(tb)
	tb.Cleanup(caches.Override(name, s.Conn))
	return s
}

// Clock is a clock that moves only when told to. It is safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Space is a test's own key space on a shared connection: a namespace
// (see caches.Conn.Namespace) whose keys are deleted when the test ends.
type Space struct {
	// Conn is the namespace: every key it writes starts with Prefix.
	Conn *caches.Conn
	// Prefix starts every key of the namespace, as redis-cli shows them:
	// "test:", the test's name, a random part and ":".
	Prefix string
}

// Namespace returns a key space of tb's own on conn, or, when conn is nil,
// on the default connection as the registry resolves it (CACHES_DSN). Tests
// that run in parallel against one Redis each take one, and pass
// [Space.Context] to the code under test: their keys never meet, and an
// Invalidate deletes only its test's keys. The test's cleanup deletes the
// space's keys.
func Namespace(tb testing.TB, conn *caches.Conn) *Space {
	tb.Helper()
	if conn == nil {
		c, err := caches.Connection("")
		if err != nil {
			tb.Fatalf("cachestest.Namespace: %v", err)
		}
		conn = c
	}
	prefix := "test:" + strings.NewReplacer("{", "_", "}", "_").Replace(tb.Name()) + ":" + randomHex() + ":"
	ns, err := conn.Namespace(prefix)
	if err != nil {
		tb.Fatalf("cachestest.Namespace: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := ns.ClearNamespace(context.Background()); err != nil {
			tb.Errorf("cachestest.Namespace: deleting the keys of %s: %v", prefix, err)
		}
	})
	return &Space{Conn: ns, Prefix: prefix}
}

// Context returns a copy of ctx under which every family that finds its
// connection through the registry uses the space (see caches.WithConn).
func (s *Space) Context(ctx context.Context) context.Context {
	return caches.WithConn(ctx, s.Conn)
}

func randomHex() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

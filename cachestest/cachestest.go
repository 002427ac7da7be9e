// Package cachestest gives tests of code that uses package caches an
// isolated in-process store with a clock the test moves: no server, no
// sleeping for TTLs, and the store closed by the test's cleanup.
//
// Tests that run in parallel each call [New] and pass the store's Conn to
// their families through caches.Options.Conn. Code whose families use the
// registry instead calls [Use], which registers the store under a name for
// the duration of one (non-parallel) test.
package cachestest

import (
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

// Use returns a fresh store registered as the connection called name ("" is
// the default connection) until tb ends. Tests that call Use must not run in
// parallel with others using the same name. It fails the test when name is
// already defined by a CACHES_DSN variable or caches.Register.
func Use(tb testing.TB, name string) *Store {
	tb.Helper()
	s := New(tb)
	if err := caches.Register(name, s.Conn); err != nil {
		tb.Fatalf("cachestest.Use: %v", err)
	}
	tb.Cleanup(func() { caches.Unregister(name) })
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

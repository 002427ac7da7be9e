package caches

import "testing"

// ForEachBackend runs f as a subtest on every backend of the behaviour
// suite (see forEachBackend), for the tests in package caches_test, which
// share their helpers with the system tests through internal packages that
// import caches.
func ForEachBackend(t *testing.T, f func(t *testing.T, conn *Conn)) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, e *env) { f(t, e.conn) })
}

// Package backendtest checks an implementation of [backend.Backend]
// against the contract, in the manner of testing/fstest.TestFS: [Run] is
// the one conformance suite that every backend runs against itself, and
// [Differential] runs the same random operations ([Ops]) on two backends
// side by side and requires the same results and the same data.
//
// The package is imported by the tests of the backends; it is not a
// _test package so that they can share it.
package backendtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

// Options describe what [Run] cannot find out from the backend itself.
// The zero value suits a backend that implements [Clock] and is no Redis
// Cluster.
type Options struct {
	// Advance moves b's clock forward by d: every key's remaining time to
	// live shrinks by d, and keys whose time is up expire. Nil: b must
	// implement [Clock].
	Advance func(t *testing.T, b backend.Backend, d time.Duration)

	// Now returns b's current time, for absolute deadlines. Nil: b's Now
	// when b implements [Clock], time.Now otherwise.
	Now func(b backend.Backend) time.Time

	// Instance returns the instance that every page of b's HScanInstance
	// and SScanInstance must report (a Redis server's run_id). Nil: the
	// pages of one backend must all report one instance, whichever.
	Instance func(t *testing.T, b backend.Backend) string

	// Cluster is set when b is a deployment that refuses keys on different
	// slots in one command (a Redis Cluster): b must then be a
	// [backend.SlotChecker] that refuses them with [backend.ErrCrossSlot].
	Cluster bool

	// KeepsEmptyStoreDest is set when an SINTERSTORE whose result is empty
	// keeps the destination key (miniredis v2.40) instead of deleting it
	// (Redis). The suite then checks that the quirk is still there, so that
	// the option goes when the quirk does.
	KeepsEmptyStoreDest bool
}

// Clock is the capability of a backend under test whose clock a test can
// move, as the in-process store's can: Now is the backend's time, and
// FastForward moves it d ahead and expires what is due.
type Clock interface {
	Now() time.Time
	FastForward(d time.Duration)
}

// Run checks the backends that newBackend returns against the contract of
// [backend.Backend], one subtest per part of the contract, each on a fresh
// backend. newBackend returns an empty backend that no other test uses
// meanwhile, and registers the cleanup of whatever it started (servers,
// flushes) with t.Cleanup; Run closes the backend itself, once, before
// those cleanups run. The subtests run one after the other.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend, opts Options) {
	for _, c := range suite {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newEnv(t, newBackend, opts))
		})
	}
}

// suite lists the parts of the contract, each a test of its own.
var suite = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"Strings", testStrings},
	{"Misses", testMisses},
	{"Expiry", testExpiry},
	{"FarDeadlines", testFarDeadlines},
	{"ExpiryRefresh", testExpiryRefresh},
	{"Incr", testIncr},
	{"IncrWithin", testIncrWithin},
	{"WrongType", testWrongType},
	{"Batch", testBatch},
	{"DelIfEqual", testDelIfEqual},
	{"Hashes", testHashes},
	{"HIncrByMany", testHIncrByMany},
	{"Scan", testScan},
	{"ScanInstance", testScanInstance},
	{"Sets", testSets},
	{"SortedSets", testSortedSets},
	{"DeleteMatching", testDeleteMatching},
	{"CrossSlot", testCrossSlot},
	{"CoarseMillis", testCoarseMillis},
	{"ContextCancelled", testContextCancelled},
	{"Closed", testClosed},
}

// env is one fresh backend under test and what the options say about it.
type env struct {
	b      backend.Backend
	opts   Options
	closed bool // Close was called by the test
}

func newEnv(t *testing.T, newBackend func(t *testing.T) backend.Backend, opts Options) *env {
	e := &env{b: newBackend(t), opts: opts}
	t.Cleanup(func() {
		if !e.closed {
			require.NoError(t, e.b.Close(), "Close")
		}
	})
	return e
}

// advance moves the backend's clock forward by d.
func (e *env) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if e.opts.Advance != nil {
		e.opts.Advance(t, e.b, d)
		return
	}
	c, ok := e.b.(Clock)
	require.True(t, ok, "the backend is no Clock: Options.Advance is required")
	c.FastForward(d)
}

// now returns the backend's current time.
func (e *env) now() time.Time {
	if e.opts.Now != nil {
		return e.opts.Now(e.b)
	}
	if c, ok := e.b.(Clock); ok {
		return c.Now()
	}
	return time.Now()
}

// close closes the backend; the cleanup will not close it again.
func (e *env) close(t *testing.T) {
	t.Helper()
	e.closed = true
	require.NoError(t, e.b.Close(), "Close")
}

// The error texts of the contract: Redis's own.
const wrongTypeText = "WRONGTYPE Operation against a key holding the wrong kind of value"

// notNumberPrefixes begin the errors of a value or result that is not a
// number of the kind a command needs, or leaves its range.
var notNumberPrefixes = []string{
	"ERR value is not an integer",
	"ERR value is not a valid float",
	"ERR hash value is not",
	"ERR increment",
	"ERR resulting score is not a number",
}

// requireWrongType checks that err is Redis's WRONGTYPE error.
func requireWrongType(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), wrongTypeText), "want WRONGTYPE, got %q", err)
}

// requireNotNumber checks that err is one of Redis's errors of a value
// that is not a number, or of a result out of range.
func requireNotNumber(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for _, p := range notNumberPrefixes {
		if strings.HasPrefix(err.Error(), p) {
			return
		}
	}
	require.Failf(t, "want a not-a-number error", "got %q", err)
}

// requireTTL checks key's remaining time to live: -1 for none, else want
// within 250ms.
func requireTTL(t *testing.T, b backend.Backend, key string, want time.Duration) {
	t.Helper()
	got, ok, err := b.PTTL(context.Background(), key)
	require.NoError(t, err)
	require.True(t, ok, "key %s should exist", key)
	if want < 0 {
		require.Equal(t, time.Duration(-1), got, "key %s should have no expiry", key)
		return
	}
	require.InDelta(t, float64(want), float64(got), float64(250*time.Millisecond), "TTL of %s", key)
}

// requireExists checks whether key exists.
func requireExists(t *testing.T, b backend.Backend, key string, want bool) {
	t.Helper()
	got, err := b.Exists(context.Background(), key)
	require.NoError(t, err)
	require.Equal(t, want, got, "EXISTS %s", key)
}

// Zs pairs members and scores for ZAdd.
func Zs(members []string, scores []float64) []backend.Z {
	out := make([]backend.Z, len(members))
	for i, m := range members {
		out[i] = backend.Z{Member: m, Score: scores[i]}
	}
	return out
}

// SplitZ splits a sorted-set reply into members and scores.
func SplitZ(zs []backend.Z, err error) ([]string, []float64, error) {
	if err != nil {
		return nil, nil, err
	}
	members, scores := make([]string, len(zs)), make([]float64, len(zs))
	for i, z := range zs {
		members[i], scores[i] = z.Member, z.Score
	}
	return members, scores, nil
}

// pairs reads alternating fields and values as a map.
func pairs(fv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(fv); i += 2 {
		m[fv[i]] = fv[i+1]
	}
	return m
}

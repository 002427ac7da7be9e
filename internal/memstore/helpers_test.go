package memstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/backend/backendtest"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newTestStore returns a store on a fake clock without background reaper,
// closed when the test ends.
func newTestStore(t testing.TB) (*Store, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	s := New(Options{Now: clock.Now, ExpiryInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	return s, clock
}

var bg = context.Background()

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// equal fails the test unless got deep-equals want.
func equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// wantErr fails the test unless err is want (nil for no error).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// step is one command in a table test: it runs against the store and
// returns its results, printed for comparison.
type step func(s *Store) []any

// r collects a command's results.
func r(vals ...any) []any { return vals }

// scenario is a table test case: setup commands whose results are ignored,
// then the command under test and its printed results.
type scenario struct {
	name  string
	setup []step
	run   step
	want  string
}

// runScenarios runs each scenario on a fresh store with a fake clock.
func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s, _ := newTestStore(t)
			for _, st := range sc.setup {
				st(s)
			}
			if got := fmt.Sprint(sc.run(s)); got != sc.want {
				t.Errorf("got  %s\nwant %s", got, sc.want)
			}
		})
	}
}

// after advances the store's clock by d, as a setup step.
func after(d time.Duration) step {
	return func(s *Store) []any { s.FastForward(d); return nil }
}

func set(key, value string, ttl time.Duration) step {
	return func(s *Store) []any { return r(s.Set(bg, key, value, ttl)) }
}

func hset(key string, ttl time.Duration, fv ...string) step {
	return func(s *Store) []any { return r(s.HSet(bg, key, ttl, fv...)) }
}

func sadd(key string, ttl time.Duration, members ...string) step {
	return func(s *Store) []any { return r(s.SAdd(bg, key, ttl, members...)) }
}

// zadd adds alternating members and scores.
func zadd(key string, ttl time.Duration, pairs ...any) step {
	return func(s *Store) []any {
		var members []string
		var scores []float64
		for i := 0; i < len(pairs); i += 2 {
			members = append(members, pairs[i].(string))
			scores = append(scores, toFloat(pairs[i+1]))
		}
		return r(s.ZAdd(bg, key, ttl, backend.ZAddUpsert, zs(members, scores)...))
	}
}

func toFloat(v any) float64 {
	if i, ok := v.(int); ok {
		return float64(i)
	}
	return v.(float64)
}

func pttl(key string) step {
	return func(s *Store) []any { return r(s.PTTL(bg, key)) }
}

// then runs steps in order and returns the results of all of them.
func then(steps ...step) step {
	return func(s *Store) []any {
		var out []any
		for _, st := range steps {
			out = append(out, st(s)...)
		}
		return out
	}
}

// errorIs reports whether err is target.
func errorIs(err, target error) bool { return errors.Is(err, target) }

// zs and splitZ are backendtest's, shorter.
var (
	zs     = backendtest.Zs
	splitZ = backendtest.SplitZ
)

// zmode reads a ZADD flag ("", "NX", "XX" in any case); another flag is a
// mode no backend knows.
func zmode(s string) backend.ZAddMode {
	switch strings.ToUpper(s) {
	case "":
		return backend.ZAddUpsert
	case "NX":
		return backend.ZAddNX
	case "XX":
		return backend.ZAddXX
	}
	return backend.ZAddXX + 1
}

// setop reads a set command's name in any case.
func setop(s string) backend.SetOp {
	switch strings.ToUpper(s) {
	case "SINTER":
		return backend.Inter
	case "SDIFF":
		return backend.Diff
	}
	return backend.Union
}

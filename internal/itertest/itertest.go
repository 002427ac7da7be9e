// Package itertest fills a set, a hash and a counter of many SCAN pages and
// iterates them, for the tests of the library's iterators: with no change of
// server each entry comes exactly once, and an iteration that a change of
// server interrupts ends with [caches.ErrIterationBroken]. Tests only.
package itertest

import (
	"context"
	"iter"
	"strconv"
	"testing"

	"github.com/gocaches/caches"
	"github.com/stretchr/testify/require"
)

const (
	// Size is the size of the collections: a dozen SCAN pages of the
	// library.
	Size = 3000
	// Mid is how many entries an iteration yields before Collect calls its
	// mid function: past the first page, far from the last.
	Mid = 300
)

// Case is one iterator over a populated collection of Size entries.
type Case struct {
	Name string
	Key  string // the Redis key
	// Collect runs the iteration to its end, calling mid (when not nil)
	// once after Mid entries, and returns how often each entry came and
	// the first error.
	Collect func(ctx context.Context, mid func()) (map[string]int, error)
}

// Cases fills a set, a hash and a counter of Size entries each, through
// families with opts under the keys "set", "dict" and "counter", and
// returns their iterators: Set.All, Dict.All and Counter.All.
func Cases(t testing.TB, opts caches.Options) []Case {
	t.Helper()
	ctx := context.Background()
	members := make([]string, Size)
	fields := make(map[string]int, Size)
	counts := make(map[string]int64, Size)
	for i := range Size {
		m := "m-" + strconv.Itoa(i)
		members[i], fields[m], counts[m] = m, i, int64(i+1)
	}
	s := caches.NewSetCache[string](opts).Key("set")
	_, err := s.Add(ctx, members...)
	require.NoError(t, err)
	d := caches.NewDictCache[string, int](opts).Key("dict")
	require.NoError(t, d.SetMany(ctx, fields))
	c := caches.NewCounterCache[string](opts).Key("counter")
	require.NoError(t, c.Update(ctx, counts))
	return []Case{
		{"Set.All", s.String(), func(ctx context.Context, mid func()) (map[string]int, error) {
			return collect(s.All(ctx), func(m string) string { return m }, mid)
		}},
		{"Dict.All", d.String(), func(ctx context.Context, mid func()) (map[string]int, error) {
			return collect(d.All(ctx), func(it caches.Item[string, int]) string { return it.Field }, mid)
		}},
		{"Counter.All", c.String(), func(ctx context.Context, mid func()) (map[string]int, error) {
			return collect(c.All(ctx), func(ct caches.Counted[string]) string { return ct.Key }, mid)
		}},
	}
}

// collect counts what seq yields by name(v) until it ends or yields an
// error, calling mid (when not nil) after Mid entries.
func collect[V any](seq iter.Seq2[V, error], name func(V) string, mid func()) (map[string]int, error) {
	seen := make(map[string]int, Size)
	n := 0
	for v, err := range seq {
		if err != nil {
			return seen, err
		}
		seen[name(v)]++
		if n++; n == Mid && mid != nil {
			mid()
		}
	}
	return seen, nil
}

// RequireEachOnce checks that seen holds each of the Size entries once.
func RequireEachOnce(t testing.TB, seen map[string]int) {
	t.Helper()
	require.Len(t, seen, Size, "every entry came")
	for m, n := range seen {
		require.Equal(t, 1, n, "%s came once", m)
	}
}

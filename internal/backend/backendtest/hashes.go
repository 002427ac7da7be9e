package backendtest

import (
	"context"
	"iter"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testHashes(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b

	added, err := b.HSet(ctx, "h", time.Minute, "a", "1", "b", "2")
	require.NoError(t, err)
	require.Equal(t, int64(2), added)
	requireTTL(t, b, "h", time.Minute)
	added, err = b.HSet(ctx, "h", time.Hour, "b", "3", "c", "4")
	require.NoError(t, err)
	require.Equal(t, int64(1), added, "one new field")
	requireTTL(t, b, "h", time.Hour)

	v, ok, err := b.HGet(ctx, "h", "b")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "3", v)
	_, ok, err = b.HGet(ctx, "h", "zz")
	require.NoError(t, err)
	require.False(t, ok)
	_, ok, err = b.HGet(ctx, "nohash", "a")
	require.NoError(t, err)
	require.False(t, ok)

	vals, oks, err := b.HMGet(ctx, "h", "a", "zz", "c")
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, true}, oks)
	require.Equal(t, "1", vals[0])
	require.Equal(t, "4", vals[2])
	_, oks, err = b.HMGet(ctx, "nohash", "a")
	require.NoError(t, err)
	require.Equal(t, []bool{false}, oks)

	stored, err := b.HSetNX(ctx, "h", "a", "9", time.Minute)
	require.NoError(t, err)
	require.False(t, stored)
	stored, err = b.HSetNX(ctx, "h", "d", "5", time.Minute)
	require.NoError(t, err)
	require.True(t, stored)
	requireTTL(t, b, "h", time.Minute)

	n, err := b.HLen(ctx, "h")
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	has, err := b.HExists(ctx, "h", "d")
	require.NoError(t, err)
	require.True(t, has)

	all, err := b.HGetAll(ctx, "h")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "3", "c": "4", "d": "5"}, pairs(all))
	hv, err := b.HVals(ctx, "h")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"1", "3", "4", "5"}, hv)

	v, ok, err = b.HGetDel(ctx, "h", "d")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "5", v)
	_, ok, err = b.HGetDel(ctx, "h", "d")
	require.NoError(t, err)
	require.False(t, ok)

	deleted, err := b.HDel(ctx, "h", "c", "zz")
	require.NoError(t, err)
	require.Equal(t, int64(1), deleted)
	requireTTL(t, b, "h", time.Minute)

	i, err := hIncrBy(ctx, b, "h", "a", 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, int64(11), i)
	f, err := hIncrByFloat(ctx, b, "h", "x", 0.5, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 0.5, f)
	_, err = hIncrBy(ctx, b, "h", "x", 1, time.Minute)
	requireNotNumber(t, err)
	_, err = b.HSet(ctx, "h", time.Minute, "w", "word")
	require.NoError(t, err)
	_, err = hIncrByFloat(ctx, b, "h", "w", 1, time.Minute)
	requireNotNumber(t, err)

	seen := map[string]string{}
	for range 10 {
		field, value, ok, err := b.HPopRandom(ctx, "h")
		require.NoError(t, err)
		if !ok {
			break
		}
		require.NotContains(t, seen, field)
		seen[field] = value
	}
	require.Equal(t, map[string]string{"a": "11", "b": "3", "x": "0.5", "w": "word"}, seen)
	requireExists(t, b, "h", false)

	_, err = b.HSet(ctx, "one", 0, "f", "v")
	require.NoError(t, err)
	_, _, err = b.HGetDel(ctx, "one", "f")
	require.NoError(t, err)
	requireExists(t, b, "one", false)
}

// testHIncrByMany checks the atomic increments of several fields: new
// values in order, the expiry refresh, and the failure of an increment
// that is not a number.
func testHIncrByMany(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	got, err := b.HIncrByMany(ctx, "c", time.Minute, []string{"a", "b", "a"}, []int64{1, -2, 3})
	require.NoError(t, err)
	require.Equal(t, []int64{1, -2, 4}, got)
	requireTTL(t, b, "c", time.Minute)
	all, err := b.HGetAll(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "4", "b": "-2"}, pairs(all))

	_, err = b.HSet(ctx, "c", time.Minute, "w", "word")
	require.NoError(t, err)
	_, err = b.HIncrByMany(ctx, "c", time.Hour, []string{"a", "w"}, []int64{1, 1})
	requireNotNumber(t, err)
	v, _, _ := b.HGet(ctx, "c", "w")
	require.Equal(t, "word", v)

	got, err = b.HIncrByMany(ctx, "c", 0, []string{"big", "big"}, []int64{1<<60 + 1, 2})
	require.NoError(t, err)
	require.Equal(t, []int64{1<<60 + 1, 1<<60 + 3}, got, "exact beyond 2^53")

	_, err = b.HSet(ctx, "c", 0, "max", strconv.FormatInt(1<<63-1, 10))
	require.NoError(t, err)
	_, err = b.HIncrByMany(ctx, "c", 0, []string{"max"}, []int64{1})
	requireNotNumber(t, err)
	v, _, _ = b.HGet(ctx, "c", "max")
	require.Equal(t, strconv.FormatInt(1<<63-1, 10), v, "an overflow leaves the field")
}

// scanFixture returns 500 fields with their values and the same 500 names
// as set members: enough for scans of several pages.
func scanFixture() (fields map[string]string, members []string) {
	fields = map[string]string{}
	for i := 0; i < 500; i++ {
		s := "m" + strconv.Itoa(i)
		fields[s] = strconv.Itoa(i)
		members = append(members, s)
	}
	return fields, members
}

func testScan(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	want, members := scanFixture()
	for f, v := range want {
		_, err := b.HSet(ctx, "h", 0, f, v)
		require.NoError(t, err)
	}
	_, err := b.SAdd(ctx, "s", 0, members...)
	require.NoError(t, err)

	got := map[string]string{}
	var cursor uint64
	for pages := 0; ; pages++ {
		require.Less(t, pages, 500, "the hash scan ends")
		fv, next, err := b.HScan(ctx, "h", cursor, 50)
		require.NoError(t, err)
		maps.Copy(got, pairs(fv))
		if cursor = next; cursor == 0 {
			break
		}
	}
	require.Equal(t, want, got)

	var gotSet []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 500, "the set scan ends")
		ms, next, err := b.SScan(ctx, "s", cursor, 50)
		require.NoError(t, err)
		gotSet = append(gotSet, ms...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(gotSet)
	gotSet = slices.Compact(gotSet)
	slices.Sort(members)
	require.Equal(t, members, gotSet)

	fv, next, err := b.HScan(ctx, "missing", 0, 10)
	require.NoError(t, err)
	require.Empty(t, fv)
	require.Zero(t, next)
	ms, next, err := b.SScan(ctx, "missing", 0, 10)
	require.NoError(t, err)
	require.Empty(t, ms)
	require.Zero(t, next)
}

// testScanInstance checks the scans that report the server instance that
// served each page: they page as HSCAN and SSCAN do, and every page from
// one server reports the same instance (Options.Instance, when set).
func testScanInstance(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	want, members := scanFixture()
	_, err := b.HSet(ctx, "{inst}h", 0, slices.Collect(pairsOf(want))...)
	require.NoError(t, err)
	_, err = b.SAdd(ctx, "{inst}s", 0, members...)
	require.NoError(t, err)

	instances := map[string]bool{}
	got := map[string]string{}
	var cursor uint64
	for pages := 0; ; pages++ {
		require.Less(t, pages, 500, "the hash scan ends")
		fv, next, inst, err := b.HScanInstance(ctx, "{inst}h", cursor, 50)
		require.NoError(t, err)
		instances[inst] = true
		maps.Copy(got, pairs(fv))
		if cursor = next; cursor == 0 {
			break
		}
	}
	require.Equal(t, want, got)

	var gotSet []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 500, "the set scan ends")
		ms, next, inst, err := b.SScanInstance(ctx, "{inst}s", cursor, 50)
		require.NoError(t, err)
		instances[inst] = true
		gotSet = append(gotSet, ms...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(gotSet)
	slices.Sort(members)
	require.Equal(t, members, slices.Compact(gotSet))

	fv, next, inst, err := b.HScanInstance(ctx, "{inst}missing", 0, 10)
	require.NoError(t, err)
	require.Empty(t, fv)
	require.Zero(t, next)
	instances[inst] = true
	require.Len(t, instances, 1, "one server, one instance: %v", instances)
	if e.opts.Instance != nil {
		require.Equal(t, e.opts.Instance(t, b), inst)
	}
}

// pairsOf yields the fields and values of m, alternating.
func pairsOf(m map[string]string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for f, v := range m {
			if !yield(f) || !yield(v) {
				return
			}
		}
	}
}

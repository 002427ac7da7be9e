package backendtest

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

func testSortedSets(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	zadd := func(mode backend.ZAddMode, ms []string, ss []float64) int64 {
		t.Helper()
		n, err := b.ZAdd(ctx, "z", time.Minute, mode, Zs(ms, ss)...)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, int64(4), zadd(backend.ZAddUpsert, []string{"b", "a", "d", "c"}, []float64{1, 1, 2, 3}))
	requireTTL(t, b, "z", time.Minute)
	require.Equal(t, int64(0), zadd(backend.ZAddNX, []string{"a"}, []float64{9}), "NX leaves existing")
	require.Equal(t, int64(0), zadd(backend.ZAddXX, []string{"c", "new"}, []float64{0, 9}), "XX never adds")
	require.Equal(t, int64(1), zadd(backend.ZAddUpsert, []string{"e", "a"}, []float64{5, 1}))
	n, err := b.ZAdd(ctx, "zx", time.Minute, backend.ZAddXX, backend.Z{Member: "m", Score: 1})
	require.NoError(t, err)
	require.Zero(t, n)
	requireExists(t, b, "zx", false)

	s, ok, err := b.ZScore(ctx, "z", "c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 0.0, s)
	_, ok, err = b.ZScore(ctx, "z", "new")
	require.NoError(t, err)
	require.False(t, ok)

	// Scores: c 0, a 1, b 1, d 2, e 5 (ties by member bytes).
	ms, ss, err := SplitZ(b.ZRange(ctx, "z", 0, -1, false))
	require.NoError(t, err)
	require.Equal(t, []string{"c", "a", "b", "d", "e"}, ms)
	require.Equal(t, []float64{0, 1, 1, 2, 5}, ss)
	ms, _, err = SplitZ(b.ZRange(ctx, "z", 0, 1, true))
	require.NoError(t, err)
	require.Equal(t, []string{"e", "d"}, ms)
	ms, _, err = SplitZ(b.ZRange(ctx, "z", -2, 100, false))
	require.NoError(t, err)
	require.Equal(t, []string{"d", "e"}, ms)

	rank, ok, err := b.ZRank(ctx, "z", "b", false)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(2), rank)
	rank, _, _ = b.ZRank(ctx, "z", "b", true)
	require.Equal(t, int64(2), rank)
	rank, _, _ = b.ZRank(ctx, "z", "e", true)
	require.Equal(t, int64(0), rank)
	_, ok, err = b.ZRank(ctx, "z", "zz", false)
	require.NoError(t, err)
	require.False(t, ok)

	ms, _, err = SplitZ(b.ZRangeByScore(ctx, "z", "(0", "2", false, 0, -1))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "d"}, ms)
	ms, _, err = SplitZ(b.ZRangeByScore(ctx, "z", "-inf", "+inf", true, 1, 2))
	require.NoError(t, err)
	require.Equal(t, []string{"d", "b"}, ms)
	ms, _, err = SplitZ(b.ZRangeByScore(ctx, "z", "1", "(5", true, 0, -1))
	require.NoError(t, err)
	require.Equal(t, []string{"d", "b", "a"}, ms)
	_, _, err = SplitZ(b.ZRangeByScore(ctx, "z", "x", "1", false, 0, -1))
	require.Error(t, err, "bad bound")
	ms, _, err = SplitZ(b.ZRangeByScore(ctx, "z", "-inf", "+inf", false, 0, 0))
	require.NoError(t, err)
	require.Empty(t, ms, "count 0")

	n, err = b.ZCount(ctx, "z", "1", "2")
	require.NoError(t, err)
	require.Equal(t, int64(3), n)

	f, err := b.ZIncrBy(ctx, "z", "c", 2.5, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 2.5, f)
	requireTTL(t, b, "z", time.Hour)
	f, err = b.ZIncrBy(ctx, "z", "f", -1, time.Hour)
	require.NoError(t, err)
	require.Equal(t, -1.0, f)

	// Scores: f -1, a 1, b 1, d 2, c 2.5, e 5.
	ms, ss, err = SplitZ(b.ZPop(ctx, "z", 2, false))
	require.NoError(t, err)
	require.Equal(t, []string{"f", "a"}, ms)
	require.Equal(t, []float64{-1, 1}, ss)
	ms, ss, err = SplitZ(b.ZPop(ctx, "z", 1, true))
	require.NoError(t, err)
	require.Equal(t, []string{"e"}, ms)
	require.Equal(t, []float64{5}, ss)

	removed, err := b.ZRem(ctx, "z", "b", "zz")
	require.NoError(t, err)
	require.Equal(t, int64(1), removed)
	card, err := b.ZCard(ctx, "z")
	require.NoError(t, err)
	require.Equal(t, int64(2), card)

	zadd(backend.ZAddUpsert, []string{"g", "h", "i"}, []float64{10, 11, 12})
	removed, err = b.ZRemRangeByRank(ctx, "z", 0, 1)
	require.NoError(t, err)
	require.Equal(t, int64(2), removed)
	removed, err = b.ZRemRangeByScore(ctx, "z", "(10", "+inf")
	require.NoError(t, err)
	require.Equal(t, int64(2), removed)
	ms, _, _ = SplitZ(b.ZRange(ctx, "z", 0, -1, false))
	require.Equal(t, []string{"g"}, ms)

	ms, ss, err = SplitZ(b.ZPop(ctx, "missing", 1, false))
	require.NoError(t, err)
	require.Empty(t, ms)
	require.Empty(t, ss)

	testScoreEdges(t, e)
}

// testScoreEdges checks infinite scores, which Redis keeps. (The NaN that
// adding -inf to +inf makes is refused by Redis and by the in-process
// store, as the differential test checks; miniredis returns it.)
func testScoreEdges(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	_, err := b.ZAdd(ctx, "inf", 0, backend.ZAddUpsert, Zs([]string{"max", "lo"}, []float64{math.MaxFloat64, math.Inf(-1)})...)
	require.NoError(t, err)
	f, err := b.ZIncrBy(ctx, "inf", "max", math.MaxFloat64, 0)
	require.NoError(t, err)
	require.Equal(t, math.Inf(1), f)
	ms, ss, err := SplitZ(b.ZRange(ctx, "inf", 0, -1, false))
	require.NoError(t, err)
	require.Equal(t, []string{"lo", "max"}, ms)
	require.Equal(t, []float64{math.Inf(-1), math.Inf(1)}, ss)
}

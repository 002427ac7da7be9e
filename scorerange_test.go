package caches

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScoreRangeZeroValue checks that ScoreRange{} selects every score in
// each operation that takes a range, while Scores(0, 0) selects score 0.
func TestScoreRangeZeroValue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := NewSortedSetCache[string](e.opts("zrange")).Key("z")
		_, err := z.AddMany(ctx, Scored[string]{"low", -1}, Scored[string]{"zero", 0}, Scored[string]{"high", 2})
		require.NoError(t, err)
		all := []Scored[string]{{"low", -1}, {"zero", 0}, {"high", 2}}

		n, err := z.Count(ctx, ScoreRange{})
		require.NoError(t, err)
		require.Equal(t, 3, n, "Count(ScoreRange{}) counts every member")
		r, err := z.RangeByScore(ctx, ScoreRange{}, 0, -1)
		require.NoError(t, err)
		require.Equal(t, all, r)
		r, err = z.RevRangeByScore(ctx, ScoreRange{}, 0, 2)
		require.NoError(t, err)
		require.Equal(t, []Scored[string]{{"high", 2}, {"zero", 0}}, r)

		n, err = z.Count(ctx, Scores(0, 0))
		require.NoError(t, err)
		require.Equal(t, 1, n, "Scores(0, 0) is score 0 only")
		exclusive := Scores(0, 0)
		exclusive.MinExclusive = true
		n, err = z.Count(ctx, exclusive)
		require.NoError(t, err)
		require.Zero(t, n, "(0 0 is empty")
		n, err = z.Count(ctx, ScoreRange{Max: 0, MaxExclusive: true, Min: -5})
		require.NoError(t, err)
		require.Equal(t, 1, n, "a literal with a bound keeps its bounds")

		removed, err := z.RemoveRangeByScore(ctx, Scores(0, 0))
		require.NoError(t, err)
		require.Equal(t, 1, removed)
		removed, err = z.RemoveRangeByScore(ctx, ScoreRange{})
		require.NoError(t, err)
		require.Equal(t, 2, removed, "RemoveRangeByScore(ScoreRange{}) removes every member")
		l, err := z.Len(ctx)
		require.NoError(t, err)
		require.Zero(t, l)
	})
}

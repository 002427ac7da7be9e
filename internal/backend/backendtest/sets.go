package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

// The sets share a hash tag: multi-key commands need one slot on a cluster.
func testSets(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b

	added, err := b.SAdd(ctx, "{set}s", time.Minute, "a", "b", "c", "a")
	require.NoError(t, err)
	require.Equal(t, int64(3), added)
	requireTTL(t, b, "{set}s", time.Minute)
	added, err = b.SAdd(ctx, "{set}s", time.Hour, "c", "d")
	require.NoError(t, err)
	require.Equal(t, int64(1), added)
	requireTTL(t, b, "{set}s", time.Hour)

	is, err := b.SIsMember(ctx, "{set}s", "d")
	require.NoError(t, err)
	require.True(t, is)
	are, err := b.SMIsMember(ctx, "{set}s", "a", "z", "d")
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, true}, are)
	are, err = b.SMIsMember(ctx, "{set}missing", "a")
	require.NoError(t, err)
	require.Equal(t, []bool{false}, are)

	n, err := b.SCard(ctx, "{set}s")
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	removed, err := b.SRem(ctx, "{set}s", "d", "z")
	require.NoError(t, err)
	require.Equal(t, int64(1), removed)

	ms, err := b.SMembers(ctx, "{set}s")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "c"}, ms)

	rnd, err := b.SRandMember(ctx, "{set}s", 2)
	require.NoError(t, err)
	require.Len(t, rnd, 2)
	require.NotEqual(t, rnd[0], rnd[1], "positive count: distinct")
	rnd, err = b.SRandMember(ctx, "{set}s", 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "c"}, rnd)
	rnd, err = b.SRandMember(ctx, "{set}s", -7)
	require.NoError(t, err)
	require.Len(t, rnd, 7, "negative count: repeats allowed")
	for _, m := range rnd {
		require.Contains(t, []string{"a", "b", "c"}, m)
	}

	testSetAlgebra(t, e)

	popped, err := b.SPop(ctx, "{set}s", 2)
	require.NoError(t, err)
	require.Len(t, popped, 2)
	popped2, err := b.SPop(ctx, "{set}s", 5)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "c"}, append(popped, popped2...))
	requireExists(t, b, "{set}s", false)
	popped, err = b.SPop(ctx, "{set}s", 1)
	require.NoError(t, err)
	require.Empty(t, popped)
}

// testSetAlgebra runs SUNION, SINTER, SDIFF and their STORE forms on the
// set {set}s, which holds a, b and c.
func testSetAlgebra(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	_, err := b.SAdd(ctx, "{set}t", 0, "b", "c", "x")
	require.NoError(t, err)
	union, err := b.SCombine(ctx, backend.Union, "{set}s", "{set}t")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "c", "x"}, union)
	inter, err := b.SCombine(ctx, backend.Inter, "{set}s", "{set}t")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"b", "c"}, inter)
	diff, err := b.SCombine(ctx, backend.Diff, "{set}s", "{set}t", "{set}missing")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a"}, diff)
	inter, err = b.SCombine(ctx, backend.Inter, "{set}s", "{set}missing")
	require.NoError(t, err)
	require.Empty(t, inter)

	require.NoError(t, b.Set(ctx, "{set}dest", "was a string", 0))
	size, err := b.SCombineStore(ctx, backend.Inter, "{set}dest", time.Minute, "{set}s", "{set}t")
	require.NoError(t, err)
	require.Equal(t, int64(2), size)
	requireTTL(t, b, "{set}dest", time.Minute)
	ms, err := b.SMembers(ctx, "{set}dest")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"b", "c"}, ms)
	size, err = b.SCombineStore(ctx, backend.Union, "{set}dest", 0, "{set}s", "{set}t")
	require.NoError(t, err)
	require.Equal(t, int64(4), size)
	requireTTL(t, b, "{set}dest", -1)

	size, err = b.SCombineStore(ctx, backend.Inter, "{set}dest", time.Minute, "{set}s", "{set}missing")
	require.NoError(t, err)
	require.Zero(t, size)
	exists, err := b.Exists(ctx, "{set}dest")
	require.NoError(t, err)
	if e.opts.KeepsEmptyStoreDest {
		require.True(t, exists, "the quirk is fixed: drop Options.KeepsEmptyStoreDest")
	} else {
		require.False(t, exists, "an empty result deletes the destination")
	}
}

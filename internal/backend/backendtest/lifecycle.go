package backendtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

// testDeleteMatching checks the deletion by pattern: only the matching
// keys that want accepts go, of every type, in pages of any size.
func testDeleteMatching(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	keys := []string{"user:1", "user:2", "user:22", "user:", "users", "other", `user\:1`, "{user}:1", "[user]:1"}
	for _, batch := range []int64{0, 1, 2, 1000} {
		require.NoError(t, b.SetMany(ctx, keys, keys, 0))
		_, err := b.HSet(ctx, "user:h", time.Hour, "f", "v")
		require.NoError(t, err)
		_, err = b.ZAdd(ctx, "user:z", 0, backend.ZAddUpsert, backend.Z{Member: "m", Score: 1})
		require.NoError(t, err)

		n, err := b.DeleteMatching(ctx, "user:*", func(k string) bool { return k != "user:2" }, batch)
		require.NoError(t, err)
		require.Equal(t, int64(5), n, "batch %d", batch)
		_, ok, err := b.MGet(ctx, keys...)
		require.NoError(t, err)
		require.Equal(t, []bool{false, true, false, false, true, true, true, true, true}, ok, "batch %d", batch)
		requireExists(t, b, "user:h", false)
		requireExists(t, b, "user:z", false)

		n, err = b.DeleteMatching(ctx, `user\:?`, nil, batch)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "user:2, escaped colon")
		n, err = b.DeleteMatching(ctx, "nothing*", nil, batch)
		require.NoError(t, err)
		require.Zero(t, n)
		require.NoError(t, b.Set(ctx, "", "the empty key", 0))
		n, err = b.DeleteMatching(ctx, "", nil, batch)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "the empty pattern matches the empty key only")
		n, err = b.DeleteMatching(ctx, "*", nil, batch)
		require.NoError(t, err)
		require.Equal(t, int64(5), n, "batch %d", batch)
	}
}

// testCrossSlot checks the SlotChecker capability: keys of one hash tag
// pass; keys on different slots are refused with ErrCrossSlot by a
// Cluster, and accepted elsewhere. DEL, MGET and SetMany take keys on any
// slots everywhere.
func testCrossSlot(t *testing.T, e *env) {
	ctx, b := context.Background(), e.b
	sc, ok := b.(backend.SlotChecker)
	if e.opts.Cluster {
		require.True(t, ok, "a Cluster backend is a SlotChecker")
	}
	if ok {
		require.NoError(t, sc.CheckSameSlot([]string{"{t}a", "{t}b", "{t}c"}))
		require.NoError(t, sc.CheckSameSlot([]string{"a"}))
		err := sc.CheckSameSlot([]string{"{t}a", "a", "b"})
		if e.opts.Cluster {
			require.ErrorIs(t, err, backend.ErrCrossSlot)
		} else {
			require.NoError(t, err, "no slots, nothing to refuse")
		}
	}
	keys := []string{"a", "b", "c", "{t}d", "e"}
	require.NoError(t, b.SetMany(ctx, keys, keys, time.Minute))
	values, oks, err := b.MGet(ctx, keys...)
	require.NoError(t, err)
	require.Equal(t, keys, values)
	require.Equal(t, []bool{true, true, true, true, true}, oks)
	n, err := b.Del(ctx, keys...)
	require.NoError(t, err)
	require.Equal(t, int64(len(keys)), n)
}

// testCoarseMillis checks the cheap clock: when a backend keeps one, it
// reads the real time.
func testCoarseMillis(t *testing.T, e *env) {
	ms, ok := e.b.CoarseMillis()
	if !ok {
		require.Zero(t, ms)
		return
	}
	require.InDelta(t, time.Now().UnixMilli(), ms, float64(time.Second/time.Millisecond))
}

// testContextCancelled checks that every method returns the error of a
// context cancelled before the call.
func testContextCancelled(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range everyMethod(ctx, e.b) {
		t.Run(c.name, func(t *testing.T) {
			require.True(t, errors.Is(c.err, context.Canceled), "got %v", c.err)
		})
	}
}

// testClosed checks that every method of a closed backend fails with an
// error that backend.IsClosed recognises.
func testClosed(t *testing.T, e *env) {
	ctx := context.Background()
	require.NoError(t, e.b.Set(ctx, "k", "v", time.Hour))
	e.close(t)
	for _, c := range everyMethod(ctx, e.b) {
		t.Run(c.name, func(t *testing.T) {
			require.True(t, backend.IsClosed(c.err), "got %v", c.err)
		})
	}
}

// call is the error of one method call.
type call struct {
	name string
	err  error
}

// calls collects the errors of method calls.
type calls []call

func (c *calls) add(name string, err error) { *c = append(*c, call{name, err}) }

// everyMethod calls every method of b that touches data once, with
// arguments that make it send a command, and returns their errors.
func everyMethod(ctx context.Context, b backend.Backend) []call {
	var c calls
	keyMethods(ctx, b, c.add)
	hashMethods(ctx, b, c.add)
	setMethods(ctx, b, c.add)
	zsetMethods(ctx, b, c.add)
	return c
}

func keyMethods(ctx context.Context, b backend.Backend, add func(string, error)) {
	_, _, err := b.Get(ctx, "k")
	add("Get", err)
	add("Set", b.Set(ctx, "k", "v", time.Hour))
	_, err = b.SetNX(ctx, "k", "v", time.Hour)
	add("SetNX", err)
	_, _, err = b.GetDel(ctx, "k")
	add("GetDel", err)
	_, err = b.DelIfEqual(ctx, "k", "v")
	add("DelIfEqual", err)
	_, err = b.Del(ctx, "k", "l")
	add("Del", err)
	_, _, err = b.MGet(ctx, "k", "l")
	add("MGet", err)
	add("SetMany", b.SetMany(ctx, []string{"k", "l"}, []string{"v", "w"}, time.Hour))
	_, err = b.Exists(ctx, "k")
	add("Exists", err)
	_, _, err = b.PTTL(ctx, "k")
	add("PTTL", err)
	_, err = b.PExpire(ctx, "k", time.Hour)
	add("PExpire", err)
	_, err = b.PExpireAt(ctx, "k", time.Now().Add(time.Hour))
	add("PExpireAt", err)
	_, err = b.Persist(ctx, "k")
	add("Persist", err)
	_, err = b.IncrByWithin(ctx, "i", 1, 0, 10, time.Hour)
	add("IncrByWithin", err)
	_, err = b.IncrByFloatWithin(ctx, "i", 1, 0, 10, time.Hour)
	add("IncrByFloatWithin", err)
}

func hashMethods(ctx context.Context, b backend.Backend, add func(string, error)) {
	_, _, err := b.HGet(ctx, "h", "f")
	add("HGet", err)
	_, _, err = b.HMGet(ctx, "h", "f", "g")
	add("HMGet", err)
	_, err = b.HSet(ctx, "h", time.Hour, "f", "v")
	add("HSet", err)
	_, err = b.HSetNX(ctx, "h", "f", "v", time.Hour)
	add("HSetNX", err)
	_, err = b.HDel(ctx, "h", "f")
	add("HDel", err)
	_, err = b.HExists(ctx, "h", "f")
	add("HExists", err)
	_, err = b.HLen(ctx, "h")
	add("HLen", err)
	_, _, err = b.HGetDel(ctx, "h", "f")
	add("HGetDel", err)
	_, _, _, err = b.HPopRandom(ctx, "h")
	add("HPopRandom", err)
	_, err = b.HIncrByWithin(ctx, "h", "n", 1, 0, 10, time.Hour)
	add("HIncrByWithin", err)
	_, err = b.HIncrByFloatWithin(ctx, "h", "n", 1, 0, 10, time.Hour)
	add("HIncrByFloatWithin", err)
	_, err = b.HIncrByMany(ctx, "h", time.Hour, []string{"n", "m"}, []int64{1, 2})
	add("HIncrByMany", err)
	_, _, err = b.HScan(ctx, "h", 0, 10)
	add("HScan", err)
	_, _, _, err = b.HScanInstance(ctx, "h", 0, 10)
	add("HScanInstance", err)
	_, err = b.HGetAll(ctx, "h")
	add("HGetAll", err)
	_, err = b.HVals(ctx, "h")
	add("HVals", err)
	if r, ok := b.(backend.HashMapReader); ok {
		_, err = r.HGetAllMap(ctx, "h")
		add("HGetAllMap", err)
	}
}

func setMethods(ctx context.Context, b backend.Backend, add func(string, error)) {
	_, err := b.SAdd(ctx, "{s}s", time.Hour, "a", "b")
	add("SAdd", err)
	_, err = b.SRem(ctx, "{s}s", "a")
	add("SRem", err)
	_, err = b.SIsMember(ctx, "{s}s", "a")
	add("SIsMember", err)
	_, err = b.SMIsMember(ctx, "{s}s", "a", "b")
	add("SMIsMember", err)
	_, err = b.SCard(ctx, "{s}s")
	add("SCard", err)
	_, err = b.SPop(ctx, "{s}s", 1)
	add("SPop", err)
	_, err = b.SRandMember(ctx, "{s}s", 2)
	add("SRandMember", err)
	_, _, err = b.SScan(ctx, "{s}s", 0, 10)
	add("SScan", err)
	_, _, _, err = b.SScanInstance(ctx, "{s}s", 0, 10)
	add("SScanInstance", err)
	_, err = b.SMembers(ctx, "{s}s")
	add("SMembers", err)
	_, err = b.SCombine(ctx, backend.Inter, "{s}s", "{s}t")
	add("SCombine", err)
	_, err = b.SCombineStore(ctx, backend.Union, "{s}d", time.Hour, "{s}s", "{s}t")
	add("SCombineStore", err)
}

func zsetMethods(ctx context.Context, b backend.Backend, add func(string, error)) {
	_, err := b.ZAdd(ctx, "z", time.Hour, backend.ZAddUpsert, backend.Z{Member: "m", Score: 1})
	add("ZAdd", err)
	_, err = b.ZIncrBy(ctx, "z", "m", 1, time.Hour)
	add("ZIncrBy", err)
	_, _, err = b.ZScore(ctx, "z", "m")
	add("ZScore", err)
	_, _, err = b.ZRank(ctx, "z", "m", true)
	add("ZRank", err)
	_, err = b.ZRem(ctx, "z", "m")
	add("ZRem", err)
	_, err = b.ZCard(ctx, "z")
	add("ZCard", err)
	_, err = b.ZPop(ctx, "z", 1, false)
	add("ZPop", err)
	_, err = b.ZRange(ctx, "z", 0, -1, false)
	add("ZRange", err)
	_, err = b.ZRangeByScore(ctx, "z", "-inf", "+inf", true, 0, 10)
	add("ZRangeByScore", err)
	_, err = b.ZCount(ctx, "z", "-inf", "+inf")
	add("ZCount", err)
	_, err = b.ZRemRangeByRank(ctx, "z", 0, 0)
	add("ZRemRangeByRank", err)
	_, err = b.ZRemRangeByScore(ctx, "z", "-inf", "1")
	add("ZRemRangeByScore", err)
	_, err = b.DeleteMatching(ctx, "z*", nil, 10)
	add("DeleteMatching", err)
}

// errText is the text of err as two backends must agree on it: Redis's
// own reply, without the location that Redis appends to an error raised
// inside a Lua script (" script: …").
func errText(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " script: "); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// sortedCopy returns a sorted copy of v.
func sortedCopy(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

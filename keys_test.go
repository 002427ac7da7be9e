package caches

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type userID int64

type color string

func TestBuildKey(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		args   []any
		want   string
	}{
		{"no args", "user", nil, "user"},
		{"strings", "user", []any{"a", "b"}, "user:a:b"},
		{"ints", "user", []any{42, int8(-1), uint16(7), int64(1 << 40)}, "user:42:-1:7:1099511627776"},
		{"falsy kept", "user", []any{"", 0, false}, "user::0:false"},
		{"floats", "f", []any{1.5, float32(0.25), 1e21}, "f:1.5:0.25:1e+21"},
		{"bytes", "b", []any{[]byte("raw")}, "b:raw"},
		{"stringer", "d", []any{time.Second, net.IPv4(10, 0, 0, 1)}, "d:1s:10.0.0.1"},
		{"named kinds", "n", []any{userID(9), color("red")}, "n:9:red"},
		{"escapes", "e", []any{"a:b", "{tag}", "50%"}, "e:a%3Ab:%7Btag%7D:50%25"},
		{"no prefix", "", []any{"a", 1}, "a:1"},
		{"unicode", "u", []any{"héllo wörld"}, "u:héllo wörld"},
		{"time", "t", []any{time.Date(2026, 11, 29, 9, 30, 0, 5, time.FixedZone("CET", 3600))}, "t:2026-11-29T08%3A30%3A00.000000005Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildKey(tt.prefix, tt.args)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestBuildKeyTime: equal instants give one key, whatever their zone and
// whether they carry a monotonic clock reading (time.Now's does, and its
// String shows it).
func TestBuildKeyTime(t *testing.T) {
	now := time.Now()
	for _, same := range []time.Time{now.Round(0), now.UTC(), now.In(time.FixedZone("X", -7*3600))} {
		require.True(t, same.Equal(now))
		a, err := buildKey("t", []any{now})
		require.NoError(t, err)
		b, err := buildKey("t", []any{same})
		require.NoError(t, err)
		require.Equal(t, a, b)
	}
}

func TestBuildKeyCollisionFree(t *testing.T) {
	lists := [][]any{
		{"a:b", "c"}, {"a", "b:c"}, {"a", "b", "c"}, {"a:b:c"},
		{""}, {"", ""}, {":"}, {"%3A"}, {"%"}, {"{a}"}, {"%7Ba%7D"},
		{"a\\", "b"}, {"a", "\\b"},
	}
	seen := map[string]int{}
	for i, args := range lists {
		k, err := buildKey("p", args)
		require.NoError(t, err)
		if j, dup := seen[k]; dup {
			t.Fatalf("%v and %v give the same key %q", lists[j], args, k)
		}
		seen[k] = i
	}
	one, _ := buildKey("p", []any{1})
	oneStr, _ := buildKey("p", []any{"1"})
	require.Equal(t, one, oneStr, "documented: arguments are identified by their text")
}

func TestBuildKeyErrors(t *testing.T) {
	_, err := buildKey("p", []any{"ok", struct{ X int }{}})
	require.ErrorContains(t, err, "key argument 1")
	require.ErrorContains(t, err, "struct")
	_, err = buildKey("p", []any{nil})
	require.ErrorContains(t, err, "nil")
	_, err = buildKey("", nil)
	require.ErrorIs(t, err, errEmptyKey)
}

func TestKeyPrefixHashTag(t *testing.T) {
	p, err := keyPrefix("user", true)
	require.NoError(t, err)
	k, _ := buildKey(p, []any{"x{y}"})
	require.Equal(t, "{user}:x%7By%7D", k, "an argument cannot open a second hash tag")
	_, err = keyPrefix("", true)
	require.Error(t, err)
}

func BenchmarkKeyBuild(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buildKey("user", []any{"profile", 42})
	}
}

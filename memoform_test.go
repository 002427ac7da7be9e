package caches

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type recoQuery struct {
	User   int64
	Limit  int
	Region string
	Tags   []string
	Debug  bool `json:"-"`
	hidden int
}

// TestMemoizeKeyForms: each KeyForm's key for a struct argument, and that
// Call, Invalidate and InvalidateAll find the entries under it.
func TestMemoizeKeyForms(t *testing.T) {
	q := recoQuery{User: 1, Limit: 10, Region: "eu:west", Tags: []string{"a", "b"}, Debug: true}
	hex32 := regexp.MustCompile(`^reco:[0-9a-f]{32}$`)
	tests := []struct {
		form  KeyForm
		check func(t *testing.T, key string)
	}{
		{KeyJSON, func(t *testing.T, key string) {
			require.Equal(t, `reco:%7B"User"%3A1,"Limit"%3A10,"Region"%3A"eu%3Awest","Tags"%3A["a","b"]%7D`, key, "the default is unchanged")
		}},
		{KeyFields, func(t *testing.T, key string) {
			require.Equal(t, `reco:1:10:eu%3Awest:["a","b"]`, key)
			k := NewKeyCache[string](Options{Prefix: "reco"}).Key(1, 10, "eu:west", `["a","b"]`).String()
			require.Equal(t, k, key, "the key of Key(f1, f2, …)")
		}},
		{KeyHash, func(t *testing.T, key string) {
			require.Regexp(t, hex32, key)
			sum := sha256.Sum256([]byte(`{"User":1,"Limit":10,"Region":"eu:west","Tags":["a","b"]}`))
			require.Equal(t, "reco:"+hex.EncodeToString(sum[:16]), key, "the digest of the unescaped JSON")
		}},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tt := range tests {
			var calls atomic.Int32
			m := Memoize(func(ctx context.Context, q recoQuery) ([]int64, error) {
				calls.Add(1)
				return []int64{q.User, int64(q.Limit)}, nil
			}, MemoOptions[recoQuery]{Options: e.opts("reco"), KeyForm: tt.form})
			key, err := m.Key(q)
			require.NoError(t, err)
			tt.check(t, key)
			other, _ := m.Key(recoQuery{User: 2, Limit: 10, Region: "eu:west", Tags: []string{"a", "b"}})
			require.NotEqual(t, key, other)
			same, _ := m.Key(recoQuery{User: 1, Limit: 10, Region: "eu:west", Tags: []string{"a", "b"}, hidden: 3})
			require.Equal(t, key, same, "json:\"-\" and unexported fields are not part of the key")

			for range 2 {
				_, err = m.Call(ctx, q)
				require.NoError(t, err)
			}
			require.Equal(t, int32(1), calls.Load(), "the second call is a hit")
			_, found, err := e.b.Get(ctx, key)
			require.NoError(t, err)
			require.True(t, found, "stored under %s", key)
			gone, err := m.Invalidate(ctx, q)
			require.NoError(t, err)
			require.True(t, gone)
			_, err = m.Call(ctx, q)
			require.NoError(t, err)
			n, err := m.InvalidateAll(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "InvalidateAll finds the entry")
			require.Equal(t, int32(2), calls.Load())
		}
	})
}

// TestMemoizeKeyFormsOtherArguments: KeyFields leaves non-struct arguments
// as KeyJSON keys them, KeyHash hashes them too, and struct{} is the prefix
// alone in every form.
func TestMemoizeKeyFormsOtherArguments(t *testing.T) {
	fn := func(context.Context, int) (int, error) { return 0, nil }
	none := func(context.Context, struct{}) (int, error) { return 0, nil }
	for _, form := range []KeyForm{KeyJSON, KeyFields, KeyHash} {
		key, err := Memoize(fn, MemoOptions[int]{Options: Options{Prefix: "n"}, KeyForm: form}).Key(42)
		require.NoError(t, err)
		if form == KeyHash {
			require.Equal(t, "n:73475cb40a568e8da8a045ced110137e", key, "the digest of 42")
		} else {
			require.Equal(t, "n:42", key)
		}
		key, err = Memoize(none, MemoOptions[struct{}]{Options: Options{Prefix: "n"}, KeyForm: form}).Key(struct{}{})
		require.NoError(t, err)
		require.Equal(t, "n", key)
	}
	type at struct {
		When time.Time
		ID   fmtID
	}
	key, err := Memoize(func(context.Context, at) (int, error) { return 0, nil },
		MemoOptions[at]{Options: Options{Prefix: "t"}, KeyForm: KeyFields}).Key(at{When: time.Unix(0, 0).UTC(), ID: 7})
	require.NoError(t, err)
	require.Equal(t, `t:"1970-01-01T00%3A00%3A00Z":7`, key, "a struct field by its JSON, a named int by its number, not its String")
}

type fmtID int

func (i fmtID) String() string { return "id-" + strconv.Itoa(int(i)) }

// TestMemoizePlain: a plain Memo stores what a KeyCache stores, and plain
// and framed Memos read each other's entries.
func TestMemoizePlain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var calls atomic.Int32
		fn := func(ctx context.Context, id int) (profile, error) {
			calls.Add(1)
			return profile{Name: "p", Age: id}, nil
		}
		plain := Memoize(fn, MemoOptions[int]{Options: e.opts("pm"), Plain: true})
		framed := Memoize(fn, MemoOptions[int]{Options: e.opts("pm")})

		_, err := plain.Call(ctx, 1)
		require.NoError(t, err)
		raw, _, err := e.b.Get(ctx, "pm:1")
		require.NoError(t, err)
		require.JSONEq(t, `{"name":"p","age":1}`, raw, "exactly the codec's bytes")
		got, err := NewKeyCache[profile](e.opts("pm")).Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, profile{Name: "p", Age: 1}, got, "a KeyCache reads it")
		v, err := framed.Call(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, 1, v.Age)
		require.Equal(t, int32(1), calls.Load(), "a framed Memo reads a plain entry as a hit")

		_, err = framed.Call(ctx, 2)
		require.NoError(t, err)
		raw, _, _ = e.b.Get(ctx, "pm:2")
		require.Regexp(t, `^m1\|\d+\|\d+\|v\|\{`, raw)
		v, err = plain.Call(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, 2, v.Age)
		require.Equal(t, int32(2), calls.Load(), "a plain Memo reads a framed entry as a hit")
	})
}

// TestMemoizePlainFrameLikeValues: a plain result whose text reads as a
// frame is stored framed, so it reads back as itself; other text is stored
// as it is.
func TestMemoizePlainFrameLikeValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := Memoize(func(ctx context.Context, s string) (string, error) { return s, nil },
			MemoOptions[string]{Options: e.opts("echo"), Plain: true})
		for _, s := range []string{"m1|0|0|v|x", "m1|5|6|e|boom", "m1|x", "m1|", "", "plain"} {
			key, _ := m.Key(s)
			v, err := m.Call(ctx, s)
			require.NoError(t, err)
			require.Equal(t, s, v)
			raw, _, _ := e.b.Get(ctx, key)
			if _, frame := parseEntry(s); frame {
				require.Equal(t, "m1|0|0|v|"+s, raw)
			} else {
				require.Equal(t, s, raw)
			}
			v, err = m.Call(ctx, s)
			require.NoError(t, err)
			require.Equal(t, s, v, "the hit reads %q back", raw)
		}
		require.Equal(t, uint64(6), m.Stats().Hits)
	})
}

// TestMemoizePlainCachedError: cached errors stay framed in plain mode.
func TestMemoizePlainCachedError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := Memoize(func(ctx context.Context, s string) (profile, error) { return profile{}, errors.New("db down") },
			MemoOptions[string]{Options: e.opts("perr"), Plain: true, ErrorTTL: time.Minute})
		_, err := m.Call(ctx, "a")
		require.EqualError(t, err, "db down")
		raw, _, _ := e.b.Get(ctx, "perr:a")
		require.Equal(t, "m1|0|0|e|db down", raw)
		_, err = m.Call(ctx, "a")
		var ce *CachedError
		require.ErrorAs(t, err, &ce)
	})
}

// TestMemoizePlainNoEarlyRefresh: a plain hit is never refreshed early,
// where the same framed hit is.
func TestMemoizePlainNoEarlyRefresh(t *testing.T) {
	for _, plain := range []bool{false, true} {
		var mu sync.Mutex
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
		e := memEnv(t)
		m := Memoize(func(ctx context.Context, s string) (string, error) {
			advance(time.Second) // slow: a head start of seconds
			return s, nil
		}, MemoOptions[string]{Options: Options{Prefix: "x", TTL: time.Minute, Conn: e.conn}, Plain: plain, Now: clock})
		m.rand = func() float64 { return 1e-9 } // the likeliest draw
		_, err := m.Call(context.Background(), "k")
		require.NoError(t, err)
		advance(50 * time.Second)
		_, err = m.Call(context.Background(), "k")
		require.NoError(t, err)
		want := uint64(1)
		if plain {
			want = 0
		}
		require.Equal(t, want, m.Stats().EarlyRefreshes, "plain %v", plain)
	}
}

// FuzzMemoEntry: whatever a plain Memo stores for a result reads back as
// that result, as does a frame around it, and no stored text panics.
func FuzzMemoEntry(f *testing.F) {
	for _, s := range []string{"", "m1|", "m1|0|0|v|x", "m1|1|2|e|boom", "m1|x|y|v|{}", `{"a":1}`, "m1|-1|0|v|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		readEntry(s)
		if e := readEntry(plainEntry(s)); e.isErr || e.payload != s || e.delta != 0 {
			t.Fatalf("plain entry of %q reads as %+v", s, e)
		}
		if e := readEntry(formatEntry(false, 5, 6, s)); e.isErr || e.payload != s || e.delta != 5 || e.expiry != "6" {
			t.Fatalf("frame of %q reads as %+v", s, e)
		}
	})
}

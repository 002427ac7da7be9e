package memstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// TestGlobMatch checks the matcher against the examples of Redis's KEYS
// documentation and against what stringmatchlen does in the corners.
func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		// The KEYS documentation.
		{"h?llo", []string{"hello", "hallo", "hxllo"}, []string{"hllo", "heello"}},
		{"h*llo", []string{"hllo", "heeeello", "hello"}, []string{"hell", "hllo!"}},
		{"h[ae]llo", []string{"hello", "hallo"}, []string{"hillo", "hllo", "haello"}},
		{"h[^e]llo", []string{"hallo", "hbllo"}, []string{"hello", "hllo"}},
		{"h[a-b]llo", []string{"hallo", "hbllo"}, []string{"hcllo", "hello"}},
		// Stars.
		{"*", []string{"a", "*", "any thing"}, []string{""}}, // SCAN special-cases "*" instead
		{"**", []string{"a", "ab"}, []string{""}},
		{"", []string{""}, []string{"a"}},
		{"a*", []string{"a", "abc", "a*"}, []string{"", "ba"}},
		{"*a", []string{"a", "ba", "aaa"}, []string{"", "ab"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbc", "acbc"}, []string{"ab", "acb", "abcx"}},
		{"a**?", []string{"ab", "abc"}, []string{"a"}},
		{"*?*", []string{"x", "xyz"}, []string{""}},
		// Escapes outside brackets.
		{`a\*b`, []string{"a*b"}, []string{"axb", `a\*b`, "ab"}},
		{`a\?`, []string{"a?"}, []string{"ax"}},
		{`\[a]`, []string{"[a]"}, []string{"a"}},
		{`user\:*`, []string{"user:1", "user:"}, []string{`user\:1`, "user1"}},
		{`\a`, []string{"a"}, []string{`\a`}},
		{`a\`, []string{`a\`}, []string{"a", `a\\`}}, // a trailing '\' is literal
		{`\\`, []string{`\`}, []string{`\\`}},
		// Braces are not special.
		{"{user}:*", []string{"{user}:1", "{user}:"}, []string{"user:1", "{user}"}},
		{"{a,b}", []string{"{a,b}"}, []string{"a", "b"}},
		// Classes.
		{"[abc]", []string{"a", "b", "c"}, []string{"d", "", "ab"}},
		{"[^abc]", []string{"d", "^"}, []string{"a", "", "dd"}},
		{"[z-a]", []string{"a", "m", "z"}, []string{"A", "{"}}, // a range in either order
		{"[a-c-e]", []string{"b", "-", "e"}, []string{"d"}},    // "a-c", then "-", then "e"
		{`[\]]`, []string{"]"}, []string{`\`}},
		{`[\-]`, []string{"-"}, []string{`\`}},
		{`[a\-z]`, []string{"a", "-", "z"}, []string{"b"}},
		{"[]]", []string{}, []string{"]", "]]", "a]"}}, // "[]" is an empty class, matching nothing
		{"[]a]", []string{}, []string{"]", "a", "]a]"}},
		{"[^]]", []string{"x]", "]]"}, []string{"]", "x"}},         // "[^]" matches any byte
		{"[a-]", []string{"a", "]", "^", "_"}, []string{"b", "-"}}, // the range a..']' swallows the ']'
		{"[ab", []string{"a", "b"}, []string{"c", "ab"}},           // unterminated: to the end
		{"x[ab", []string{"xa"}, []string{"x", "xab"}},
		{"[", []string{}, []string{"", "[", "a"}},
		{"[^", []string{"a", "["}, []string{"", "ab"}},
		{`[\`, []string{`\`}, []string{"a"}},
		{"[[]", []string{"["}, []string{"]"}},
		{"[*]", []string{"*"}, []string{"a"}},
		{"[?]x", []string{"?x"}, []string{"ax"}},
		{"[a-c]*", []string{"a", "cat"}, []string{"dog", ""}},
		// Bytes from 0x80 up sort below 0x00 in ranges, as in Redis on x86-64.
		{"[\x01-\xff]", []string{"\x00", "\x01", "\xff"}, []string{"a", "\x7f"}},
		{"[\xe0-\xef]", []string{"\xe0", "\xe9", "\xef"}, []string{"\xdf", "\xf0", "a"}},
		{"[a-\xe9]", []string{"\xe9", "\xff", "\x00", "a"}, []string{"b", "\xe8"}},
		{"caf\xc3\xa9", []string{"café"}, []string{"cafe"}},
		{"?", []string{"\xc3"}, []string{"é"}}, // bytes, not runes
		// Invalid UTF-8 on either side is compared byte by byte, never as U+FFFD.
		{"a\xff:*", []string{"a\xff:1", "a\xff:"}, []string{"a\uFFFD:1", "a\xfe:1", "a:1"}},
		{"a\uFFFD:*", []string{"a\uFFFD:1"}, []string{"a\xff:1"}},
		{"a?:*", []string{"a\xff:1", "a\xfe:1"}, []string{"a\uFFFD:1", "a:1"}},
		{"a\\\xff", []string{"a\xff"}, []string{"a\\\xff", "a\xfe"}},
		{"[\\\xff]", []string{"\xff"}, []string{"\\", "\xfe"}},
		{"caf\xc3\xa9\xe2\x82\\*", []string{"caf\xc3\xa9\xe2\x82*"}, []string{"caf\xc3\xa9\uFFFD\uFFFD*", "caf\xc3\xa9\xe2\x82x"}},
	} {
		for _, s := range tc.match {
			if !globMatch(tc.pattern, s) {
				t.Errorf("%q does not match %q", tc.pattern, s)
			}
		}
		for _, s := range tc.noMatch {
			if globMatch(tc.pattern, s) {
				t.Errorf("%q matches %q", tc.pattern, s)
			}
		}
	}
	if !scanMatch("*", "") || scanMatch("**", "") || !scanMatch("", "") {
		t.Error(`SCAN MATCH: "*" must match the empty key and "**" must not`)
	}
}

// TestGlobMatchManyStars checks that a pattern with many stars that cannot
// match fails fast instead of backtracking exponentially.
func TestGlobMatchManyStars(t *testing.T) {
	pattern := strings.Repeat("a*", 40) + "b"
	key := strings.Repeat("a", 200)
	start := time.Now()
	if globMatch(pattern, key) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestDeleteMatching(t *testing.T) {
	s, clock := newTestStore(t)
	for i := range 3000 {
		must(t, s.Set(bg, fmt.Sprint("user:", i), "v", 0))
		must(t, s.Set(bg, fmt.Sprint("item:", i), "v", 0))
	}
	_, err := s.HSet(bg, "user:h", 0, "f", "v")
	must(t, err)
	_, err = s.ZAdd(bg, "user:z", 0, backend.ZAddUpsert, zs([]string{"m"}, []float64{1})...)
	must(t, err)
	must(t, s.Set(bg, "user*", "v", 0))
	must(t, s.Set(bg, "user:gone", "v", time.Second))
	clock.Advance(2 * time.Second) // expired, not reclaimed

	n, err := s.DeleteMatching(bg, `user\*`, nil, 0)
	must(t, err)
	equal(t, `deleted by user\*`, n, int64(1))
	n, err = s.DeleteMatching(bg, "user:*", nil, 7)
	must(t, err)
	equal(t, "deleted by user:*", n, int64(3002))
	equal(t, "DBSize", s.DBSize(), 3000)
	if k, _ := s.memStats(); k != 3000 {
		t.Errorf("%d keys in memory: the expired match was not reclaimed", k)
	}
	n, err = s.DeleteMatching(bg, "user:*", nil, 7)
	must(t, err)
	equal(t, "deleted again", n, int64(0))
	must(t, s.Set(bg, "", "empty key", 0))
	n, err = s.DeleteMatching(bg, "**", nil, 0)
	must(t, err)
	equal(t, "deleted by **", n, int64(3000))
	n, err = s.DeleteMatching(bg, "*", nil, -1)
	must(t, err)
	equal(t, "deleted by *", n, int64(1))
	equal(t, "Keys", s.Keys(), []string{})
	equal(t, "UsedBytes", s.UsedBytes(), int64(0))
}

// cancelAfter is a context that reports itself cancelled from its nth call
// of Err on.
type cancelAfter struct {
	context.Context
	calls, n int
}

func (c *cancelAfter) Err() error {
	if c.calls++; c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestDeleteMatchingBatches shows that DeleteMatching deletes a shard's
// keys batch by batch, checking its context before each batch.
func TestDeleteMatchingBatches(t *testing.T) {
	s := New(Options{Shards: 1, ExpiryInterval: -1})
	defer s.Close()
	for i := range 100 {
		must(t, s.Set(bg, fmt.Sprint("k", i), "v", 0))
	}
	// Err is called on entry and before each batch: the fourth call comes
	// before the third batch.
	n, err := s.DeleteMatching(&cancelAfter{Context: bg, n: 4}, "k*", nil, 10)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	equal(t, "deleted before the cancellation", n, int64(20))
	equal(t, "DBSize", s.DBSize(), 80)
}

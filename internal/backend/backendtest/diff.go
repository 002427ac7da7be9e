package backendtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// DiffOptions configure [Differential] and [DifferentialDeleteMatching].
// The environment overrides them: CACHES_DIFF_OPS sets Ops and
// CACHES_DIFF_SEED sets Seed, as for the caches' own differential test.
type DiffOptions struct {
	// Ops is the number of random operations; 0 means 4,000.
	Ops int
	// Seed seeds the operations; 0 means one from the clock. The seed is
	// logged, and printed with a divergence.
	Seed uint64
}

// resolve applies the environment and the defaults.
func (o DiffOptions) resolve(t *testing.T) DiffOptions {
	t.Helper()
	if o.Ops == 0 {
		o.Ops = 4000
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano() % 1e9)
	}
	if v := os.Getenv("CACHES_DIFF_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("CACHES_DIFF_OPS: %v", err)
		}
		o.Ops = n
	}
	if v := os.Getenv("CACHES_DIFF_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CACHES_DIFF_SEED: %v", err)
		}
		o.Seed = n
	}
	return o
}

// diffTimeLimit bounds a differential run: the expiries the operations set
// are whole hours, compared rounded to the hour, which holds for runs
// shorter than half an hour.
const diffTimeLimit = 20 * time.Minute

// Differential runs the same random operations ([Ops]) on got and on want,
// both empty and on the real clock, and requires the same printed result
// from both after every operation, and then the same contents and expiry
// of every key the operations use ([Dump]). want is the reference (a real
// Redis). It stops at the first divergence with the seed, the step, the
// operation and the latest steps.
func Differential(t *testing.T, got, want backend.Backend, opts DiffOptions) {
	opts = opts.resolve(t)
	ctx := context.Background()
	start := time.Now()
	choose := rand.New(rand.NewPCG(opts.Seed, opChoiceStream))
	var recent []string // the latest steps, for the report of a divergence
	for step := range opts.Ops {
		if time.Since(start) > diffTimeLimit {
			t.Logf("seed %d: stopped after %d operations, at the time limit of %v", opts.Seed, step, diffTimeLimit)
			return
		}
		op := Ops[choose.IntN(len(Ops))]
		g, w := op.Run(ctx, NewGen(opts.Seed, uint64(step)), got), op.Run(ctx, NewGen(opts.Seed, uint64(step)), want)
		recent = append(recent[max(0, len(recent)-9):], fmt.Sprintf("  %d %s -> %s", step, op.Name, strings.TrimSpace(w)))
		if g != w {
			diverged(t, opts.Seed, step, op.Name, g, w, recent)
		}
		for _, k := range Keys {
			if g, w := Dump(ctx, got, k), Dump(ctx, want, k); g != w {
				diverged(t, opts.Seed, step, op.Name+", then key "+k, g, w, recent)
			}
		}
	}
	t.Logf("seed %d: %d operations, no divergence", opts.Seed, opts.Ops)
}

// opChoiceStream is the PCG stream that chooses the operations; the
// arguments of step n come from stream n.
const opChoiceStream = 1 << 63

// diverged fails the test with what the two backends printed.
func diverged(t *testing.T, seed uint64, step int, what, got, want string, recent []string) {
	t.Helper()
	t.Fatalf("seed %d, step %d, %s:\n got:  %s\n want: %s\nlatest steps:\n%s",
		seed, step, what, strings.TrimSpace(got), strings.TrimSpace(want), strings.Join(recent, "\n"))
}

// Dump prints key's type, contents and remaining time to live (rounded to
// the hour), read through the methods of the contract only: the type is
// the first read that does not fail with WRONGTYPE.
func Dump(ctx context.Context, b backend.Backend, key string) string {
	v, ok, err := b.Get(ctx, key)
	switch {
	case err == nil && !ok:
		return "none"
	case err == nil:
		return "string " + strconv.Quote(v) + dumpTTL(ctx, b, key)
	case !isWrongType(err):
		return "GET: " + errText(err)
	}
	if fv, err := b.HGetAll(ctx, key); !isWrongType(err) {
		return "hash " + strings.TrimSpace(showPairs(fv, err)) + dumpTTL(ctx, b, key)
	}
	if ms, err := b.SMembers(ctx, key); !isWrongType(err) {
		return "set " + strings.TrimSpace(showSorted(ms, err)) + dumpTTL(ctx, b, key)
	}
	ms, sc, err := SplitZ(b.ZRange(ctx, key, 0, -1, false))
	return "zset " + strings.TrimSpace(show(ms, sc, err)) + dumpTTL(ctx, b, key)
}

// dumpTTL prints key's remaining time to live, rounded to the hour.
func dumpTTL(ctx context.Context, b backend.Backend, key string) string {
	ttl, ok, err := b.PTTL(ctx, key)
	switch {
	case err != nil:
		return ", PTTL: " + errText(err)
	case !ok:
		return ", gone"
	case ttl < 0:
		return ", no expiry"
	}
	return ", expires in " + ttl.Round(time.Hour).String()
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), wrongTypeText)
}

// DifferentialDeleteMatching compares which keys DeleteMatching deletes on
// got and on want (the reference: a real Redis, whose SCAN MATCH decides),
// for patterns full of special characters and bytes that are not UTF-8,
// and for random ones, over keys of the same kinds. got and want start
// empty; each pattern runs on the same keys, written with SetMany.
func DifferentialDeleteMatching(t *testing.T, got, want backend.Backend, opts DiffOptions) {
	opts = opts.resolve(t)
	g := NewGen(opts.Seed, 0)
	keys := slices.Clone(matchKeys)
	for range 150 {
		keys = append(keys, randomGlob(g, 6))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	patterns := slices.Clone(matchPatterns)
	for range 300 {
		patterns = append(patterns, randomGlob(g, 5))
	}
	for i, p := range patterns {
		batch := pick[int64](g, 0, 3, 1000)
		var want0 func(string) bool
		if i%4 == 3 {
			want0 = func(k string) bool { return len(k)%2 == 0 }
		}
		gotDeleted := deleteMatching(t, got, keys, p, want0, batch)
		wantDeleted := deleteMatching(t, want, keys, p, want0, batch)
		if gotDeleted != wantDeleted {
			t.Errorf("seed %d pattern %q batch %d (only even lengths: %v):\n got deleted:  %s want deleted: %s",
				opts.Seed, p, batch, want0 != nil, gotDeleted, wantDeleted)
		}
	}
}

// deleteMatching writes keys on b, deletes those matching p that want
// accepts, and prints the count and the keys that went.
func deleteMatching(t *testing.T, b backend.Backend, keys []string, p string, want func(string) bool, batch int64) string {
	t.Helper()
	ctx := context.Background()
	if err := b.SetMany(ctx, keys, keys, 0); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	n, err := b.DeleteMatching(ctx, p, want, batch)
	if err != nil {
		return show(n, err)
	}
	_, ok, err := b.MGet(ctx, keys...)
	if err != nil {
		t.Fatalf("MGet: %v", err)
	}
	var gone []string
	for i, k := range keys {
		if !ok[i] {
			gone = append(gone, strconv.Quote(k))
		}
	}
	return show(n, gone)
}

// randomGlob returns a string of up to n characters, mostly those a glob
// pattern treats specially.
func randomGlob(g Gen, n int) string {
	const alphabet = "abc*?[]^-\\:{}\xe9\x00\xff\xbd"
	b := make([]byte, g.r.IntN(n+1))
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// matchKeys and matchPatterns are the fixed keys and patterns of
// DifferentialDeleteMatching.
var (
	matchKeys = []string{"", "a", "b", "ab", "abc", "a*b", "axb", `a\*b`, `a\b`, "a?", "user:1", "user:", "user:22",
		`user\:1`, "user1", "{user}:1", "{user}:", "{user}", "[a]", "]", "[", "^", "-", "a-b", `\`, "*", "?",
		"hello", "hallo", "hillo", "hbllo", "h\xe9llo", "caf\xc3\xa9", "\x00", "\x01a", "\xff", "\x7f", "\xe0",
		"a\xff:1", "a\xff:", "a\xfe:1", "a\uFFFD:1", "a\\\xff:1", "caf\xc3\xa9\xe2\x82*:1", "caf\xc3\xa9\uFFFD\uFFFD*:1"}
	matchPatterns = []string{"*", "**", "", "?", "??", "a*", "*b", "a*b", `a\*b`, `a\\*b`, "{user}:*", `\{user\}:*`,
		"user:*", `user\:*`, `user\\:*`, "user?*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "[a-c]*",
		"[z-a]", "[a-]", "[]]", "[^]]", "[ab", "[", "[^", `[\`, `\`, `a\`, `[\]]`, `[\-]*`, "*[", "[*]", "[?]",
		"\x00", "[\x01-\xff]*", "[\xe0-\xef]", "[a-\xe9]*", "*\xa9", "[^a-z]*", "*\\*", "a**?", "*?*",
		"a\xff:*", "a?:*", "a\uFFFD:*", "a\\\xff:*", "a\\\\\xff:*", "[\\\xff]*", "[^\xff]*", "caf\xc3\xa9\xe2\x82\\*:*", "caf\xc3\xa9??\\*:*"}
)

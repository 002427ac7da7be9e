package caches

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseDSN checks that no DSN makes Open panic, and that no part of a
// password shows in an error or in the connection's String. The password
// is written raw, not percent-encoded, so that a / ? # @ : or % in it
// misleads the parser about where the userinfo ends.
func FuzzParseDSN(f *testing.F) {
	for _, s := range [][3]string{
		{"redis", "p4ssw0rd-secret", "localhost:6379/0?dial_timeout=1s#n"},
		{"rediss", "p4ssw0rd-secret", "h:1/0?bogus=1"},
		{"redis+cluster", "p4ssw0rd-secret", "a:1,b:2?read_only=true"},
		{"redis+sentinel", "p4ssw0rd-secret", "a:1,b:2/master/3?password=p4ssw0rd-secret"},
		{"unix", "p4ssw0rd-secret", "/tmp/x.sock?db=2"},
		{"memory", "p4ssw0rd-secret", "?x=1"},
		{"redis", "p4ss%w0rd-secret", "h:port:bad"},
		{"redis", "pa/ss-w0rd", "h:6379/0"},
		{"redis", "pa?ss-w0rd", "h:6379"},
		{"redis", "12345#67890", "h:6379"},
		{"redis+sentinel", "2345/master", "h:26379"},
		{"redis", "p@ss:w0rd%", "h"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, scheme, password, rest string) {
		dsn := scheme + "://user:" + password + "@" + rest
		shown := describeOpen(dsn)
		// What Open says of the DSN with every letter and digit of the
		// password changed: the words of its messages, not the password.
		words := describeOpen(scheme + "://user:" + shift(password) + "@" + rest)
		for i := 0; i+4 <= len(password); i++ {
			part := password[i : i+4]
			if strings.Contains(shown, part) && !strings.Contains(scheme+"://user:@"+rest, part) && !strings.Contains(words, part) {
				t.Fatalf("%q of the password %q shows: %s", part, password, shown)
			}
		}
	})
}

// describeOpen returns the error of Open(dsn), or the connection's String.
func describeOpen(dsn string) string {
	conn, err := Open(dsn)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	return conn.String()
}

// shift changes every ASCII letter and digit of s to another of its kind.
func shift(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		case r >= '0' && r <= '9':
			return '0' + (r-'0'+5)%10
		}
		return r
	}, s)
}

// FuzzBuildKey checks that key building is injective: two argument lists
// give one key only when they are equal.
func FuzzBuildKey(f *testing.F) {
	f.Add("a:b", "c", "a", "b:c")
	f.Add("%3A", "", "%", "3A")
	f.Add("{x}", "y", "{x", "}y")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		k1, err1 := buildKey("p", []any{a, b})
		k2, err2 := buildKey("p", []any{c, d})
		k3, err3 := buildKey("p", []any{a + b})
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if (k1 == k2) != (a == c && b == d) {
			t.Fatalf("[%q %q] -> %q, [%q %q] -> %q", a, b, k1, c, d, k2)
		}
		if k1 == k3 {
			t.Fatalf("[%q %q] and [%q] both give %q", a, b, a+b, k1)
		}
		if strings.ContainsAny(k1[len("p"):], "{}") {
			t.Fatalf("key %q carries a hash tag from its arguments", k1)
		}
	})
}

// FuzzCodecs checks that decoding any stored text never panics, and that
// whatever decodes encodes back to text that decodes to the same value.
func FuzzCodecs(f *testing.F) {
	for _, s := range []string{"", "0", "-1", "1e309", "NaN", "true", "{}", `{"name":"x","age":1}`, "\xff", "9223372036854775808"} {
		f.Add(s)
	}
	ints, floats, bools := newValueCodec[int64](nil), newValueCodec[float32](nil), newValueCodec[bool](nil)
	profiles, bytes := newValueCodec[profile](nil), newValueCodec[[]byte](nil)
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, ints, s, func(a, b int64) bool { return a == b })
		roundTrip(t, floats, s, func(a, b float32) bool { return a == b || (a != a && b != b) || math.IsInf(float64(a), 0) })
		roundTrip(t, bools, s, func(a, b bool) bool { return a == b })
		roundTrip(t, profiles, s, func(a, b profile) bool { return a == b })
		roundTrip(t, bytes, s, func(a, b []byte) bool { return string(a) == string(b) })
	})
}

func roundTrip[V any](t *testing.T, vc valueCodec[V], s string, equal func(a, b V) bool) {
	v, err := vc.decode(s)
	if err != nil {
		return
	}
	text, err := vc.encode(v)
	if err != nil {
		t.Fatalf("%s: %q decoded to %v, which does not encode: %v", vc.typeName, s, v, err)
	}
	back, err := vc.decode(text)
	if err != nil || !equal(v, back) {
		t.Fatalf("%s: %q -> %v -> %q -> %v (%v)", vc.typeName, s, v, text, back, err)
	}
}

package msgpack_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/codecs/msgpack"
	vmsgpack "github.com/vmihailenco/msgpack/v5"
)

type Profile struct {
	ID      int64             `json:"id"`
	Name    string            `json:"name"`
	Emails  []string          `json:"emails"`
	Meta    map[string]string `json:"meta,omitempty"`
	Seen    time.Time         `json:"seen"`
	Score   float64           `msgpack:"s"`
	Private string            `json:"-"`
	Nested  *Profile          `json:"nested,omitempty"`
}

func TestRoundTrip(t *testing.T) {
	// A time.Time comes back in the local zone (the same instant).
	seen := time.Date(2026, 11, 29, 8, 0, 0, 123, time.UTC).Local()
	values := []any{
		Profile{},
		Profile{ID: 1, Name: "Ada", Emails: []string{"a@x", ""}, Meta: map[string]string{"k": "v"}, Seen: seen, Score: 0.5,
			Nested: &Profile{ID: 2}},
		[]int{1, 2, 3},
		map[string][]float64{"a": {1.5}},
	}
	for _, v := range values {
		b, err := msgpack.Codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out := reflect.New(reflect.TypeOf(v))
		if err := msgpack.Codec.Unmarshal(b, out.Interface()); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if got := out.Elem().Interface(); !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %#v gave %#v", v, got)
		}
	}
}

// TestFieldNames: the json tag names a field without a msgpack tag, and
// `json:"-"` keeps it out, as with the JSON codec.
func TestFieldNames(t *testing.T) {
	b, err := msgpack.Codec.Marshal(Profile{Name: "Ada", Private: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := vmsgpack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"id", "name", "s", "seen"} {
		if _, ok := m[want]; !ok {
			t.Errorf("field %q missing from %v", want, m)
		}
	}
	for _, absent := range []string{"Private", "ID", "Score", "nested", "meta"} {
		if _, ok := m[absent]; ok {
			t.Errorf("field %q present in %v", absent, m)
		}
	}
}

func TestCorrupt(t *testing.T) {
	good, _ := msgpack.Codec.Marshal(Profile{ID: 1, Name: "Ada", Emails: []string{"a"}})
	tests := map[string][]byte{
		"empty":          {},
		"truncated":      good[:len(good)-2],
		"trailing bytes": append(good[:len(good):len(good)], 0x01),
		"never used":     {0xc1},
		"wrong type":     {0xa3, 'a', 'b', 'c'}, // a string where a struct is expected
		"huge array":     {0xdd, 0xff, 0xff, 0xff, 0xff},
		"huge string":    {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff},
	}
	for name, data := range tests {
		var p Profile
		if err := msgpack.Codec.Unmarshal(data, &p); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, p)
		}
	}
}

// TestCorruptAllocatesLittle: a header declaring a huge collection is
// refused before the decoder preallocates for it.
func TestCorruptAllocatesLittle(t *testing.T) {
	for _, data := range [][]byte{
		{0xdf, 0xff, 0xff, 0xff, 0xff},                                        // map32 of 2^32-1 entries
		{0x81, 0xa6, 'e', 'm', 'a', 'i', 'l', 's', 0xdd, 0, 0x0f, 0x42, 0x40}, // emails: array32 of 1e6
		{0x91, 0x91, 0x91, 0xdc, 0xff, 0xff},
	} {
		var p Profile
		var err error
		allocs := testing.AllocsPerRun(10, func() { err = msgpack.Codec.Unmarshal(data, &p) })
		if !errors.Is(err, msgpack.ErrCorrupt) || allocs > 10 {
			t.Errorf("% x: %v after %v allocations, want msgpack.ErrCorrupt and few", data, err, allocs)
		}
	}
}

// TestCheckAcceptsEncodings: every value the encoder writes passes the
// well-formedness check, extensions and wide headers included.
func TestCheckAcceptsEncodings(t *testing.T) {
	big := make(map[string]int, 70000)
	for i := range 70000 {
		big[strconv.Itoa(i)] = i
	}
	values := []any{
		nil, true, false, 0, -1, -33, 127, 255, 65535, 1 << 20, int64(-1 << 40), uint64(1 << 63), float32(1.5), 2.5,
		"", strings.Repeat("s", 31), strings.Repeat("s", 255), strings.Repeat("s", 70000),
		[]byte{}, make([]byte, 300), make([]byte, 70000),
		make([]int, 15), make([]int, 16), make([]int, 70000), big,
		time.Unix(1, 0), time.Unix(1<<33, 5), time.Unix(1, 5),
		[]any{map[string]any{"a": []any{nil, 1.5, "x"}}},
	}
	for _, v := range values {
		b, err := msgpack.Codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := msgpack.Codec.Unmarshal(b, &out); err != nil {
			t.Errorf("%T of %d bytes: %v", v, len(b), err)
		}
	}
}

// FuzzUnmarshal: no input panics, and a decoded value encodes and decodes
// to the same.
func FuzzUnmarshal(f *testing.F) {
	for _, v := range []any{Profile{ID: 1, Name: "Ada", Emails: []string{"x"}}, map[string]any{"a": []any{1, "b"}}, strings.Repeat("s", 40)} {
		b, _ := msgpack.Codec.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Profile
		if err := msgpack.Codec.Unmarshal(data, &p); err != nil {
			return
		}
		b, err := msgpack.Codec.Marshal(p)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		var again Profile
		if err := msgpack.Codec.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", p, err)
		}
	})
}

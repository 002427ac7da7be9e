package codecs_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/cachestest"
	"github.com/gocaches/caches/codecs/compress"
	"github.com/gocaches/caches/codecs/msgpack"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// realRedis is the redis-server the tests of this package share.
var realRedis redistest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.ReportSkips()
	realRedis.Stop()
	os.Exit(code)
}

// backend is one store the round trips run on: a connection and a client
// that reads the stored bytes as redis-cli would.
type backend struct {
	conn *caches.Conn
	raw  func(t *testing.T, key string) string
	put  func(t *testing.T, key, value string)
}

// forEachBackend runs f on a fresh in-process store and on a real
// redis-server (skipped without one, failed with CACHES_REQUIRE_REDIS=1).
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { f(t, memoryBackend(t)) })
	t.Run("redis", func(t *testing.T) { f(t, redisBackend(t)) })
}

func memoryBackend(t *testing.T) backend {
	st := cachestest.New(t)
	// raw is the string handle of a key "prefix:arg", which holds the
	// stored bytes as they are.
	raw := func(key string) caches.Key[string] {
		prefix, arg, _ := strings.Cut(key, ":")
		return caches.NewKeyCache[string](caches.Options{Prefix: prefix, Conn: st.Conn}).Key(arg)
	}
	return backend{
		conn: st.Conn,
		raw: func(t *testing.T, key string) string {
			t.Helper()
			s, err := raw(key).Get(t.Context())
			if err != nil {
				t.Fatalf("raw GET %s: %v", key, err)
			}
			return s
		},
		put: func(t *testing.T, key, value string) {
			t.Helper()
			if err := raw(key).Set(t.Context(), value); err != nil {
				t.Fatalf("raw SET %s: %v", key, err)
			}
		},
	}
}

func redisBackend(t *testing.T) backend {
	srv := realRedis.Get(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	if err := client.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return backend{
		conn: caches.NewRedisConn(client),
		raw: func(t *testing.T, key string) string {
			t.Helper()
			s, err := client.Get(t.Context(), key).Result()
			if err != nil {
				t.Fatalf("GET %s: %v", key, err)
			}
			return s
		},
		put: func(t *testing.T, key, value string) {
			t.Helper()
			if err := client.Set(t.Context(), key, value, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", key, err)
			}
		},
	}
}

// Order is a value of the size and shape a cache typically holds.
type Order struct {
	ID       int64             `json:"id"`
	Customer string            `json:"customer"`
	Lines    []Line            `json:"lines"`
	Tags     map[string]string `json:"tags,omitempty"`
	Paid     bool              `json:"paid"`
	Secret   string            `json:"-"`
}

type Line struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// order returns an Order with n lines.
func order(n int) Order {
	o := Order{ID: 7, Customer: "Ada Lovelace", Paid: true, Tags: map[string]string{"region": "eu"}}
	for i := range n {
		o.Lines = append(o.Lines, Line{SKU: "SKU-" + strings.Repeat("x", i%7), Qty: i, Price: float64(i) + 0.25})
	}
	return o
}

// codecCases are the codecs every round trip runs with.
var codecCases = []struct {
	name  string
	codec caches.Codec
}{
	{"msgpack", msgpack.Codec},
	{"s2+json", compress.New(caches.JSON, compress.Options{Threshold: 256})},
	{"zstd+json", compress.New(nil, compress.Options{Threshold: 256, Algorithm: compress.Zstd})},
	{"s2+msgpack", compress.New(msgpack.Codec, compress.Options{Threshold: 256})},
	{"zstd+msgpack", compress.New(msgpack.Codec, compress.Options{Threshold: 256, Algorithm: compress.Zstd})},
}

func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, cc := range codecCases {
			t.Run(cc.name, func(t *testing.T) {
				orders := caches.NewKeyCache[Order](caches.Options{Prefix: "order:" + cc.name, Conn: b.conn, Codec: cc.codec})
				for _, n := range []int{0, 1, 200} {
					want := order(n)
					k := orders.Key(n)
					if err := k.Set(t.Context(), want); err != nil {
						t.Fatal(err)
					}
					got, err := k.Get(t.Context())
					if err != nil {
						t.Fatalf("%d lines: %v", n, err)
					}
					assertOrder(t, got, want)
				}
			})
		}
	})
}

func assertOrder(t *testing.T, got, want Order) {
	t.Helper()
	want.Secret = ""
	if len(got.Lines) != len(want.Lines) || got.ID != want.ID || got.Customer != want.Customer ||
		got.Paid != want.Paid || got.Tags["region"] != want.Tags["region"] || got.Secret != "" {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range got.Lines {
		if got.Lines[i] != want.Lines[i] {
			t.Fatalf("line %d: got %+v, want %+v", i, got.Lines[i], want.Lines[i])
		}
	}
}

// TestCompressedStoredForm checks what Redis holds: the inner codec's bytes
// below the threshold, marked compressed bytes above it.
func TestCompressedStoredForm(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := compress.New(caches.JSON, compress.Options{Threshold: 256, Algorithm: compress.Zstd})
		orders := caches.NewKeyCache[Order](caches.Options{Prefix: "o", Conn: b.conn, Codec: c})
		small, big := order(1), order(200)
		if err := orders.Key("small").Set(t.Context(), small); err != nil {
			t.Fatal(err)
		}
		if err := orders.Key("big").Set(t.Context(), big); err != nil {
			t.Fatal(err)
		}
		js, _ := caches.JSON.Marshal(small)
		if got := b.raw(t, "o:small"); got != string(js) {
			t.Errorf("small value stored as %q, want the JSON %q", got, js)
		}
		bigJSON, _ := caches.JSON.Marshal(big)
		got := b.raw(t, "o:big")
		if !strings.HasPrefix(got, "\xc1z") || len(got) >= len(bigJSON) {
			t.Errorf("big value stored as %d bytes starting %q, want \\xc1z and fewer than JSON's %d", len(got), got[:min(len(got), 4)], len(bigJSON))
		}
	})
}

// TestCompressReadsPlainInner: values written by the inner codec alone,
// before compression was turned on, still read back.
func TestCompressReadsPlainInner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, inner := range []caches.Codec{caches.JSON, msgpack.Codec} {
			want := order(100)
			plain, err := inner.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			b.put(t, "o:1", string(plain))
			orders := caches.NewKeyCache[Order](caches.Options{Prefix: "o", Conn: b.conn, Codec: compress.New(inner, compress.Options{})})
			got, err := orders.Key(1).Get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			assertOrder(t, got, want)
		}
	})
}

// TestCorruptIsDecodeError: a stored value a codec cannot read is a
// *caches.DecodeError naming the key, never a panic or a zero value.
func TestCorruptIsDecodeError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, cc := range codecCases {
			for _, stored := range []string{"\xc1", "\xc1s\xff\xff\xff\xff\x0f", "\xc1z\x28\xb5\x2f\xfd", "\xc1q", "\x92\x01", "\xc1\x00\x92"} {
				b.put(t, "bad:1", stored)
				orders := caches.NewKeyCache[Order](caches.Options{Prefix: "bad", Conn: b.conn, Codec: cc.codec})
				_, err := orders.Key(1).Get(t.Context())
				var de *caches.DecodeError
				if !errors.As(err, &de) || de.Key != "bad:1" {
					t.Errorf("%s reading %q: %v, want a *caches.DecodeError for bad:1", cc.name, stored, err)
				}
			}
		}
	})
}

// TestMemoizeWithCodec: Memoize's stored results go through the codec too.
func TestMemoizeWithCodec(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		calls := 0
		load := func(_ context.Context, id int64) (Order, error) { calls++; return order(int(id)), nil }
		m := caches.Memoize(load, caches.MemoOptions[int64]{Options: caches.Options{Prefix: "memo", Conn: b.conn,
			Codec: compress.New(msgpack.Codec, compress.Options{Threshold: 64})}})
		for range 2 {
			got, err := m.Call(t.Context(), 50)
			if err != nil {
				t.Fatal(err)
			}
			assertOrder(t, got, order(50))
		}
		if calls != 1 {
			t.Errorf("function called %d times, want 1 (the second call a hit)", calls)
		}
	})
}

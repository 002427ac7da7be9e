package caches

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/stretchr/testify/require"
)

// noopFamilies are the families the batch calls with nothing to do run on.
type noopFamilies struct {
	keys    *KeyCache[string]
	dicts   *DictCache[string, string]
	sets    *SetCache[string]
	zsets   *SortedSetCache[string]
	counter *CounterCache[string]
}

func newNoopFamilies(conn *Conn) noopFamilies {
	o := Options{Prefix: "noop", Conn: conn, TTL: time.Minute}
	return noopFamilies{
		keys:    NewKeyCache[string](o),
		dicts:   NewDictCache[string, string](o),
		sets:    NewSetCache[string](o),
		zsets:   NewSortedSetCache[string](o),
		counter: NewCounterCache[string](o),
	}
}

// noopCall is a batch call with nothing to do, on the handles named name.
type noopCall struct {
	name string
	call func(ctx context.Context, f noopFamilies, name string) (any, error)
}

// noopCalls are every batch call given nothing to do. Each must return a
// nil error and an empty result without a round trip, and change nothing.
var noopCalls = []noopCall{
	{"KeyCache.GetMany", func(ctx context.Context, f noopFamilies, _ string) (any, error) {
		v, found, err := f.keys.GetMany(ctx)
		return []any{v, found}, err
	}},
	{"KeyCache.SetMany", func(ctx context.Context, f noopFamilies, _ string) (any, error) {
		return nil, f.keys.SetMany(ctx)
	}},
	{"KeyCache.DeleteMany", func(ctx context.Context, f noopFamilies, _ string) (any, error) {
		return f.keys.DeleteMany(ctx)
	}},
	{"Dict.GetMany", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.dicts.Key(name).GetMany(ctx)
	}},
	{"Dict.SetMany", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return nil, f.dicts.Key(name).SetMany(ctx, nil)
	}},
	{"Dict.Delete", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.dicts.Key(name).Delete(ctx)
	}},
	{"Set.Add", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.sets.Key(name).Add(ctx)
	}},
	{"Set.Discard", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.sets.Key(name).Discard(ctx)
	}},
	{"Set.HasMany", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.sets.Key(name).HasMany(ctx)
	}},
	{"Set.PopN(0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.sets.Key(name).PopN(ctx, 0)
	}},
	{"Set.Random(0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.sets.Key(name).Random(ctx, 0)
	}},
	{"SortedSet.AddMany", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).AddMany(ctx)
	}},
	{"SortedSet.Remove", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).Remove(ctx)
	}},
	{"SortedSet.PopMinN(0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).PopMinN(ctx, 0)
	}},
	{"SortedSet.PopMaxN(0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).PopMaxN(ctx, 0)
	}},
	{"SortedSet.RangeByScore(limit 0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).RangeByScore(ctx, AllScores, 0, 0)
	}},
	{"SortedSet.RevRangeByScore(limit 0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.zsets.Key(name).RevRangeByScore(ctx, AllScores, 1, 0)
	}},
	{"Counter.Update", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return nil, f.counter.Key(name).Update(ctx, map[string]int64{})
	}},
	{"Counter.Delete", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.counter.Key(name).Delete(ctx)
	}},
	{"Counter.MostCommon(0)", func(ctx context.Context, f noopFamilies, name string) (any, error) {
		return f.counter.Key(name).MostCommon(ctx, 0)
	}},
}

// requireEmpty checks that a no-op's result is empty: nil, zero, or of
// length zero (each element, for a list of results).
func requireEmpty(t *testing.T, got any) {
	t.Helper()
	if many, ok := got.([]any); ok {
		for _, g := range many {
			requireEmpty(t, g)
		}
		return
	}
	if got == nil {
		return
	}
	v := reflect.ValueOf(got)
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		require.Zero(t, v.Len(), "result %v", got)
	default:
		require.True(t, v.IsZero(), "result %v", got)
	}
}

// panicBackend fails the test at any call: its methods are those of a nil
// backend.
type panicBackend struct{ backend.Backend }

// TestBatchNoop: every batch call with nothing to do returns a nil error
// and an empty result on every backend, creates no key, changes no expiry,
// and needs no round trip.
func TestBatchNoop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := newNoopFamilies(e.conn)
		existing := []handle{
			f.keys.Key("str").handle, f.dicts.Key("dict").handle, f.sets.Key("set").handle,
			f.zsets.Key("zset").handle, f.counter.Key("counter").handle,
		}
		require.NoError(t, f.keys.Key("str").Set(ctx, "v"))
		require.NoError(t, f.dicts.Key("dict").Set(ctx, "f", "v"))
		_, err := f.sets.Key("set").Add(ctx, "m")
		require.NoError(t, err)
		_, err = f.zsets.Key("zset").Add(ctx, "m", 1)
		require.NoError(t, err)
		_, err = f.counter.Key("counter").Incr(ctx, "m", 1)
		require.NoError(t, err)
		for _, h := range existing {
			_, err := h.Expire(ctx, 10*time.Minute)
			require.NoError(t, err)
		}
		for _, c := range noopCalls {
			t.Run(c.name, func(t *testing.T) {
				for _, name := range []string{"str", "dict", "set", "zset", "counter", "missing"} {
					got, err := c.call(ctx, f, name)
					require.NoError(t, err, "on %s", name)
					requireEmpty(t, got)
				}
				for _, h := range existing {
					requireTTLNear(t, h, 10*time.Minute)
				}
				for _, h := range []handle{f.dicts.Key("missing").handle, f.sets.Key("missing").handle} {
					has, err := h.exists(ctx)
					require.NoError(t, err)
					require.False(t, has, "%s was created", h.key)
				}
			})
		}
	})
	t.Run("no round trip", func(t *testing.T) {
		f := newNoopFamilies(&Conn{desc: "panics", b: panicBackend{}})
		for _, c := range noopCalls {
			t.Run(c.name, func(t *testing.T) {
				got, err := noBackendCall(c, f)
				require.NoError(t, err)
				requireEmpty(t, got)
			})
		}
	})
}

// noBackendCall runs c, turning the panic of a backend call into an error.
func noBackendCall(c noopCall, f noopFamilies) (got any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s called the backend: %v", c.name, r)
		}
	}()
	return c.call(context.Background(), f, "k")
}

// TestSetAlgebraAlone: set algebra with no other sets is the set itself;
// storing the result of no source sets is refused with an error naming the
// key, and changes nothing.
func TestSetAlgebraAlone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		sets := NewSetCache[string](e.opts("alone"))
		s := sets.Key("s")
		_, err := s.Add(ctx, "a", "b")
		require.NoError(t, err)
		for name, op := range map[string]func(context.Context, ...Set[string]) ([]string, error){
			"Union": s.Union, "Intersect": s.Intersect, "Difference": s.Difference,
		} {
			got, err := op(ctx)
			require.NoError(t, err, name)
			require.ElementsMatch(t, []string{"a", "b"}, got, name)
			got, err = sets.Key("missing").Union(ctx)
			require.NoError(t, err, name)
			require.Empty(t, got, name)
		}
		for name, op := range map[string]func(context.Context, ...Set[string]) (int, error){
			"StoreUnion": s.StoreUnion, "StoreIntersect": s.StoreIntersect, "StoreDifference": s.StoreDifference,
		} {
			_, err := op(ctx)
			require.ErrorContains(t, err, s.key, name)
			got, err := s.Members(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"a", "b"}, got, name)
		}
	})
}

package caches

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The increments of values narrower than the int64 and float64 that Redis
// computes in: a result that does not fit the value type is refused with
// ErrNotNumber, and the stored value stays as it was, readable, with its
// expiry.

// incrCase is an increment whose result does not fit V: the value start
// plus n (minus n when decr is set).
type incrCase[V comparable] struct {
	start, n V
	decr     bool
}

// requireIncrRefused checks c on a KeyCache and (unless c decrements, which
// a Dict cannot) a DictCache of V.
func requireIncrRefused[V comparable](t *testing.T, e *env, name string, c incrCase[V]) {
	t.Run(name, func(t *testing.T) {
		ctx := context.Background()
		k := NewKeyCache[V](e.opts("incr-" + name)).Key("k")
		require.NoError(t, k.Set(ctx, c.start))
		_, err := k.Expire(ctx, 10*time.Minute)
		require.NoError(t, err)
		incr := k.Incr
		if c.decr {
			incr = k.Decr
		}
		got, err := incr(ctx, c.n)
		require.ErrorIs(t, err, ErrNotNumber, "key: got %v", got)
		v, err := k.Get(ctx)
		require.NoError(t, err, "the key is still readable")
		require.Equal(t, c.start, v, "the key is unchanged")
		requireTTLNear(t, k.handle, 10*time.Minute)
		if c.decr {
			return
		}

		d := NewDictCache[string, V](e.opts("incrdict-" + name)).Key("d")
		require.NoError(t, d.Set(ctx, "f", c.start))
		_, err = d.Expire(ctx, 10*time.Minute)
		require.NoError(t, err)
		got, err = d.Incr(ctx, "f", c.n)
		require.ErrorIs(t, err, ErrNotNumber, "dict: got %v", got)
		m, err := d.Map(ctx)
		require.NoError(t, err, "the hash is still readable")
		require.Equal(t, map[string]V{"f": c.start}, m, "the hash is unchanged")
		requireTTLNear(t, d.handle, 10*time.Minute)
	})
}

// requireTTLNear checks that h's key expires in about want.
func requireTTLNear(t *testing.T, h handle, want time.Duration) {
	t.Helper()
	got, err := h.TTL(context.Background())
	require.NoError(t, err)
	require.InDelta(t, float64(want), float64(got), float64(5*time.Second), "TTL of %s", h.key)
}

func TestIncrOutOfRange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		requireIncrRefused(t, e, "int8", incrCase[int8]{start: 127, n: 1})
		requireIncrRefused(t, e, "int8-down", incrCase[int8]{start: -128, n: 1, decr: true})
		requireIncrRefused(t, e, "int8-neg", incrCase[int8]{start: -100, n: -100})
		requireIncrRefused(t, e, "uint8", incrCase[uint8]{start: 200, n: 56})
		requireIncrRefused(t, e, "uint8-down", incrCase[uint8]{start: 0, n: 1, decr: true})
		requireIncrRefused(t, e, "int16", incrCase[int16]{start: math.MaxInt16, n: 1})
		requireIncrRefused(t, e, "uint16", incrCase[uint16]{start: math.MaxUint16, n: 1})
		requireIncrRefused(t, e, "int32", incrCase[int32]{start: math.MinInt32, n: -1})
		requireIncrRefused(t, e, "uint32", incrCase[uint32]{start: math.MaxUint32, n: 1})
		requireIncrRefused(t, e, "uint64", incrCase[uint64]{start: 0, n: 1, decr: true})
		requireIncrRefused(t, e, "uint64-big", incrCase[uint64]{start: 1 << 62, n: 1<<62 + 1, decr: true})
		requireIncrRefused(t, e, "uint", incrCase[uint]{start: 5, n: 6, decr: true})
		requireIncrRefused(t, e, "int64", incrCase[int64]{start: math.MaxInt64, n: 1})
		requireIncrRefused(t, e, "int", incrCase[int]{start: math.MinInt64, n: -1})
		requireIncrRefused(t, e, "float32", incrCase[float32]{start: math.MaxFloat32, n: math.MaxFloat32})
		requireIncrRefused(t, e, "float32-down", incrCase[float32]{start: -math.MaxFloat32, n: -math.MaxFloat32})
		requireIncrRefused(t, e, "float64", incrCase[float64]{start: math.MaxFloat64, n: math.MaxFloat64})
		requireIncrRefused(t, e, "float64-down", incrCase[float64]{start: -math.MaxFloat64, n: math.MaxFloat64, decr: true})
		requireIncrRefused(t, e, "float64-inf", incrCase[float64]{start: 1, n: math.Inf(1)})
		requireIncrRefused(t, e, "float64-nan", incrCase[float64]{start: 1, n: math.NaN()})
	})
}

// TestIncrOutOfRangeMissing: an increment of a missing key or field whose
// result does not fit creates nothing.
func TestIncrOutOfRangeMissing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[uint64](e.opts("u64")).Key("missing")
		_, err := k.Decr(ctx, 1)
		require.ErrorIs(t, err, ErrNotNumber)
		ok, err := k.Has(ctx)
		require.NoError(t, err)
		require.False(t, ok, "a refused increment creates no key")

		d := NewDictCache[string, uint8](e.opts("u8")).Key("d")
		require.NoError(t, d.Set(ctx, "other", 1))
		_, err = d.Incr(ctx, "f", 1)
		require.NoError(t, err)
		_, err = d.Incr(ctx, "f", 255)
		require.ErrorIs(t, err, ErrNotNumber)
		m, err := d.Map(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]uint8{"other": 1, "f": 1}, m)
	})
}

// TestIncrInRange: results at the edges of the type, and 64-bit results
// beyond a float64's 53-bit mantissa, come back exact.
func TestIncrInRange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		i8 := NewKeyCache[int8](e.opts("i8")).Key("k")
		v8, err := i8.Incr(ctx, 127)
		require.NoError(t, err)
		require.Equal(t, int8(127), v8)
		v8, err = i8.Decr(ctx, 127)
		require.NoError(t, err)
		require.Equal(t, int8(0), v8)
		v8, err = i8.Incr(ctx, -128)
		require.NoError(t, err)
		require.Equal(t, int8(-128), v8)

		u64 := NewKeyCache[uint64](e.opts("u64")).Key("k")
		require.NoError(t, u64.Set(ctx, 1<<62))
		vu, err := u64.Incr(ctx, 1<<62-1)
		require.NoError(t, err)
		require.Equal(t, uint64(1<<63-1), vu)
		vu, err = u64.Decr(ctx, 1<<63-1)
		require.NoError(t, err)
		require.Zero(t, vu)

		i64 := NewKeyCache[int64](e.opts("i64")).Key("k")
		vi, err := i64.Incr(ctx, 1<<60+1)
		require.NoError(t, err)
		require.Equal(t, int64(1<<60+1), vi)
		vi, err = i64.Incr(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, int64(1<<60+3), vi, "exact beyond 2^53")

		d := NewDictCache[string, int64](e.opts("d64")).Key("d")
		vi, err = d.Incr(ctx, "f", 1<<60+1)
		require.NoError(t, err)
		vi, err = d.Incr(ctx, "f", 2)
		require.NoError(t, err)
		require.Equal(t, int64(1<<60+3), vi, "exact beyond 2^53")

		c := NewCounterCache[string](e.opts("c64")).Key("c")
		vi, err = c.Incr(ctx, "f", 1<<60+1)
		require.NoError(t, err)
		vi, err = c.Incr(ctx, "f", 2)
		require.NoError(t, err)
		require.Equal(t, int64(1<<60+3), vi, "exact beyond 2^53")

		f32 := NewKeyCache[float32](e.opts("f32")).Key("k")
		vf, err := f32.Incr(ctx, math.MaxFloat32)
		require.NoError(t, err)
		require.Equal(t, float32(math.MaxFloat32), vf)

		f64 := NewKeyCache[float64](e.opts("f64")).Key("k")
		vd, err := f64.Incr(ctx, 1e20)
		require.NoError(t, err)
		require.Equal(t, 1e20, vd)
		vd, err = f64.Decr(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, 1e20-1, vd)
	})
}

// TestCounterIncrOverflow: a count that would overflow int64 is refused and
// left as it was.
func TestCounterIncrOverflow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := NewCounterCache[string](e.opts("cnt")).Key("c")
		require.NoError(t, c.Set(ctx, "a", math.MaxInt64))
		_, err := c.Incr(ctx, "a", 1)
		require.ErrorIs(t, err, ErrNotNumber)
		err = c.Update(ctx, map[string]int64{"a": 1})
		require.ErrorIs(t, err, ErrNotNumber)
		n, err := c.Get(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, int64(math.MaxInt64), n)
	})
}

// TestCounterTotalOverflow: a sum of counts beyond int64 is an error, not a
// wrapped-around number.
func TestCounterTotalOverflow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := NewCounterCache[string](e.opts("total")).Key("up")
		require.NoError(t, c.Update(ctx, map[string]int64{"a": math.MaxInt64 - 1, "b": 1}))
		n, err := c.Total(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(math.MaxInt64), n, "the largest total is fine")
		require.NoError(t, c.Set(ctx, "c", 1))
		n, err = c.Total(ctx)
		require.ErrorIs(t, err, ErrNotNumber, "got %d", n)
		require.ErrorContains(t, err, c.key)

		down := NewCounterCache[string](e.opts("total")).Key("down")
		require.NoError(t, down.Update(ctx, map[string]int64{"a": math.MinInt64, "b": -2, "c": 1}))
		n, err = down.Total(ctx)
		require.ErrorIs(t, err, ErrNotNumber, "got %d", n)

		mixed := NewCounterCache[string](e.opts("total")).Key("mixed")
		require.NoError(t, mixed.Update(ctx, map[string]int64{"a": math.MaxInt64, "b": 1, "c": -1, "d": math.MinInt64, "e": math.MinInt64}))
		require.NoError(t, mixed.Set(ctx, "f", math.MaxInt64))
		n, err = mixed.Total(ctx)
		require.NoError(t, err, "partial sums may overflow when the total fits")
		require.Equal(t, int64(-2), n)
	})
}

// TestSortedSetIncrInfinity: a score is a float64 and Redis keeps ±Inf as a
// score, so an increment may reach ±Inf on every backend; the result stays
// readable. An increment whose result is NaN is refused.
func TestSortedSetIncrInfinity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := NewSortedSetCache[string](e.opts("zinf")).Key("z")
		_, err := z.Add(ctx, "m", math.MaxFloat64)
		require.NoError(t, err)
		s, err := z.Incr(ctx, "m", math.MaxFloat64)
		require.NoError(t, err)
		require.Equal(t, math.Inf(1), s)
		_, err = z.Incr(ctx, "m", math.Inf(-1))
		require.ErrorIs(t, err, ErrNotNumber)
		s, err = z.Score(ctx, "m")
		require.NoError(t, err)
		require.Equal(t, math.Inf(1), s)
		all, err := z.Range(ctx, 0, -1)
		require.NoError(t, err)
		require.Equal(t, []Scored[string]{{"m", math.Inf(1)}}, all)
	})
}

// TestIncrTinyFloats checks that a float increment whose result rounds
// towards zero (INCRBYFLOAT keeps 17 decimals) is no overflow: it succeeds
// and returns what was stored, for keys and fields, on every backend.
func TestIncrTinyFloats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[float64](e.opts("tiny")).Key("k")
		require.NoError(t, k.Set(ctx, 4e-18))
		v, err := k.Incr(ctx, 1e-18)
		require.NoError(t, err)
		got, err := k.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, got, v)

		n := NewKeyCache[float64](e.opts("tinyneg")).Key("k")
		require.NoError(t, n.Set(ctx, -4e-18))
		_, err = n.Decr(ctx, 1e-18)
		require.NoError(t, err)

		f32 := NewKeyCache[float32](e.opts("tiny32")).Key("k")
		require.NoError(t, f32.Set(ctx, 1e-20))
		_, err = f32.Incr(ctx, 1e-20)
		require.NoError(t, err)

		d := NewDictCache[string, float64](e.opts("tinyd")).Key("h")
		require.NoError(t, d.Set(ctx, "f", 4e-18))
		dv, err := d.Incr(ctx, "f", 1e-18)
		require.NoError(t, err)
		dgot, err := d.Get(ctx, "f")
		require.NoError(t, err)
		require.Equal(t, dgot, dv)
	})
}

package caches

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/memstore"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

type profile struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func TestKeyCacheGetSet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ints := NewKeyCache[int](e.opts("ints"))
		k := ints.Key("a")

		_, err := k.Get(ctx)
		require.ErrorIs(t, err, ErrNotFound)
		v, err := k.GetOr(ctx, 7)
		require.NoError(t, err)
		require.Equal(t, 7, v)

		require.NoError(t, k.Set(ctx, 0))
		v, err = k.Get(ctx)
		require.NoError(t, err, "a stored zero is not a miss")
		require.Equal(t, 0, v)
		v, err = k.GetOr(ctx, 7)
		require.NoError(t, err)
		require.Equal(t, 0, v)

		raw, _, _ := e.b.Get(ctx, "ints:a")
		require.Equal(t, "0", raw, "integers are stored raw")

		profiles := NewKeyCache[profile](e.opts("profiles"))
		p := profiles.Key(42)
		require.NoError(t, p.Set(ctx, profile{Name: "Ada", Age: 36}))
		got, err := p.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, profile{Name: "Ada", Age: 36}, got)
		raw, _, _ = e.b.Get(ctx, "profiles:42")
		require.JSONEq(t, `{"name":"Ada","age":36}`, raw)

		strs := NewKeyCache[string](e.opts("s"))
		require.NoError(t, strs.Key("empty").Set(ctx, ""))
		sv, err := strs.Key("empty").Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "", sv)

		bools := NewKeyCache[bool](e.opts("b"))
		require.NoError(t, bools.Key().Set(ctx, false))
		bv, err := bools.Key().Get(ctx)
		require.NoError(t, err)
		require.False(t, bv)

		bytes := NewKeyCache[[]byte](e.opts("bytes"))
		require.NoError(t, bytes.Key(1).Set(ctx, []byte{0, 1, 255}))
		bs, err := bytes.Key(1).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, []byte{0, 1, 255}, bs)
	})
}

func TestKeyCacheTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		def := NewKeyCache[string](e.opts("def")).Key("k")
		require.NoError(t, def.Set(ctx, "v"))
		ttl, err := def.TTL(ctx)
		require.NoError(t, err)
		require.InDelta(t, float64(DefaultTTL), float64(ttl), float64(time.Second), "default TTL is two hours")

		e.advance(t, time.Hour)
		require.NoError(t, def.Set(ctx, "v2"), "a write refreshes the TTL")
		ttl, _ = def.TTL(ctx)
		require.InDelta(t, float64(DefaultTTL), float64(ttl), float64(time.Second))
		e.advance(t, DefaultTTL+time.Second)
		_, err = def.Get(ctx)
		require.ErrorIs(t, err, ErrNotFound, "expired after the TTL")

		o := e.opts("forever")
		o.TTL = NoExpiry
		forever := NewKeyCache[string](o).Key("k")
		require.NoError(t, forever.Set(ctx, "v"))
		ttl, err = forever.TTL(ctx)
		require.NoError(t, err)
		require.Equal(t, NoExpiry, ttl)
		e.advance(t, 1000*time.Hour)
		v, err := forever.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "v", v)

		_, err = NewKeyCache[string](e.opts("x")).Key("missing").TTL(ctx)
		require.ErrorIs(t, err, ErrNotFound)

		o = e.opts("short")
		o.TTL = 10 * time.Second
		short := NewKeyCache[int](o).Key("k")
		require.NoError(t, short.SetTTL(ctx, 1, time.Minute))
		ttl, _ = short.TTL(ctx)
		require.InDelta(t, float64(time.Minute), float64(ttl), float64(time.Second), "explicit TTL wins")
		require.NoError(t, short.SetTTL(ctx, 2, 0))
		has, err := short.Has(ctx)
		require.NoError(t, err)
		require.False(t, has, "SetTTL with zero deletes the old value")
		require.NoError(t, short.Set(ctx, 3))
		require.NoError(t, short.SetTTL(ctx, 4, -time.Second))
		_, err = short.Get(ctx)
		require.ErrorIs(t, err, ErrNotFound, "SetTTL with a negative TTL deletes")

		require.NoError(t, short.Set(ctx, 5))
		ok, err := short.Expire(ctx, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		ttl, _ = short.TTL(ctx)
		require.InDelta(t, float64(time.Hour), float64(ttl), float64(time.Second))
		ok, err = short.Persist(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		ttl, _ = short.TTL(ctx)
		require.Equal(t, NoExpiry, ttl)
		ok, err = short.ExpireAt(ctx, e.now().Add(30*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ttl, _ = short.TTL(ctx)
		require.InDelta(t, float64(30*time.Minute), float64(ttl), float64(time.Second))
		e.advance(t, 31*time.Minute)
		has, _ = short.Has(ctx)
		require.False(t, has, "expired at the deadline")
		ok, err = short.Expire(ctx, time.Hour)
		require.NoError(t, err)
		require.False(t, ok, "Expire of a missing key")
	})
}

func TestKeyCacheAddPopDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[string](e.opts("p")).Key("k")

		stored, err := k.Add(ctx, "first")
		require.NoError(t, err)
		require.True(t, stored)
		stored, err = k.Add(ctx, "second")
		require.NoError(t, err)
		require.False(t, stored)
		v, _ := k.Get(ctx)
		require.Equal(t, "first", v, "Add leaves an existing value")

		v, err = k.Pop(ctx)
		require.NoError(t, err)
		require.Equal(t, "first", v)
		_, err = k.Pop(ctx)
		require.ErrorIs(t, err, ErrNotFound)

		require.NoError(t, k.Set(ctx, "x"))
		existed, err := k.Delete(ctx)
		require.NoError(t, err)
		require.True(t, existed)
		existed, err = k.Delete(ctx)
		require.NoError(t, err)
		require.False(t, existed)
	})
}

func TestKeyCacheIncr(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o := e.opts("n")
		o.TTL = time.Minute
		k := NewKeyCache[int64](o).Key("hits")

		n, err := k.Incr(ctx, 5)
		require.NoError(t, err)
		require.Equal(t, int64(5), n, "a missing key counts as zero")
		n, err = k.Decr(ctx, 8)
		require.NoError(t, err)
		require.Equal(t, int64(-3), n)
		ttl, _ := k.TTL(ctx)
		require.InDelta(t, float64(time.Minute), float64(ttl), float64(time.Second), "increments set the TTL")
		e.advance(t, 30*time.Second)
		_, err = k.Incr(ctx, 1)
		require.NoError(t, err)
		ttl, _ = k.TTL(ctx)
		require.InDelta(t, float64(time.Minute), float64(ttl), float64(time.Second), "increments refresh the TTL")

		f := NewKeyCache[float64](o).Key("temp")
		fv, err := f.Incr(ctx, 1.5)
		require.NoError(t, err)
		require.Equal(t, 1.5, fv)
		fv, err = f.Decr(ctx, 0.25)
		require.NoError(t, err)
		require.Equal(t, 1.25, fv)

		u := NewKeyCache[uint8](o).Key("small")
		uv, err := u.Incr(ctx, 200)
		require.NoError(t, err)
		require.Equal(t, uint8(200), uv)
		_, err = u.Incr(ctx, 100)
		require.ErrorIs(t, err, ErrNotNumber, "300 does not fit a uint8")
		require.ErrorContains(t, err, "n:small")
		uv, err = u.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, uint8(200), uv, "a refused increment writes nothing")

		words := NewKeyCache[string](o).Key("word")
		require.NoError(t, words.Set(ctx, "abc"))
		_, err = words.Incr(ctx, "1")
		require.Error(t, err, "strings cannot be incremented")
		require.Contains(t, err.Error(), "n:word")

		asInt := NewKeyCache[int](o).Key("word")
		_, err = asInt.Incr(ctx, 1)
		require.ErrorIs(t, err, ErrNotNumber)
		require.Contains(t, err.Error(), `"n:word"`)
	})
}

func TestKeyCacheErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		require.NoError(t, e.b.Set(ctx, "e:garbage", "not json{", 0))
		_, err := NewKeyCache[profile](e.opts("e")).Key("garbage").Get(ctx)
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "e:garbage", de.Key)
		require.Equal(t, "caches.profile", de.Type)
		require.Contains(t, err.Error(), `"e:garbage"`)

		_, err = NewKeyCache[int](e.opts("e")).Key("garbage").Get(ctx)
		require.ErrorAs(t, err, &de)

		_, err = e.b.HSet(ctx, "e:hash", 0, "f", "v")
		require.NoError(t, err)
		_, err = NewKeyCache[string](e.opts("e")).Key("hash").Get(ctx)
		require.ErrorIs(t, err, ErrWrongType)
		var ke *KeyError
		require.ErrorAs(t, err, &ke)
		require.Equal(t, "e:hash", ke.Key)

		bad := NewKeyCache[string](e.opts("e")).Key(struct{}{})
		require.Error(t, bad.Set(ctx, "v"))
		_, err = bad.Get(ctx)
		require.ErrorContains(t, err, "key argument 0")

		o := e.opts("")
		o.HashTag = true
		_, err = NewKeyCache[string](o).Key("x").Get(ctx)
		require.ErrorContains(t, err, "HashTag")
	})
}

func TestKeyCacheClosedConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := NewKeyCache[string](e.opts("c")).Key("k")
		require.NoError(t, k.Set(ctx, "v"))
		require.NoError(t, e.conn.Close())
		require.NoError(t, e.conn.Close(), "Close is idempotent")
		_, err := k.Get(ctx)
		require.True(t, errors.Is(err, ErrClosed), "got %v", err)
	})
}

// TestErrClosedMatchesTheSentinels checks that an operation on a closed
// connection, or on a connection whose client or store was closed under it,
// fails with ErrClosed, recognised from the backends' sentinels and not from
// an error's text.
func TestErrClosedMatchesTheSentinels(t *testing.T) {
	ctx := context.Background()
	get := func(conn *Conn) error {
		_, err := NewKeyCache[string](Options{Prefix: "closed", Conn: conn}).Key("k").Get(ctx)
		return err
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		t.Run("client closed under the conn", func(t *testing.T) {
			require.ErrorIs(t, get(e.conn), ErrNotFound, "open")
			closeUnder(t, e)
			err := get(e.conn)
			require.ErrorIs(t, err, ErrClosed)
			require.True(t, errors.Is(err, redis.ErrClosed) || errors.Is(err, memstore.ErrClosed),
				"the backend's own error stays in the chain: %v", err)
		})
		t.Run("conn closed", func(t *testing.T) {
			conn := e.second(t)
			require.NoError(t, conn.Close())
			require.ErrorIs(t, get(conn), ErrClosed)
		})
	})
	t.Run("the text alone is not the sentinel", func(t *testing.T) {
		for _, msg := range []string{"redis: client is closed", "memstore: store is closed"} {
			require.NotErrorIs(t, classify(errors.New(msg)), ErrClosed, msg)
		}
		require.ErrorIs(t, classify(fmt.Errorf("pipeline: %w", redis.ErrClosed)), ErrClosed, "a wrapped sentinel")
	})
}

// closeUnder closes the env's go-redis client, or its in-process store,
// leaving the Conn open.
func closeUnder(t *testing.T, e *env) {
	t.Helper()
	if e.outer != nil {
		closeUnder(t, e.outer)
		return
	}
	if rb, ok := e.b.(*redisbackend.Backend); ok {
		require.NoError(t, rb.Client().Close())
		return
	}
	require.NoError(t, e.b.Close())
}

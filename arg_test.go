package caches

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type argID int

func (a argID) String() string { return "id:%{x}" }

func TestArg(t *testing.T) {
	c := NewKeyCache[string](Options{Prefix: "arg", Conn: NewMemoryConn(MemoryOptions{})})
	t.Cleanup(func() { c.family.conn.Close() })
	k := c.Key(3, "a:b%3A", true, 1.5, argID(9), uint8(200))

	n, err := Arg[int64](k, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), n, "an int argument read as int64")
	i, err := Arg[int](c.Key(int64(3)), 0)
	require.NoError(t, err)
	require.Equal(t, 3, i, "an int64 argument read as int")
	s, err := Arg[string](k, 1)
	require.NoError(t, err)
	require.Equal(t, "a:b%3A", s, "escaping undone exactly")
	s, err = Arg[string](k, 0)
	require.NoError(t, err)
	require.Equal(t, "3", s)
	b, err := Arg[bool](k, 2)
	require.NoError(t, err)
	require.True(t, b)
	f, err := Arg[float32](k, 3)
	require.NoError(t, err)
	require.Equal(t, float32(1.5), f)
	id, err := Arg[argID](k, 4)
	require.NoError(t, err)
	require.Equal(t, argID(9), id, "an argument of type T as it is")
	s, err = Arg[string](k, 4)
	require.NoError(t, err)
	require.Equal(t, "id:%{x}", s, "a Stringer by its text")

	for name, err := range map[string]error{
		"out of range":     second(Arg[int](k, 6)),
		"negative index":   second(Arg[int](k, -1)),
		"not a number":     second(Arg[int](k, 1)),
		"too big for int8": second(Arg[int8](k, 5)),
		"not a raw type":   second(Arg[struct{}](k, 0)),
	} {
		require.Error(t, err, name)
	}
}

// TestArgInHooks: a Load hook reads its id with Arg, whether the handle
// was built with an int or an int64 (one Redis key).
func TestArgInHooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		users := NewKeyCache[string](Options{Prefix: "arg-hook", TTL: time.Minute, Conn: e.conn}).WithHooks(Hooks[string]{
			Load: func(_ context.Context, k Key[string]) (string, error) {
				id, err := Arg[int64](k, 0)
				if err != nil {
					return "", err
				}
				if id != 3 {
					return "", fmt.Errorf("unknown id %d", id)
				}
				return "ada", nil
			},
		})
		v, err := users.Key(3).Get(t.Context())
		require.NoError(t, err)
		require.Equal(t, "ada", v)
		require.NoError(t, users.Key(3).Set(t.Context(), "bob"))
		v, err = users.Key(int64(3)).Get(t.Context())
		require.NoError(t, err)
		require.Equal(t, "bob", v, "Key(3) and Key(int64(3)) are one key")
		_, err = users.Key(uint16(4)).Get(t.Context())
		require.ErrorContains(t, err, "unknown id 4", "a uint16 argument read as int64")
	})
}

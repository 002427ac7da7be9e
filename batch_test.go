package caches

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeyCacheBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o := e.opts("batch")
		o.TTL = time.Minute
		fam := NewKeyCache[int](o)
		var entries []Entry[int]
		var handles []Key[int]
		for i := 0; i < 100; i++ {
			entries = append(entries, Entry[int]{Key: fam.Key(i), Value: i * i})
			handles = append(handles, fam.Key(i))
		}
		require.NoError(t, fam.SetMany(ctx, entries...))
		requireFamilyTTL(t, fam.Key(57).handle, time.Minute)

		query := append([]Key[int]{fam.Key("missing")}, handles...)
		query = append(query, fam.Key(3))
		values, found, err := fam.GetMany(ctx, query...)
		require.NoError(t, err)
		require.Len(t, values, 102)
		require.False(t, found[0], "a miss is reported per key")
		for i := 0; i < 100; i++ {
			require.True(t, found[i+1])
			require.Equal(t, i*i, values[i+1], "results in argument order")
		}
		require.Equal(t, 9, values[101])

		n, err := fam.DeleteMany(ctx, fam.Key(1), fam.Key(2), fam.Key("missing"))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		_, found, _ = fam.GetMany(ctx, fam.Key(1), fam.Key(4))
		require.Equal(t, []bool{false, true}, found)

		require.NoError(t, e.b.Set(ctx, "batch:bad", "x", 0))
		_, _, err = fam.GetMany(ctx, fam.Key(4), fam.Key("bad"))
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "batch:bad", de.Key)

		other := NewKeyCache[int](e.opts("other"))
		_, _, err = fam.GetMany(ctx, other.Key(1))
		require.ErrorContains(t, err, "another family")
		_, err = e.b.HSet(ctx, "batch:hash", 0, "f", "v")
		require.NoError(t, err)
		_, found, err = fam.GetMany(ctx, fam.Key("hash"))
		require.NoError(t, err, "MGET reports another type as a miss, as Redis does")
		require.Equal(t, []bool{false}, found)
		require.Equal(t, "batch:"+strconv.Itoa(7), fam.Key(7).String())
	})
}

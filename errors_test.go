package caches

import (
	"errors"
	"testing"

	"github.com/gocaches/caches/internal/memstore"
	"github.com/stretchr/testify/require"
)

// TestClassifyRedisErrors checks that the error texts of the backend
// contract (Redis's own, which backendtest checks every backend returns)
// map to the sentinels, also with the location Redis appends to an error
// raised inside a script.
func TestClassifyRedisErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{memstore.ErrWrongType, ErrWrongType},
		{errors.New(memstore.ErrWrongType.Error() + " script: 4f1c, on @user_script:2."), ErrWrongType},
		{memstore.ErrNotInteger, ErrNotNumber},
		{memstore.ErrOverflow, ErrNotNumber},
		{memstore.ErrNotFloat, ErrNotNumber},
		{memstore.ErrIncrNaNInf, ErrNotNumber},
		{memstore.ErrHashNotInteger, ErrNotNumber},
		{memstore.ErrHashNotFloat, ErrNotNumber},
		{memstore.ErrScoreNaN, ErrNotNumber},
		{errors.New("ERR increment or decrement would leave the range [0, 255]"), ErrNotNumber},
	} {
		require.ErrorIs(t, classify(c.err), c.want, "%q", c.err)
	}
}

package caches

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResultTypesMarshalLowerCase(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{Scored[int]{Member: 1, Score: 3}, `{"member":1,"score":3}`},
		{Counted[string]{Key: "a", Count: 2}, `{"key":"a","count":2}`},
		{Item[string, int]{Field: "f", Value: 4}, `{"field":"f","value":4}`},
	} {
		b, err := json.Marshal(c.v)
		require.NoError(t, err)
		require.JSONEq(t, c.want, string(b))
	}
}

package memstore

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// MGet returns the string values of keys in order, as MGET does: ok is false
// for a missing key and for a key of another type.
func (s *Store) MGet(ctx context.Context, keys ...string) ([]string, []bool, error) {
	values, ok := make([]string, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		v, found, err := s.Get(ctx, k)
		switch {
		case err == ErrWrongType:
		case err != nil:
			return nil, nil, err
		default:
			values[i], ok[i] = v, found
		}
	}
	return values, ok, nil
}

// SetMany stores values[i] at keys[i] with expiry ttl, as SET commands in a
// pipeline do: each key atomically, not all keys at once.
func (s *Store) SetMany(ctx context.Context, keys, values []string, ttls ...time.Duration) error {
	for i, k := range keys {
		if err := s.Set(ctx, k, values[i], backend.TTLOf(ttls, i)); err != nil {
			return err
		}
	}
	return nil
}

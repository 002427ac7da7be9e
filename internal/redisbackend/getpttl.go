package redisbackend

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// GetPTTL reads the string at key and its remaining time to live (-1 for
// none) in one round trip, GET and PTTL pipelined; ok is false when the
// key is missing. See [backend.TTLGetter].
func (r *Backend) GetPTTL(ctx context.Context, key string) (value string, pttl time.Duration, ok bool, err error) {
	var get *redis.StringCmd
	var left *redis.Cmd
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		left = p.Do(ctx, "pttl", key)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	ms, err := left.Int64()
	switch {
	case err != nil:
		return "", 0, false, err
	case ms == -2: // expired between the GET and the PTTL
		return "", 0, false, nil
	case ms == -1:
		return get.Val(), -1, true, nil
	}
	return get.Val(), msDuration(ms), true, nil
}

package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ShiftTTLs moves a real server's keys forward in time by d, on every
// master when c is a cluster client: a real server's clock cannot be
// moved, so every key with an expiry has d taken off its remaining time to
// live (and is deleted when nothing remains), which is what moving the
// clock would do. Keys written meanwhile may or may not be moved.
func ShiftTTLs(tb testing.TB, c redis.UniversalClient, d time.Duration) {
	tb.Helper()
	ctx := context.Background()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return shiftTTLs(ctx, node, d)
		})
	} else {
		err = shiftTTLs(ctx, c, d)
	}
	if err != nil {
		tb.Fatalf("redistest: shifting the TTLs by %v: %v", d, err)
	}
}

// shiftTTLs shifts the TTLs of the keys of one server.
func shiftTTLs(ctx context.Context, c redis.Cmdable, d time.Duration) error {
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("PTTL %s: %w", key, err)
		}
		if ttl < 0 {
			continue
		}
		if ttl-d <= 0 {
			err = c.Del(ctx, key).Err()
		} else {
			err = c.PExpire(ctx, key, ttl-d).Err()
		}
		if err != nil {
			return err
		}
	}
	return iter.Err()
}

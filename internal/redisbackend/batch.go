package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/keyslot"
	"github.com/redis/go-redis/v9"
)

// Multi-key commands. On a single server MGET and DEL take every key at
// once. On a cluster, keys on one slot (a hash-tagged family) still take one
// MGET; keys spread over slots take a pipelined GET each (DEL: one DEL per
// slot), which go-redis sends to each node in one round trip. SETs are
// pipelined everywhere: SET is the only way to give each key its TTL.

func (r *Backend) isCluster() bool {
	_, ok := r.c.(*redis.ClusterClient)
	return ok
}

// CheckSameSlot refuses, before anything is sent, a multi-key command whose
// keys a cluster would reject with CROSSSLOT; on a single server it accepts
// every list of keys.
func (r *Backend) CheckSameSlot(keys []string) error {
	if len(keys) < 2 || !r.isCluster() {
		return nil
	}
	for _, k := range keys[1:] {
		if keyslot.Slot(k) != keyslot.Slot(keys[0]) {
			return fmt.Errorf("%w: %q and %q are on different Redis Cluster slots (give the family Options.HashTag)", backend.ErrCrossSlot, keys[0], k)
		}
	}
	return nil
}

// bySlot groups the indexes of keys by cluster slot, in first-seen order.
func bySlot(keys []string) [][]int {
	var groups [][]int
	index := map[int]int{}
	for i, k := range keys {
		s := keyslot.Slot(k)
		g, ok := index[s]
		if !ok {
			g = len(groups)
			index[s] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

func pick(keys []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}

func (r *Backend) Del(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) < 2 || !r.isCluster() {
		return r.c.Del(ctx, keys...).Result()
	}
	groups := bySlot(keys)
	cmds := make([]*redis.IntCmd, len(groups))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range groups {
			cmds[i] = p.Del(ctx, pick(keys, g)...)
		}
		return nil
	})
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, err
}

func (r *Backend) MGet(ctx context.Context, keys ...string) ([]string, []bool, error) {
	values, ok := make([]string, len(keys)), make([]bool, len(keys))
	if len(keys) == 0 {
		return values, ok, nil
	}
	if !r.isCluster() || oneSlot(keys) {
		vals, err := r.c.MGet(ctx, keys...).Result()
		fill(values, ok, vals, nil)
		return values, ok, err
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	for i, c := range cmds {
		values[i], ok[i] = c.Val(), c.Err() == nil
	}
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return values, ok, err
}

// oneSlot reports whether keys all hash to one cluster slot.
func oneSlot(keys []string) bool {
	s := keyslot.Slot(keys[0])
	for _, k := range keys[1:] {
		if keyslot.Slot(k) != s {
			return false
		}
	}
	return true
}

// fill copies an MGET reply into values and ok, at the positions idx (or in
// order when idx is nil).
func fill(values []string, ok []bool, reply []any, idx []int) {
	for i, v := range reply {
		j := i
		if idx != nil {
			j = idx[i]
		}
		values[j], ok[j] = v.(string)
	}
}

func (r *Backend) SetMany(ctx context.Context, keys, values []string, ttls ...time.Duration) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			p.Set(ctx, k, values[i], backend.TTLOf(ttls, i))
		}
		return nil
	})
	return err
}

package caches

import (
	"context"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// handle is what every cache's handle shares: its family and Redis key, and
// the operations on the key as a whole. The handle types embed it, so its
// exported methods are theirs.
type handle struct {
	f    *family
	key  string
	args []any
	err  error // a key that could not be built
}

func newHandle(f *family, args []any) handle {
	key, err := f.key(args)
	return handle{f: f, key: key, args: args, err: err}
}

// Args returns the arguments the handle's key was made of. The slice is the
// handle's own: do not modify it.
func (h handle) Args() []any { return h.args }

// String returns the Redis key.
func (h handle) String() string { return h.key }

// failed counts err, the failure of an operation, and returns it.
func (h *handle) failed(err error) error {
	h.f.stats.errors.Add(1)
	return err
}

func (h *handle) backend(ctx context.Context) (backend.Backend, error) {
	if h.err != nil {
		return nil, h.err
	}
	return h.f.backend(ctx)
}

// TTL returns how long the key has left to live, with millisecond
// resolution: [NoExpiry] for a key without an expiry, [ErrNotFound] for a
// missing key. A time longer than a time.Duration holds (about 292 years:
// a deadline after 2262 set by ExpireAt or by another client) is reported
// as the largest Duration, math.MaxInt64. Print the result with
// [FormatTTL]: NoExpiry as a Duration prints as "-1ns". Redis: PTTL.
func (h handle) TTL(ctx context.Context) (_ time.Duration, err error) {
	ctx, o := h.f.begin(ctx, "TTL")
	defer o.counted(ctx, &h.f.stats.hits, &err)
	b, err := h.backend(ctx)
	if err != nil {
		return 0, err
	}
	ttl, ok, err := b.PTTL(ctx, h.key)
	if err != nil {
		return 0, keyErr("ttl", h.key, err)
	}
	if !ok {
		return 0, ErrNotFound
	}
	if ttl < 0 {
		return NoExpiry, nil
	}
	return ttl, nil
}

// Expire sets the key to expire after ttl and reports whether the key
// exists. [NoExpiry] removes the expiry instead, as Persist does; any other
// ttl of zero or less deletes the key. Redis: PEXPIRE (EXISTS, then PERSIST
// for NoExpiry).
func (h handle) Expire(ctx context.Context, ttl time.Duration) (_ bool, err error) {
	ctx, o := h.f.begin(ctx, "Expire")
	defer o.counted(ctx, &h.f.stats.sets, &err)
	b, err := h.backend(ctx)
	if err != nil {
		return false, err
	}
	if ttl == NoExpiry {
		return h.persistExisting(ctx, b)
	}
	if ttl > 0 {
		ttl = max(ttl, time.Millisecond)
	}
	ok, err := b.PExpire(ctx, h.key, ttl)
	return ok, keyErr("expire", h.key, err)
}

// ExpireAt sets the key to expire at t and reports whether the key exists.
// A t not in the future deletes it. Any later t is the deadline, to the
// millisecond, however far (a t more than 292 million years from 1970, the
// range of Redis's deadlines, counts as that limit); TTL then reports a
// remaining time beyond about 292 years as the largest Duration. Redis:
// PEXPIREAT.
func (h handle) ExpireAt(ctx context.Context, t time.Time) (_ bool, err error) {
	ctx, o := h.f.begin(ctx, "ExpireAt")
	defer o.counted(ctx, &h.f.stats.sets, &err)
	b, err := h.backend(ctx)
	if err != nil {
		return false, err
	}
	ok, err := b.PExpireAt(ctx, h.key, t)
	return ok, keyErr("expireat", h.key, err)
}

// Persist removes the key's expiry and reports whether it had one. The next
// write sets the family's TTL again. Redis: PERSIST.
func (h handle) Persist(ctx context.Context) (_ bool, err error) {
	ctx, o := h.f.begin(ctx, "Persist")
	defer o.counted(ctx, &h.f.stats.sets, &err)
	b, err := h.backend(ctx)
	if err != nil {
		return false, err
	}
	ok, err := b.Persist(ctx, h.key)
	return ok, keyErr("persist", h.key, err)
}

// persistExisting removes the key's expiry and reports whether the key
// exists (PERSIST alone reports whether it had an expiry). EXISTS comes
// first, so the answer is true to a moment of the call: a key deleted
// between the two commands existed at the first, and one created between
// them loses its expiry at the second.
func (h handle) persistExisting(ctx context.Context, b backend.Backend) (bool, error) {
	ok, err := b.Exists(ctx, h.key)
	if err != nil || !ok {
		return false, keyErr("expire", h.key, err)
	}
	_, err = b.Persist(ctx, h.key)
	return true, keyErr("expire", h.key, err)
}

// del removes the key and reports whether it existed.
func (h *handle) del(ctx context.Context) (bool, error) {
	b, err := h.backend(ctx)
	if err != nil {
		return false, err
	}
	n, err := b.Del(ctx, h.key)
	return n > 0, keyErr("delete", h.key, err)
}

// clear is Clear of every handle type: it deletes the key, counted as a
// delete, and reports whether it existed.
func (h *handle) clear(ctx context.Context) (_ bool, err error) {
	ctx, o := h.f.begin(ctx, "Clear")
	defer o.counted(ctx, &h.f.stats.deletes, &err)
	return h.del(ctx)
}

// exists reports whether the key exists.
func (h *handle) exists(ctx context.Context) (bool, error) {
	b, err := h.backend(ctx)
	if err != nil {
		return false, err
	}
	ok, err := b.Exists(ctx, h.key)
	return ok, keyErr("has", h.key, err)
}

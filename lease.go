package caches

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// leaser takes, waits for and releases the cross-process lease of a
// computation (see [MemoOptions.Lease] and [Hooks.Lease]): the process that
// holds key's lease key (SET NX with a random token and ttl) computes, the
// others poll for the value it stores. [Memo] and [KeyCache] share it; each
// tells it how to bound a round trip and where to report a failure.
type leaser struct {
	f      *family                  // whose operations they are, for the observer
	ttl    time.Duration            // how long a lease lives
	poll   time.Duration            // how often a waiting process looks for the value
	waits  interface{ Add(uint64) } // counts computations that waited for another process's lease
	bound  func(ctx context.Context, b backend.Backend) (context.Context, context.CancelFunc)
	failed func(key string, err error) // a backend failure; it must not block
}

// leaseKey is the key of key's lease. A raw '%' followed by "le" cannot come
// out of key building (it escapes '%' as %25), so no handle's key is a
// lease's, and invalidation tells leases apart by their suffix.
func leaseKey(key string) string { return key + leaseSuffix }

const leaseSuffix = "%lease"

// leased returns the value stored at key, computing it with compute under
// key's lease: it takes the lease, or waits while another process holds it
// and returns the value that process stored (stored reads it). When the
// lease cannot be had before ctx ends, or the backend fails, compute runs
// without one. The lease is released when compute returns, or when ctx
// ends (which abandons the computation), whichever comes first.
func leased[T any](ctx context.Context, l *leaser, key string, b backend.Backend,
	stored func(context.Context) (T, bool), compute func() (T, error)) (T, error) {
	token, v, found := acquire(ctx, l, key, b, stored)
	if found {
		return v, nil
	}
	if token != "" {
		defer l.hold(ctx, b, key, token)()
	}
	return compute()
}

// acquire takes key's lease and returns its token, or waits while another
// process holds it: found reports that the other process stored a value
// meanwhile. When the lease cannot be had before ctx ends, or the backend
// fails, it returns no token and the caller computes without one.
func acquire[T any](ctx context.Context, l *leaser, key string, b backend.Backend, stored func(context.Context) (T, bool)) (token string, v T, found bool) {
	token = newToken()
	waited := false
	for {
		ok, err := l.take(ctx, b, key, token)
		if err != nil {
			l.failed(key, err)
			return "", v, false
		}
		if ok {
			// Another process may have stored the value and released its
			// lease since this one's cache read missed.
			if v, found := stored(ctx); found {
				l.release(ctx, b, key, token)
				return "", v, true
			}
			return token, v, false
		}
		if !waited {
			waited = true
			l.waits.Add(1)
			var wait opScope
			ctx, wait = l.f.begin(ctx, "LeaseWait")
			defer wait.done(ctx, nil)
		}
		if v, ok := awaitLeased(ctx, l, key, b, stored); ok || ctx.Err() != nil {
			return "", v, ok
		}
	}
}

// take tries to take key's lease with token (SET NX PX).
func (l *leaser) take(ctx context.Context, b backend.Backend, key, token string) (bool, error) {
	sctx, cancel := l.bound(ctx, b)
	defer cancel()
	return b.SetNX(sctx, leaseKey(key), token, l.ttl)
}

// awaitLeased waits for a value while key's lease is held, and reports whether
// one appeared. It returns false when the lease is gone (its owner released
// it without a value, or died and it expired) or ctx ends.
func awaitLeased[T any](ctx context.Context, l *leaser, key string, b backend.Backend, stored func(context.Context) (T, bool)) (T, bool) {
	var zero T
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return zero, false
		case <-t.C:
		}
		if v, ok := stored(ctx); ok {
			return v, true
		}
		if held, err := b.Exists(ctx, leaseKey(key)); err != nil || !held {
			return zero, false
		}
	}
}

// hold releases key's lease when ctx ends, which abandons the computation
// holding it, or when the returned func is called, whichever comes first.
func (l *leaser) hold(ctx context.Context, b backend.Backend, key, token string) func() {
	release := sync.OnceFunc(func() { l.release(ctx, b, key, token) })
	stop := context.AfterFunc(ctx, release)
	return func() {
		stop()
		release()
	}
}

// release deletes key's lease if it still holds token, within the bound of
// one round trip.
func (l *leaser) release(ctx context.Context, b backend.Backend, key, token string) {
	rctx, cancel := l.bound(context.WithoutCancel(ctx), b)
	defer cancel()
	if _, err := b.DelIfEqual(rctx, leaseKey(key), token); err != nil {
		l.failed(key, err)
	}
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package caches

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gocaches/caches/internal/stats"
)

// flightGroup runs one computation per key at a time and hands its result
// to every caller that asks for that key while it runs; the computation
// behind [Memo] and [Hooks.Load]. A computation runs in a goroutine of its
// own, under a context detached from its callers' (their values kept, their
// cancellation not) and bounded by timeout, so a caller's context cancels
// only that caller. A computation still running at its timeout is
// abandoned: its callers get an error wrapping context.DeadlineExceeded,
// the key is free for a new computation at once, and what the old one
// returns later is dropped. A panic in a computation is re-raised in every
// caller's goroutine (instead of crashing the process from another one),
// and a computation that ends with runtime.Goexit is an error for every
// caller: no caller ever gets a zero value and a nil error from a function
// that did not return.
type flightGroup[T any] struct {
	timeout   time.Duration  // bounds each computation; set by the owner before use
	abandoned *stats.Counter // computations abandoned at their timeout; set by the owner

	mu    sync.Mutex            // guards calls, and the waiters and settled of every flight
	calls map[string]*flight[T] // unsettled computations by key
}

// flight is one computation and its outcome.
type flight[T any] struct {
	done    chan struct{} // closed when settled: val, err and panicV are set
	val     T
	err     error
	panicV  *panicError
	waiters int  // callers beyond the first
	settled bool // claimed by the computation or by its abandonment, which sets the outcome
}

// panicError carries a panic, with the stack where it happened, to the
// waiters. A panic with an error value unwraps to it.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("caches: memoized function panicked: %v\n\n%s", p.value, p.stack)
}

func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// do returns the result of fn for key, starting fn unless a computation for
// key is running; shared reports whether the result came from a
// computation another caller started. It returns ctx.Err() as soon as ctx
// is done, leaving the computation running.
func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(context.Context) (T, error)) (v T, shared bool, err error) {
	f, shared := g.join(ctx, key, fn)
	v, err = f.wait(ctx)
	return v, shared, err
}

// wait returns f's outcome once it is settled, re-raising its panic, or
// ctx.Err() as soon as ctx is done, leaving the computation running.
func (f *flight[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	if f.panicV != nil {
		panic(f.panicV)
	}
	return f.val, f.err
}

// joinAll returns the flight of each of keys: the running one, with the
// caller counted as its waiter, or, for the keys with none (claimed, by
// index, the first occurrence of a key repeated), one launched with the
// function fns returns for it. fns is called once, under g.mu, with the
// claimed indexes; it must not block.
func (g *flightGroup[T]) joinAll(ctx context.Context, keys []string, fns func(claimed []int) func(i int) func(context.Context) (T, error)) []*flight[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	var claimed []int
	seen := map[string]bool{}
	for i, key := range keys {
		if _, ok := g.calls[key]; !ok && !seen[key] {
			claimed = append(claimed, i)
			seen[key] = true
		}
	}
	fn := fns(claimed)
	flights := make([]*flight[T], len(keys))
	for _, i := range claimed {
		flights[i] = g.launch(ctx, keys[i], fn(i))
	}
	for i, key := range keys {
		if flights[i] == nil {
			flights[i] = g.calls[key]
			flights[i].waiters++
		}
	}
	return flights
}

// join returns key's running flight, counting the caller as its waiter, or
// launches one.
func (g *flightGroup[T]) join(ctx context.Context, key string, fn func(context.Context) (T, error)) (f *flight[T], shared bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		f.waiters++
		return f, true
	}
	return g.launch(ctx, key, fn), false
}

// start starts fn for key unless a computation for key is running, without
// waiting for it, and reports whether it started one. A panic in fn is
// kept for the waiters that join it; with none, it is dropped.
func (g *flightGroup[T]) start(ctx context.Context, key string, fn func(context.Context) (T, error)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, running := g.calls[key]; running {
		return false
	}
	g.launch(ctx, key, fn)
	return true
}

// launch registers a flight for key and starts its computation. g.mu must
// be held.
func (g *flightGroup[T]) launch(ctx context.Context, key string, fn func(context.Context) (T, error)) *flight[T] {
	if g.calls == nil {
		g.calls = map[string]*flight[T]{}
	}
	f := &flight[T]{done: make(chan struct{})}
	g.calls[key] = f
	go g.run(context.WithoutCancel(ctx), key, f, fn)
	return f
}

// run computes f under a context bounded by the group's timeout, which
// abandons f when it passes, and settles f with the outcome. Two deferred
// functions tell a panic, which the inner one recovers, from
// runtime.Goexit, which runs both with nothing to recover.
func (g *flightGroup[T]) run(ctx context.Context, key string, f *flight[T], fn func(context.Context) (T, error)) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { g.abandon(key, f) })
	var (
		v                   T
		err                 error
		p                   *panicError
		returned, recovered bool
	)
	defer func() {
		stop()
		if !g.claim(key, f) {
			return // abandoned at its timeout
		}
		if !returned && !recovered {
			err = fmt.Errorf("caches: computing %q: the function called runtime.Goexit instead of returning", key)
		}
		f.val, f.err, f.panicV = v, err, p
		close(f.done)
	}()
	func() {
		defer func() {
			if !returned {
				if r := recover(); r != nil {
					p = &panicError{value: r, stack: debug.Stack()}
				}
			}
		}()
		v, err = fn(ctx)
		returned = true
	}()
	recovered = !returned
}

// abandon settles f with a timeout error if its computation has not
// settled it by its deadline, so that the key is free again, and counts it
// before waking the waiters.
func (g *flightGroup[T]) abandon(key string, f *flight[T]) {
	if !g.claim(key, f) {
		return
	}
	g.abandoned.Add(1)
	f.err = fmt.Errorf("caches: computing %q: no result within %s (LoadTimeout): %w", key, g.timeout, context.DeadlineExceeded)
	close(f.done)
}

// claim marks f settled and removes it from the group, unless it is
// settled already, and reports whether the caller settles it: then the
// caller, alone, sets f's outcome and closes f.done.
func (g *flightGroup[T]) claim(key string, f *flight[T]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.settled {
		return false
	}
	f.settled = true
	delete(g.calls, key)
	return true
}

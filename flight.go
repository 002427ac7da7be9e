package caches

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// flightGroup runs one computation per key at a time and hands its result
// to every caller that asked for that key meanwhile, like
// golang.org/x/sync/singleflight, with two differences that Memoize needs:
// a waiter's context cancels only that waiter (the computation runs on in
// its own goroutine), and a panic in the computation is re-raised in every
// waiter's goroutine instead of crashing the process from another one.
type flightGroup[T any] struct {
	mu    sync.Mutex            // guards calls
	calls map[string]*flight[T] // in-flight computations by key
}

// flight is one computation and its result.
type flight[T any] struct {
	done    chan struct{} // closed when val, err and panicked are set
	val     T
	err     error
	panicV  *panicError
	waiters int // callers beyond the first; guarded by the group's mu
}

// panicError carries a panic, with the stack where it happened, to the
// waiters.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("caches: memoized function panicked: %v\n\n%s", p.value, p.stack)
}

// do returns the result of fn for key, starting fn in a new goroutine unless
// a computation for key is already running; shared reports whether the
// result came from a computation another caller started. It returns
// ctx.Err() as soon as ctx is done, leaving the computation running.
func (g *flightGroup[T]) do(ctx context.Context, key string, fn func() (T, error)) (v T, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flight[T]{}
	}
	f, running := g.calls[key]
	if running {
		f.waiters++
	} else {
		f = &flight[T]{done: make(chan struct{})}
		g.calls[key] = f
		go g.run(key, f, fn)
	}
	g.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		var zero T
		return zero, running, ctx.Err()
	}
	if f.panicV != nil {
		panic(f.panicV)
	}
	return f.val, running, f.err
}

// run computes f and removes it from the group before waking the waiters,
// so that a caller arriving later starts a fresh computation.
func (g *flightGroup[T]) run(key string, f *flight[T], fn func() (T, error)) {
	defer func() {
		if r := recover(); r != nil {
			f.panicV = &panicError{value: r, stack: debug.Stack()}
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.val, f.err = fn()
}

// start starts fn for key unless a computation for key is running, without
// waiting for it, and reports whether it started one. A panic in fn is
// kept for the waiters that join it; with none, it is dropped.
func (g *flightGroup[T]) start(key string, fn func() (T, error)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls == nil {
		g.calls = map[string]*flight[T]{}
	}
	if _, running := g.calls[key]; running {
		return false
	}
	f := &flight[T]{done: make(chan struct{})}
	g.calls[key] = f
	go g.run(key, f, fn)
	return true
}

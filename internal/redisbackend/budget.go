package redisbackend

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// GetWithin is Get bounded by budget as well as by ctx (the
// backend.BudgetGetter capability): a read that must not hold its caller
// up longer than budget, without the cost of a context of its own.
func (r *Backend) GetWithin(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err := r.sendWithin(ctx, cmd, budget); err != nil {
		ok, err := nilOK(err)
		return "", ok, err
	}
	return cmd.Val(), true, nil
}

// sendWithin is send with the wait for the reply bounded by budget too. On
// a pooled connection the budget is the deadline go-redis puts on the
// socket (with ContextTimeoutEnabled, as for a context's deadline); on the
// pipeline it bounds the wait through a pooled timer.
func (r *Backend) sendWithin(ctx context.Context, cmd redis.Cmder, budget time.Duration) error {
	if r.ap != nil {
		if r.inFlight.Add(1) > 1 || r.always {
			err := r.pipelineWithin(ctx, cmd, budget)
			r.inFlight.Add(-1)
			return err
		}
		defer r.inFlight.Add(-1)
	}
	d := deadlineCtx{Context: ctx, deadline: time.Now().Add(budget)}
	_ = r.c.Process(d, cmd)
	return cmd.Err()
}

// deadlineCtx is ctx with a deadline no later than deadline, for the
// socket deadlines go-redis derives from a context. Only Deadline differs
// from ctx: go-redis reads it before each read and write on a pooled
// connection, so the deadline bounds the round trip without a timer.
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (d deadlineCtx) Deadline() (time.Time, bool) {
	if p, ok := d.Context.Deadline(); ok && p.Before(d.deadline) {
		return p, true
	}
	return d.deadline, true
}

// pipelineWithin is pipeline with the wait bounded by budget.
func (r *Backend) pipelineWithin(ctx context.Context, cmd redis.Cmder, budget time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f := r.ap.Submit(ctx, cmd)
	w := getWaiter(ctx, budget)
	err := f.WaitContext(w)
	w.release()
	return err
}

// waiter is the context an abandoned-or-not wait on the pipeline uses: its
// Done channel closes when the budget runs out or ctx ends, whichever is
// first. Waiters are pooled: one whose timer and ctx hook were both stopped
// before they fired goes back to the pool with its channel still open, so
// a wait costs no allocation unless ctx can be cancelled (context.AfterFunc)
// or it times out.
type waiter struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	timer    *time.Timer
	stop     func() bool // stops the hook on parent; nil when none
	fired    atomic.Bool // done is closed; err says why
	err      error
}

var waiters sync.Pool

func getWaiter(ctx context.Context, budget time.Duration) *waiter {
	w, _ := waiters.Get().(*waiter)
	if w == nil {
		w = &waiter{done: make(chan struct{})}
		w.timer = time.AfterFunc(time.Hour, func() { w.fire(context.DeadlineExceeded) })
		w.timer.Stop()
	}
	w.parent, w.deadline = ctx, time.Now().Add(budget)
	w.timer.Reset(budget)
	if ctx.Done() != nil {
		w.stop = context.AfterFunc(ctx, func() { w.fire(ctx.Err()) })
	}
	return w
}

// fire ends the wait with err, once.
func (w *waiter) fire(err error) {
	if w.fired.CompareAndSwap(false, true) {
		w.err = err
		close(w.done)
	}
}

// release stops w's timer and hook and pools w when neither fired and
// neither can fire any more.
func (w *waiter) release() {
	quiet := w.timer.Stop()
	if w.stop != nil && !w.stop() {
		quiet = false
	}
	if !quiet || w.fired.Load() {
		return // a callback ran or may be running: w is not reused
	}
	w.parent, w.stop = nil, nil
	waiters.Put(w)
}

func (w *waiter) Deadline() (time.Time, bool) { return w.deadline, true }
func (w *waiter) Done() <-chan struct{}       { return w.done }
func (w *waiter) Value(key any) any           { return w.parent.Value(key) }

func (w *waiter) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

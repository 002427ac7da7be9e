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
// a pooled connection the call runs under a budgetCtx, whose deadline
// bounds go-redis's socket reads and writes and whose Done closes at it
// (ending go-redis's waits for a connection and between retries); on the
// pipeline a pooled waiter bounds the wait.
func (r *Backend) sendWithin(ctx context.Context, cmd redis.Cmder, budget time.Duration) error {
	if r.ap != nil {
		if r.inFlight.Add(1) > 1 || r.always {
			err := r.pipelineWithin(ctx, cmd, budget)
			r.inFlight.Add(-1)
			return err
		}
		defer r.inFlight.Add(-1)
	}
	b := newBudgetCtx(ctx, budget)
	_ = r.c.Process(b, cmd)
	b.release()
	return cmd.Err()
}

// budgetCtx is ctx bounded by a deadline, as context.WithTimeout makes it,
// for a lighter price: its timer comes from a pool, and its Done channel
// is made only when asked for. release is its cancel function.
type budgetCtx struct {
	context.Context
	deadline time.Time
	timer    *budgetTimer
	stop     func() bool // the hook on the parent's cancellation, if any

	mu   sync.Mutex
	done chan struct{} // made by Done; closed once err is set
	err  error
}

func newBudgetCtx(parent context.Context, budget time.Duration) *budgetCtx {
	b := &budgetCtx{Context: parent, deadline: time.Now().Add(budget)}
	if d, ok := parent.Deadline(); ok && d.Before(b.deadline) {
		b.deadline = d
	}
	b.timer = getBudgetTimer(b, time.Until(b.deadline))
	if parent.Done() != nil {
		b.stop = context.AfterFunc(parent, func() { b.end(parent.Err()) })
	}
	return b
}

func (b *budgetCtx) Deadline() (time.Time, bool) { return b.deadline, true }

func (b *budgetCtx) Done() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done == nil {
		b.done = make(chan struct{})
		if b.err != nil {
			close(b.done)
		}
	}
	return b.done
}

func (b *budgetCtx) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// end sets err once and closes Done.
func (b *budgetCtx) end(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	b.err = err
	if b.done != nil {
		close(b.done)
	}
}

// release cancels b, as a context's cancel function does, and returns its
// timer to the pool when the timer can no longer fire.
func (b *budgetCtx) release() {
	if b.stop != nil {
		b.stop()
	}
	b.end(context.Canceled)
	b.timer.release()
}

// budgetTimer is a pooled timer that ends the budgetCtx it is armed for.
type budgetTimer struct {
	t      *time.Timer
	target atomic.Pointer[budgetCtx]
}

var budgetTimers sync.Pool

func getBudgetTimer(b *budgetCtx, d time.Duration) *budgetTimer {
	bt, _ := budgetTimers.Get().(*budgetTimer)
	if bt == nil {
		bt = &budgetTimer{}
		bt.t = time.AfterFunc(time.Hour, func() {
			if c := bt.target.Load(); c != nil {
				c.end(context.DeadlineExceeded)
			}
		})
		bt.t.Stop()
	}
	bt.target.Store(b)
	bt.t.Reset(d)
	return bt
}

// release pools bt unless its function ran or may be running.
func (bt *budgetTimer) release() {
	if bt.t.Stop() {
		bt.target.Store(nil)
		budgetTimers.Put(bt)
	}
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

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
// up longer than budget, cheaper than a context.WithTimeout around Get.
func (r *Backend) GetWithin(ctx context.Context, key string, budget time.Duration) (string, bool, error) {
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err := r.sendWithin(ctx, cmd, budget); err != nil {
		ok, err := nilOK(err)
		return "", ok, err
	}
	return cmd.Val(), true, nil
}

// sendWithin is send under a budgetCtx: its deadline bounds go-redis's
// socket reads and writes on a pooled connection, and its Done, closed at
// the deadline, ends go-redis's waits for a connection and between retries
// and a wait on the pipeline.
func (r *Backend) sendWithin(ctx context.Context, cmd redis.Cmder, budget time.Duration) error {
	b := newBudgetCtx(ctx, budget)
	err := r.send(b, cmd)
	b.release()
	return err
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

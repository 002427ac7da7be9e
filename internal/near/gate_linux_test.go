package near

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestGateWhileTheReaderIsLate: a write by another client is seen by the
// near cache's reads while its tracking reader, woken by the push, has not
// run yet (a test hook holds it): the reads find the push waiting in the
// socket and go to Redis. With the gate off they would keep returning the
// old copy until the reader runs.
func TestGateWhileTheReaderIsLate(t *testing.T) {
	srv := redistest.StartForTest(t)
	c := nearOver(t, &redis.Options{Addr: srv.Addr})
	if d, all := directLinks(c); d != all {
		t.Fatalf("%d of %d links read directly", d, all)
	}
	ctx := context.Background()
	other := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer other.Close()
	if err := other.Set(ctx, "p:k", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil { // the write's invalidation is in
		t.Fatal(err)
	}
	if v, _, err := c.Get(ctx, "p:k"); err != nil || v != "old" {
		t.Fatalf("first read: %q, %v", v, err)
	}
	if !poll(5*time.Second, func() bool { v, _, _ := c.GetLocal(ctx, "p:k"); return v == "old" }) {
		t.Fatalf("no local copy: %+v behind %d waiting %v", c.Stats(), c.behind.Load(), c.waiting.Load())
	}

	release := make(chan struct{})
	var once sync.Once
	held := make(chan struct{}, 1)
	hold := func() {
		select {
		case held <- struct{}{}:
		default:
		}
		<-release
	}
	heldReader.Store(&hold)
	defer func() { once.Do(func() { close(release) }); heldReader.Store(nil) }()

	if err := other.Set(ctx, "p:k", "new", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader was never woken by the push")
	}
	// The reader is held with the push unread: reads must not serve the
	// old copy for longer than the gate's interval (with slack for a
	// loaded machine).
	start := time.Now()
	for {
		v, _, err := c.Get(ctx, "p:k")
		if err != nil {
			t.Fatal(err)
		}
		if v == "new" {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("the old copy was still served %v after the write, the reader held", time.Since(start))
		}
	}
	t.Logf("the write was seen %v after the reader was held", time.Since(start))
	once.Do(func() { close(release) })
	if !poll(5*time.Second, func() bool { _, _, ok := c.GetLocal(ctx, "p:k"); return ok || c.armed() }) {
		t.Error("the reads never used the copies again after the reader ran")
	}
}

package redisbackend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// newOwnBackend returns a backend over a fresh client of srv that sends
// every call through the library's own pipeline.
func newOwnBackend(t *testing.T, srv *redistest.Server, opts *redis.Options) *Backend {
	t.Helper()
	b, _ := newTestBackend(t, srv, Options{Own: true, Always: true}, opts)
	if b.pipe == nil {
		t.Fatal("no own pipeline")
	}
	return b
}

// TestOwnPipeSharesWrites: concurrent calls share the writes of the
// library's own pipeline, and every caller reads its own reply.
func TestOwnPipeSharesWrites(t *testing.T) {
	b := newOwnBackend(t, redistest.StartForTest(t), nil)
	const callers, each = 64, 50
	setGetConcurrently(t, b, callers, each)
	writes, written := b.pipe.writes.Load(), b.pipe.written.Load()
	t.Logf("%d commands in %d writes", written, writes)
	if written != 2*callers*each {
		t.Errorf("%d commands written for %d calls", written, 2*callers*each)
	}
	if writes > written/4 {
		t.Errorf("%d writes for %d concurrent calls: the calls did not share them", writes, written)
	}
}

// TestOwnPipeLoneCallsSkipIt: calls made one at a time take the pool, not
// the pipeline.
func TestOwnPipeLoneCallsSkipIt(t *testing.T) {
	b, rt := newTestBackend(t, redistest.StartForTest(t), Options{Own: true}, nil)
	ctx := context.Background()
	for i := range 100 {
		if err := b.Set(ctx, "k", fmt.Sprint(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.pipe.written.Load(); n != 0 {
		t.Errorf("%d commands on the pipeline for calls made one at a time", n)
	}
	if n := rt.single.Load(); n != 100 {
		t.Errorf("%d single commands on the pool for 100 calls", n)
	}
}

// TestOwnPipeDecodesAsGoRedis sends the same commands through go-redis and
// through the library's own pipeline, and requires the same value and
// error in every command: the adapter reads replies the same way whichever
// path carried them.
func TestOwnPipeDecodesAsGoRedis(t *testing.T) {
	srv := redistest.StartForTest(t)
	b := newOwnBackend(t, srv, nil)
	ctx := context.Background()
	c := b.Client()
	long := strings.Repeat("x", 100_000) // longer than the read buffer
	// seed gives each command the same data on both paths.
	seed := func() {
		for _, setup := range [][]any{{"flushall"},
			{"set", "s", "text"}, {"set", "n", "42"}, {"set", "f", "1.5"},
			{"hset", "h", "a", "1", "b", "two"}, {"sadd", "set", "x", "y"},
			{"zadd", "z", "1.5", "m1", "-2", "m2", "inf", "m3"}, {"rpush", "l", "a"},
			{"set", "big", long},
		} {
			if err := c.Do(ctx, setup...).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []func() redis.Cmder{
		func() redis.Cmder { return redis.NewStringCmd(ctx, "get", "s") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "get", "missing") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "get", "h") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "set", "big2", long) },
		func() redis.Cmder { return redis.NewCmd(ctx, "mget", "big", "s", "missing") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "get", "big") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "incr", "n") },
		func() redis.Cmder { return redis.NewStringCmd(ctx, "set", "s", "text", "nx") },
		func() redis.Cmder { return redis.NewStatusCmd(ctx, "ping") },
		func() redis.Cmder { return redis.NewIntCmd(ctx, "exists", "s") },
		func() redis.Cmder { return redis.NewIntCmd(ctx, "pttl", "s") },
		func() redis.Cmder { return redis.NewIntCmd(ctx, "incr", "s") },
		func() redis.Cmder { return redis.NewIntCmd(ctx, "get", "n") },
		func() redis.Cmder { return redis.NewIntCmd(ctx, "get", "missing") },
		func() redis.Cmder { return redis.NewBoolCmd(ctx, "set", "s", "text", "nx") },
		func() redis.Cmder { return redis.NewBoolCmd(ctx, "set", "nx1", "v", "nx") },
		func() redis.Cmder { return redis.NewBoolCmd(ctx, "expire", "s", 100) },
		func() redis.Cmder { return redis.NewBoolCmd(ctx, "expire", "missing", 100) },
		func() redis.Cmder { return redis.NewFloatCmd(ctx, "zscore", "z", "m1") },
		func() redis.Cmder { return redis.NewFloatCmd(ctx, "zscore", "z", "m3") },
		func() redis.Cmder { return redis.NewFloatCmd(ctx, "zscore", "z", "none") },
		func() redis.Cmder { return redis.NewFloatCmd(ctx, "incrbyfloat", "f", 0.25) },
		func() redis.Cmder { return redis.NewStringSliceCmd(ctx, "smembers", "set") },
		func() redis.Cmder { return redis.NewStringSliceCmd(ctx, "smembers", "s") },
		func() redis.Cmder { return redis.NewSliceCmd(ctx, "hmget", "h", "a", "none", "b") },
		func() redis.Cmder { return redis.NewBoolSliceCmd(ctx, "smismember", "set", "x", "z") },
		func() redis.Cmder { return redis.NewMapStringStringCmd(ctx, "hgetall", "h") },
		func() redis.Cmder { return redis.NewMapStringStringCmd(ctx, "hgetall", "missing") },
		func() redis.Cmder { return redis.NewZSliceCmd(ctx, "zrange", "z", 0, -1, "withscores") },
		func() redis.Cmder { return redis.NewZSliceCmd(ctx, "zpopmin", "missing") },
		func() redis.Cmder { return redis.NewScanCmd(ctx, nil, "hscan", "h", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return nil", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return false", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return true", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return 7", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return 'x'", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return {1, 'a', {2}, false}", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return {err='E custom'}", 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "eval", "return redis.pcall('incr', KEYS[1])", 1, "s") },
		func() redis.Cmder { return redis.NewCmd(ctx, "evalsha", strings.Repeat("0", 40), 0) },
		func() redis.Cmder { return redis.NewCmd(ctx, "nosuchcommand") },
	}
	for _, mk := range cases {
		want, got := mk(), mk()
		seed()
		_ = c.Process(ctx, want)
		seed()
		if err := b.pipe.do(ctx, got); err != nil && err != got.Err() {
			t.Errorf("%v: do returned %v, the command holds %v", got.Args(), err, got.Err())
		}
		if w, g := describe(want), describe(got); w != g {
			t.Errorf("%.60v:\n go-redis read %s\n the pipe read %s", got.Args(), w, g)
		}
	}
}

// describe is a command's value and error, as text to compare.
func describe(cmd redis.Cmder) string {
	var val any
	switch c := cmd.(type) {
	case *redis.Cmd:
		val = c.Val()
	case *redis.StringCmd:
		val = c.Val()
	case *redis.StatusCmd:
		val = c.Val()
	case *redis.IntCmd:
		val = c.Val()
	case *redis.BoolCmd:
		val = c.Val()
	case *redis.FloatCmd:
		val = c.Val()
	case *redis.StringSliceCmd:
		val = c.Val()
	case *redis.SliceCmd:
		val = c.Val()
	case *redis.BoolSliceCmd:
		val = c.Val()
	case *redis.MapStringStringCmd:
		val = c.Val()
	case *redis.ZSliceCmd:
		val = c.Val()
	case *redis.ScanCmd:
		page, cursor := c.Val()
		val = []any{page, cursor}
	}
	if s, ok := val.(string); ok && len(s) > 40 {
		val = fmt.Sprintf("%d bytes %q…", len(s), s[:10])
	}
	err := cmd.Err()
	return fmt.Sprintf("%#v, error %v (a Redis error: %v)", val, err, isRedisError(err))
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// TestOwnPipeReadTimeout: with no deadline of its own, a call fails after
// the client's read timeout when the server does not answer, and the pipe
// serves later calls on a new connection.
func TestOwnPipeReadTimeout(t *testing.T) {
	srv := redistest.StartForTest(t, "--enable-debug-command", "local")
	const timeout = 300 * time.Millisecond
	b := newOwnBackend(t, srv, &redis.Options{ReadTimeout: timeout, MaxRetries: -1})
	ctx := context.Background()
	if err := b.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	sleeping := make(chan error, 1)
	go func() { sleeping <- srv.DebugSleep(ctx, 1500*time.Millisecond) }()
	waitServerBusy(t, srv)
	start := time.Now()
	_, _, err := b.Get(ctx, "k")
	if took := time.Since(start); err == nil || took > timeout+700*time.Millisecond {
		t.Errorf("a call while the server sleeps: %v after %v, want a timeout after about %v", err, took, timeout)
	}
	if err := <-sleeping; err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || v != "v" {
		t.Errorf("after the sleep: %q, %v, %v", v, ok, err)
	}
}

// waitServerBusy waits until srv stops answering a PING within 50 ms.
func waitServerBusy(t *testing.T, srv *redistest.Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ReadTimeout: 50 * time.Millisecond})
	defer c.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); <-tick.C {
		if c.Ping(context.Background()).Err() != nil {
			return
		}
	}
	t.Fatal("the server kept answering")
}

// TestOwnPipeServerRestart: calls fail, without hanging, while the server
// is down, and succeed on a new connection once it is back.
func TestOwnPipeServerRestart(t *testing.T) {
	srv := redistest.StartForTest(t)
	b := newOwnBackend(t, srv, &redis.Options{MaxRetries: -1})
	ctx := context.Background()
	if err := b.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := b.Get(c, "k"); err == nil || c.Err() != nil {
		t.Fatalf("a call with the server down: %v (context: %v)", err, c.Err())
	}
	if err := srv.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "k", "again", 0); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if v, _, err := b.Get(ctx, "k"); err != nil || v != "again" {
		t.Fatalf("after the restart: %q, %v", v, err)
	}
}

// TestOwnPipeRetriesAfterRestart: with the client's retries, a call that
// meets a connection the server closed is sent again on a new one.
func TestOwnPipeRetriesAfterRestart(t *testing.T) {
	srv := redistest.StartForTest(t)
	b := newOwnBackend(t, srv, nil)
	ctx := context.Background()
	if err := b.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "k", "after", 0); err != nil {
		t.Fatalf("the first call after a restart: %v", err)
	}
}

// TestOwnPipeSetup: the pipe's connection authenticates, selects the
// client's database and takes its name, as go-redis's do.
func TestOwnPipeSetup(t *testing.T) {
	srv := redistest.StartForTest(t, "--requirepass", "s3cret")
	opts := &redis.Options{Password: "s3cret", DB: 3, ClientName: "pipe-test"}
	b := newOwnBackend(t, srv, opts)
	ctx := context.Background()
	if err := b.Set(ctx, "k", "in db 3", 0); err != nil {
		t.Fatal(err)
	}
	other := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret", DB: 3})
	defer other.Close()
	if v, err := other.Get(ctx, "k").Result(); err != nil || v != "in db 3" {
		t.Fatalf("database 3 holds %q, %v", v, err)
	}
	list, err := other.ClientList(ctx).Result()
	if err != nil || !strings.Contains(list, "name=pipe-test") {
		t.Errorf("no connection named pipe-test: %v\n%s", err, list)
	}
	wrong := newOwnBackend(t, srv, &redis.Options{Password: "wrong", MaxRetries: -1})
	if err := wrong.Set(ctx, "k", "v", 0); err == nil || !strings.Contains(err.Error(), "auth") {
		t.Errorf("a wrong password: %v, want AUTH's error", err)
	}
}

// TestOwnPipeClose: Close fails later calls with a closed error and ends
// the connection's goroutines.
func TestOwnPipeClose(t *testing.T) {
	srv := redistest.StartForTest(t)
	before := runtime.NumGoroutine()
	for range 20 {
		b, err := New(redis.NewClient(&redis.Options{Addr: srv.Addr}), true, Options{Own: true, Always: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Set(context.Background(), "k", "v", 0); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Get(context.Background(), "k"); !backend.IsClosed(err) {
			t.Fatalf("a call after Close: %v", err)
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; <-tick.C {
		if time.Now().After(end) {
			t.Fatalf("%d goroutines after 20 backends opened and closed, %d before", runtime.NumGoroutine(), before)
		}
	}
}

// TestParseInt: the reply integer parser against strconv's.
func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "123456789012345678", "-123456789012345678",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999",
		"", "-", "1a", " 1", "--1"} {
		n, ok := parseInt([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || (ok && n != want) {
			t.Errorf("parseInt(%q) = %d, %v; strconv: %d, %v", s, n, ok, want, err)
		}
	}
	if n, ok := parseInt([]byte("-9223372036854775808")); !ok || n != math.MinInt64 {
		t.Errorf("the smallest int64: %d, %v", n, ok)
	}
}

// TestReadIntoRejectsGarbage: a reply that is not RESP fails the
// connection rather than being read as a value.
func TestReadIntoRejectsGarbage(t *testing.T) {
	for _, in := range []string{"?\r\n", "$abc\r\n", ":12x\r\n", "*2\r\n:1\r\n", "$5\r\nab", "+OK\n"} {
		r := bufio.NewReader(strings.NewReader(in))
		if err := readInto(r, redis.NewCmd(context.Background())); err == nil {
			t.Errorf("%q read without an error", in)
		}
	}
}

// TestOwnPipeFromDSN: a single-server DSN gets the library's own pipeline
// unless autopipeline says otherwise.
func TestOwnPipeFromDSN(t *testing.T) {
	addr := realRedis.Get(t).Addr
	for query, want := range map[string]string{"": "own", "?autopipeline=true": "own",
		"?autopipeline=go-redis": "go-redis", "?autopipeline=false": "pool"} {
		b := openDSN(t, "redis://"+addr+"/"+query)
		got := "pool"
		switch {
		case b.pipe != nil:
			got = "own"
		case b.ap != nil:
			got = "go-redis"
		}
		if got != want {
			t.Errorf("redis://%s/%s: the %s path, want the %s path", addr, query, got, want)
		}
		_ = b.Close()
	}
}

// TestOwnPipeMaxBatch: no write carries more commands than MaxBatch.
func TestOwnPipeMaxBatch(t *testing.T) {
	b, _ := newTestBackend(t, realRedis.Get(t), Options{Own: true, Always: true, MaxBatch: 4}, nil)
	ctx := context.Background()
	if err := concurrently(32, 20, func(g, i int) error {
		return b.Set(ctx, fmt.Sprint("batch", g), fmt.Sprint(i), time.Minute)
	}); err != nil {
		t.Fatal(err)
	}
	writes, written := b.pipe.writes.Load(), b.pipe.written.Load()
	if written != 32*20 || writes*4 < written {
		t.Errorf("%d commands in %d writes with at most 4 a write", written, writes)
	}
}

// TestOwnPipeCredentialsProvider: the pipe's connection authenticates with
// what the client's credentials provider says at that moment.
func TestOwnPipeCredentialsProvider(t *testing.T) {
	srv := redistest.StartForTest(t, "--requirepass", "rotated")
	var asked atomic.Int64
	b := newOwnBackend(t, srv, &redis.Options{MaxRetries: -1,
		CredentialsProviderContext: func(context.Context) (string, string, error) {
			asked.Add(1)
			return "default", "rotated", nil
		}})
	ctx := context.Background()
	if err := b.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if asked.Load() == 0 {
		t.Error("the provider was not asked")
	}
}

// TestOwnPipeDropsBigBuffers: a write of a large value does not leave its
// buffer with the connection.
func TestOwnPipeDropsBigBuffers(t *testing.T) {
	b := newOwnBackend(t, realRedis.Get(t), nil)
	ctx := context.Background()
	if err := b.Set(ctx, "big", strings.Repeat("x", 4<<20), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "small", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	w := b.pipe.cur.Load()
	w.mu.Lock()
	kept := cap(w.buf) + cap(w.spare)
	w.mu.Unlock()
	if kept > maxKeptBuffer {
		t.Errorf("the connection keeps %d bytes of buffers after a 4 MiB write", kept)
	}
}

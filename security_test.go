package caches

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"

	"github.com/gocaches/caches/internal/redisbackend"

	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// startServer starts a dedicated redis-server with args, stopped when t
// ends, skipping or failing like the shared one when it is missing.
func startServer(t *testing.T, args ...string) *redistest.Server {
	t.Helper()
	srv, err := redistest.Start(args...)
	if err != nil {
		redistest.SkipOrFail(t, "redis-server", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// TestACLCredentials connects with an ACL user and checks that wrong
// credentials fail with an error that does not contain the password.
func TestACLCredentials(t *testing.T) {
	srv := startServer(t, "--requirepass", "admin-pass", "--user", "app", "on", ">app-s3cret", "~cache:*", "+@all")
	ctx := context.Background()

	conn, err := Open("redis://app:app-s3cret@" + srv.Addr + "/0")
	require.NoError(t, err)
	defer conn.Close()
	k := NewKeyCache[string](Options{Prefix: "cache", Conn: conn}).Key("x")
	require.NoError(t, k.Set(ctx, "v"))
	v, err := k.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "v", v)

	denied := NewKeyCache[string](Options{Prefix: "other", Conn: conn}).Key("x")
	require.ErrorContains(t, denied.Set(ctx, "v"), "NOPERM", "the ACL's key pattern applies")

	logged := &captureLogger{}
	redis.SetLogger(logged)
	defer redis.SetLogger(stderrLogger{})
	bad, err := Open("redis://app:wr0ng-pa55word@" + srv.Addr + "/0?max_retries=-1")
	require.NoError(t, err)
	defer bad.Close()
	err = NewKeyCache[string](Options{Prefix: "cache", Conn: bad}).Key("x").Set(ctx, "v")
	require.Error(t, err)
	require.Contains(t, err.Error(), "WRONGPASS")
	require.NotContains(t, err.Error(), "wr0ng-pa55word")
	require.NotContains(t, fmt.Sprint(bad), "wr0ng-pa55word")
	require.NotContains(t, logged.String(), "wr0ng-pa55word", "nor does go-redis's log")
}

// captureLogger records what go-redis logs.
type captureLogger struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *captureLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", v...)
}

func (l *captureLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stderrLogger is go-redis's default: the standard logger.
type stderrLogger struct{}

func (stderrLogger) Printf(_ context.Context, format string, v ...any) { log.Printf(format, v...) }

// TestTLS connects over rediss:// to a real TLS server: with its CA given by
// ca_cert it works; with an unrelated CA, or the system's roots, the server
// is rejected. With a password, neither error shows it.
func TestTLS(t *testing.T) {
	ts := redistest.StartTLSForTest(t, "--requirepass", "tls-s3cret")
	ctx := context.Background()
	use := func(dsn string) error {
		conn, err := Open(dsn)
		require.NoError(t, err)
		defer conn.Close()
		k := NewKeyCache[string](Options{Prefix: "tls", Conn: conn}).Key(1)
		if err := k.Set(ctx, "over TLS"); err != nil {
			return err
		}
		v, err := k.Get(ctx)
		require.Equal(t, "over TLS", v)
		if err != nil {
			return err
		}
		// Concurrent calls: the library's own pipeline, over TLS too.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				for range 20 {
					if v, err := k.Get(ctx); err != nil || v != "over TLS" {
						errs <- fmt.Errorf("a concurrent get: %q, %v", v, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		if _, n := conn.b.(*redisbackend.Backend).PipeStats(); n == 0 {
			t.Error("no call took the library's own pipeline")
		}
		return nil
	}
	base := "rediss://:tls-s3cret@" + ts.Addr + "/0?max_retries=-1&dial_timeout=2s"
	require.NoError(t, use(base+"&ca_cert="+ts.CAFile), "the server's CA verifies it")

	err := use(base + "&ca_cert=" + ts.OtherCAFile)
	require.ErrorContains(t, err, "certificate signed by unknown authority", "an unrelated CA rejects it")
	require.NotContains(t, err.Error(), "tls-s3cret")
	err = use(base)
	require.ErrorContains(t, err, "certificate signed by unknown authority", "a self-signed server is rejected without its CA")

	plain, err := Open("redis://:tls-s3cret@" + ts.Addr + "/0?max_retries=-1&dial_timeout=1s&read_timeout=1s")
	require.NoError(t, err)
	defer plain.Close()
	err = NewKeyCache[string](Options{Prefix: "tls", Conn: plain}).Key(1).Set(ctx, "x")
	require.Error(t, err, "plain TCP to a TLS port fails")
	require.NotContains(t, err.Error(), "tls-s3cret")
}

package redistest

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serverPID returns the process_id that the server at c reports.
func serverPID(ctx context.Context, c *redis.Client) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	return infoFields(info)["process_id"], nil
}

func TestRestartIsACrashOnTheSameAddress(t *testing.T) {
	s := StartForTest(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	addr, pid := s.Addr, s.PID()
	require.NotZero(t, pid)

	start := time.Now()
	require.NoError(t, s.Restart())
	t.Logf("restart took %v", time.Since(start))
	assert.Equal(t, addr, s.Addr)
	require.NotZero(t, s.PID())
	assert.NotEqual(t, pid, s.PID(), "a new process")

	// The old client reaches the new process (its pooled connection is dead;
	// go-redis retries on a new one) and finds the data gone: a crash.
	eventually(t, 5*time.Second, "GET through the old client", func(ctx context.Context) error {
		err := c.Get(ctx, "k").Err()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err == nil {
			return errors.New("the key survived the crash")
		}
		return err
	})
	got, err := serverPID(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(s.PID()), got)
}

func TestKillAndStartAgain(t *testing.T) {
	s := StartForTest(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	require.NoError(t, c.Ping(ctx).Err())

	s.Kill()
	assert.Zero(t, s.PID())
	assert.True(t, s.exited())
	var d net.Dialer
	_, err := d.DialContext(ctx, "tcp", s.Addr)
	assert.Error(t, err, "nothing listens after Kill")
	s.Kill() // harmless

	require.NoError(t, s.StartAgain())
	require.NotZero(t, s.PID())
	assert.ErrorContains(t, s.StartAgain(), "is running")
	eventually(t, 5*time.Second, "PING after StartAgain", func(ctx context.Context) error {
		return c.Ping(ctx).Err()
	})

	s.Stop()
	assert.True(t, s.exited())
	assert.ErrorIs(t, s.StartAgain(), ErrStopped)
	assert.ErrorIs(t, s.Restart(), ErrStopped)
	_, err = os.Stat(s.dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "Stop removes %s", s.dir)
}

func TestStartAgainGivesUpWhenThePortIsTaken(t *testing.T) {
	s := StartForTest(t)
	old := restartLimit
	restartLimit = time.Second
	defer func() { restartLimit = old }()

	s.Kill()
	l, err := net.Listen("tcp", s.Addr)
	require.NoError(t, err, "take the port")
	start := time.Now()
	err = s.StartAgain()
	elapsed := time.Since(start)
	l.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not start again")
	assert.Contains(t, err.Error(), "Address already in use", "the error has the tail of the log")
	assert.Less(t, elapsed, 5*time.Second, "bounded")
	assert.True(t, s.exited(), "no process left behind")

	require.NoError(t, s.StartAgain(), "the port is free again")
}

func TestPauseHoldsCommands(t *testing.T) {
	s := StartForTest(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 5 * time.Second, ContextTimeoutEnabled: true})
	defer c.Close()
	require.NoError(t, c.Ping(ctx).Err())

	start := time.Now()
	require.NoError(t, s.Pause(ctx, 500*time.Millisecond))
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	held := time.Since(start)
	t.Logf("a SET sent during a 500ms pause took %v", held)
	assert.GreaterOrEqual(t, held, 400*time.Millisecond, "the command waited for the pause")

	// A deadline shorter than the pause ends the command (the client has
	// ContextTimeoutEnabled); so does it for a new connection, whose
	// handshake the pause holds too.
	require.NoError(t, s.Pause(ctx, 500*time.Millisecond))
	for _, client := range []*redis.Client{c, redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})} {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		err := client.Get(short, "k").Err()
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "GET with a 100ms deadline during a pause")
		assert.Less(t, time.Since(start), 300*time.Millisecond)
	}
	eventually(t, 2*time.Second, "GET after the pause", func(ctx context.Context) error {
		return c.Get(ctx, "k").Err()
	})
}

func TestDebugSleepBlocksTheServer(t *testing.T) {
	s := StartForTest(t, "--enable-debug-command", "local")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	require.NoError(t, c.Ping(ctx).Err())

	const d = 800 * time.Millisecond
	slept := make(chan error, 1)
	start := time.Now()
	go func() { slept <- s.DebugSleep(ctx, d) }()
	// PING until one times out: the sleep has begun.
	timeouts := 0
	for i := 0; i < 100_000 && timeouts == 0 && time.Since(start) < d/2; i++ {
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		if c.Ping(pctx).Err() != nil {
			timeouts++
		}
		cancel()
	}
	require.NoError(t, <-slept)
	assert.GreaterOrEqual(t, time.Since(start), d-50*time.Millisecond, "DebugSleep returns when the server wakes")
	assert.Positive(t, timeouts, "PINGs time out while the server sleeps")
	require.NoError(t, c.Ping(ctx).Err())

	other := StartForTest(t)
	err := other.DebugSleep(ctx, time.Millisecond)
	assert.ErrorContains(t, err, "DEBUG", "refused without --enable-debug-command")
}

// TestRestartWaitsForItsDataToLoad restarts a server whose data comes back
// from its append-only file: Restart returns once the data is loaded, so
// the first command after it is served, not refused with LOADING.
func TestRestartWaitsForItsDataToLoad(t *testing.T) {
	s := StartForTest(t, "--appendonly", "yes", "--appendfsync", "always") // a busy disk must not delay the AOF write past the kill
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	// One SET a key, so that the file holds many commands: the server
	// answers clients between every 1024 commands it loads.
	const keys, batch = 50_000, 1000
	for start := 0; start < keys; start += batch {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < start+batch; i++ {
				p.Set(ctx, "k"+strconv.Itoa(i), i, 0)
			}
			return nil
		})
		require.NoError(t, err)
	}

	require.NoError(t, s.Restart())
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err, "the first command after Restart")
	require.Equal(t, int64(keys), n, "the data came back")
}

package caches

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gocaches/caches/internal/near"
	"github.com/gocaches/caches/internal/poll"
	"github.com/stretchr/testify/require"
)

// recorder is a slog handler that keeps every record.
type recorder struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// logLine is a record as the tests compare it.
type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// matching returns the records whose attribute key holds value.
func (r *recorder) matching(key, value string) []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logLine
	for _, rec := range r.records {
		l := logLine{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
		rec.Attrs(func(a slog.Attr) bool { l.attrs[a.Key] = a.Value.String(); return true })
		if l.attrs[key] == value {
			out = append(out, l)
		}
	}
	return out
}

// recordLogs sends the library's and go-redis's log lines to a recorder
// until the test ends.
func recordLogs(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	SetLogger(slog.New(r))
	t.Cleanup(func() { SetLogger(nil) })
	return r
}

func TestLogMemoBackendFailure(t *testing.T) {
	logs := recordLogs(t)
	m := miniredis.RunT(t)
	conn, err := Open("redis://" + m.Addr() + "?max_retries=-1#memolog")
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	memo := Memoize(func(_ context.Context, id int) (int, error) { return id * 2, nil },
		MemoOptions[int]{Options: Options{Prefix: "memolog", Conn: conn}})
	m.Close()

	start := time.Now()
	for range 3 {
		v, err := memo.Call(t.Context(), 21)
		require.NoError(t, err, "a failing Redis falls back to the function")
		require.Equal(t, 42, v)
	}
	elapsed := time.Since(start)
	lines := logs.matching("family", "memolog")
	require.NotEmpty(t, lines)
	require.LessOrEqual(t, len(lines), 1+int(elapsed/time.Second), "one line a second per family: %+v", lines)
	require.Greater(t, memo.Stats().BackendErrors, uint64(len(lines)), "failures beyond the limit are not logged")
	require.Equal(t, slog.LevelWarn, lines[0].level)
	require.Equal(t, "caches: Memoize could not use the cache", lines[0].msg)
	require.Equal(t, "memolog", lines[0].attrs["connection"])
	require.NotEmpty(t, lines[0].attrs["error"])
	for _, v := range lines[0].attrs {
		require.NotContains(t, v, "memolog:21", "no key in a log line")
	}
}

func TestLogGoRedis(t *testing.T) {
	logs := recordLogs(t)
	conn, err := Open("redis://" + deadAddr(t) + "?dial_timeout=100ms&max_retries=-1")
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.Error(t, conn.Ping(ctx))
	lines := logs.matching("source", "go-redis")
	require.NotEmpty(t, lines, "go-redis's lines reach the logger")
	require.Contains(t, lines[0].msg, "failed to dial")
	require.Equal(t, slog.LevelWarn, lines[0].level)
}

func TestLogAutoSaveFailure(t *testing.T) {
	logs := recordLogs(t)
	dir := filepath.Join(t.TempDir(), "store")
	require.NoError(t, os.Mkdir(dir, 0o700))
	conn, err := OpenMemory(MemoryOptions{File: filepath.Join(dir, "cache.snap"), SavePoints: []SavePoint{{Changes: 1}}})
	require.NoError(t, err)
	require.NoError(t, Register("savelog", conn))
	t.Cleanup(func() { Unregister("savelog"); conn.Close() })
	require.NoError(t, os.RemoveAll(dir), "every save fails from now on")

	k := NewKeyCache[string](Options{Prefix: "savelog", Conn: conn}).Key(1)
	require.NoError(t, k.Set(t.Context(), "v"))
	var lines []logLine
	ok := poll.Until(5*time.Second, 10*time.Millisecond, func() bool {
		lines = logs.matching("connection", "savelog")
		return len(lines) > 0
	})
	require.True(t, ok, "no line for the failed automatic save")
	require.Equal(t, slog.LevelError, lines[0].level)
	require.Equal(t, "caches: automatic save failed", lines[0].msg)
	require.Contains(t, lines[0].attrs["error"], dir)
}

func TestLogNearTracking(t *testing.T) {
	logs := recordLogs(t)
	e := redisEnv(t)
	e.conn.nearAll = &NearOptions{}
	t.Cleanup(func() { e.conn.Close() })
	ctx := t.Context()
	k := NewKeyCache[string](e.opts("nearlog")).Key(1)
	require.NoError(t, k.Set(ctx, "v"))
	_, err := k.Get(ctx)
	require.NoError(t, err)
	waitFor := func(msg string, n int) []logLine {
		t.Helper()
		var lines []logLine
		ok := poll.Until(5*time.Second, 5*time.Millisecond, func() bool {
			lines = lines[:0]
			for _, l := range logs.matching("family", "nearlog") {
				if l.msg == msg {
					lines = append(lines, l)
				}
			}
			return len(lines) >= n
		})
		require.True(t, ok, "no %d lines %q", n, msg)
		return lines
	}
	up := waitFor("caches: near cache tracking established", 1)
	require.Equal(t, slog.LevelInfo, up[0].level)
	require.Equal(t, "", up[0].attrs["connection"])

	client, _ := e.conn.RedisClient()
	list, err := client.ClientList(ctx).Result()
	require.NoError(t, err)
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+near.ConnName+" ") {
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			require.NoError(t, client.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
			killed++
		}
	}
	require.NotZero(t, killed, "no tracking connection in CLIENT LIST")
	lost := waitFor("caches: near cache tracking lost; reads go to Redis", 1)
	require.Equal(t, slog.LevelWarn, lost[0].level)
	waitFor("caches: near cache tracking established", 2)
}

func TestLogLimit(t *testing.T) {
	var ll logLimit
	const t0 = int64(1_000_000)
	ok, skipped := ll.allow(t0)
	require.True(t, ok)
	require.Zero(t, skipped)
	for _, at := range []int64{t0, t0 + 500, t0 + 999} {
		ok, _ = ll.allow(at)
		require.False(t, ok, "within a second of the last line: %d", at-t0)
	}
	ok, skipped = ll.allow(t0 + 1000)
	require.True(t, ok)
	require.Equal(t, int64(3), skipped, "the next line counts those left out")
	ok, skipped = ll.allow(t0 + 2500)
	require.True(t, ok)
	require.Zero(t, skipped)
}

package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testPassword = "pw"

var (
	sharedCluster  = SharedCluster{Password: testPassword}
	sharedSentinel = SharedSentinel{Password: testPassword}
)

func TestMain(m *testing.M) {
	code := m.Run()
	ReportSkips()
	sharedCluster.Stop()
	sharedSentinel.Stop()
	if left := childProcesses(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "redistest: processes left running: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// childProcesses lists this process's children (Linux only, else none).
func childProcesses() []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	var kids []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == me {
			kids = append(kids, s[:strings.LastIndexByte(s, ')')+1])
		}
	}
	return kids
}

// eventually retries f every 50ms for at most limit, and fails the test
// with its last error.
func eventually(t *testing.T, limit time.Duration, what string, f func(context.Context) error) {
	t.Helper()
	if err := poll(context.Background(), limit, f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestSlotKnownValues(t *testing.T) {
	for key, want := range map[string]int{
		"":                     0,
		"123456789":            0x31C3 % SlotCount, // the XMODEM check value
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": Slot("user1000"),
		"foo{}{bar}":           Slot("foo{}{bar}"),
		"foo{{bar}}zap":        Slot("{bar"),
		"foo{bar}{zap}":        Slot("bar"),
		"{":                    Slot("{"),
		"a{b":                  Slot("a{b"),
	} {
		assert.Equal(t, want, Slot(key), "Slot(%q)", key)
	}
}

func TestClusterSlotMatchesKeySlot(t *testing.T) {
	c := sharedCluster.Get(t)
	cl := redis.NewClient(&redis.Options{Addr: c.Addrs[0], Password: c.Password})
	defer cl.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	pipe := cl.Pipeline()
	keys := make([]string, 500)
	cmds := make([]*redis.IntCmd, len(keys))
	for i := range keys {
		keys[i] = randomKey(rng)
		cmds[i] = pipe.ClusterKeySlot(ctx, keys[i])
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	for i, k := range keys {
		assert.Equal(t, int(cmds[i].Val()), Slot(k), "Slot(%q)", k)
	}
}

// randomKey returns a key of random bytes, often with braces in it.
func randomKey(rng *rand.Rand) string {
	const alphabet = "abcxyz019{}{}{}:_-"
	b := make([]byte, rng.Intn(24))
	for i := range b {
		if rng.Intn(8) == 0 {
			b[i] = byte(rng.Intn(256))
		} else {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
	}
	return string(b)
}

func TestClusterClientReachesEveryMaster(t *testing.T) {
	c := sharedCluster.Get(t)
	ctx := context.Background()
	require.NoError(t, c.FlushAll(ctx))
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, Password: c.Password})
	defer cc.Close()

	// One key per master, found by the slot map.
	keyOn := map[string]string{}
	for i := 0; len(keyOn) < len(c.Addrs) && i < 10000; i++ {
		k := "key" + strconv.Itoa(i)
		if _, ok := keyOn[c.MasterFor(k)]; !ok {
			keyOn[c.MasterFor(k)] = k
		}
	}
	require.Len(t, keyOn, len(c.Addrs), "keys for every master")
	for addr, k := range keyOn {
		require.NoError(t, cc.Set(ctx, k, addr, 0).Err(), "SET %s", k)
		got, err := cc.Get(ctx, k).Result()
		require.NoError(t, err, "GET %s", k)
		assert.Equal(t, addr, got)

		// The key is on the master MasterFor named.
		direct := redis.NewClient(&redis.Options{Addr: addr, Password: c.Password})
		got, err = direct.Get(ctx, k).Result()
		direct.Close()
		require.NoError(t, err, "GET %s directly on %s", k, addr)
		assert.Equal(t, addr, got)
	}

	require.NoError(t, c.FlushAll(ctx))
	for _, addr := range c.Addrs {
		direct := redis.NewClient(&redis.Options{Addr: addr, Password: c.Password})
		n, err := direct.DBSize(ctx).Result()
		direct.Close()
		require.NoError(t, err)
		assert.Zero(t, n, "keys left on %s after FlushAll", addr)
	}
}

func TestClusterWithoutPasswordStops(t *testing.T) {
	t.Parallel()
	c, err := StartCluster(3)
	if err != nil {
		skipOrFail(t, "redis cluster", err)
	}
	t.Cleanup(c.Stop)
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer cc.Close()
	for i := 0; i < 30; i++ {
		require.NoError(t, cc.Set(ctx, fmt.Sprint("k", i), i, 0).Err())
	}
	c.Stop()
	c.Stop() // harmless
	for _, s := range c.nodes {
		assert.True(t, s.exited(), "%s still running", s.Addr)
		_, err := os.Stat(s.dir)
		assert.True(t, errors.Is(err, os.ErrNotExist), "%s left %s", s.Addr, s.dir)
	}
}

func TestStartClusterNeedsThreeMasters(t *testing.T) {
	_, err := StartCluster(2)
	assert.ErrorContains(t, err, "at least 3 masters")
}

// failoverClient returns a go-redis client that follows s's sentinel.
func failoverClient(s *Sentinel) *redis.Client {
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       s.MasterName,
		SentinelAddrs:    []string{s.SentinelAddr},
		Password:         s.Password,
		SentinelPassword: s.Password,
	})
}

func TestSharedSentinelServesFailoverClient(t *testing.T) {
	s := sharedSentinel.Get(t)
	ctx := context.Background()
	fc := failoverClient(s)
	defer fc.Close()
	require.NoError(t, fc.Set(ctx, "shared", "v", 0).Err())
	got, err := fc.Get(ctx, "shared").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)

	master, err := s.MasterAddr(ctx)
	require.NoError(t, err)
	assert.Contains(t, []string{s.data[0].Addr, s.data[1].Addr}, master)

	// The password is required everywhere.
	for _, addr := range []string{s.SentinelAddr, master} {
		c := redis.NewClient(&redis.Options{Addr: addr})
		err := c.Ping(ctx).Err()
		c.Close()
		assert.ErrorContains(t, err, "NOAUTH", "PING without password on %s", addr)
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s, err := StartSentinel(WithPassword(testPassword))
	if err != nil {
		skipOrFail(t, "redis sentinel", err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	oldMaster, replica := s.data[0].Addr, s.data[1].Addr
	got, err := s.MasterAddr(ctx)
	require.NoError(t, err)
	require.Equal(t, oldMaster, got)

	fc := failoverClient(s)
	defer fc.Close()
	for i := 0; i < 20; i++ {
		require.NoError(t, fc.Set(ctx, fmt.Sprint("before", i), i, 0).Err())
	}

	start := time.Now()
	require.NoError(t, s.Failover(ctx))
	t.Logf("failover took %v", time.Since(start))
	got, err = s.MasterAddr(ctx)
	require.NoError(t, err)
	require.Equal(t, replica, got, "the former replica is master")

	// The client moves to the new master: a write lands there.
	direct := s.client(replica)
	defer direct.Close()
	n := 0
	eventually(t, 10*time.Second, "write through the failover client to "+replica, func(ctx context.Context) error {
		n++
		v := strconv.Itoa(n)
		if err := fc.Set(ctx, "after", v, 0).Err(); err != nil {
			return err
		}
		got, err := direct.Get(ctx, "after").Result()
		if err != nil {
			return fmt.Errorf("GET on %s: %w", replica, err)
		}
		if got != v {
			return fmt.Errorf("write %s went elsewhere (new master has %s)", v, got)
		}
		return nil
	})
	t.Logf("client wrote to the new master after %d tries", n)
	for i := 0; i < 20; i++ {
		got, err := fc.Get(ctx, fmt.Sprint("before", i)).Result()
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i), got)
	}

	// And back: the former master was demoted, so it can be promoted again.
	start = time.Now()
	require.NoError(t, s.Failover(ctx))
	t.Logf("failover back took %v", time.Since(start))
	got, err = s.MasterAddr(ctx)
	require.NoError(t, err)
	require.Equal(t, oldMaster, got)
	eventually(t, 10*time.Second, "read through the failover client", func(ctx context.Context) error {
		got, err := fc.Get(ctx, "after").Result()
		if err == nil && got != strconv.Itoa(n) {
			err = fmt.Errorf("got %q, want %d", got, n)
		}
		return err
	})
}

func TestSentinelKillMaster(t *testing.T) {
	t.Parallel()
	s, err := StartSentinel()
	if err != nil {
		skipOrFail(t, "redis sentinel", err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	fc := failoverClient(s)
	defer fc.Close()
	require.NoError(t, fc.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, fc.Do(ctx, "WAIT", 1, 5000).Err())

	killed, err := s.KillMaster(ctx)
	require.NoError(t, err)
	require.Equal(t, s.data[0].Addr, killed)
	eventually(t, 15*time.Second, "sentinel promotes the replica", func(ctx context.Context) error {
		addr, err := s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if addr != s.data[1].Addr {
			return fmt.Errorf("master is %s", addr)
		}
		return nil
	})
	eventually(t, 10*time.Second, "read through the failover client", func(ctx context.Context) error {
		got, err := fc.Get(ctx, "k").Result()
		if err == nil && got != "v" {
			err = fmt.Errorf("got %q", got)
		}
		return err
	})
	s.Stop()
	s.Stop() // harmless
	for _, srv := range append(s.data, s.sentinel) {
		assert.True(t, srv.exited(), "%s still running", srv.Addr)
	}
}

func TestStartFailsClearlyOnBadConfig(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		skipOrFail(t, "redis-server", ErrNotInstalled)
	}
	_, err := Start("--no-such-option", "1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not start")
	assert.Contains(t, err.Error(), "no-such-option", "the error has the tail of the log")
}

func TestQuoteConf(t *testing.T) {
	assert.Equal(t, `"pw"`, quoteConf("pw"))
	assert.Equal(t, `"a \"b\" \\ \x0a"`, quoteConf("a \"b\" \\ \n"))
}

// fakeTB records how skipOrFail ends a test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...) }

func TestSkipOrFail(t *testing.T) {
	cases := []struct {
		required string
		err      error
		skip     bool
	}{
		{"", ErrNotInstalled, true},
		{"", notInstalled{"redis-cli"}, true},
		{"1", ErrNotInstalled, false},
		{"1", notInstalled{"redis-cli"}, false},
		{"", errors.New("port in use"), false},
	}
	saved := skips.snapshot()
	t.Cleanup(func() { skips.restore(saved) })
	skips.restore(skipState{})
	counted := 0
	for _, c := range cases {
		t.Setenv(RequireEnv, c.required)
		var f fakeTB
		skipOrFail(&f, "redis cluster", c.err)
		if c.skip {
			counted++
			assert.Contains(t, f.skip, c.err.Error())
			assert.Empty(t, f.fatal)
			assert.Contains(t, SkipSummary(), fmt.Sprintf("redistest: %d tests skipped", counted), "every skip counted")
			assert.Contains(t, SkipSummary(), ErrNotInstalled.Error(), "the first reason")
		} else {
			assert.Contains(t, f.fatal, c.err.Error())
			assert.Empty(t, f.skip)
		}
	}
}

func TestClusterMoveSlot(t *testing.T) {
	c := sharedCluster.Get(t)
	ctx := context.Background()
	require.NoError(t, c.FlushAll(ctx))
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, Password: c.Password})
	defer cc.Close()
	const k = "{moving}:1"
	require.NoError(t, cc.Set(ctx, k, "v", 0).Err())
	from := c.MasterFor(k)
	to := c.Addrs[0]
	if to == from {
		to = c.Addrs[1]
	}

	m, err := c.StartSlotMigration(ctx, Slot(k), to)
	require.NoError(t, err)
	moved, err := m.Migrate(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 1, moved)
	got, err := cc.Get(ctx, k).Result()
	require.NoError(t, err, "the client follows ASK while the slot moves")
	require.Equal(t, "v", got)
	require.NoError(t, m.Finish(ctx))
	require.Equal(t, to, c.MasterFor(k), "the slot map is current")
	direct := redis.NewClient(&redis.Options{Addr: to, Password: c.Password})
	defer direct.Close()
	got, err = direct.Get(ctx, k).Result()
	require.NoError(t, err, "the key is on its new master")
	require.Equal(t, "v", got)

	require.NoError(t, c.MoveSlot(ctx, Slot(k), from))
	require.Equal(t, from, c.MasterFor(k))
	got, err = cc.Get(ctx, k).Result()
	require.NoError(t, err, "the client follows MOVED")
	require.Equal(t, "v", got)
}

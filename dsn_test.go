package caches

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/memstore"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// clearEnv removes every CACHES_DSN variable for the test and resets the
// registry before and after it.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CACHES_DSN") {
			t.Setenv(k, "")
		}
	}
	require.NoError(t, Close())
	t.Cleanup(func() { Close() })
}

func TestOpenDSN(t *testing.T) {
	tests := []struct {
		dsn    string
		name   string
		str    string
		client func(t *testing.T, c redis.UniversalClient)
	}{
		{
			dsn: "redis://localhost:6390/2?dial_timeout=3s#sessions", name: "sessions",
			str: "redis://localhost:6390/2?dial_timeout=3s#sessions",
			client: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, "localhost:6390", o.Addr)
				require.Equal(t, 2, o.DB)
				require.Equal(t, 3*time.Second, o.DialTimeout)
				require.Nil(t, o.TLSConfig)
			},
		},
		{
			dsn: "rediss://app:s3cret@cache.internal:6380/0", str: "rediss://app:xxxxx@cache.internal:6380/0",
			client: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.NotNil(t, o.TLSConfig)
				require.Equal(t, "cache.internal", o.TLSConfig.ServerName)
				require.Equal(t, "app", o.Username)
				require.Equal(t, "s3cret", o.Password)
			},
		},
		{
			dsn: "unix:///run/redis.sock?db=1#local", name: "local", str: "unix:///run/redis.sock?db=1#local",
			client: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, "unix", o.Network)
				require.Equal(t, "/run/redis.sock", o.Addr)
				require.Equal(t, 1, o.DB)
			},
		},
		{
			dsn: "redis+cluster://u:s3cret@10.0.0.1:7000,10.0.0.2:7001?read_only=true",
			str: "redis+cluster://u:xxxxx@10.0.0.1:7000,10.0.0.2:7001?read_only=true",
			client: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.ClusterClient).Options()
				require.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7001"}, o.Addrs)
				require.True(t, o.ReadOnly)
				require.Equal(t, "s3cret", o.Password)
			},
		},
		{
			dsn: "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/mymaster/3#ha", name: "ha",
			str: "redis+sentinel://:xxxxx@10.0.0.1:26379,10.0.0.2:26379/mymaster/3#ha",
			client: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, 3, o.DB)
				require.Equal(t, "s3cret", o.Password, "the sentinel credentials serve the master too")
			},
		},
		{dsn: "memory://", str: "memory://"},
		{dsn: "memory://#scratch", name: "scratch", str: "memory://#scratch"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			c, err := Open(tt.dsn)
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, tt.name, c.Name())
			require.Equal(t, tt.str, c.String())
			require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", c, c, c, c), "s3cret")
			if tt.client == nil {
				require.IsType(t, &memstore.Store{}, c.b)
				return
			}
			tt.client(t, c.b.(*redisbackend.Backend).Client())
		})
	}
}

func TestLibOptions(t *testing.T) {
	c, err := Open("redis://localhost:6390")
	require.NoError(t, err)
	require.True(t, c.b.(*redisbackend.Backend).Client().(*redis.Client).Options().ContextTimeoutEnabled, "deadlines bound calls by default")
	c, err = Open("redis+cluster://localhost:7000,localhost:7001?context_timeout_enabled=false")
	require.NoError(t, err)
	require.False(t, c.b.(*redisbackend.Backend).Client().(*redis.ClusterClient).Options().ContextTimeoutEnabled)

	_, err = Open("redis://:s3cret@localhost:6390?ca_cert=/nonexistent.pem")
	require.ErrorContains(t, err, "ca_cert needs TLS")
	_, err = Open("rediss://:s3cret@localhost:6390?ca_cert=/nonexistent.pem")
	require.ErrorContains(t, err, "/nonexistent.pem")
	require.NotContains(t, err.Error(), "s3cret")
	notPEM := t.TempDir() + "/ca.pem"
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	_, err = Open("rediss://localhost:6390?ca_cert=" + notPEM)
	require.ErrorContains(t, err, "no PEM certificate")
	_, err = Open("redis://localhost:6390?context_timeout_enabled=maybe")
	require.ErrorContains(t, err, "context_timeout_enabled")
}

func TestDSNErrors(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{"unknown scheme", "ftp://u:s3cret@host", `unknown scheme "ftp"`},
		{"unknown variant", "redis+ring://u:s3cret@host", `unknown scheme "redis+ring"`},
		{"missing scheme", "u:s3cret@localhost:6379", "missing scheme"},
		{"unknown option", "redis://u:s3cret@host/0?bogus=1", "bogus"},
		{"bad db", "redis://u:s3cret@host/notanumber", "invalid database number"},
		{"bad duration", "redis://u:s3cret@host/0?dial_timeout=soon", "dial_timeout"},
		{"bad port", "redis://u:s3cret@host:port", "malformed URL"},
		{"several hosts", "redis://u:s3cret@h1:1,h2:2", "several hosts"},
		{"sentinel without master", "redis+sentinel://u:s3cret@h1:26379", "master's name"},
		{"cluster with db", "redis+cluster://u:s3cret@h1:7000/3", "no path"},
		{"memory option", "memory://?size=s3cret", `unknown option "size"`},
		{"memory host", "memory://u:s3cret@host", "no host"},
		{"escaped password", "redis://u:s3cret%40x@host/0?bogus=1", "bogus"},
		{"password option", "redis+sentinel://h:26379/m?password=s3cret&nope=1", "nope"},
		{"slash in password", "redis://u:s3cret/x@host:6379/0", "percent-encode"},
		{"question mark in password", "redis://u:s3cret?x@host:6379", "percent-encode"},
		{"hash in password", "redis://u:1234#s3cret@host:6379", "percent-encode"},
		{"numeric password with slash", "redis+sentinel://u:1234/s3cret@host:26379", "percent-encode"},
		{"bad escape in password", "redis://u:s3cret%zz@host", "password"},
		{"memory without slashes, bad option", "memory:?max_keys=-5", "max_keys"},
		{"memory without slashes, user", "memory:u:s3cret@h", "no host"},
		{"option given twice", "memory://?max_keys=-5&max_keys=5", `"max_keys" is given 2 times`},
		{"redis option given twice", "unix:///tmp/x.sock?db=-1&db=1", `"db" is given 2 times`},
		{"invisible name", "memory://#a%E2%80%8Bb", "does not print"},
		{"right-to-left name", "memory://#a%E2%80%AEb", "does not print"},
		{"near not a bool", "redis://u:s3cret@host?near=maybe", "invalid near"},
		{"near option without near", "redis://u:s3cret@host?near_max_entries=5", "near_max_entries needs near=true"},
		{"near option with near=false", "memory://?near=false&near_ttl=1m", "near_ttl needs near=true"},
		{"near bad count", "redis://u:s3cret@host?near=true&near_max_entries=many", "near_max_entries"},
		{"near negative ttl", "redis://u:s3cret@host?near=true&near_ttl=-1s", "near_ttl"},
		{"near bad size", "memory://?near=true&near_max_bytes=lots", "near_max_bytes"},
		{"near unknown option", "redis://u:s3cret@host?near=true&near_size=5", `unknown option "near_size"`},
		{"port 0", "redis://u:s3cret@host:0", "port"},
		{"port 65536", "redis://u:s3cret@host:65536", "port"},
		{"cluster port", "redis+cluster://u:s3cret@a:7000,b:70000", "port"},
		{"sentinel port", "redis+sentinel://u:s3cret@a:0,b:26379/m", "port"},
		{"negative db", "redis://u:s3cret@host/-1", "db"},
		{"negative db option", "unix://u:s3cret@/tmp/redis.sock?db=-1", "db"},
		{"negative sentinel db", "redis+sentinel://u:s3cret@h:26379/m/-1", "db"},
		{"negative max_keys", "memory://?max_keys=-5", "max_keys"},
		{"negative eviction_samples", "memory://?eviction_samples=-1", "eviction_samples"},
		{"max_bytes overflow", "memory://?max_bytes=9999999999gb", "max_bytes"},
		{"empty file", "memory://?file=", "file"},
		{"control character in name", "memory://#a%01b", "#name"},
		{"raw control character in name", "memory://#a\tb", "#name"},
		{"invalid UTF-8 in name", "memory://#a%FFb", "#name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("CACHES_DSN_BROKEN", tt.dsn)
			err := Configure()
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg, "CACHES_DSN_BROKEN", "the error names the variable")
			require.Contains(t, msg, tt.want)
			require.NotContains(t, msg, "s3cret", "the error hides the password")

			_, err = Connection("")
			require.Error(t, err, "every lookup reports the bad configuration")

			_, err = Open(tt.dsn)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestEnvDuplicateNames(t *testing.T) {
	clearEnv(t)
	t.Setenv("CACHES_DSN", "memory://")
	t.Setenv("CACHES_DSN_2", "redis://:s3cret@localhost:6390")
	err := Configure()
	require.ErrorContains(t, err, "CACHES_DSN and CACHES_DSN_2 both define connection (default)")
	require.NotContains(t, err.Error(), "s3cret")

	clearEnv(t)
	t.Setenv("CACHES_DSN_A", "memory://#x")
	t.Setenv("CACHES_DSN_B", "memory://#x")
	require.ErrorContains(t, Configure(), `CACHES_DSN_A and CACHES_DSN_B both define connection "x"`)
}

func TestEnvReadsEveryVariable(t *testing.T) {
	clearEnv(t)
	t.Setenv("CACHES_DSN_1", "memory://#one")
	t.Setenv("CACHES_DSN_3", "memory://#three")
	t.Setenv("CACHES_DSN_FOO", "redis://:s3cret@localhost:6390#foo")
	for _, name := range []string{"one", "three", "foo"} {
		c, err := Connection(name)
		require.NoError(t, err, name)
		require.Equal(t, name, c.Name())
	}
	c, _ := Connection("foo")
	require.Equal(t, "redis://:xxxxx@localhost:6390#foo", c.String())
}

func TestRegistryDefaultIsMemory(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	k := NewKeyCache[string](Options{Prefix: "reg"}).Key("k")
	require.NoError(t, k.Set(ctx, "v"), "no DSN: the default connection is in-process")
	c, err := Connection("")
	require.NoError(t, err)
	require.Equal(t, "memory://", c.String())
	v, _, _ := c.b.Get(ctx, "reg:k")
	require.Equal(t, "v", v)

	_, err = Connection("users")
	require.ErrorIs(t, err, ErrUnknownConnection)
	require.ErrorContains(t, err, `"users"`)
	_, err = NewKeyCache[string](Options{Connection: "users"}).Key("k").Get(ctx)
	require.ErrorIs(t, err, ErrUnknownConnection)
}

func TestRegistryLazyEnv(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	fam := NewKeyCache[string](Options{Prefix: "lazy", Connection: "late"})
	t.Setenv("CACHES_DSN_LATE", "memory://#late")
	require.NoError(t, fam.Key("k").Set(ctx, "v"), "variables are read at first use, not at construction")
}

func TestRegisterAndClose(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	t.Setenv("CACHES_DSN_S", "memory://#s")
	fam := NewKeyCache[string](Options{Prefix: "r"})
	require.NoError(t, fam.Key("k").Set(ctx, "implicit"))

	mine := NewMemoryConn(MemoryOptions{})
	require.NoError(t, Register("", mine), "Register replaces the implicit default")
	_, err := fam.Key("k").Get(ctx)
	require.ErrorIs(t, err, ErrNotFound, "families follow the registry")
	require.NoError(t, fam.Key("k").Set(ctx, "mine"))
	v, _, _ := mine.b.Get(ctx, "r:k")
	require.Equal(t, "mine", v)

	err = Register("", NewMemoryConn(MemoryOptions{}))
	require.ErrorContains(t, err, "already defined by Register")
	err = Register("s", NewMemoryConn(MemoryOptions{}))
	require.ErrorContains(t, err, "already defined by CACHES_DSN_S")

	require.True(t, Unregister(""))
	require.NoError(t, mine.Close())
	replacement := NewMemoryConn(MemoryOptions{})
	require.NoError(t, Register("", replacement))

	require.NoError(t, Close())
	require.NoError(t, Close(), "Close is idempotent")
	_, err = replacement.backend()
	require.ErrorIs(t, err, ErrClosed, "Close closed the registered connection")
	require.NoError(t, fam.Key("k").Set(ctx, "after"), "after Close the registry starts again")
}

// TestRegisterRacesString shows that Register may rename a connection while
// other goroutines describe it (run with -race).
func TestRegisterRacesString(t *testing.T) {
	clearEnv(t)
	c := NewMemoryConn(MemoryOptions{})
	t.Cleanup(func() { c.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			name := fmt.Sprint("race", i)
			if err := Register(name, c); err != nil {
				t.Error(err)
				return
			}
			Unregister(name)
		}
	}()
	for range 1000 {
		if s, n := c.String(), c.Name(); !strings.HasPrefix(s, "memory://") || (n != "" && !strings.HasPrefix(n, "race")) {
			t.Fatalf("String %q, Name %q", s, n)
		}
	}
	<-done
	require.Equal(t, "race99", c.Name())
	require.Equal(t, "memory://#race99", c.String())
}

// TestDSNStringHidesUserOnlyInfo checks that a userinfo without ':', which
// may be a token meant as a password, is not shown by String.
func TestDSNStringHidesUserOnlyInfo(t *testing.T) {
	c, err := Open("redis://T0kenS3cret@localhost:6379/0")
	require.NoError(t, err)
	defer c.Close()
	require.NotContains(t, c.String(), "T0kenS3cret")
	require.Equal(t, "redis://xxxxx@localhost:6379/0", c.String())
}

// TestMemoryDSNWithoutSlashes checks that memory:?… reads its options as
// memory://?… does.
func TestMemoryDSNWithoutSlashes(t *testing.T) {
	c, err := Open("memory:?max_keys=10")
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "memory://?max_keys=10", c.String())
}

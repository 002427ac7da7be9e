package systemtest

import (
	"context"
	"os"
	"testing"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// The real servers shared by this package's tests: a single redis-server,
// and a master with a replica behind a sentinel (with a password, which the
// DSN gives both the sentinel and the master). Tests that crash, pause or
// reshard a server start their own.
var (
	realRedis    redistest.Shared
	realSentinel = redistest.SharedSentinel{Password: "sentinel-secret"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.ReportSkips()
	realRedis.Stop()
	realSentinel.Stop()
	os.Exit(code)
}

// faultsFullEnv selects the full-length fault and limit runs.
const faultsFullEnv = "CACHES_FAULTS_FULL"

func faultsFull() bool { return os.Getenv(faultsFullEnv) == "1" }

// sharedRedisClient returns a client of the shared redis-server, flushed,
// closed when t ends.
func sharedRedisClient(t *testing.T, opts redis.Options) *redis.Client {
	t.Helper()
	opts.Addr = realRedis.Get(t).Addr
	client := redis.NewClient(&opts)
	t.Cleanup(func() { client.Close() })
	if err := client.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	return client
}

// sentinelConn opens a connection to the shared sentinel's master through a
// redis+sentinel DSN, closed when t ends, after flushing the master.
func sentinelConn(t *testing.T) *caches.Conn {
	t.Helper()
	s := realSentinel.Get(t)
	ctx := context.Background()
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	master := redis.NewClient(&redis.Options{Addr: addr, Password: s.Password})
	defer master.Close()
	if err := master.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	conn, err := caches.Open("redis+sentinel://:" + s.Password + "@" + s.SentinelAddr + "/" + s.MasterName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

package redisbackend

import (
	"os"
	"testing"

	"github.com/gocaches/caches/internal/redistest"
)

// The real servers shared by this package's tests: a single redis-server, a
// 3-master cluster, and a master with a replica behind a sentinel (with a
// password, which the DSN gives both the sentinel and the master).
var (
	realRedis    redistest.Shared
	realCluster  redistest.SharedCluster
	realSentinel = redistest.SharedSentinel{Password: "sentinel-secret"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.ReportSkips()
	realRedis.Stop()
	realCluster.Stop()
	realSentinel.Stop()
	os.Exit(code)
}

package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel timings, in milliseconds: short so that a failover takes
// seconds; see [Sentinel.Failover] and [Sentinel.KillMaster].
const (
	downAfter       = 1000
	failoverTimeout = 5000
)

// Sentinel is a master, one replica and one sentinel that monitors them,
// each a redis-server process on loopback. One password (if any) guards
// the data nodes and the sentinel.
type Sentinel struct {
	MasterName   string // the name the sentinel monitors: "mymaster"
	SentinelAddr string // the sentinel, host:port
	Password     string // of the data nodes and of the sentinel, or ""

	data     []*Server // the first master and its replica
	sentinel *Server

	stopOnce sync.Once
}

// SentinelOption configures [StartSentinel].
type SentinelOption func(*sentinelConfig)

type sentinelConfig struct {
	password string
}

// WithPassword makes the data nodes ("--requirepass", "--masterauth") and
// the sentinel ("requirepass", "sentinel auth-pass") use password.
func WithPassword(password string) SentinelOption {
	return func(c *sentinelConfig) { c.password = password }
}

// StartSentinel starts a master, a replica of it and a sentinel that
// monitors them as "mymaster" with quorum 1. It returns once the replica is
// in sync and the sentinel names the master and has discovered the
// replica, or fails after about ten seconds each.
func StartSentinel(opts ...SentinelOption) (*Sentinel, error) {
	var cfg sentinelConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := &Sentinel{MasterName: "mymaster", Password: cfg.password}
	if err := s.startData(); err != nil {
		s.Stop()
		return nil, err
	}
	master := s.data[0]
	sen, err := startServer(serverConfig{password: s.Password}, s.sentinelArgs(master.Addr))
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.sentinel, s.SentinelAddr = sen, sen.Addr
	if err := s.waitMonitoring(10 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// startData starts the master and its replica, and waits until the replica
// is in sync.
func (s *Sentinel) startData() error {
	// Either node may become master: neither delays a replica's full sync
	// (diskless sync waits five seconds for more replicas by default).
	auth := append([]string{"--repl-diskless-sync-delay", "0"}, passwordArgs(s.Password)...)
	master, err := Start(auth...)
	if err != nil {
		return err
	}
	s.data = append(s.data, master)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica, err := Start(append([]string{"--replicaof", host, port}, auth...)...)
	if err != nil {
		return err
	}
	s.data = append(s.data, replica)
	err = poll(context.Background(), 10*time.Second, func(ctx context.Context) error {
		return s.inSync(ctx, replica, master.Addr, 0)
	})
	if err != nil {
		return replica.errorf("did not sync with master "+master.Addr, fmt.Errorf("%w\nmaster log:\n%s", err, master.logTail()))
	}
	return nil
}

// sentinelArgs writes the sentinel's configuration into its directory (the
// sentinel rewrites it) and returns its command line.
func (s *Sentinel) sentinelArgs(masterAddr string) argsFunc {
	return func(port int, dir string) ([]string, error) {
		host, mport, _ := net.SplitHostPort(masterAddr)
		lines := []string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"daemonize no",
			"dir " + quoteConf(dir),
			"sentinel resolve-hostnames no",
			fmt.Sprintf("sentinel monitor %s %s %s 1", s.MasterName, host, mport),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.MasterName, downAfter),
			fmt.Sprintf("sentinel failover-timeout %s %d", s.MasterName, failoverTimeout),
		}
		if s.Password != "" {
			lines = append(lines,
				fmt.Sprintf("sentinel auth-pass %s %s", s.MasterName, quoteConf(s.Password)),
				"requirepass "+quoteConf(s.Password))
		}
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		return []string{conf, "--sentinel"}, nil
	}
}

// quoteConf quotes v for a redis configuration file.
func quoteConf(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// waitMonitoring waits until the sentinel names the first master and lists
// the replica as connected with its master link up.
func (s *Sentinel) waitMonitoring(limit time.Duration) error {
	sc := s.sentinelClient()
	defer sc.Close()
	master, replica := s.data[0].Addr, s.data[1].Addr
	err := poll(context.Background(), limit, func(ctx context.Context) error {
		addr, err := s.masterAddr(ctx, sc)
		if err != nil {
			return err
		}
		if addr != master {
			return fmt.Errorf("sentinel names master %s, want %s", addr, master)
		}
		return s.replicaKnown(ctx, sc, replica)
	})
	if err != nil {
		return fmt.Errorf("redistest: sentinel on %s did not start monitoring %s: %w\n%s",
			s.SentinelAddr, s.MasterName, err, s.sentinel.logTail())
	}
	return nil
}

// replicaKnown checks that the sentinel lists addr as a healthy replica.
func (s *Sentinel) replicaKnown(ctx context.Context, sc *redis.SentinelClient, addr string) error {
	replicas, err := sc.Replicas(ctx, s.MasterName).Result()
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if net.JoinHostPort(r["ip"], r["port"]) != addr {
			continue
		}
		if flags := r["flags"]; flags != "slave" {
			return fmt.Errorf("sentinel lists replica %s with flags %q", addr, flags)
		}
		if st := r["master-link-status"]; st != "ok" {
			return fmt.Errorf("sentinel lists replica %s with master-link-status %q", addr, st)
		}
		return nil
	}
	return fmt.Errorf("sentinel does not list replica %s yet", addr)
}

// MasterAddr asks the sentinel for the current master's address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := s.sentinelClient()
	defer sc.Close()
	return s.masterAddr(ctx, sc)
}

func (s *Sentinel) masterAddr(ctx context.Context, sc *redis.SentinelClient) (string, error) {
	r, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("SENTINEL get-master-addr-by-name %s on %s: %w", s.MasterName, s.SentinelAddr, err)
	}
	if len(r) != 2 {
		return "", fmt.Errorf("SENTINEL get-master-addr-by-name %s on %s answered %q", s.MasterName, s.SentinelAddr, r)
	}
	return net.JoinHostPort(r[0], r[1]), nil
}

// Failover makes the sentinel promote the replica, and waits until the
// sentinel names it as master and it reports ROLE master (so it accepts
// writes); it then makes the former master its replica (see below). It
// first waits until the replica has everything the master acknowledged,
// so no acknowledged write is lost. It gives up after 15 seconds.
//
// The sentinel itself would reconfigure the former master only about ten
// seconds after the switch; until then that server would still accept
// writes from clients that have not switched yet, and later discard them.
// Failover demotes it at once instead, so such writes fail with READONLY
// (on which go-redis reconnects through the sentinel) and a second
// Failover can follow as soon as the former master has resynced.
func (s *Sentinel) Failover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sc := s.sentinelClient()
	defer sc.Close()
	old, err := s.masterAddr(ctx, sc)
	if err != nil {
		return fmt.Errorf("redistest: failover: %w", err)
	}
	target := s.other(old)
	if target == nil {
		return fmt.Errorf("redistest: failover: sentinel names master %s, not one of this setup's servers", old)
	}
	steps := []struct {
		what  string
		check func(context.Context) error
	}{
		{"wait for replica " + target.Addr + " to catch up", func(ctx context.Context) error {
			return s.caughtUp(ctx, target, old)
		}},
		{"SENTINEL FAILOVER " + s.MasterName, func(ctx context.Context) error {
			return s.requestFailover(ctx, sc, target.Addr)
		}},
		{"wait for " + target.Addr + " to be master", func(ctx context.Context) error {
			return s.promoted(ctx, sc, target)
		}},
		{"make " + old + " a replica of " + target.Addr, func(ctx context.Context) error {
			return s.demote(ctx, old, target.Addr)
		}},
	}
	for _, st := range steps {
		if err := poll(ctx, 15*time.Second, st.check); err != nil {
			return fmt.Errorf("redistest: sentinel on %s: failover of %s from %s to %s: %s: %w\n%s",
				s.SentinelAddr, s.MasterName, old, target.Addr, st.what, err, s.sentinel.logTail())
		}
	}
	return nil
}

// requestFailover sends SENTINEL FAILOVER, to be retried while the sentinel
// is busy or does not yet consider the replica good.
func (s *Sentinel) requestFailover(ctx context.Context, sc *redis.SentinelClient, target string) error {
	if addr, err := s.masterAddr(ctx, sc); err == nil && addr == target {
		return nil // a failover already happened (e.g. automatically)
	}
	err := sc.Failover(ctx, s.MasterName).Err()
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "INPROG") || strings.HasPrefix(msg, "NOGOODSLAVE") || ctx.Err() != nil {
		return err
	}
	return errStop{err}
}

// promoted checks that the sentinel names target as master and that
// target reports ROLE master.
func (s *Sentinel) promoted(ctx context.Context, sc *redis.SentinelClient, target *Server) error {
	addr, err := s.masterAddr(ctx, sc)
	if err != nil {
		return err
	}
	if addr != target.Addr {
		return fmt.Errorf("sentinel still names %s as master", addr)
	}
	c := s.client(target.Addr)
	defer c.Close()
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return fmt.Errorf("ROLE on %s: %w", target.Addr, err)
	}
	if len(role) == 0 || role[0] != "master" {
		return fmt.Errorf("ROLE on %s is %v", target.Addr, role)
	}
	return nil
}

// demote makes the former master a replica of the new one at once, as the
// sentinel would only some seconds later: until then it would still accept
// writes from clients that have not yet switched, and lose them when it
// is reconfigured. Writes to it now fail with READONLY, on which go-redis
// drops the connection and asks the sentinel again.
func (s *Sentinel) demote(ctx context.Context, old, newMaster string) error {
	host, port, _ := net.SplitHostPort(newMaster)
	c := s.client(old)
	defer c.Close()
	if err := c.SlaveOf(ctx, host, port).Err(); err != nil {
		return fmt.Errorf("REPLICAOF %s %s on %s: %w", host, port, old, err)
	}
	return nil
}

// caughtUp checks that replica is a replica of masterAddr with its link up
// and has processed the master's replication stream up to now.
func (s *Sentinel) caughtUp(ctx context.Context, replica *Server, masterAddr string) error {
	m := s.client(masterAddr)
	defer m.Close()
	info, err := m.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO on master %s: %w", masterAddr, err)
	}
	offset, err := strconv.ParseInt(infoFields(info)["master_repl_offset"], 10, 64)
	if err != nil {
		return fmt.Errorf("INFO on master %s: master_repl_offset: %w", masterAddr, err)
	}
	return s.inSync(ctx, replica, masterAddr, offset)
}

// inSync checks that replica replicates masterAddr with its link up and
// has processed the replication stream up to offset.
func (s *Sentinel) inSync(ctx context.Context, replica *Server, masterAddr string, offset int64) error {
	c := s.client(replica.Addr)
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO on replica %s: %w", replica.Addr, err)
	}
	f := infoFields(info)
	if got := net.JoinHostPort(f["master_host"], f["master_port"]); f["role"] != "slave" || got != masterAddr {
		return fmt.Errorf("%s has role %q of master %s, want a replica of %s", replica.Addr, f["role"], got, masterAddr)
	}
	if f["master_link_status"] != "up" {
		return fmt.Errorf("%s has master_link_status:%s", replica.Addr, f["master_link_status"])
	}
	if got, _ := strconv.ParseInt(f["slave_repl_offset"], 10, 64); got < offset {
		return fmt.Errorf("%s is at replication offset %d, master at %d", replica.Addr, got, offset)
	}
	return nil
}

// KillMaster sends SIGKILL to the current master (as the sentinel names
// it) and returns its address. The sentinel notices after about a second
// and promotes the replica a few seconds later; poll [Sentinel.MasterAddr]
// to wait for that. [Sentinel.Stop] still cleans up after the dead server;
// [Sentinel.Failover] has no replica left to promote.
func (s *Sentinel) KillMaster(ctx context.Context) (string, error) {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return "", fmt.Errorf("redistest: kill master: %w", err)
	}
	for _, d := range s.data {
		if d.Addr == addr {
			d.kill()
			return addr, nil
		}
	}
	return "", fmt.Errorf("redistest: kill master: sentinel names master %s, not one of this setup's servers", addr)
}

// other returns the data node that is not at addr, or nil when addr is not
// one of them.
func (s *Sentinel) other(addr string) *Server {
	switch addr {
	case s.data[0].Addr:
		return s.data[1]
	case s.data[1].Addr:
		return s.data[0]
	}
	return nil
}

// Stop stops the sentinel, then the data nodes, and removes their
// directories. Stopping twice is harmless.
func (s *Sentinel) Stop() {
	s.stopOnce.Do(func() {
		if s.sentinel != nil {
			s.sentinel.Stop()
		}
		for _, d := range s.data {
			d.Stop()
		}
	})
}

func (s *Sentinel) sentinelClient() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.SentinelAddr, Password: s.Password, MaxRetries: -1})
}

func (s *Sentinel) client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: s.Password, MaxRetries: -1})
}

// SharedSentinel is a sentinel setup started on first use and shared by a
// test binary's tests; TestMain stops it with [SharedSentinel.Stop].
type SharedSentinel struct {
	Password string // when set, the data nodes and the sentinel require it

	once sync.Once
	s    *Sentinel
	err  error
}

// Get returns the shared setup, starting it on first use. When it cannot
// start, the test is skipped, or failed if [Required].
func (sh *SharedSentinel) Get(tb testing.TB) *Sentinel {
	tb.Helper()
	sh.once.Do(func() { sh.s, sh.err = StartSentinel(WithPassword(sh.Password)) })
	if sh.err != nil {
		skipOrFail(tb, "redis sentinel", sh.err)
	}
	return sh.s
}

// Stop stops the shared setup if it was started.
func (sh *SharedSentinel) Stop() {
	if sh.s != nil {
		sh.s.Stop()
	}
}

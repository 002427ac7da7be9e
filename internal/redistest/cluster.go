package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is the cluster-node-timeout of cluster nodes, in
// milliseconds: short, yet long enough that a loaded test machine does not
// make nodes mark each other failed.
const clusterNodeTimeout = 5000

// Cluster is a Redis cluster of masters without replicas, each one
// redis-server process on loopback.
type Cluster struct {
	Addrs    []string // the masters, host:port, in the order they were started
	Password string   // the "--requirepass" of the extra args, or ""

	nodes []*Server
	slots []slotRange // the slot map the nodes agreed on, sorted

	stopOnce sync.Once
}

// slotRange is a range of slots, both ends included, and its master.
type slotRange struct {
	start, end int
	addr       string
}

// StartCluster starts masters (at least 3) cluster-enabled redis-servers
// with persistence off and the extra configuration args (e.g.
// "--requirepass", "pw", "--masterauth", "pw"), joins them with
// redis-cli --cluster create and waits up to ten seconds until every node
// reports cluster_state:ok and all agree on the slot map.
func StartCluster(masters int, extra ...string) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNotInstalled
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, notInstalled{"redis-cli"}
	}
	c := &Cluster{Password: passwordOf(extra)}
	for i := 0; i < masters; i++ {
		s, err := startServer(serverConfig{password: c.Password}, clusterArgs(extra))
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes = append(c.nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	if err := c.create(cli); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.waitAgreed(10 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// clusterArgs builds a cluster node's command line: the cluster bus gets
// its own free port (the default, port+10000, may be taken or above 65535).
func clusterArgs(extra []string) argsFunc {
	return func(port int, dir string) ([]string, error) {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		bus := ports[0]
		if bus == port {
			bus = ports[1]
		}
		args := append(baseArgs(port, dir),
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout))
		return append(args, extra...), nil
	}
}

// ansi matches the colour codes in redis-cli's output.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// create joins the nodes with redis-cli --cluster create, giving it at most
// twenty seconds.
func (c *Cluster) create(cli string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = os.Environ()
	if c.Password != "" {
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+c.Password) // not in argv
	}
	out, err := cmd.CombinedOutput()
	if err == nil && !strings.Contains(string(out), "[ERR]") {
		return nil
	}
	if err == nil {
		err = errors.New("it reported an error")
	}
	return fmt.Errorf("redistest: redis-cli --cluster create %s: %w\n%s%s",
		strings.Join(c.Addrs, " "), err, tailLines(ansi.ReplaceAllString(string(out), ""), 15), c.logTails())
}

// waitAgreed waits until every node reports cluster_state:ok with all
// slots served and every node knowing all others, and all nodes report the
// same slot map over the cluster's addresses; it keeps that map.
func (c *Cluster) waitAgreed(limit time.Duration) error {
	clients := make([]*redis.Client, len(c.nodes))
	for i, s := range c.nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr, Password: c.Password, MaxRetries: -1})
		defer clients[i].Close()
	}
	var bad *Server // the node that is not ready, for the error report
	err := poll(context.Background(), limit, func(ctx context.Context) error {
		var first []slotRange
		for i, cl := range clients {
			bad = c.nodes[i]
			if err := c.nodeOK(ctx, cl); err != nil {
				return err
			}
			slots, err := c.slotMap(ctx, cl)
			if err != nil {
				return err
			}
			if i == 0 {
				first = slots
			} else if !slices.Equal(first, slots) {
				return fmt.Errorf("its slot map %v differs from %s's %v", slots, c.Addrs[0], first)
			}
		}
		c.slots = first
		return nil
	})
	if err != nil {
		return bad.errorf("did not join the cluster", err)
	}
	return nil
}

// nodeOK checks one node's CLUSTER INFO.
func (c *Cluster) nodeOK(ctx context.Context, cl *redis.Client) error {
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	fields := infoFields(info)
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_ok":       strconv.Itoa(SlotCount),
		"cluster_known_nodes":    strconv.Itoa(len(c.nodes)),
		"cluster_size":           strconv.Itoa(len(c.nodes)),
		"cluster_slots_assigned": strconv.Itoa(SlotCount),
	}
	for k, v := range want {
		if fields[k] != v {
			return fmt.Errorf("CLUSTER INFO has %s:%s, want %s", k, fields[k], v)
		}
	}
	return nil
}

// slotMap reads a node's CLUSTER SLOTS, sorted, and checks that it covers
// every slot with masters of this cluster.
func (c *Cluster) slotMap(ctx context.Context, cl *redis.Client) ([]slotRange, error) {
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	var m []slotRange
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			return nil, fmt.Errorf("CLUSTER SLOTS has no node for slots %d-%d", s.Start, s.End)
		}
		addr := s.Nodes[0].Addr
		if !slices.Contains(c.Addrs, addr) {
			return nil, fmt.Errorf("CLUSTER SLOTS names %q for slots %d-%d, not one of %v", addr, s.Start, s.End, c.Addrs)
		}
		m = append(m, slotRange{s.Start, s.End, addr})
	}
	sort.Slice(m, func(i, j int) bool { return m[i].start < m[j].start })
	next := 0
	for _, r := range m {
		if r.start != next {
			return nil, fmt.Errorf("CLUSTER SLOTS does not cover slot %d", next)
		}
		next = r.end + 1
	}
	if next != SlotCount {
		return nil, fmt.Errorf("CLUSTER SLOTS does not cover slot %d", next)
	}
	return m, nil
}

// MasterFor returns the address of the master that serves key's slot, by
// the slot map the nodes last agreed on (at start, or after
// [SlotMigration.Finish]).
func (c *Cluster) MasterFor(key string) string {
	return c.slotMaster(Slot(key))
}

// slotMaster returns the address of the master that serves slot.
func (c *Cluster) slotMaster(slot int) string {
	i := sort.Search(len(c.slots), func(i int) bool { return c.slots[i].end >= slot })
	return c.slots[i].addr
}

// FlushAll runs FLUSHALL on every master.
func (c *Cluster) FlushAll(ctx context.Context) error {
	var errs []error
	for _, addr := range c.Addrs {
		cl := redis.NewClient(&redis.Options{Addr: addr, Password: c.Password})
		if err := cl.FlushAll(ctx).Err(); err != nil {
			errs = append(errs, fmt.Errorf("redistest: FLUSHALL on cluster node %s: %w", addr, err))
		}
		cl.Close()
	}
	return errors.Join(errs...)
}

// Stop stops every node and removes their directories. Stopping twice is
// harmless.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		for _, s := range c.nodes {
			s.Stop()
		}
	})
}

// logTails returns the tail of every node's log, for error reports.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, s := range c.nodes {
		fmt.Fprintf(&b, "\nlog of %s:\n%s", s.Addr, s.logTail())
	}
	return b.String()
}

// SharedCluster is a 3-master cluster started on first use and shared by a
// test binary's tests; TestMain stops it with [SharedCluster.Stop].
type SharedCluster struct {
	Password string // when set, every node requires it

	once sync.Once
	c    *Cluster
	err  error
}

// Get returns the shared cluster, starting it on first use. When it cannot
// start, the test is skipped, or failed if [Required].
func (sh *SharedCluster) Get(tb testing.TB) *Cluster {
	tb.Helper()
	sh.once.Do(func() { sh.c, sh.err = StartCluster(3, passwordArgs(sh.Password)...) })
	if sh.err != nil {
		skipOrFail(tb, "redis cluster", sh.err)
	}
	return sh.c
}

// Stop stops the shared cluster if it was started.
func (sh *SharedCluster) Stop() {
	if sh.c != nil {
		sh.c.Stop()
	}
}

// passwordArgs are the data-node args for password: clients and replicas
// (which may become masters) both use it.
func passwordArgs(password string) []string {
	if password == "" {
		return nil
	}
	return []string{"--requirepass", password, "--masterauth", password}
}

// infoFields parses the "key:value" lines of INFO or CLUSTER INFO.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

package caches

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/memstore"
	"github.com/gocaches/caches/internal/near"
	"github.com/gocaches/caches/internal/redisbackend"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

// Conn is a connection the caches use: a Redis deployment reached through
// go-redis, or an in-process store. A Conn is safe for concurrent use and is
// meant to live as long as the program; families resolve theirs by name
// through the registry ([Register], the CACHES_DSN variables) or take one
// directly in [Options.Conn].
type Conn struct {
	// name is nil for the default connection; Register sets it while
	// String may read it.
	name atomic.Pointer[string]
	desc string // what String returns; never holds a password
	b    backend.Backend
	mem  *memstore.Store // the in-process store, for memory connections

	namespace bool                  // made by Namespace: b is a key space within another's
	client    redis.UniversalClient // the go-redis client of a Redis connection; nil for others

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	families familySet     // the families that use it, by key prefix
	scope    atomic.Uint64 // set by WithConn: the scope of its coalesced loads
	nears    *nearSet      // the near caches of a Redis connection; nil for others
	nearAll  *NearOptions  // a near cache for every family without Options.Near (the DSN near options)
}

// NewRedisConn returns a connection over an existing go-redis client (a
// *redis.Client, *redis.ClusterClient, *redis.Ring or failover client). The
// caller keeps ownership of client: closing the Conn does not close it.
//
// Calls from concurrent goroutines share round trips through go-redis's
// automatic pipeline (see [RedisOptions]); a client that has none, or
// whose pipeline go-redis refuses to start, is used through its
// connection pool, one round trip per call.
func NewRedisConn(client redis.UniversalClient) *Conn {
	c, err := NewRedisConnWithOptions(client, RedisOptions{})
	if err != nil {
		c, _ = NewRedisConnWithOptions(client, RedisOptions{NoAutoPipeline: true})
	}
	return c
}

// RedisOptions configure a connection over go-redis. The zero value is the
// default: automatic pipelining on, flushing as soon as it can. The same
// options are the autopipeline, autopipeline_max_batch and
// autopipeline_window options of a DSN (see [Open]). A client given to
// [NewRedisConnWithOptions] pipelines through go-redis's automatic
// pipeline, so that its hooks see every command; a single-server
// connection opened from a DSN uses the library's own pipeline instead.
type RedisOptions struct {
	// NoAutoPipeline turns automatic pipelining off: each call takes a
	// connection of its own from the client's pool for its round trip.
	// With it on (the default), the single commands and scripts of
	// concurrent calls share round trips on the client's automatic
	// pipeline (go-redis's AsyncAutoPipeline, in submit order), which
	// multiplies throughput under load; transactions, batches (GetMany,
	// SetMany) and the SCAN of Invalidate keep the pool. A call's context
	// still bounds its wait: when it ends, the call returns its error at
	// once and its command, if already queued, may still run.
	NoAutoPipeline bool
	// AutoPipelineMaxBatch is the most commands one flush writes (a soft
	// bound). Zero or less: 200.
	AutoPipelineMaxBatch int
	// AutoPipelineWindow is how long the pipeline waits after a flush for
	// more commands: deeper batches, at up to that much added latency per
	// call. Zero or less: no wait.
	AutoPipelineWindow time.Duration
}

// NewRedisConnWithOptions is [NewRedisConn] with options. It fails when
// go-redis refuses the pipeline the options ask for.
func NewRedisConnWithOptions(client redis.UniversalClient, opts RedisOptions) (*Conn, error) {
	rb, err := redisbackend.New(client, false, redisbackend.Options{
		NoAutoPipeline: opts.NoAutoPipeline,
		MaxBatch:       opts.AutoPipelineMaxBatch,
		Window:         opts.AutoPipelineWindow,
	})
	if err != nil {
		return nil, err
	}
	return newBackendConn(rb), nil
}

// newBackendConn returns a connection over the go-redis adapter rb.
func newBackendConn(rb *redisbackend.Backend) *Conn {
	c := &Conn{desc: fmt.Sprintf("redis client %T", rb.Client()), b: rb, client: rb.Client()}
	if topo, ok := near.ClientTopology(rb.Client()); ok {
		c.nears = &nearSet{conn: c, topo: topo}
	}
	return c
}

// MemoryOptions configure an in-process store. The zero value is the
// default: unbounded, not persisted, on the real clock.
type MemoryOptions struct {
	// Now is the store's clock, used for every expiry decision. Default:
	// time.Now. Tests pass a clock they can move (see package cachestest).
	Now func() time.Time

	// MaxKeys bounds the number of keys; MaxBytes bounds the estimated size
	// of keys and values (128 bytes per key and 64 per field or member,
	// plus their lengths). A write that goes past a bound evicts keys by
	// approximate LRU, as Redis's allkeys-lru does: it samples
	// EvictionSamples keys (default 5) and evicts the least recently used.
	// Zero or less: no bound. On Redis, the same is maxmemory with
	// maxmemory-policy allkeys-lru.
	MaxKeys         int
	MaxBytes        int64
	EvictionSamples int

	// File, when set, persists the store: [OpenMemory] loads it, and the
	// store saves it at its SavePoints, on [Conn.Save] and on Close. Each
	// save writes a new temporary file of its own next to File, created
	// exclusively with mode 0600, fsyncs it, renames it over File and
	// fsyncs the directory, so a crash never leaves a file that cannot be
	// loaded, and File is always a fresh file of mode 0600, never written
	// through a link. The store holds File from OpenMemory to Close by a
	// lock on File+".lock" (flock; not on systems without it, Windows among
	// them): a second store on File, in this process or another, is
	// refused with an error naming it. File's directory must exist; a File
	// that is not a regular file (a named pipe, a device) is refused.
	// Expiries are kept as absolute deadlines. Default: not persisted.
	File string
	// SavePoints trigger automatic saves (see [SavePoint]). Default (nil):
	// 1 change in 15 minutes, 10 in 5 minutes, 10,000 in 1 minute; an
	// empty, non-nil slice: no automatic saves.
	SavePoints []SavePoint
}

// SavePoint is one automatic-save rule of [MemoryOptions.SavePoints], the
// rule of one line "save <seconds> <changes>" of redis.conf: the store
// saves itself once at least Changes writes have been made since the last
// save and at least Within has passed since it, where the last save is the
// start of the last successful one or, before any, the opening of the
// store. Time is that of [MemoryOptions.Now]: automatic saves follow that
// clock, so a test that moves it triggers them. After a failed save, the
// next automatic one waits five seconds, as Redis does.
type SavePoint struct {
	// Changes is the number of writes, counted as
	// [MemoryStats.Changes] counts them; below 1 counts as 1.
	Changes int
	// Within is the time since the last save; 0 or less does not wait.
	Within time.Duration
}

// memSavePoints converts points for the in-process store, keeping nil (the
// defaults) apart from empty (no automatic saves).
func memSavePoints(points []SavePoint) []memstore.SavePoint {
	if points == nil {
		return nil
	}
	out := make([]memstore.SavePoint, len(points))
	for i, p := range points {
		out[i] = memstore.SavePoint(p)
	}
	return out
}

// NewMemoryConn returns a connection to a new, empty in-process store that
// behaves like Redis for every command the caches use. Its expired keys are
// reclaimed by a background goroutine that Close stops. It panics if
// opts.File is set, because loading a file can fail: use [OpenMemory].
func NewMemoryConn(opts MemoryOptions) *Conn {
	if opts.File != "" {
		panic("caches: NewMemoryConn with a File: use OpenMemory")
	}
	c, _ := OpenMemory(opts)
	return c
}

// OpenMemory returns a connection to an in-process store, loaded from
// opts.File when that is set (a missing file starts empty; a file that
// cannot be read or is corrupt is an error naming it, and is left as it
// was).
func OpenMemory(opts MemoryOptions) (*Conn, error) {
	c := &Conn{desc: memoryDesc(opts)}
	m, err := memstore.Open(memstore.Options{
		Now: opts.Now, MaxKeys: opts.MaxKeys, MaxBytes: opts.MaxBytes,
		EvictionSamples: opts.EvictionSamples, OnEvict: c.families.evicted,
		Path: opts.File, SavePoints: memSavePoints(opts.SavePoints),
		OnAutoSaveError: c.autoSaveFailed,
	})
	if err != nil {
		return nil, fmt.Errorf("caches: file: %w", err)
	}
	c.b, c.mem = m, m
	return c, nil
}

// autoSaveFailed logs the failure of an in-process store's automatic save.
func (c *Conn) autoSaveFailed(err error) {
	logEvent(slog.LevelError, "caches: automatic save failed", slog.String("connection", c.Name()), slog.String("error", err.Error()))
}

// memoryDesc describes an in-process store as its DSN.
func memoryDesc(o MemoryOptions) string {
	q := url.Values{}
	if o.File != "" {
		q.Set("file", o.File)
	}
	if o.MaxKeys > 0 {
		q.Set("max_keys", strconv.Itoa(o.MaxKeys))
	}
	if o.MaxBytes > 0 {
		q.Set("max_bytes", strconv.FormatInt(o.MaxBytes, 10))
	}
	if len(q) == 0 {
		return "memory://"
	}
	return "memory://?" + q.Encode()
}

// Save writes an in-process store with a File to it now. It returns an
// error for other connections.
func (c *Conn) Save() error {
	if c.mem == nil {
		return fmt.Errorf("caches: Save: %s is not an in-process store", c)
	}
	return c.mem.Save()
}

// MemoryStats describes an in-process store.
type MemoryStats struct {
	Keys      int       // live keys
	UsedBytes int64     // estimated size, as bounded by MaxBytes
	Evictions uint64    // keys evicted by a bound
	Changes   int64     // writes since the last save
	LastSave  time.Time // zero before the first save
}

// MemoryStats returns the statistics of an in-process store; ok is false
// for other connections.
func (c *Conn) MemoryStats() (stats MemoryStats, ok bool) {
	if c.mem == nil {
		return stats, false
	}
	m := c.mem
	return MemoryStats{Keys: m.DBSize(), UsedBytes: m.UsedBytes(), Evictions: m.Evictions(),
		Changes: m.Changes(), LastSave: m.LastSave()}, true
}

// Name returns the connection's name: the DSN fragment, the name it was
// registered under, or "" for the default connection.
func (c *Conn) Name() string {
	if p := c.name.Load(); p != nil {
		return *p
	}
	return ""
}

// setName sets the name that Name returns.
func (c *Conn) setName(name string) { c.name.Store(&name) }

// String describes the connection without its password, e.g.
// "redis://app:xxxxx@cache:6379/0#sessions".
func (c *Conn) String() string {
	name := c.Name()
	if name == "" {
		return c.desc
	}
	return c.desc + "#" + name
}

// GoString is String, so that %#v never prints a password either.
func (c *Conn) GoString() string { return "caches.Conn(" + c.String() + ")" }

// Close releases the connection. Closing twice is not an error: later calls
// return what the first returned. Operations on a closed connection fail
// with an error wrapping [ErrClosed].
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.nears != nil {
			c.nears.close()
		}
		c.closeErr = c.b.Close()
	})
	return c.closeErr
}

// Ping checks that the connection answers: on Redis a PING to the server
// (to every shard, masters and replicas, of a Cluster or Ring), bounded by
// ctx and the DSN's dial_timeout and max_retries; an in-process store
// always answers. Its error names the connection and its hosts, never a
// password, and wraps go-redis's. A closed connection returns an error
// wrapping [ErrClosed]. [Verify] pings every configured connection.
func (c *Conn) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return c.pingErr(ErrClosed)
	}
	if c.client == nil {
		return nil
	}
	if err := pingClient(ctx, c.client); err != nil {
		return c.pingErr(err)
	}
	return nil
}

// pingErr is the error of a failed Ping: the connection's name and
// description (hosts, never a password), and err.
func (c *Conn) pingErr(err error) error {
	return fmt.Errorf("caches: connection %s (%s): ping: %w", quoteName(c.Name()), c.desc, err)
}

// pingClient pings every shard of a sharded client, or the client.
func pingClient(ctx context.Context, client redis.UniversalClient) error {
	ping := func(ctx context.Context, shard *redis.Client) error { return shard.Ping(ctx).Err() }
	switch cl := client.(type) {
	case *redis.ClusterClient:
		return cl.ForEachShard(ctx, ping)
	case *redis.Ring:
		return cl.ForEachShard(ctx, ping)
	}
	return client.Ping(ctx).Err()
}

// RedisClient returns the go-redis client of a Redis connection, opened
// from a DSN or given to [NewRedisConn], so that go-redis hooks (such as
// its OpenTelemetry instrumentation, redisotel) can be added to it; ok is
// false for an in-process store. A namespace ([Conn.Namespace]) returns
// the client of the connection it is in. Add hooks before the connection's
// first use: go-redis applies them to the commands sent after. On a single
// server opened from a DSN, the commands of concurrent calls go through the
// library's own pipeline, not through the client and its hooks, unless the
// DSN says autopipeline=go-redis (see [Open]). Ownership
// does not change: the Conn of a DSN closes the client on Close, so the
// caller must not Close it (nor use it after the Conn's Close), and the
// client given to NewRedisConn stays the caller's, as before.
func (c *Conn) RedisClient() (client redis.UniversalClient, ok bool) {
	return c.client, c.client != nil
}

// redisLog is go-redis's logger when SetLogger routes it: each line goes
// to l at level Warn.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.Log(ctx, slog.LevelWarn, fmt.Sprintf(format, v...), slog.String("source", "go-redis"))
}

// routeRedisLog sends go-redis's log lines to l, or back to standard error
// (go-redis's own default) when l is nil.
func routeRedisLog(l *slog.Logger) {
	if l == nil {
		logging.Enable()
		return
	}
	redis.SetLogger(redisLog{l})
}

// backend returns the backend, or ErrClosed.
func (c *Conn) backend() (backend.Backend, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return c.b, nil
}

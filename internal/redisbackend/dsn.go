package redisbackend

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gocaches/caches/internal/fsutil"
	"github.com/redis/go-redis/v9"
)

// Parse reads the Redis part of a DSN whose scheme the caller has split
// into base ("redis", "rediss" or "unix") and variant ("", "cluster" or
// "sentinel"); u holds the first host and extra the others. It takes the
// options the library reads itself (listed on caches.Open) off u, hands
// the rest to go-redis's ParseURL, ParseClusterURL or ParseFailoverURL, and
// returns a function that opens a backend owning its client.
func Parse(base, variant string, extra []string, u *url.URL) (open func() (*Backend, error), err error) {
	ours, err := takeLibOptions(u)
	if err != nil {
		return nil, err
	}
	switch variant {
	case "":
		if len(extra) > 0 {
			return nil, errors.New("several hosts need redis+cluster:// or redis+sentinel://")
		}
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, err
		}
		if err := checkDB(opts.DB); err != nil {
			return nil, err
		}
		if opts.Network != "unix" {
			if err := checkPorts(opts.Addr); err != nil {
				return nil, err
			}
		}
		ours.apply(&opts.ContextTimeoutEnabled, opts.TLSConfig)
		ours.pipeline.Own = true
		return func() (*Backend, error) { return New(redis.NewClient(opts), true, ours.pipeline) }, nil
	case "cluster":
		return parseCluster(base, extra, u, ours)
	case "sentinel":
		return parseSentinel(base, extra, u, ours)
	}
	return nil, fmt.Errorf("unknown scheme %q", base+"+"+variant)
}

// checkPorts refuses an address whose port is not a number from 1 to
// 65535.
func checkPorts(addrs ...string) error {
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("invalid host %q: %w", a, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port in %q: want 1 to 65535", a)
		}
	}
	return nil
}

// checkDB refuses a negative database number.
func checkDB(db int) error {
	if db < 0 {
		return fmt.Errorf("invalid db %d (the path or db=): want a database number, 0 or more", db)
	}
	return nil
}

// libOptions are the DSN options the library reads itself, removed from the
// URL before go-redis parses the rest.
type libOptions struct {
	// contextTimeouts is go-redis's ContextTimeoutEnabled: on unless
	// context_timeout_enabled=false, so that a call's context deadline bounds
	// its wait for a slow or paused server.
	contextTimeouts bool
	// pipeline is the automatic pipelining of autopipeline=,
	// autopipeline_max_batch= and autopipeline_window=.
	pipeline Options
	// roots are the CAs of ca_cert=<PEM file>, for rediss schemes.
	roots *x509.CertPool
}

// takeLibOptions reads and removes the library's options from u.
func takeLibOptions(u *url.URL) (libOptions, error) {
	q := u.Query()
	o := libOptions{contextTimeouts: true}
	if v := q.Get("context_timeout_enabled"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("invalid context_timeout_enabled %q: want true or false", v)
		}
		o.contextTimeouts = b
	}
	if path := q.Get("ca_cert"); path != "" {
		if !strings.HasPrefix(u.Scheme, "rediss") {
			return o, errors.New("ca_cert needs TLS: use a rediss scheme")
		}
		pem, err := readRegular(path)
		if err != nil {
			return o, fmt.Errorf("ca_cert: %w", err)
		}
		o.roots = x509.NewCertPool()
		if !o.roots.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("ca_cert: no PEM certificate in %s", path)
		}
	}
	if err := o.pipeline.take(q); err != nil {
		return o, err
	}
	q.Del("context_timeout_enabled")
	q.Del("ca_cert")
	u.RawQuery = q.Encode()
	return o, nil
}

// readRegular reads the regular file at path, refusing any other kind
// without blocking on it.
func readRegular(path string) ([]byte, error) {
	f, err := fsutil.OpenRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// apply sets the options on a go-redis configuration.
func (o libOptions) apply(contextTimeouts *bool, tlsConfig *tls.Config) {
	*contextTimeouts = o.contextTimeouts
	if tlsConfig != nil && o.roots != nil {
		tlsConfig.RootCAs = o.roots
	}
}

func parseCluster(base string, extra []string, u *url.URL, ours libOptions) (func() (*Backend, error), error) {
	if base == "unix" {
		return nil, errors.New("unknown scheme \"unix+cluster\"")
	}
	if strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("a cluster DSN takes no path (got %q): Redis Cluster has only database 0", u.Path)
	}
	q := u.Query()
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	opts, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, err
	}
	if err := checkPorts(opts.Addrs...); err != nil {
		return nil, err
	}
	ours.apply(&opts.ContextTimeoutEnabled, opts.TLSConfig)
	return func() (*Backend, error) { return New(redis.NewClusterClient(opts), true, ours.pipeline) }, nil
}

func parseSentinel(base string, extra []string, u *url.URL, ours libOptions) (func() (*Backend, error), error) {
	if base == "unix" {
		return nil, errors.New("unknown scheme \"unix+sentinel\"")
	}
	q := u.Query()
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(segs) > 2 {
		return nil, fmt.Errorf("a sentinel DSN path is /master[/db] (got %q)", u.Path)
	}
	if len(segs) > 0 {
		q.Set("master_name", segs[0])
	}
	if len(segs) > 1 {
		q.Set("db", segs[1])
	}
	if q.Get("master_name") == "" {
		return nil, errors.New("a sentinel DSN needs the master's name as its path: redis+sentinel://host:26379/mymaster")
	}
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.Path, u.RawPath, u.RawQuery = "", "", q.Encode()
	opts, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, err
	}
	if err := checkDB(opts.DB); err != nil {
		return nil, err
	}
	if err := checkPorts(opts.SentinelAddrs...); err != nil {
		return nil, err
	}
	if opts.Password == "" && opts.Username == "" {
		opts.Username, opts.Password = opts.SentinelUsername, opts.SentinelPassword
	}
	ours.apply(&opts.ContextTimeoutEnabled, opts.TLSConfig)
	return func() (*Backend, error) { return New(redis.NewFailoverClient(opts), true, ours.pipeline) }, nil
}

// take reads and removes the automatic-pipelining options from q.
func (o *Options) take(q url.Values) error {
	if v := q.Get("autopipeline"); v == "go-redis" {
		o.GoRedis = true
	} else if v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid autopipeline %q: want true, false or go-redis", v)
		}
		o.NoAutoPipeline = !on
	}
	if v := q.Get("autopipeline_max_batch"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("invalid autopipeline_max_batch %q: want a whole number, 1 or more", v)
		}
		o.MaxBatch = n
	}
	if v := q.Get("autopipeline_window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("invalid autopipeline_window %q: want a duration such as 100us, 0 or more", v)
		}
		o.Window = d
	}
	for _, k := range []string{"autopipeline", "autopipeline_max_batch", "autopipeline_window"} {
		q.Del(k)
	}
	return nil
}

package caches

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DSN grammar
//
// A DSN names one connection:
//
//	scheme://[user[:password]@]host[:port][,host:port…][/path][?option=value…][#name]
//
// The fragment (#name) is the connection's name; a DSN without one defines
// the default connection. The schemes are:
//
//	redis://user:secret@cache.internal:6379/2?dial_timeout=3s#sessions
//	    one Redis server over TCP; the path is the database number
//	rediss://cache.internal:6380/0
//	    the same over TLS
//	unix:///run/redis.sock?db=1
//	    one Redis server over a Unix socket
//	redis+cluster://user:secret@10.0.0.1:7000,10.0.0.2:7000?read_only=true
//	    a Redis Cluster; the hosts are seed nodes (rediss+cluster for TLS)
//	redis+sentinel://:secret@10.0.0.1:26379,10.0.0.2:26379/mymaster/0
//	    a master found through Sentinel; the path is the master's name and
//	    an optional database number; the credentials are used for the
//	    sentinels and, unless the username/password options say otherwise,
//	    for the master (rediss+sentinel for TLS)
//	memory://
//	    the in-process store
//
// Options are the go-redis ones (redis.ParseURL, redis.ParseClusterURL and
// redis.ParseFailoverURL document them: dial_timeout, read_timeout,
// pool_size, max_retries, …); an unknown option is an error that names it.

// dsnSchemes lists the schemes [parseDSN] accepts, for error messages.
const dsnSchemes = "redis, rediss, unix, redis+cluster, rediss+cluster, redis+sentinel, rediss+sentinel, memory"

// dsnSpec is a parsed DSN, ready to open.
type dsnSpec struct {
	name     string // the connection name, from the fragment
	redacted string // the DSN with every password replaced by "xxxxx"
	open     func() (backend, error)
}

// parseDSN parses one DSN. Its errors never contain a password.
func parseDSN(dsn string) (*dsnSpec, error) {
	body, name, _ := strings.Cut(dsn, "#")
	if unescaped, err := url.PathUnescape(name); err == nil {
		name = unescaped
	}
	scheme, rest, ok := strings.Cut(body, "://")
	if !ok {
		if strings.HasPrefix(body, "memory:") {
			scheme, rest = "memory", ""
		} else {
			return nil, fmt.Errorf("missing scheme (want scheme://…, one of %s)", dsnSchemes)
		}
	}
	base, variant, _ := strings.Cut(scheme, "+")
	hosts, rewritten := splitHosts(base, rest)
	u, err := url.Parse(rewritten)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, redactErr(fmt.Errorf("malformed URL: %w", err), dsn)
	}
	spec := &dsnSpec{name: name, redacted: redactDSN(body, u)}
	if err := spec.setOpener(base, variant, hosts, u); err != nil {
		return nil, redactErr(err, dsn, passwords(u)...)
	}
	return spec, nil
}

// splitHosts turns "h1:1,h2:2/path?q" into "base://h1:1/path?q" and returns
// the extra hosts, so that url.Parse sees one host.
func splitHosts(base, rest string) (extra []string, rewritten string) {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	hosts := strings.Split(authority, ",")
	return hosts[1:], base + "://" + userinfo + hosts[0] + tail
}

// setOpener checks the scheme-specific parts of u and stores how to open it.
func (s *dsnSpec) setOpener(base, variant string, extra []string, u *url.URL) error {
	if base == "memory" && variant == "" {
		return s.setMemory(u)
	}
	if base != "redis" && base != "rediss" && base != "unix" {
		return fmt.Errorf("unknown scheme %q (want one of %s)", u.Scheme+plus(variant), dsnSchemes)
	}
	switch variant {
	case "":
		if len(extra) > 0 {
			return errors.New("several hosts need redis+cluster:// or redis+sentinel://")
		}
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			return err
		}
		s.open = func() (backend, error) { return newRedisBackend(redis.NewClient(opts), true), nil }
	case "cluster":
		return s.setCluster(base, extra, u)
	case "sentinel":
		return s.setSentinel(base, extra, u)
	default:
		return fmt.Errorf("unknown scheme %q (want one of %s)", base+"+"+variant, dsnSchemes)
	}
	return nil
}

func plus(variant string) string {
	if variant == "" {
		return ""
	}
	return "+" + variant
}

func (s *dsnSpec) setCluster(base string, extra []string, u *url.URL) error {
	if base == "unix" {
		return errors.New("unknown scheme \"unix+cluster\"")
	}
	if strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("a cluster DSN takes no path (got %q): Redis Cluster has only database 0", u.Path)
	}
	q := u.Query()
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	opts, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return err
	}
	s.open = func() (backend, error) { return newRedisBackend(redis.NewClusterClient(opts), true), nil }
	return nil
}

func (s *dsnSpec) setSentinel(base string, extra []string, u *url.URL) error {
	if base == "unix" {
		return errors.New("unknown scheme \"unix+sentinel\"")
	}
	q := u.Query()
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(segs) > 2 {
		return fmt.Errorf("a sentinel DSN path is /master[/db] (got %q)", u.Path)
	}
	if len(segs) > 0 {
		q.Set("master_name", segs[0])
	}
	if len(segs) > 1 {
		q.Set("db", segs[1])
	}
	if q.Get("master_name") == "" {
		return errors.New("a sentinel DSN needs the master's name as its path: redis+sentinel://host:26379/mymaster")
	}
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.Path, u.RawPath, u.RawQuery = "", "", q.Encode()
	opts, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return err
	}
	if opts.Password == "" && opts.Username == "" {
		opts.Username, opts.Password = opts.SentinelUsername, opts.SentinelPassword
	}
	s.open = func() (backend, error) { return newRedisBackend(redis.NewFailoverClient(opts), true), nil }
	return nil
}

// setMemory accepts memory:// with no host and no options.
func (s *dsnSpec) setMemory(u *url.URL) error {
	if u.Host != "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		return errors.New("a memory DSN takes no host, user or path: write memory://")
	}
	for opt := range u.Query() {
		return fmt.Errorf("unknown option %q for memory://", opt)
	}
	s.open = func() (backend, error) { return newMemoryBackend(MemoryOptions{}), nil }
	return nil
}

// passwords returns every secret u carries, for redaction.
func passwords(u *url.URL) []string {
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	for _, k := range []string{"password", "sentinel_password"} {
		if p := u.Query().Get(k); p != "" {
			out = append(out, p, url.QueryEscape(p))
		}
	}
	return out
}

// redactDSN returns the DSN (without fragment) with its secrets replaced by
// "xxxxx": the password of the userinfo and the password options.
func redactDSN(body string, u *url.URL) string {
	red := body
	if i := strings.Index(body, "://"); i >= 0 {
		authority := body[i+3:]
		if end := strings.IndexAny(authority, "/?"); end >= 0 {
			authority = authority[:end]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			if user, _, hasPass := strings.Cut(authority[:at], ":"); hasPass {
				red = body[:i+3] + user + ":xxxxx" + body[i+3+at:]
			}
		}
	}
	head, query, ok := strings.Cut(red, "?")
	if !ok {
		return red
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return head + "?xxxxx"
	}
	for _, k := range []string{"password", "sentinel_password"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	return head + "?" + q.Encode()
}

// redactErr returns err with the DSN and every secret removed from its text.
func redactErr(err error, dsn string, secrets ...string) error {
	msg := strings.ReplaceAll(err.Error(), dsn, "<dsn>")
	for _, p := range secrets {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return errors.New(msg)
}

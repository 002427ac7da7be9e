package caches

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gocaches/caches/internal/redisbackend"
)

// Open parses dsn and returns a connection named by its fragment. Redis
// clients connect lazily, so Open does not fail when the server is down; the
// first operation does. This is the grammar of every DSN, in CACHES_DSN
// variables too:
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
//	memory://?file=/var/lib/app/cache.db&max_keys=100000
//	    the in-process store
//
// The Redis schemes take go-redis's options (redis.ParseURL,
// redis.ParseClusterURL and redis.ParseFailoverURL document them:
// dial_timeout, read_timeout, pool_size, max_retries, skip_verify, …) and
// these of the library's (see [RedisOptions]):
//
//	ca_cert=/etc/ssl/redis-ca.pem   trust this CA (a regular PEM file) for rediss schemes
//	context_timeout_enabled=false   let calls on pooled connections outlive their
//	                                context deadline (default true: a deadline
//	                                bounds every call)
//	autopipeline=false              one round trip per call (default true:
//	                                concurrent calls share round trips; on a
//	                                single server through the library's own
//	                                pipeline, on Cluster and Sentinel through
//	                                go-redis's)
//	autopipeline=go-redis           go-redis's pipeline on a single server too,
//	                                so that its hooks see every command
//	autopipeline_max_batch=200      most commands per pipelined write
//	autopipeline_window=100us       wait this long before a pipelined write
//	                                (default 0: no wait)
//
// Every scheme takes these, which turn on a near cache (see [NearOptions])
// for every family of the connection that sets no Options.Near; on
// memory:// they are accepted and change nothing:
//
//	near=true                       keep near copies of what the families read
//	near_max_entries=10000          keys kept per key prefix (default 10,000)
//	near_max_bytes=64mb             their estimated size (b, kb, mb, gb; default 64mb)
//	near_ttl=1m                     how long a copy is kept at most (default 1m,
//	                                never more than the family's TTL)
//	near_heartbeat=100ms            how often tracking is checked while copies exist
//	near_stall_timeout=1s           how late a check may answer before the copies
//	                                are dropped and reads bypass them
//
// A near_ option without near=true is an error.
//
// memory:// takes these (see [MemoryOptions]):
//
//	file=/var/lib/app/cache.db      persist to this regular file
//	save=900:1,300:10,60:10000      save after <changes> writes in <seconds>
//	                                (empty: never automatically)
//	max_keys=100000                 evict beyond this many keys
//	max_bytes=64mb                  evict beyond this estimated size (b, kb, mb, gb)
//	eviction_samples=5              keys sampled per eviction
//
// An unknown option is an error that names it, and so is a value that
// cannot be right: a port outside 1–65535, a negative database number or
// bound, a size beyond int64, an empty file, a #name that is not printable
// UTF-8. A user name or password writes /, ?, #, @ and % percent-encoded
// (%2F, %3F, %23, %40, %25), and an @ anywhere after the host is written
// %40: a DSN with a raw @ after its host is refused, since its password
// could not be told from its host, path or options. An option given twice
// is refused (addr aside, which lists hosts). Errors never contain any part
// of the user name or password; [Conn.String] shows the user name of a
// user:password pair, never the password, and nothing of a userinfo
// without ':' (it may be a token).
func Open(dsn string) (*Conn, error) {
	spec, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("caches: DSN %s: %w", redactForError(dsn), err)
	}
	return spec.conn()
}

func (s *dsnSpec) conn() (*Conn, error) {
	c, err := s.open()
	if err != nil {
		return nil, err
	}
	c.desc = s.redacted
	c.setName(s.name)
	return c, nil
}

// dsnSchemes lists the schemes [parseDSN] accepts, for error messages.
const dsnSchemes = "redis, rediss, unix, redis+cluster, rediss+cluster, redis+sentinel, rediss+sentinel, memory"

// dsnSpec is a parsed DSN, ready to open.
type dsnSpec struct {
	name     string // the connection name, from the fragment
	redacted string // the DSN with every password replaced by "xxxxx"
	open     func() (*Conn, error)
}

// parseDSN parses one DSN. Its errors never contain any part of the
// userinfo, nor a password option.
func parseDSN(dsn string) (*dsnSpec, error) {
	if err := checkUserinfo(dsn); err != nil {
		return nil, err
	}
	body, name, _ := strings.Cut(dsn, "#")
	if unescaped, err := url.PathUnescape(name); err == nil {
		name = unescaped
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	scheme, rest, ok := strings.Cut(body, "://")
	if !ok {
		if after, isMemory := strings.CutPrefix(dsn, "memory:"); isMemory {
			// memory:?file=… is memory://?file=…: its options are read
			// and checked, and a host or user refused, as for memory://.
			return parseDSN("memory://" + after)
		}
		return nil, fmt.Errorf("missing scheme (want scheme://…, one of %s)", dsnSchemes)
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
	if err := checkRepeated(u.Query()); err != nil {
		return nil, err
	}
	spec := &dsnSpec{name: name, redacted: redactDSN(body, u)}
	if err := spec.setOpener(base, variant, hosts, u); err != nil {
		return nil, redactErr(err, dsn, passwords(u)...)
	}
	return spec, nil
}

// checkUserinfo makes sure that the userinfo of dsn (user:password@) ends
// where a URL parser sees it end: at the last @ before the first /, ? or #
// that follows the scheme. An @ after that point is refused, since it may
// end a password that holds an unencoded /, ? or #, which would otherwise
// be parsed, and quoted in errors or shown by String, as a host, path,
// option or name. The userinfo's percent-encoding is checked here too, so
// that no parser error quotes it. The errors quote nothing.
func checkUserinfo(dsn string) error {
	_, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if strings.Contains(rest[end:], "@") {
		return errors.New("an @ follows the host: percent-encode /, ?, # and @ in a user name or password " +
			"(%2F, %3F, %23, %40), and an @ in a path, option or #name (%40)")
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return nil
	}
	if _, err := url.Parse("redis://" + rest[:at] + "@h"); err != nil {
		return errors.New("malformed user name or password: percent-encode its reserved characters and %")
	}
	return nil
}

// checkName refuses a connection name (the #name, unescaped) that is not
// printable UTF-8: a control character, or an invisible one such as a
// zero-width space or a right-to-left override, would make two names that
// print alike differ.
func checkName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return errors.New("invalid #name: not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return errors.New("invalid #name: it contains a control character")
	case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }):
		return errors.New("invalid #name: it contains a character that does not print")
	}
	return nil
}

// checkRepeated refuses an option given more than once (addr aside, which
// lists hosts): only one of the values would be used, and the others would
// not even be checked.
func checkRepeated(q url.Values) error {
	for name, vals := range q {
		if len(vals) > 1 && name != "addr" {
			return fmt.Errorf("option %q is given %d times: give it once", name, len(vals))
		}
	}
	return nil
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
// The Redis schemes are read by the go-redis adapter (redisbackend.Parse).
func (s *dsnSpec) setOpener(base, variant string, extra []string, u *url.URL) error {
	nearAll, err := takeNearOptions(u)
	if err != nil {
		return err
	}
	if base == "memory" && variant == "" {
		return s.setMemory(u) // near caching changes nothing on the in-process store
	}
	redisBase := base == "redis" || base == "rediss" || base == "unix"
	if !redisBase || (variant != "" && variant != "cluster" && variant != "sentinel") {
		return fmt.Errorf("unknown scheme %q (want one of %s)", u.Scheme+plus(variant), dsnSchemes)
	}
	open, err := redisbackend.Parse(base, variant, extra, u)
	if err != nil {
		return err
	}
	s.open = func() (*Conn, error) {
		rb, err := open()
		if err != nil {
			return nil, err
		}
		c := newBackendConn(rb)
		c.nearAll = nearAll
		return c, nil
	}
	return nil
}

func plus(variant string) string {
	if variant == "" {
		return ""
	}
	return "+" + variant
}

// setMemory accepts memory:// with no host and the options of
// [memoryOptions].
func (s *dsnSpec) setMemory(u *url.URL) error {
	if u.Host != "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		return errors.New("a memory DSN takes no host, user or path: write memory:// (and file=… for a file)")
	}
	opts, err := memoryOptions(u.Query())
	if err != nil {
		return err
	}
	s.open = func() (*Conn, error) { return OpenMemory(opts) }
	return nil
}

// memoryOptions reads the options of a memory DSN, listed on [Open].
func memoryOptions(q url.Values) (MemoryOptions, error) {
	var o MemoryOptions
	var err error
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "file":
			o.File = v
			if v == "" {
				err = errors.New("want a path")
			}
		case "save":
			o.SavePoints, err = parseSavePoints(v)
		case "max_keys":
			o.MaxKeys, err = parseCount(v)
		case "max_bytes":
			o.MaxBytes, err = parseBytes(v)
		case "eviction_samples":
			o.EvictionSamples, err = parseCount(v)
		default:
			return o, fmt.Errorf("unknown option %q for memory:// (want file, save, max_keys, max_bytes or eviction_samples)", name)
		}
		if err != nil {
			return o, fmt.Errorf("invalid %s %q: %w", name, v, err)
		}
	}
	if q.Has("save") && o.File == "" {
		return o, errors.New("save needs file")
	}
	return o, nil
}

// parseSavePoints reads "seconds:changes,…", as Redis's save directive.
func parseSavePoints(v string) ([]SavePoint, error) {
	points := []SavePoint{}
	for _, p := range strings.Split(v, ",") {
		if p == "" {
			continue
		}
		secs, changes, ok := strings.Cut(p, ":")
		s, err1 := strconv.Atoi(secs)
		c, err2 := strconv.Atoi(changes)
		if !ok || err1 != nil || err2 != nil || s <= 0 || c <= 0 {
			return nil, errors.New("want seconds:changes, both positive, separated by commas")
		}
		points = append(points, SavePoint{Changes: c, Within: time.Duration(s) * time.Second})
	}
	return points, nil
}

// parseCount reads a count: a decimal integer, 0 or more.
func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number, 0 or more")
	}
	return n, nil
}

// parseBytes reads a size with an optional b, kb, mb or gb suffix (powers
// of 1024), refusing one that does not fit an int64.
func parseBytes(v string) (int64, error) {
	l := strings.ToLower(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(l, u.suffix) {
			l, mult = strings.TrimSuffix(l, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(l, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && n > math.MaxInt64/uint64(mult):
		return 0, errors.New("too large: want at most 8 EiB (9223372036854775807 bytes)")
	case err != nil:
		return 0, errors.New("want a non-negative number of bytes, optionally with kb, mb or gb")
	}
	return int64(n) * mult, nil
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
			} else {
				// A userinfo without ':' may be a token meant as a
				// password: it is not shown either.
				red = body[:i+3] + "xxxxx" + body[i+3+at:]
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

// redactForError shows a DSN in an error without its secrets; a DSN too
// malformed to parse is shown only by its scheme.
func redactForError(dsn string) string {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && !strings.ContainsAny(scheme, ":@/") {
		return scheme + "://…"
	}
	return "(malformed)"
}

package caches

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// logger is the logger of SetLogger; nil: the library logs nothing.
var logger atomic.Pointer[slog.Logger]

// SetLogger sends the library's log lines to l, together with go-redis's
// own (which it otherwise prints to standard error, e.g. "connection
// pool: failed to dial…"). The library logs what it handles without
// returning an error to a caller:
//
//   - Warn "caches: Memoize could not use the cache": a [Memo]'s read or
//     write failed, and calls are served by its function meanwhile unless
//     Strict (each failure is also told to [MemoOptions.OnBackendError]);
//     at most one line a second per family, the next one counting those
//     left out ("suppressed");
//   - Error "caches: automatic save failed": an in-process store with a
//     File could not save itself at a save point (it retries 5 s later);
//   - Warn "caches: near cache tracking lost" (reads go to Redis until it is
//     back) and Info "caches: near cache tracking established".
//
// Each line carries the family's key prefix ("family") and the
// connection's name ("connection", "" for the default) where they apply,
// and the error ("error"); never a key, a value or a password. go-redis's
// lines come at level Warn with "source"="go-redis", as go-redis gives no
// level; since go-redis has one logger per process, they include those of
// go-redis clients the library does not use.
//
// The default, before any SetLogger and after SetLogger(nil), is the
// library silent and go-redis printing to standard error as it does on
// its own. For silence from both, pass slog.New(slog.DiscardHandler).
func SetLogger(l *slog.Logger) {
	logger.Store(l)
	routeRedisLog(l)
}

// logEvent logs msg at level to the logger of SetLogger, if any.
func logEvent(level slog.Level, msg string, attrs ...slog.Attr) {
	l := logger.Load()
	if l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	l.LogAttrs(context.Background(), level, msg, attrs...)
}

// logLimit logs at most one line a second, counting the lines it
// leaves out in the next one: a failing Redis under load does not flood
// the log.
type logLimit struct {
	last    atomic.Int64 // unix milliseconds of the last line logged
	skipped atomic.Int64 // lines left out since
}

// allow reports whether a line may be logged at now (unix milliseconds),
// and how many were left out since the last one.
func (ll *logLimit) allow(now int64) (ok bool, skipped int64) {
	last := ll.last.Load()
	if now-last < 1000 || !ll.last.CompareAndSwap(last, now) {
		ll.skipped.Add(1)
		return false, 0
	}
	return true, ll.skipped.Swap(0)
}

// logFailure logs msg and err, a backend failure of the family, through
// the family's limit.
func (f *family) logFailure(level slog.Level, msg string, err error) {
	if logger.Load() == nil {
		return
	}
	ok, skipped := f.failures.allow(time.Now().UnixMilli())
	if !ok {
		return
	}
	attrs := append(familyAttrs(f.prefix, f.logConnName()), errAttr(err))
	if skipped > 0 {
		attrs = append(attrs, slog.Int64("suppressed", skipped))
	}
	logEvent(level, msg, attrs...)
}

// familyAttrs are the attributes of an event of family f on connection
// conn.
func familyAttrs(prefix, conn string) []slog.Attr {
	return []slog.Attr{slog.String("family", prefix), slog.String("connection", conn)}
}

// errAttr is err as a log attribute, without the key a *KeyError names.
func errAttr(err error) slog.Attr {
	var ke *KeyError
	if errors.As(err, &ke) {
		err = ke.Err
	}
	return slog.String("error", err.Error())
}

// logConnName is the name of the connection the family names or holds.
func (f *family) logConnName() string {
	if f.conn != nil {
		return f.conn.Name()
	}
	return f.connName
}

package caches

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gocaches/caches/internal/backend"
)

// WithConn returns a copy of ctx under which every family that finds its
// connection through the registry (by [Options.Connection], the default
// connection included) uses c instead, for every operation given that
// context or one derived from it: a handle's operations, iterators,
// Invalidate, [Memo.Call] and the computations they start. Families built
// with [Options.Conn] keep their own. It lets tests run package-level
// families, declared as the README shows, each against a store of its own,
// in parallel and without changing the code under test (see package
// cachestest).
//
// Under a bound connection, concurrent loads ([Hooks.Load], Memoize) are
// coalesced per connection, so a computation never serves two stores. A
// family's [Stats] remain the family's, whatever connection counted them.
// Until the first call of WithConn, no operation looks at its context for
// a connection, so programs that never call it pay nothing for it.
func WithConn(ctx context.Context, c *Conn) context.Context {
	c.scope.CompareAndSwap(0, scopes.Add(1))
	anyBound.Store(true)
	return context.WithValue(ctx, boundConnKey{}, c)
}

var (
	// anyBound is set by the first WithConn; until then boundConn looks at
	// no context.
	anyBound atomic.Bool
	// scopes numbers the connections bound to a context, so that their
	// loads are coalesced apart.
	scopes atomic.Uint64
)

// boundConnKey is the context key of WithConn.
type boundConnKey struct{}

// boundConn returns the connection WithConn bound to ctx, or nil.
func boundConn(ctx context.Context) *Conn {
	if !anyBound.Load() {
		return nil
	}
	c, _ := ctx.Value(boundConnKey{}).(*Conn)
	return c
}

// flightKey is the key under which a load of key is coalesced: key itself,
// or, under a connection bound to ctx, key within that connection's scope.
func flightKey(ctx context.Context, key string) string {
	c := boundConn(ctx)
	if c == nil {
		return key
	}
	return strconv.FormatUint(c.scope.Load(), 10) + "|" + key
}

// Namespace returns a connection to c's data in which every key starts
// with ns, and which sees no key that does not: parallel tests against one
// Redis each take a namespace of their own (see cachestest.Namespace), and
// a family's keys, its Invalidate and Memoize's leases all stay inside it.
// ns may not be empty or hold '{' or '}' (it would move keys to another
// Cluster slot). Closing the namespace closes nothing of c; closing c ends
// the namespace too.
func (c *Conn) Namespace(ns string) (*Conn, error) {
	if ns == "" || strings.ContainsAny(ns, "{}") {
		return nil, fmt.Errorf("caches: namespace %q: must be non-empty, without '{' or '}'", ns)
	}
	return &Conn{
		desc:      c.String() + " namespace " + strconv.Quote(ns),
		b:         backend.Namespace(c.b, ns, globEscape(ns)),
		namespace: true,
		client:    c.client,
	}, nil
}

// ClearNamespace deletes every key of a connection made by
// [Conn.Namespace], and returns how many went; on Redis without blocking
// the server (SCAN and UNLINK, as Invalidate). Other connections refuse it
// with an error: their keys are not theirs alone.
func (c *Conn) ClearNamespace(ctx context.Context) (int, error) {
	if !c.namespace {
		return 0, fmt.Errorf("caches: ClearNamespace on %s, which is not a namespace", c)
	}
	b, err := c.backend()
	if err != nil {
		return 0, err
	}
	n, err := b.DeleteMatching(ctx, "*", nil, invalidateBatch)
	if err != nil {
		return int(n), fmt.Errorf("caches: ClearNamespace: %w", classify(err))
	}
	return int(n), nil
}

package caches_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/itertest"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Iterators over collections of many pages. Those across a change of
// server (a restart, a failover, a cluster redirection) are system tests,
// in package systemtest.

// TestIterationMultiPage checks that an iteration of many pages, with no
// change of server, yields each entry exactly once, on every backend.
func TestIterationMultiPage(t *testing.T) {
	caches.ForEachBackend(t, func(t *testing.T, conn *caches.Conn) {
		ctx := context.Background()
		for _, c := range itertest.Cases(t, caches.Options{Prefix: "pages", Conn: conn}) {
			t.Run(c.Name, func(t *testing.T) {
				seen, err := c.Collect(ctx, nil)
				require.NoError(t, err)
				itertest.RequireEachOnce(t, seen)
			})
		}
	})
}

// TestIterationWithoutInfo iterates as an ACL user denied INFO: a
// collection of one page needs no run_id and is iterated, a bigger one
// cannot be checked and ends with the server's refusal, naming the key,
// instead of going on unchecked.
func TestIterationWithoutInfo(t *testing.T) {
	srv := redistest.StartForTest(t, "--user", "app", "on", ">app-pw", "~*", "+@all", "-info")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "app-pw"})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	opts := caches.Options{Prefix: "acl", Conn: caches.NewRedisConn(client)}
	small := caches.NewSetCache[int](opts).Key("small")
	_, err := small.Add(ctx, 1, 2, 3)
	require.NoError(t, err)
	n := 0
	for _, err := range small.All(ctx) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 3, n)

	for _, c := range itertest.Cases(t, opts) {
		_, err := c.Collect(ctx, nil)
		require.Error(t, err, c.Name)
		require.ErrorContains(t, err, strconv.Quote(c.Key))
		require.NotErrorIs(t, err, caches.ErrIterationBroken, "nothing broke: the check cannot run")
		t.Logf("%s: %v", c.Name, err)
	}
}

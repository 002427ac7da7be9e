package main

import (
	"context"
	"os"
	"testing"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestQuickstartInMemory(t *testing.T) {
	t.Setenv("CACHES_DSN", "")
	require.NoError(t, caches.Close())
	require.NoError(t, run(context.Background()))
}

func TestQuickstartBadDSN(t *testing.T) {
	t.Setenv("CACHES_DSN", "redis://:hunter2@localhost:6379/?no_such_option=1")
	require.NoError(t, caches.Close())
	err := run(context.Background())
	require.ErrorContains(t, err, "CACHES_DSN")
	require.ErrorContains(t, err, "no_such_option")
	require.NotContains(t, err.Error(), "hunter2")
	caches.Close()
}

func TestQuickstartOnRedis(t *testing.T) {
	srv, err := redistest.Start()
	if err != nil {
		redistest.SkipOrFail(t, "redis-server", err)
	}
	defer srv.Stop()
	t.Setenv("CACHES_DSN", "redis://"+srv.Addr+"/0")
	require.NoError(t, caches.Close())
	require.NoError(t, run(context.Background()))

	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "quickstart:*").Result()
	require.NoError(t, err)
	require.Contains(t, keys, "quickstart:profile:42")
	require.Contains(t, keys, "quickstart:views:2026-11-21")
	visits, err := c.Get(ctx, "quickstart:visits:/home").Result()
	require.NoError(t, err)
	require.Equal(t, "3", visits, "numbers are readable in redis-cli")
	profile, err := c.Get(ctx, "quickstart:profile:42").Result()
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"Ada","email":"ada@example.com"}`, profile)
	apples, err := c.HGet(ctx, "quickstart:cart:42", "apple").Result()
	require.NoError(t, err)
	require.Equal(t, "5", apples)
}

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.ReportSkips()
	caches.Close()
	os.Exit(code)
}

package caches_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocaches/caches"
)

type User struct {
	Name string
	Plan string
}

func ExampleKeyCache() {
	ctx := context.Background()
	// A family: every handle shares the prefix, TTL and connection. With no
	// CACHES_DSN set, the connection is the in-process store.
	users := caches.NewKeyCache[User](caches.Options{Prefix: "example:user", TTL: time.Hour})

	ada := users.Key(42)
	if _, err := ada.Get(ctx); errors.Is(err, caches.ErrNotFound) {
		fmt.Println(ada, "is not cached yet")
	}
	_ = ada.Set(ctx, User{Name: "Ada", Plan: "pro"})
	u, _ := ada.Get(ctx)
	fmt.Printf("%s holds %+v\n", ada, u)
	// Output:
	// example:user:42 is not cached yet
	// example:user:42 holds {Name:Ada Plan:pro}
}

func ExampleKey_Incr() {
	ctx := context.Background()
	hits := caches.NewKeyCache[int](caches.Options{Prefix: "example:hits"}).Key("/home")
	_, _ = hits.Incr(ctx, 1)
	n, _ := hits.Incr(ctx, 2)
	fmt.Println(n)
	// Output: 3
}

func ExampleKey_Add() {
	ctx := context.Background()
	locks := caches.NewKeyCache[string](caches.Options{Prefix: "example:lock", TTL: 30 * time.Second})
	first, _ := locks.Key("report").Add(ctx, "worker-1")
	second, _ := locks.Key("report").Add(ctx, "worker-2")
	owner, _ := locks.Key("report").Get(ctx)
	fmt.Println(first, second, owner)
	// Output: true false worker-1
}

func ExampleOpen() {
	conn, err := caches.Open("redis://app:secret@cache.internal:6379/2?dial_timeout=2s#sessions")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Println(conn.Name())
	fmt.Println(conn) // the password never shows
	_, err = caches.Open("redis://app:secret@cache.internal:6379/2?dial_timout=2s")
	fmt.Println(err)
	// Output:
	// sessions
	// redis://app:xxxxx@cache.internal:6379/2?dial_timeout=2s#sessions
	// caches: DSN redis://…: redis: unexpected option: dial_timout
}

func ExampleRegister() {
	ctx := context.Background()
	// Programs usually set CACHES_DSN_SESSIONS=redis://…#sessions; code can
	// register a connection under a name instead.
	conn := caches.NewMemoryConn(caches.MemoryOptions{})
	defer conn.Close()
	if err := caches.Register("example-sessions", conn); err != nil {
		fmt.Println(err)
		return
	}
	defer caches.Unregister("example-sessions")
	sessions := caches.NewKeyCache[string](caches.Options{Prefix: "session", Connection: "example-sessions"})
	_ = sessions.Key("abc").Set(ctx, "user-42")
	v, _ := sessions.Key("abc").Get(ctx)
	fmt.Println(v)
	// Output: user-42
}

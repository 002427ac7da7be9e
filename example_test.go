package caches_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

func ExampleDictCache() {
	ctx := context.Background()
	carts := caches.NewDictCache[string, int](caches.Options{Prefix: "example:cart"})
	cart := carts.Key("ada")
	_ = cart.SetMany(ctx, map[string]int{"apple": 2, "pear": 1})
	n, _ := cart.Incr(ctx, "apple", 3)
	fmt.Println("apples:", n)
	qty, _ := cart.Pop(ctx, "pear")
	fmt.Println("popped pears:", qty)
	for item, err := range cart.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(item.Field, item.Value)
	}
	// Output:
	// apples: 5
	// popped pears: 1
	// apple 5
}

func ExampleSetCache() {
	ctx := context.Background()
	tags := caches.NewSetCache[string](caches.Options{Prefix: "example:tags"})
	goPosts, rustPosts := tags.Key("go"), tags.Key("rust")
	added, _ := goPosts.Add(ctx, "generics", "iterators", "generics")
	_, _ = rustPosts.Add(ctx, "iterators", "traits")
	fmt.Println("added:", added)
	both, _ := goPosts.Intersect(ctx, rustPosts)
	fmt.Println("in both:", both)
	has, _ := goPosts.HasMany(ctx, "generics", "traits")
	fmt.Println("has:", has)
	// Output:
	// added: 2
	// in both: [iterators]
	// has: [true false]
}

func ExampleSortedSetCache() {
	ctx := context.Background()
	boards := caches.NewSortedSetCache[string](caches.Options{Prefix: "example:board"})
	board := boards.Key("2026")
	_, _ = board.AddMany(ctx,
		caches.Scored[string]{Member: "ada", Score: 42},
		caches.Scored[string]{Member: "bob", Score: 17},
		caches.Scored[string]{Member: "cy", Score: 42})
	top, _ := board.RevRange(ctx, 0, 1)
	fmt.Println("top two:", top)
	rank, _ := board.Rank(ctx, "bob")
	fmt.Println("bob's rank:", rank)
	low, score, _ := board.PopMin(ctx)
	fmt.Println("lowest:", low, score)
	// Output:
	// top two: [{cy 42} {ada 42}]
	// bob's rank: 0
	// lowest: bob 17
}

func ExampleCounterCache() {
	ctx := context.Background()
	views := caches.NewCounterCache[string](caches.Options{Prefix: "example:views"})
	day := views.Key("2026-11-21")
	_, _ = day.Incr(ctx, "/home", 3)
	_ = day.Update(ctx, map[string]int64{"/blog": 5, "/home": 1})
	home, _ := day.Get(ctx, "/home")
	missing, _ := day.Get(ctx, "/nowhere")
	total, _ := day.Total(ctx)
	top, _ := day.MostCommon(ctx, 1)
	fmt.Println(home, missing, total, top)
	// Output: 4 0 9 [{/blog 5}]
}

func ExampleMemoize() {
	ctx := context.Background()
	calls := 0
	lookup := func(ctx context.Context, id int) (User, error) {
		calls++ // a database query, say
		return User{Name: fmt.Sprint("user-", id), Plan: "free"}, nil
	}
	users := caches.Memoize(lookup, caches.MemoOptions[int]{
		Options: caches.Options{Prefix: "example:memo:user", TTL: 10 * time.Minute},
	})
	getUser := users.Func() // same type as lookup

	for i := 0; i < 3; i++ {
		u, _ := getUser(ctx, 7)
		fmt.Println(u.Name)
	}
	key, _ := users.Key(7)
	st := users.Stats()
	fmt.Printf("key %s, %d call, %d hits, %d miss\n", key, calls, st.Hits, st.Misses)
	// Output:
	// user-7
	// user-7
	// user-7
	// key example:memo:user:7, 1 call, 2 hits, 1 miss
}

func ExampleKeyCache_Invalidate() {
	ctx := context.Background()
	orgs := caches.NewKeyCache[string](caches.Options{Prefix: "example:org"})
	teams := caches.NewKeyCache[string](caches.Options{Prefix: "example:team"})
	members := caches.NewKeyCache[int](caches.Options{Prefix: "example:members"})
	_ = teams.DependsOn(orgs)    // a team's cache is derived from its org
	_ = members.DependsOn(teams) // and member counts from teams
	fmt.Println(orgs.DependsOn(members))

	_ = orgs.Key(1).Set(ctx, "Acme")
	_ = teams.Key(1, "red").Set(ctx, "Red team")
	_ = teams.Key(1, "blue").Set(ctx, "Blue team")
	_ = members.Key(1, "red").Set(ctx, 12)
	n, _ := orgs.Invalidate(ctx) // every key of all three families
	fmt.Println("invalidated", n, "keys")
	_, err := members.Key(1, "red").Get(ctx)
	fmt.Println(err)
	// Output:
	// caches: dependency cycle: family "example:members" already depends on family "example:org"
	// invalidated 4 keys
	// caches: not found
}

func ExampleHooks() {
	ctx := context.Background()
	db := map[int]string{42: "Ada"} // the source of truth
	names := caches.NewKeyCache[string](caches.Options{Prefix: "example:name"}).WithHooks(caches.Hooks[string]{
		Load: func(ctx context.Context, k caches.Key[string]) (string, error) {
			fmt.Println("loading", k)
			return db[k.Args()[0].(int)], nil
		},
		Write: func(ctx context.Context, k caches.Key[string], v string) error {
			db[k.Args()[0].(int)] = v
			return nil
		},
	})
	first, _ := names.Key(42).Get(ctx) // a miss: loaded and stored
	again, _ := names.Key(42).Get(ctx) // a hit
	_ = names.Key(7).Set(ctx, "Grace") // written through to db
	fmt.Println(first, again, db[7])
	// Output:
	// loading example:name:42
	// Ada Ada Grace
}

func ExampleOpenMemory() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	// The same as CACHES_DSN=memory://?file=<dir>/cache.db&save=60:100
	dsn := "memory://?file=" + filepath.Join(dir, "cache.db") + "&save=60:100"

	conn, _ := caches.Open(dsn)
	tokens := caches.NewKeyCache[string](caches.Options{Prefix: "token", Conn: conn})
	_ = tokens.Key("ada").Set(ctx, "t-1")
	_ = conn.Close() // saves

	conn, _ = caches.Open(dsn) // loads
	defer conn.Close()
	tokens = caches.NewKeyCache[string](caches.Options{Prefix: "token", Conn: conn})
	v, _ := tokens.Key("ada").Get(ctx)
	fmt.Println(v)
	// Output: t-1
}

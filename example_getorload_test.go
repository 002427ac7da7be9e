package caches_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gocaches/caches"
)

func ExampleKeyCache_GetManyOrLoad() {
	ctx := context.Background()
	names := caches.NewKeyCache[string](caches.Options{Prefix: "example:name", TTL: time.Hour})
	_ = names.Key(1).Set(ctx, "Ada")
	// The source: one query for every id the cache misses.
	query := func(ctx context.Context, missing []caches.Key[string]) ([]caches.Entry[string], error) {
		var found []caches.Entry[string]
		for _, k := range missing {
			id, err := caches.Arg[int64](k, 0)
			if err != nil {
				return nil, err
			}
			fmt.Println("query", id)
			if id != 3 {
				found = append(found, caches.Entry[string]{Key: k, Value: fmt.Sprint("user-", id)})
			}
		}
		return found, nil
	}
	values, found, _ := names.GetManyOrLoad(ctx, []caches.Key[string]{names.Key(1), names.Key(2), names.Key(3)}, query)
	fmt.Println(values, found)
	// Output:
	// query 2
	// query 3
	// [Ada user-2 ] [true true false]
}

func ExampleArg() {
	users := caches.NewKeyCache[User](caches.Options{Prefix: "example:arg"})
	id, err := caches.Arg[int64](users.Key(42, "eu"), 0) // built with an int
	fmt.Println(id, err)
	_, err = caches.Arg[int64](users.Key(42, "eu"), 1)
	fmt.Println(err != nil)
	// Output:
	// 42 <nil>
	// true
}

func ExampleDict_MapOrLoad() {
	ctx := context.Background()
	carts := caches.NewDictCache[string, int](caches.Options{Prefix: "example:basket", TTL: time.Hour})
	load := func(context.Context) (map[string]int, error) {
		fmt.Println("loading the cart")
		return map[string]int{"sku-1": 2, "sku-7": 1}, nil
	}
	m, _ := carts.Key("ada").MapOrLoad(ctx, load)
	n, _ := carts.Key("ada").GetOrLoad(ctx, "sku-1", load) // stored: no load
	fmt.Println(len(m), n)
	// Output:
	// loading the cart
	// 2 2
}

func ExampleHandle() {
	ctx := context.Background()
	profiles := caches.NewKeyCache[string](caches.Options{Prefix: "example:profile"})
	feeds := caches.NewKeyCache[string](caches.Options{Prefix: "example:feed"})
	_ = profiles.Key(7).Set(ctx, "Ada")
	_ = feeds.Key(7).Set(ctx, "Ada's feed")
	_ = feeds.Key(7).DependsOn(ctx, profiles.Key(7))

	n, _ := profiles.Key(7).Invalidate(ctx) // the profile and its feed
	_, err := feeds.Key(7).Get(ctx)
	fmt.Println(n, err)
	// Output: 2 caches: not found
}

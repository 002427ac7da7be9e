package caches_test

import (
	"context"
	"fmt"

	"github.com/gocaches/caches"
)

type Query struct {
	User  int64
	Limit int
}

func recommend(ctx context.Context, q Query) ([]string, error) { return []string{"a", "b"}, nil }

func ExampleKeyForm() {
	for _, form := range []caches.KeyForm{caches.KeyJSON, caches.KeyFields, caches.KeyHash} {
		m := caches.Memoize(recommend, caches.MemoOptions[Query]{
			Options: caches.Options{Prefix: "example:reco"},
			KeyForm: form,
		})
		key, _ := m.Key(Query{User: 1, Limit: 10})
		fmt.Println(key)
	}
	// Output:
	// example:reco:%7B"User"%3A1,"Limit"%3A10%7D
	// example:reco:1:10
	// example:reco:f4ee6b695bd40e8decf99430234b27bd
}

func ExampleMemoOptions_plain() {
	ctx := context.Background()
	opts := caches.Options{Prefix: "example:plain"}
	m := caches.Memoize(recommend, caches.MemoOptions[Query]{Options: opts, KeyForm: caches.KeyFields, Plain: true})
	_, _ = m.Call(ctx, Query{User: 1, Limit: 10})

	// The stored value is exactly what a KeyCache of the result type stores.
	stored, _ := caches.NewKeyCache[string](opts).Key(1, 10).Get(ctx)
	fmt.Println(stored)
	// Output: ["a","b"]
}

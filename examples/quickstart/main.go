// Command quickstart shows the caches library at work. With no CACHES_DSN it
// runs on the in-process store; with CACHES_DSN=redis://localhost:6379 it
// runs unchanged against Redis, where its keys stay for redis-cli to see.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gocaches/caches"
)

// Profile is stored as JSON; the int and string families are stored raw.
type Profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

var (
	profiles = caches.NewKeyCache[Profile](caches.Options{Prefix: "quickstart:profile", TTL: time.Hour})
	visits   = caches.NewKeyCache[int64](caches.Options{Prefix: "quickstart:visits", TTL: caches.NoExpiry})
	tokens   = caches.NewKeyCache[string](caches.Options{Prefix: "quickstart:token", TTL: 15 * time.Minute})
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if err := caches.Configure(); err != nil {
		return err
	}
	defer caches.Close()
	conn, err := caches.Connection("")
	if err != nil {
		return err
	}
	fmt.Println("connection:", conn)

	ada := profiles.Key(42)
	if _, err := ada.Get(ctx); errors.Is(err, caches.ErrNotFound) {
		fmt.Printf("%s: miss\n", ada)
	} else if err != nil {
		return err
	}
	if err := ada.Set(ctx, Profile{Name: "Ada", Email: "ada@example.com"}); err != nil {
		return err
	}
	p, err := ada.Get(ctx)
	if err != nil {
		return err
	}
	ttl, err := ada.TTL(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %+v (expires in %s)\n", ada, p, ttl.Round(time.Minute))

	page := visits.Key("/home")
	for i := 0; i < 3; i++ {
		if _, err := page.Incr(ctx, 1); err != nil {
			return err
		}
	}
	n, err := page.Get(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d visits (atomic INCRBY)\n", page, n)

	tok := tokens.Key("reset", "ada@example.com")
	first, err := tok.Add(ctx, "t-1")
	if err != nil {
		return err
	}
	second, err := tok.Add(ctx, "t-2")
	if err != nil {
		return err
	}
	fmt.Printf("%s: first Add stored=%v, second Add stored=%v\n", tok, first, second)
	used, err := tok.Pop(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s: popped %q; a second Pop finds nothing\n", tok, used)
	return nil
}

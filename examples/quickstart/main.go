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
	return collections(ctx)
}

var (
	carts  = caches.NewDictCache[string, int](caches.Options{Prefix: "quickstart:cart"})
	tags   = caches.NewSetCache[string](caches.Options{Prefix: "quickstart:tags"})
	scores = caches.NewSortedSetCache[string](caches.Options{Prefix: "quickstart:board"})
	views  = caches.NewCounterCache[string](caches.Options{Prefix: "quickstart:views"})
)

// collections shows the four collection caches.
func collections(ctx context.Context) error {
	cart := carts.Key(42)
	if err := cart.SetMany(ctx, map[string]int{"apple": 2, "pear": 1}); err != nil {
		return err
	}
	apples, err := cart.Incr(ctx, "apple", 3)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d apples (HINCRBY)\n", cart, apples)

	post := tags.Key("post", 7)
	added, err := post.Add(ctx, "go", "redis", "go")
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d new tags\n", post, added)

	board := scores.Key("2026")
	for name, score := range map[string]float64{"ada": 42, "bob": 17, "cy": 30} {
		if _, err := board.Add(ctx, name, score); err != nil {
			return err
		}
	}
	top, err := board.RevRange(ctx, 0, 1)
	if err != nil {
		return err
	}
	fmt.Printf("%s: top two %v\n", board, top)

	day := views.Key("2026-11-21")
	if err := day.Update(ctx, map[string]int64{"/home": 3, "/blog": 5}); err != nil {
		return err
	}
	common, err := day.MostCommon(ctx, 1)
	if err != nil {
		return err
	}
	fmt.Printf("%s: most viewed %v\n", day, common)
	return nil
}

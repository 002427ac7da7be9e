// Package profiles is a small application of package caches written as the
// README shows it: package-level families on the default connection, a
// read-through hook and a memoized function. Its tests run in parallel,
// each against a store of its own, without any change to this file.
package profiles

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocaches/caches"
)

// Profile is what the application caches per user.
type Profile struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

var (
	profiles = caches.NewKeyCache[Profile](caches.Options{Prefix: "profile", TTL: time.Hour})
	views    = caches.NewCounterCache[string](caches.Options{Prefix: "views"})
	tags     = caches.NewSetCache[string](caches.Options{Prefix: "tags"})
	greeting = caches.Memoize(greet, caches.MemoOptions[int64]{
		Options: caches.Options{Prefix: "greeting", TTL: 10 * time.Minute},
	})
)

func init() {
	if err := greeting.DependsOn(profiles); err != nil {
		panic(err)
	}
}

// Save stores p and tags it.
func Save(ctx context.Context, p Profile, labels ...string) error {
	if err := profiles.Key(p.ID).Set(ctx, p); err != nil {
		return err
	}
	if len(labels) == 0 {
		return nil
	}
	_, err := tags.Key(p.ID).Add(ctx, labels...)
	return err
}

// Get returns the profile with id, counting the view.
func Get(ctx context.Context, id int64) (Profile, error) {
	if _, err := views.Key().Incr(ctx, fmt.Sprint(id), 1); err != nil {
		return Profile{}, err
	}
	return profiles.Key(id).Get(ctx)
}

// Views returns how often Get was asked for id.
func Views(ctx context.Context, id int64) (int64, error) {
	return views.Key().Get(ctx, fmt.Sprint(id))
}

// Tags returns the labels of id, in any order.
func Tags(ctx context.Context, id int64) ([]string, error) {
	var out []string
	for tag, err := range tags.Key(id).All(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, tag)
	}
	return out, nil
}

// Greeting returns the memoized greeting of id.
func Greeting(ctx context.Context, id int64) (string, error) {
	return greeting.Call(ctx, id)
}

// Forget drops every cached profile, and the greetings made from them.
func Forget(ctx context.Context) (int, error) {
	return profiles.Invalidate(ctx)
}

// greet is the slow function behind Greeting.
func greet(ctx context.Context, id int64) (string, error) {
	p, err := profiles.Key(id).Get(ctx)
	if errors.Is(err, caches.ErrNotFound) {
		return "hello, stranger", nil
	}
	if err != nil {
		return "", err
	}
	return "hello, " + p.Name, nil
}

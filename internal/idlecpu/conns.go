//go:build unix && !baseline

package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gocaches/caches"
)

// open opens each connection named in conns and runs a few operations on
// it: keys with and without expiries, a dict, a memoized function hit. It
// returns a function that closes them all.
func open(conns, file, redisAddr string) (func() error, error) {
	var opened []*caches.Conn
	closeAll := func() error {
		var errs []error
		for _, c := range opened {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	for name := range strings.SplitSeq(conns, ",") {
		dsn, err := dsnOf(name, file, redisAddr)
		if err != nil {
			return nil, errors.Join(err, closeAll())
		}
		c, err := caches.Open(dsn)
		if err != nil {
			return nil, errors.Join(err, closeAll())
		}
		opened = append(opened, c)
		if err := exercise(c, name); err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", name, err), closeAll())
		}
	}
	return closeAll, nil
}

// dsnOf returns the DSN of the connection called name.
func dsnOf(name, file, redisAddr string) (string, error) {
	switch {
	case name == "memory" && file != "":
		return "memory://?file=" + url.QueryEscape(file), nil
	case name == "memory":
		return "memory://", nil
	case name == "redis" && redisAddr != "":
		return "redis://" + redisAddr + "/0", nil
	}
	return "", fmt.Errorf("connection %q: want memory, or redis with -redis", name)
}

// exercise writes and reads a few keys on c, some of them expiring well
// after the idle period, and hits a memoized function.
func exercise(c *caches.Conn, name string) error {
	ctx := context.Background()
	prefix := "idlecpu:" + name
	keys := caches.NewKeyCache[string](caches.Options{Prefix: prefix + ":k", Conn: c, TTL: time.Hour})
	forever := caches.NewKeyCache[string](caches.Options{Prefix: prefix + ":f", Conn: c})
	dict := caches.NewDictCache[string, int](caches.Options{Prefix: prefix + ":d", Conn: c, TTL: 10 * time.Minute})
	for i := range 20 {
		if err := keys.Key(i).Set(ctx, "v"); err != nil {
			return err
		}
		if err := forever.Key(i).Set(ctx, "v"); err != nil {
			return err
		}
		if err := dict.Key(i%3).Set(ctx, fmt.Sprint(i), i); err != nil {
			return err
		}
		if _, err := keys.Key(i).Get(ctx); err != nil {
			return err
		}
	}
	square := caches.Memoize(func(_ context.Context, n int) (int, error) { return n * n, nil },
		caches.MemoOptions[int]{Options: caches.Options{Prefix: prefix + ":m", Conn: c, TTL: time.Hour}})
	for i := range 40 {
		if _, err := square.Call(ctx, i%10); err != nil {
			return err
		}
	}
	return nil
}

func label(conns string) string { return conns }

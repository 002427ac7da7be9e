package caches_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gocaches/caches"
)

func ExampleFormatTTL() {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	conn := caches.NewMemoryConn(caches.MemoryOptions{Now: func() time.Time { return start }})
	defer conn.Close()
	sessions := caches.NewKeyCache[string](caches.Options{Prefix: "example:session", TTL: 90 * time.Minute, Conn: conn})
	settings := caches.NewKeyCache[string](caches.Options{Prefix: "example:setting", TTL: caches.NoExpiry, Conn: conn})
	_ = sessions.Key("ada").Set(ctx, "token")
	_ = settings.Key("theme").Set(ctx, "dark")

	ttl, _ := sessions.Key("ada").TTL(ctx)
	fmt.Println(caches.FormatTTL(ttl), ttl > time.Hour)
	ttl, _ = settings.Key("theme").TTL(ctx)
	fmt.Println(caches.FormatTTL(ttl), ttl == caches.NoExpiry)
	fmt.Println(ttl) // a Duration: NoExpiry prints as -1ns
	_, _ = settings.Key("theme").ExpireAt(ctx, start.AddDate(400, 0, 0))
	ttl, _ = settings.Key("theme").TTL(ctx)
	fmt.Println(caches.FormatTTL(ttl))
	// Output:
	// 1h30m0s true
	// no expiry true
	// -1ns
	// beyond 292 years
}

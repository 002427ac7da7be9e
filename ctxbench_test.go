package caches

import (
	"context"
	"testing"
)

// BenchmarkRegistryGet measures a KeyCache get of a family that finds its
// connection by name, as the README's package-level families do: the path
// that consults a context-bound store (see WithConn) once any exists.
func BenchmarkRegistryGet(b *testing.B) {
	benchBackends(b, func(b *testing.B, conn *Conn, rt *roundTrips) {
		ctx := context.Background()
		name := "bench-registry-" + b.Name()
		if err := Register(name, conn); err != nil {
			b.Fatal(err)
		}
		defer Unregister(name)
		k := NewKeyCache[string](Options{Prefix: "bench", Connection: name}).Key("user-42")
		if err := k.Set(ctx, "payload of a typical size, a few dozen bytes"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		start := rtCount(rt)
		for i := 0; i < b.N; i++ {
			if _, err := k.Get(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportRoundTrips(b, rt, start)
	})
}

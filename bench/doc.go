// Package bench measures github.com/gocaches/caches side by side with what
// it competes with, in one run and on one redis-server: raw go-redis sending
// the same commands in the same round trips, go-redis/cache, eko/gocache;
// with many callers at once, a go-redis pool, go-redis's AutoPipeline and
// rueidis; and, for the in-process store, go-cache, golang-lru's expirable
// LRU, otter, ristretto and a map guarded by a sync.RWMutex.
//
// It is a module of its own so that none of these enter the library's
// dependencies. Run ./run from this directory: it starts a redis-server on a
// free loopback port, runs the benchmarks in interleaved rounds, prints the
// table of targets and rewrites ../BENCHMARKS.md and the charts. The
// benchmarks also run alone:
//
//	go test -run '^$' -bench . -benchtime 100ms
//
// (starting their own redis-server; BENCH_REDIS_ADDR points them at one).
package bench

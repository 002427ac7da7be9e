// Package systemtest holds the library's system tests, which use only its
// public API against real redis-server processes they start and stop:
// faults injected under load (crashes, outages, pauses, stalls, failovers,
// slot moves), resource limits (very large values and collections), and the
// long differential run of the in-process store against Redis. They take
// longer than the unit and behaviour tests of the root package, which
// `go test .` runs alone; `go test ./...` runs both.
//
// Without redis-server on PATH the tests skip with a message, unless the
// environment variable CACHES_REQUIRE_REDIS is 1 (as in CI): then they
// fail. CACHES_FAULTS_FULL=1 selects the full-length fault and limit runs,
// CACHES_DIFF_OPS and CACHES_DIFF_SEED size and replay the differential run
// (RELIABILITY.md describes each run and its last results).
package systemtest

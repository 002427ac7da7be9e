package systemtest

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Resource limits: very large values and collections. RELIABILITY.md lists
// the limits these tests document.

// bigValueSize is the size of the big value: 100 MiB (the run takes a few
// seconds under -race; CACHES_FAULTS_FULL=1 does not change it).
const bigValueSize = 100 << 20

// allocated returns how many bytes the heap allocated while f ran
// (TotalAlloc), an upper bound of how much f made the heap grow.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// copies expresses n bytes as a number of copies of the big value.
func copies(n uint64, size int) float64 { return float64(n) / float64(size) }

// TestLimitsBigValue sends a 100 MiB value through KeyCache[[]byte] on the
// in-process store and on a real server, and counts the copies the library
// and go-redis make, from the bytes the heap allocated:
//
//   - Set: one copy on both, the codec's string([]byte) (the text every
//     backend takes); go-redis writes the string to the socket without
//     copying it, and the in-process store keeps that copy as the value.
//   - Get: on Redis two, go-redis's reply buffer (the string it returns
//     aliases it) and the codec's []byte(string) (a []byte the caller may
//     modify); on the in-process store one, the codec's, since the store
//     hands out the string it holds.
//
// So the heap grows by at most 1× the value on Set and 2× on Get, and by
// nothing that depends on how the value is read or written (no buffer
// doubling): the assertions allow one copy more than counted per call
// minus a few percent, less than any buffering scheme would need.
func TestLimitsBigValue(t *testing.T) {
	value := make([]byte, bigValueSize)
	for i := range value {
		value[i] = byte(i % 251)
	}
	srv := redistest.StartForTest(t)
	redisConn, err := caches.Open("redis://" + srv.Addr + "/0?read_timeout=30s&write_timeout=30s")
	require.NoError(t, err)
	defer redisConn.Close()
	memConn := caches.NewMemoryConn(caches.MemoryOptions{})
	defer memConn.Close()

	base := newHeapGrowth().base // the value itself is live
	for _, tc := range []struct {
		name      string
		conn      *caches.Conn
		getCopies float64
	}{
		{"memstore", memConn, 1},
		{"redis", redisConn, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			k := caches.NewKeyCache[[]byte](caches.Options{Prefix: "limits", Conn: tc.conn}).Key("big")
			start := time.Now()
			set := allocated(func() { require.NoError(t, k.Set(ctx, value)) })
			var got []byte
			get := allocated(func() { got, err = k.Get(ctx) })
			require.NoError(t, err)
			took := time.Since(start)
			require.Len(t, got, len(value))
			require.True(t, bytes.Equal(got, value), "the value round-trips")
			t.Logf("%d MiB: Set allocated %.2f copies, Get %.2f copies; both took %v",
				bigValueSize>>20, copies(set, bigValueSize), copies(get, bigValueSize), took.Round(time.Millisecond))
			assert.Less(t, copies(set, bigValueSize), 1.05, "Set: one copy")
			assert.Less(t, copies(get, bigValueSize), tc.getCopies+0.05, "Get: %v copies", tc.getCopies)

			// Nothing is kept once the key is gone: no buffer holds on to
			// the value (the store's copy was the value itself).
			got = nil
			_, err := k.Delete(ctx)
			require.NoError(t, err)
			after := newHeapGrowth().base
			t.Logf("heap after Delete and a GC: %+.1f MiB", (float64(after)-float64(base))/(1<<20))
			assert.Less(t, int64(after)-int64(base), int64(bigValueSize/10), "the value is not retained")
		})
	}
}

// TestLimitsValueOverRedisLimit shows what happens to a value over Redis's
// proto-max-bulk-len (512 MiB by default; here lowered to its minimum,
// 1 MiB, to send only 2 MiB): Redis refuses the command and closes the
// connection, Set returns the error, and the next call works on a new
// connection. The in-process store has no such limit.
func TestLimitsValueOverRedisLimit(t *testing.T) {
	srv := redistest.StartForTest(t, "--proto-max-bulk-len", "1mb")
	conn, err := caches.Open("redis://" + srv.Addr + "/0")
	require.NoError(t, err)
	defer conn.Close()
	ctx := context.Background()
	k := caches.NewKeyCache[[]byte](caches.Options{Prefix: "limits", Conn: conn}).Key("over")

	err = k.Set(ctx, make([]byte, 2<<20))
	require.Error(t, err)
	t.Logf("Set of 2 MiB over a 1 MiB proto-max-bulk-len: %v", err)
	assert.Contains(t, err.Error(), `"limits:over"`, "the error names the key")

	small := []byte("small")
	require.NoError(t, k.Set(ctx, small), "the connection recovers")
	got, err := k.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, small, got)
}

// populateBigMem fills the hash big:h of an in-process store with bigSize
// fields, "field-<i>" holding i, as populateBig does on a real server.
func populateBigMem(t *testing.T, conn *caches.Conn) {
	t.Helper()
	ctx := context.Background()
	d := caches.NewDictCache[string, int](caches.Options{Prefix: "big", Conn: conn}).Key("h")
	const batch = 1000
	fields := make(map[string]int, batch)
	for start := 0; start < bigSize; start += batch {
		clear(fields)
		for i := start; i < start+batch; i++ {
			fields["field-"+strconv.Itoa(i)] = i
		}
		require.NoError(t, d.SetMany(ctx, fields))
	}
}

// sampleLive samples the heap after a GC: what is live, without the garbage
// that the GC's pacing lets pile up, which grows with the live heap (with
// GOGC=100, up to its size) and so is large next to an in-process store of
// a million fields although nothing holds on to it.
func (h *heapGrowth) sampleLive() {
	runtime.GC()
	h.sample()
}

// TestLimitsBigHashInMemory iterates a hash of 1,000,000 fields of the
// in-process store with All, as TestBigCollectionIterationMemory does on a
// real server, with the same heap limit on what the iteration keeps live:
// the iterator asks for pages of 256 fields, so it holds one page at a
// time. It then measures what the calls that load a whole collection cost
// (RELIABILITY.md lists them).
func TestLimitsBigHashInMemory(t *testing.T) {
	conn := caches.NewMemoryConn(caches.MemoryOptions{})
	defer conn.Close()
	populateBigMem(t, conn)
	ctx := context.Background()

	d := caches.NewDictCache[string, int](caches.Options{Prefix: "big", Conn: conn}).Key("h")
	h := newHeapGrowth()
	iterateBigHash(ctx, t, d, 100_000, h.sampleLive)
	t.Logf("iterating a hash of %d fields grew the live heap by at most %.1f MiB", bigSize, float64(h.growth())/(1<<20))
	require.Less(t, h.growth(), uint64(heapLimit))

	// Map and MostCommon load the whole hash: they allocate in proportion
	// to it. Measured for the record, bounded loosely (what matters is that
	// All does not).
	var m map[string]int
	mapBytes := allocated(func() {
		var err error
		m, err = d.Map(ctx)
		require.NoError(t, err)
	})
	require.Len(t, m, bigSize)
	m = nil
	counter := caches.NewCounterCache[string](caches.Options{Prefix: "big", Conn: conn}).Key("h")
	var top []caches.Counted[string]
	mcBytes := allocated(func() {
		var err error
		top, err = counter.MostCommon(ctx, 10)
		require.NoError(t, err)
	})
	require.Len(t, top, 10)
	assert.Equal(t, "field-999999", top[0].Key)
	t.Logf("the whole hash of %d fields: Map allocated %.0f MiB, MostCommon(10) %.0f MiB",
		bigSize, float64(mapBytes)/(1<<20), float64(mcBytes)/(1<<20))
}

// TestLimitsWholeCollectionCost measures, on a real server, what the calls
// that load a whole collection allocate for the 1,000,000-entry hash and set
// of TestBigCollectionIterationMemory, for RELIABILITY.md. It fills the
// server for a few seconds, so it runs only with CACHES_FAULTS_FULL=1. Its
// client's timeouts are minutes long: it checks memory, so a slow machine
// must not fail it.
func TestLimitsWholeCollectionCost(t *testing.T) {
	if !faultsFull() {
		t.Skipf("%s=1 runs it", faultsFullEnv)
	}
	// It measures memory, not speed: a reply of 1,000,000 entries takes
	// seconds under -race on a loaded machine, so the client waits for it
	// instead of failing at go-redis's 3 s read timeout.
	client := sharedRedisClient(t, redis.Options{ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute})
	populateBig(t, client)
	ctx := context.Background()
	opts := caches.Options{Prefix: "big", Conn: caches.NewRedisConn(client)}
	d := caches.NewDictCache[string, int](opts).Key("h")
	c := caches.NewCounterCache[string](opts).Key("h")
	s := caches.NewSetCache[string](opts).Key("s")
	for _, call := range []struct {
		name string
		f    func() (int, error)
	}{
		{"Dict.Map", func() (int, error) { m, err := d.Map(ctx); return len(m), err }},
		{"Counter.Map", func() (int, error) { m, err := c.Map(ctx); return len(m), err }},
		{"Counter.MostCommon(10)", func() (int, error) { m, err := c.MostCommon(ctx, 10); return len(m) * bigSize / 10, err }},
		{"Counter.Total", func() (int, error) { _, err := c.Total(ctx); return bigSize, err }},
		{"Set.Members", func() (int, error) { m, err := s.Members(ctx); return len(m), err }},
	} {
		var n int
		var err error
		start := time.Now()
		bytes := allocated(func() { n, err = call.f() })
		require.NoError(t, err, call.name)
		require.Equal(t, bigSize, n, call.name)
		t.Logf("%-22s of %d entries: allocated %4.0f MiB in %v", call.name, bigSize, float64(bytes)/(1<<20), time.Since(start).Round(time.Millisecond))
	}
}

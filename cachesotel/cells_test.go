package cachesotel

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gocaches/caches"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestCellsOfByContent: an Op keeps its cells, but the cells answer to the
// Op's text: another Op of the same text in other memory finds the same
// cells, other text other cells, and an Op that holds another Observer's
// cells, or a value of someone else's, gets this Observer's.
func TestCellsOfByContent(t *testing.T) {
	o, other := newTestObserver(t), newTestObserver(t)
	op := &caches.Op{Name: "Get", Family: "user", System: "memory"}
	copied := &caches.Op{Name: strings.Clone(op.Name), Family: strings.Clone(op.Family), System: strings.Clone(op.System)}
	first := o.cellsOf(op)
	if o.cellsOf(op) != first || o.cellsOf(copied) != first || o.cellsOf(op) != first {
		t.Fatal("one Op's text found other cells")
	}
	if op.Value() != first {
		t.Fatal("the Op does not hold its cells")
	}
	seen := map[*opCells]string{first: "user"}
	for i := range 1024 {
		fam := "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		c := o.cellsOf(&caches.Op{Name: "Get", Family: fam, System: "memory"})
		if c.key.family != fam {
			t.Fatalf("family %q found the cells of %q", fam, c.key.family)
		}
		if prev, ok := seen[c]; ok {
			t.Fatalf("families %q and %q share cells", prev, fam)
		}
		seen[c] = fam
	}
	if theirs := other.cellsOf(op); theirs == first || theirs.owner != other {
		t.Fatal("another Observer took the first one's cells")
	}
	if o.cellsOf(op) != first {
		t.Fatal("after another Observer used the Op, it found other cells")
	}
	op.SetValue("an application's value")
	if o.cellsOf(op) != first {
		t.Fatal("with a foreign value in the Op, it found other cells")
	}
}

func newTestObserver(t *testing.T) *Observer {
	t.Helper()
	o, err := New(WithMeterProvider(sdkmetric.NewMeterProvider()), WithoutTraces())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// TestBucket: bucket finds the first bound a duration does not exceed, as
// a search of the bounds does, at every bound, next to it and between.
func TestBucket(t *testing.T) {
	want := func(d time.Duration) int {
		return sort.Search(len(boundsNs), func(i int) bool { return d <= boundsNs[i] })
	}
	ds := []time.Duration{-1, 0, 1, 2, 3, 999, 1<<62 + 1, math.MaxInt64}
	for _, b := range boundsNs {
		ds = append(ds, b-1, b, b+1, b*3/2)
	}
	for n := range 63 {
		ds = append(ds, 1<<n-1, 1<<n, 1<<n+1)
	}
	for _, d := range ds {
		if got := bucket(d); got != max(want(d), 0) {
			t.Errorf("bucket(%d) = %d, want %d", d, got, want(d))
		}
	}
}

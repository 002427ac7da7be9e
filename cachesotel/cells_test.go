package cachesotel

import (
	"strings"
	"testing"

	"github.com/gocaches/caches"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestCellsOfByContent: the recent cache keys Ops by where their strings
// are, but an Op answers by its text: the same text in other memory finds
// the same cells, other text other cells, and slots that collide do not
// mix them up.
func TestCellsOfByContent(t *testing.T) {
	o, err := New(WithMeterProvider(sdkmetric.NewMeterProvider()), WithoutTraces())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	op := caches.Op{Name: "Get", Family: "user", System: "memory"}
	copied := caches.Op{Name: strings.Clone(op.Name), Family: strings.Clone(op.Family), System: strings.Clone(op.System)}
	first := o.cellsOf(op)
	if o.cellsOf(op) != first || o.cellsOf(copied) != first || o.cellsOf(op) != first {
		t.Fatal("one Op's text found other cells")
	}
	seen := map[*opCells]string{first: "user"}
	for i := range 4 * recentSize { // more families than slots: collisions
		fam := "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		c := o.cellsOf(caches.Op{Name: "Get", Family: fam, System: "memory"})
		if c.key.family != fam {
			t.Fatalf("family %q found the cells of %q", fam, c.key.family)
		}
		seen[c] = fam
	}
	if o.cellsOf(copied) != first {
		t.Fatal("after collisions, the Op found other cells")
	}
}

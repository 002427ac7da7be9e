package memstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDictModel checks dict against a map plus an insertion-order slice
// through random sets and deletes, with its invariants: tombstones at most
// half the slots, sequence numbers ascending, index pointing at live slots.
func TestDictModel(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDict[string]()
	values := map[string]string{}
	var order []string
	shrinks := 0
	for i := range 20000 {
		k := fmt.Sprint(rng.IntN(300))
		before := len(d.slots)
		if rng.IntN(3) == 0 {
			_, ok := d.del(k)
			if _, want := values[k]; ok != want {
				t.Fatalf("seed %d step %d: del(%s) = %v", seed, i, k, ok)
			}
			delete(values, k)
			order = slices.DeleteFunc(order, func(o string) bool { return o == k })
			if len(d.slots) < before-1 {
				shrinks++
			}
		} else {
			v := fmt.Sprint(i)
			_, existed := values[k]
			if added := d.set(k, v); added == existed {
				t.Fatalf("seed %d step %d: set(%s) added=%v", seed, i, k, added)
			}
			if !existed {
				order = append(order, k)
			}
			values[k] = v
		}
		if 2*d.dead > len(d.slots) {
			t.Fatalf("seed %d step %d: %d tombstones in %d slots", seed, i, d.dead, len(d.slots))
		}
		if i%97 == 0 {
			checkDict(t, d, values, order)
		}
	}
	checkDict(t, d, values, order)
	if shrinks == 0 {
		t.Error("the slots never shrank by more than one: no compaction")
	}
}

func checkDict(t *testing.T, d *dict[string], values map[string]string, order []string) {
	t.Helper()
	var keys []string
	for k, v := range d.all() {
		keys = append(keys, k)
		if values[k] != v {
			t.Fatalf("value of %s = %s, want %s", k, v, values[k])
		}
	}
	if !slices.Equal(keys, order) {
		t.Fatalf("order %v, want %v", keys, order)
	}
	if d.len() != len(values) {
		t.Fatalf("len %d, want %d", d.len(), len(values))
	}
	for i := 1; i < len(d.slots); i++ {
		if d.slots[i].seq <= d.slots[i-1].seq {
			t.Fatalf("sequence numbers not ascending at %d", i)
		}
	}
	for k, i := range d.index {
		if d.slots[i].dead || d.slots[i].key != k {
			t.Fatalf("index of %s points at slot %d %+v", k, i, d.slots[i])
		}
	}
}

func TestDictRandomSlot(t *testing.T) {
	d := newDict[struct{}]()
	for i := range 100 {
		d.set(fmt.Sprint(i), struct{}{})
	}
	for i := range 100 {
		if i%3 != 0 {
			d.del(fmt.Sprint(i))
		}
	}
	seen := map[string]int{}
	for range 10000 {
		i := d.randomSlot()
		if d.slots[i].dead {
			t.Fatal("randomSlot returned a tombstone")
		}
		seen[d.slots[i].key]++
	}
	if len(seen) != d.len() {
		t.Errorf("picked %d distinct of %d", len(seen), d.len())
	}
}

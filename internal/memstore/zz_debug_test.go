package memstore

import (
	"math/rand/v2"
	"testing"
)

func TestDebugReplay(t *testing.T) {
	rdb := startRedis(t)
	s := New(Options{ExpiryInterval: -1})
	ref := refStore{rdb}
	seed := uint64(1795264167026264687)
	for step := range 227 {
		i := rand.New(rand.NewPCG(seed, uint64(step))).IntN(len(diffOps))
		got := diffOps[i](diffGen{rand.New(rand.NewPCG(seed, uint64(step)))}, s)
		want := diffOps[i](diffGen{rand.New(rand.NewPCG(seed, uint64(step)))}, ref)
		if step > 200 {
			t.Logf("step %d op %d got %v want %v | b: %s | %s", step, i, got, want, dumpStore(s, "b"), dumpRedis(rdb, "b"))
		}
	}
}

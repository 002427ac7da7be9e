package memstore

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSkiplistInvariants builds a large skiplist through inserts, deletes
// and score updates and checks its links, spans, ranks and tail.
func TestSkiplistInvariants(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	zsl := newSkiplist()
	scores := map[string]float64{}
	for i := range 20000 {
		m := fmt.Sprint(rng.IntN(8000))
		sc := float64(rng.IntN(500))
		cur, ok := scores[m]
		switch {
		case !ok:
			zsl.insert(sc, m)
			scores[m] = sc
		case i%3 == 0:
			if !zsl.delete(cur, m) {
				t.Fatalf("seed %d: delete(%v, %s) found nothing", seed, cur, m)
			}
			delete(scores, m)
		default:
			zsl.updateScore(cur, m, sc)
			scores[m] = sc
		}
	}
	if zsl.delete(-1, "absent") {
		t.Fatal("deleted an absent element")
	}
	if zsl.length != len(scores) {
		t.Fatalf("seed %d: length %d, want %d", seed, zsl.length, len(scores))
	}
	var nodes []*zslNode
	for x := zsl.header.level[0].forward; x != nil; x = x.level[0].forward {
		nodes = append(nodes, x)
	}
	if len(nodes) != zsl.length || (len(nodes) > 0 && zsl.tail != nodes[len(nodes)-1]) {
		t.Fatalf("seed %d: %d nodes, length %d, wrong tail", seed, len(nodes), zsl.length)
	}
	pos := map[*zslNode]int{zsl.header: 0}
	for i, x := range nodes {
		pos[x] = i + 1
		if scores[x.member] != x.score {
			t.Fatalf("seed %d: %s has score %v, want %v", seed, x.member, x.score, scores[x.member])
		}
		if i > 0 && !nodes[i-1].before(x.score, x.member) {
			t.Fatalf("seed %d: nodes %d and %d out of order", seed, i-1, i)
		}
		if (i == 0 && x.backward != nil) || (i > 0 && x.backward != nodes[i-1]) {
			t.Fatalf("seed %d: wrong backward link at %d", seed, i)
		}
	}
	for x, p := range pos {
		for lvl, l := range x.level[:min(len(x.level), zsl.level)] {
			if l.forward != nil && pos[l.forward]-p != l.span {
				t.Fatalf("seed %d: span %d at level %d of rank %d, want %d", seed, l.span, lvl, p, pos[l.forward]-p)
			}
		}
	}
	for i, x := range nodes {
		if r := zsl.rank(x.score, x.member); r != i+1 {
			t.Fatalf("seed %d: rank of %s = %d, want %d", seed, x.member, r, i+1)
		}
		if zsl.byRank(i+1) != x {
			t.Fatalf("seed %d: byRank(%d) is wrong", seed, i+1)
		}
	}
	if zsl.byRank(0) != nil || zsl.byRank(len(nodes)+1) != nil {
		t.Fatal("byRank out of range returned a node")
	}
}

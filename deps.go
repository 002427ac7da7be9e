package caches

import (
	"fmt"
	"runtime"
	"sync"
	"weak"
)

// deps is the graph of [family.DependsOn] declarations.
var deps = &depGraph{nodes: map[weak.Pointer[family]]*depNode{}}

// depGraph holds families weakly, so that a family the program drops is
// collected. A cleanup then takes it out of the graph and links what it
// depended on to what depended on it, so that dependencies declared
// through it still hold between the families that remain.
type depGraph struct {
	mu    sync.Mutex // guards nodes and the nodes' edges
	nodes map[weak.Pointer[family]]*depNode
}

// depNode is a family's place in the graph.
type depNode struct {
	dependents   map[weak.Pointer[family]]struct{} // invalidated with the family
	dependencies map[weak.Pointer[family]]struct{} // the families it depends on
}

// add records that f depends on each of others, or, when one of them would
// make a cycle, changes nothing and returns an error.
func (g *depGraph) add(f *family, others []*family) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	fw := weak.Make(f)
	for _, of := range others {
		if of == f || g.reachable(fw, weak.Make(of)) {
			return fmt.Errorf("caches: dependency cycle: %s already depends on %s", of.describe(), f.describe())
		}
	}
	fn := g.node(f, fw)
	for _, of := range others {
		ow := weak.Make(of)
		g.node(of, ow).dependents[fw] = struct{}{}
		fn.dependencies[ow] = struct{}{}
	}
	return nil
}

// node returns f's node, making it, with the cleanup that removes it once f
// is collected, on first use. g.mu must be held.
func (g *depGraph) node(f *family, w weak.Pointer[family]) *depNode {
	n := g.nodes[w]
	if n == nil {
		n = &depNode{dependents: map[weak.Pointer[family]]struct{}{}, dependencies: map[weak.Pointer[family]]struct{}{}}
		g.nodes[w] = n
		runtime.AddCleanup(f, g.drop, w)
	}
	return n
}

// reachable reports whether to is among from's dependents, transitively.
// g.mu must be held.
func (g *depGraph) reachable(from, to weak.Pointer[family]) bool {
	seen := map[weak.Pointer[family]]bool{}
	stack := []weak.Pointer[family]{from}
	for len(stack) > 0 {
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for d := range g.nodes[w].dependentsOrNil() {
			if d == to {
				return true
			}
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false
}

// dependentsOrNil returns n's dependents; a family without node has none.
func (n *depNode) dependentsOrNil() map[weak.Pointer[family]]struct{} {
	if n == nil {
		return nil
	}
	return n.dependents
}

// closure returns f and its live dependents, transitively, each once. It
// walks through families collected but not yet cleaned up.
func (g *depGraph) closure(f *family) []*family {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []*family{f}
	queue := []weak.Pointer[family]{weak.Make(f)}
	seen := map[weak.Pointer[family]]bool{queue[0]: true}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		for d := range g.nodes[w].dependentsOrNil() {
			if seen[d] {
				continue
			}
			seen[d] = true
			queue = append(queue, d)
			if df := d.Value(); df != nil {
				out = append(out, df)
			}
		}
	}
	return out
}

// drop is the cleanup of a collected family: it removes the family's node
// and makes each of its dependents depend directly on each of its
// dependencies.
func (g *depGraph) drop(w weak.Pointer[family]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[w]
	delete(g.nodes, w)
	for p := range n.dependencies {
		pn := g.nodes[p]
		delete(pn.dependents, w)
		for d := range n.dependents {
			pn.dependents[d] = struct{}{}
			g.nodes[d].dependencies[p] = struct{}{}
		}
	}
	for d := range n.dependents {
		delete(g.nodes[d].dependencies, w)
	}
}

package memstore

import (
	"math/bits"
	"math/rand/v2"
)

// The skiplist orders a sorted set's members by (score, member bytes), as
// Redis's zskiplist does: each forward link records its span, the number of
// elements it skips, so ranks are found in O(log n).
const (
	zslMaxLevel = 32
	// A node reaches each further level with probability 1/4 (ZSKIPLIST_P).
	zslLevelBits = 2
)

type zslNode struct {
	member   string
	score    float64
	backward *zslNode
	level    []zslLevel
}

type zslLevel struct {
	forward *zslNode
	span    int
}

// skiplist is Redis's zskiplist: header is a sentinel holding no element,
// tail the last node, level the highest level in use.
type skiplist struct {
	header *zslNode
	tail   *zslNode
	length int
	level  int
}

func newSkiplist() *skiplist {
	return &skiplist{header: &zslNode{level: make([]zslLevel, zslMaxLevel)}, level: 1}
}

// zslRandomLevel returns a level between 1 and zslMaxLevel, each further
// level having probability 1/4.
func zslRandomLevel() int {
	return min(1+bits.TrailingZeros64(rand.Uint64())/zslLevelBits, zslMaxLevel)
}

// before reports whether n sorts before (score, member).
func (n *zslNode) before(score float64, member string) bool {
	return n.score < score || (n.score == score && n.member < member)
}

// after reports whether n sorts after (score, member).
func (n *zslNode) after(score float64, member string) bool {
	return n.score > score || (n.score == score && n.member > member)
}

// findUpdate returns, for each level, the last node before (score, member),
// and the rank of each of those nodes.
func (zsl *skiplist) findUpdate(score float64, member string) (update [zslMaxLevel]*zslNode, rank [zslMaxLevel]int) {
	x := zsl.header
	for i := zsl.level - 1; i >= 0; i-- {
		if i < zsl.level-1 {
			rank[i] = rank[i+1]
		}
		for x.level[i].forward != nil && x.level[i].forward.before(score, member) {
			rank[i] += x.level[i].span
			x = x.level[i].forward
		}
		update[i] = x
	}
	return update, rank
}

// insert adds (score, member), which must not be present.
func (zsl *skiplist) insert(score float64, member string) {
	update, rank := zsl.findUpdate(score, member)
	lvl := zslRandomLevel()
	if lvl > zsl.level {
		for i := zsl.level; i < lvl; i++ {
			rank[i] = 0
			update[i] = zsl.header
			update[i].level[i].span = zsl.length
		}
		zsl.level = lvl
	}
	x := &zslNode{member: member, score: score, level: make([]zslLevel, lvl)}
	for i := range lvl {
		x.level[i].forward = update[i].level[i].forward
		update[i].level[i].forward = x
		x.level[i].span = update[i].level[i].span - (rank[0] - rank[i])
		update[i].level[i].span = rank[0] - rank[i] + 1
	}
	for i := lvl; i < zsl.level; i++ {
		update[i].level[i].span++
	}
	if update[0] != zsl.header {
		x.backward = update[0]
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x
	} else {
		zsl.tail = x
	}
	zsl.length++
}

// deleteNode unlinks x given the nodes before it on every level.
func (zsl *skiplist) deleteNode(x *zslNode, update *[zslMaxLevel]*zslNode) {
	for i := range zsl.level {
		if update[i].level[i].forward == x {
			update[i].level[i].span += x.level[i].span - 1
			update[i].level[i].forward = x.level[i].forward
		} else {
			update[i].level[i].span--
		}
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x.backward
	} else {
		zsl.tail = x.backward
	}
	for zsl.level > 1 && zsl.header.level[zsl.level-1].forward == nil {
		zsl.level--
	}
	zsl.length--
}

// delete removes (score, member) and reports whether it was present.
func (zsl *skiplist) delete(score float64, member string) bool {
	update, _ := zsl.findUpdate(score, member)
	x := update[0].level[0].forward
	if x == nil || x.score != score || x.member != member {
		return false
	}
	zsl.deleteNode(x, &update)
	return true
}

// updateScore moves member, present with score cur, to score next: in place
// when its position does not change, as zslUpdateScore does.
func (zsl *skiplist) updateScore(cur float64, member string, next float64) {
	update, _ := zsl.findUpdate(cur, member)
	x := update[0].level[0].forward
	if (x.backward == nil || x.backward.score < next) &&
		(x.level[0].forward == nil || x.level[0].forward.score > next) {
		x.score = next
		return
	}
	zsl.deleteNode(x, &update)
	zsl.insert(next, member)
}

// rank returns the 1-based rank of (score, member), or 0 when absent.
func (zsl *skiplist) rank(score float64, member string) int {
	x, rank := zsl.header, 0
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && !x.level[i].forward.after(score, member) {
			rank += x.level[i].span
			x = x.level[i].forward
		}
		if x != zsl.header && x.score == score && x.member == member {
			return rank
		}
	}
	return 0
}

// byRank returns the node at the 1-based rank, or nil when out of range.
func (zsl *skiplist) byRank(rank int) *zslNode {
	x, traversed := zsl.header, 0
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && traversed+x.level[i].span <= rank {
			traversed += x.level[i].span
			x = x.level[i].forward
		}
		if traversed == rank {
			if x == zsl.header {
				return nil
			}
			return x
		}
	}
	return nil
}

// first returns the first node in r and its 1-based rank, or nil.
func (zsl *skiplist) first(r scoreRange) (*zslNode, int) {
	if r.empty() {
		return nil, 0
	}
	x, rank := zsl.header, 0
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && !r.aboveMin(x.level[i].forward.score) {
			rank += x.level[i].span
			x = x.level[i].forward
		}
	}
	x = x.level[0].forward
	if x == nil || !r.belowMax(x.score) {
		return nil, 0
	}
	return x, rank + 1
}

// last returns the last node in r and its 1-based rank, or nil.
func (zsl *skiplist) last(r scoreRange) (*zslNode, int) {
	if r.empty() {
		return nil, 0
	}
	x, rank := zsl.header, 0
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && r.belowMax(x.level[i].forward.score) {
			rank += x.level[i].span
			x = x.level[i].forward
		}
	}
	if x == zsl.header || !r.aboveMin(x.score) {
		return nil, 0
	}
	return x, rank
}

// deleteRangeByScore removes the nodes in r, calling removed for each, and
// returns how many it removed.
func (zsl *skiplist) deleteRangeByScore(r scoreRange, removed func(member string)) int {
	if r.empty() {
		return 0
	}
	var update [zslMaxLevel]*zslNode
	x := zsl.header
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && !r.aboveMin(x.level[i].forward.score) {
			x = x.level[i].forward
		}
		update[i] = x
	}
	n := 0
	for x = x.level[0].forward; x != nil && r.belowMax(x.score); n++ {
		next := x.level[0].forward
		zsl.deleteNode(x, &update)
		removed(x.member)
		x = next
	}
	return n
}

// deleteRangeByRank removes the nodes with 1-based ranks start to end
// inclusive, calling removed for each, and returns how many it removed.
func (zsl *skiplist) deleteRangeByRank(start, end int, removed func(member string)) int {
	var update [zslMaxLevel]*zslNode
	x, traversed := zsl.header, 0
	for i := zsl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && traversed+x.level[i].span < start {
			traversed += x.level[i].span
			x = x.level[i].forward
		}
		update[i] = x
	}
	n := 0
	for x = x.level[0].forward; x != nil && traversed+n < end; n++ {
		next := x.level[0].forward
		zsl.deleteNode(x, &update)
		removed(x.member)
		x = next
	}
	return n
}

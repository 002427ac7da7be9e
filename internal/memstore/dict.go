package memstore

import (
	"iter"
	"math/rand/v2"
	"sort"
)

// dict is an insertion-ordered map from string keys to values of type V:
// the representation of hashes (V = string) and sets (V = struct{}).
//
// Entries live in a slice in insertion order, each stamped with a sequence
// number that only grows; index maps a key to its slot. Deleting leaves a
// tombstone that keeps its sequence number, so the slice stays sorted by
// sequence number and a SCAN cursor — the sequence number to resume from —
// stays valid across inserts, deletes and compaction. When tombstones
// outnumber half the slots, or the slice has shrunk to a quarter of its
// capacity, it is compacted in order. Lookups, inserts, deletes and picking
// a random element take O(1) (amortised).
type dict[V any] struct {
	slots []slot[V]
	index map[string]int
	// nextSeq is the sequence number of the next insert; it starts at 1
	// so that cursor 0 means "from the start".
	nextSeq uint64
	dead    int // tombstones in slots
	// bytes is the total length of the live keys and, for a hash, values.
	bytes int
}

// slot is one element of a dict, or a tombstone when dead.
type slot[V any] struct {
	key  string
	val  V
	seq  uint64
	dead bool
}

// newDict returns an empty dict.
func newDict[V any]() *dict[V] {
	return &dict[V]{index: make(map[string]int), nextSeq: 1}
}

// len returns the number of live elements.
func (d *dict[V]) len() int { return len(d.index) }

// valueLen returns the length of a dict value: the string's for a hash, 0
// for a set's empty struct.
func valueLen[V any](v V) int {
	if s, ok := any(v).(string); ok {
		return len(s)
	}
	return 0
}

// get returns key's value.
func (d *dict[V]) get(key string) (V, bool) {
	i, ok := d.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	return d.slots[i].val, true
}

// has reports whether key is present.
func (d *dict[V]) has(key string) bool {
	_, ok := d.index[key]
	return ok
}

// set stores val at key and reports whether key is new; an existing key
// keeps its place in the order.
func (d *dict[V]) set(key string, val V) bool {
	if i, ok := d.index[key]; ok {
		d.bytes += valueLen(val) - valueLen(d.slots[i].val)
		d.slots[i].val = val
		return false
	}
	d.bytes += len(key) + valueLen(val)
	d.index[key] = len(d.slots)
	d.slots = append(d.slots, slot[V]{key: key, val: val, seq: d.nextSeq})
	d.nextSeq++
	return true
}

// del removes key and returns its value.
func (d *dict[V]) del(key string) (V, bool) {
	i, ok := d.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	v := d.slots[i].val
	d.delSlot(i)
	return v, true
}

// delSlot removes the live element in slot i, leaving a tombstone that is
// dropped at once from the end of the slice and by compaction elsewhere.
func (d *dict[V]) delSlot(i int) {
	d.bytes -= len(d.slots[i].key) + valueLen(d.slots[i].val)
	delete(d.index, d.slots[i].key)
	d.slots[i] = slot[V]{seq: d.slots[i].seq, dead: true}
	d.dead++
	for n := len(d.slots); n > 0 && d.slots[n-1].dead; n-- {
		d.slots = d.slots[:n-1]
		d.dead--
	}
	if d.dead > len(d.slots)/2 || (cap(d.slots) >= shrinkMin && cap(d.slots) > 4*len(d.slots)) {
		d.compact()
	}
}

// compact drops the tombstones, keeping the order and sequence numbers, into
// a new slice and index sized for the live elements, so that the memory of
// deleted elements is returned.
func (d *dict[V]) compact() {
	live := make([]slot[V], 0, len(d.index))
	index := make(map[string]int, len(d.index))
	for _, s := range d.slots {
		if !s.dead {
			index[s.key] = len(live)
			live = append(live, s)
		}
	}
	d.slots, d.index, d.dead = live, index, 0
}

// randomSlot returns the slot of a uniformly random live element; the dict
// must not be empty. At most half the slots are tombstones, so this takes
// two tries on average.
func (d *dict[V]) randomSlot() int {
	for {
		if i := rand.IntN(len(d.slots)); !d.slots[i].dead {
			return i
		}
	}
}

// scan yields up to count live elements whose sequence number is at least
// cursor, in order, and returns the cursor to resume from: the sequence
// number of the next live element, or 0 when none is left.
func (d *dict[V]) scan(cursor uint64, count int, yield func(key string, val V)) uint64 {
	i := sort.Search(len(d.slots), func(i int) bool { return d.slots[i].seq >= cursor })
	for ; i < len(d.slots); i++ {
		s := &d.slots[i]
		if s.dead {
			continue
		}
		if count == 0 {
			return s.seq
		}
		yield(s.key, s.val)
		count--
	}
	return 0
}

// all iterates over the live elements in insertion order.
func (d *dict[V]) all() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, s := range d.slots {
			if !s.dead && !yield(s.key, s.val) {
				return
			}
		}
	}
}

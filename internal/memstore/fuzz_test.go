package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// FuzzStoreModel runs the operations a fuzzed byte string describes on the
// store and on a plain model of Redis (maps, sorted on demand), and requires
// the same answers, expiry included.
func FuzzStoreModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Add([]byte("\x00\x01\x05\x02\x01\x00\x10\x03\x11\x04\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Unix(1_700_000_000, 0)
		s := New(Options{Now: func() time.Time { return start }, ExpiryInterval: -1})
		defer s.Close()
		m := &model{now: start.UnixMilli(), keys: map[string]*modelKey{}}
		ctx := context.Background()
		for i := 0; i+2 < len(data); i += 3 {
			op, a, b := data[i]%modelOps, data[i+1], data[i+2]
			key, field := "k"+strconv.Itoa(int(a%4)), "f"+strconv.Itoa(int(b%4))
			got, want := runOp(ctx, s, op, key, field, a, b), m.run(op, key, field, a, b)
			if got != want {
				t.Fatalf("operation %d (op %d on %s/%s, %d %d): store %s, model %s", i/3, op, key, field, a, b, got, want)
			}
			if op == opForward {
				m.forward(int64(b) * 100)
			}
		}
	})
}

const (
	opSet = iota
	opGet
	opDel
	opIncr
	opHSet
	opHGet
	opHDel
	opHLen
	opSAdd
	opSRem
	opSCard
	opZAdd
	opZRem
	opZRank
	opZCard
	opExpire
	opTTL
	opForward
	modelOps
)

// runOp runs one operation on the store and renders its answer.
func runOp(ctx context.Context, s *Store, op byte, key, field string, a, b byte) string {
	ttl := time.Duration(b%3) * time.Second // 0: no expiry
	switch op {
	case opSet:
		return show(nil, s.Set(ctx, key, field, ttl))
	case opGet:
		v, ok, err := s.Get(ctx, key)
		return show(fmt.Sprint(v, ok), err)
	case opDel:
		return show(s.Del(ctx, key))
	case opIncr:
		return show(s.IncrBy(ctx, key, int64(b)-128, ttl))
	case opHSet:
		return show(s.HSet(ctx, key, ttl, field, strconv.Itoa(int(b))))
	case opHGet:
		v, ok, err := s.HGet(ctx, key, field)
		return show(fmt.Sprint(v, ok), err)
	case opHDel:
		return show(s.HDel(ctx, key, field))
	case opHLen:
		return show(s.HLen(ctx, key))
	case opSAdd:
		return show(s.SAdd(ctx, key, ttl, field))
	case opSRem:
		return show(s.SRem(ctx, key, field))
	case opSCard:
		return show(s.SCard(ctx, key))
	case opZAdd:
		return show(s.ZAdd(ctx, key, ttl, backend.ZAddUpsert, zs([]string{field}, []float64{float64(b % 3)})...))
	case opZRem:
		return show(s.ZRem(ctx, key, field))
	case opZRank:
		r, ok, err := s.ZRank(ctx, key, field, a%2 == 0)
		return show(fmt.Sprint(r, ok), err)
	case opZCard:
		return show(s.ZCard(ctx, key))
	case opExpire:
		return show(s.PExpire(ctx, key, time.Duration(int(b%5)-1)*time.Second))
	case opTTL:
		d, ok, err := s.PTTL(ctx, key)
		return show(fmt.Sprint(d, ok), err)
	case opForward:
		s.FastForward(time.Duration(b) * 100 * time.Millisecond)
		return "ok"
	}
	return "?"
}

func show(v any, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	return fmt.Sprint(v)
}

// model is Redis, written as plainly as possible.
type model struct {
	now  int64 // unix ms
	keys map[string]*modelKey
}

type modelKey struct {
	kind     kind
	str      string
	hash     map[string]string
	set      map[string]bool
	zset     map[string]float64
	deadline int64 // unix ms; 0: none
}

func (m *model) forward(ms int64) { m.now += ms }

// live returns the key if it exists and has not expired.
func (m *model) live(key string) *modelKey {
	k := m.keys[key]
	if k != nil && k.deadline != 0 && m.now > k.deadline {
		delete(m.keys, key)
		return nil
	}
	return k
}

// typed returns the key for a command on kind k: nil and no error when
// missing, an error for another kind.
func (m *model) typed(key string, k kind) (*modelKey, error) {
	v := m.live(key)
	if v != nil && v.kind != k {
		return nil, ErrWrongType
	}
	return v, nil
}

// create returns the key of kind k, creating it when missing.
func (m *model) create(key string, k kind) (*modelKey, error) {
	v, err := m.typed(key, k)
	if err != nil || v != nil {
		return v, err
	}
	v = &modelKey{kind: k, hash: map[string]string{}, set: map[string]bool{}, zset: map[string]float64{}}
	m.keys[key] = v
	return v, nil
}

func (m *model) expire(v *modelKey, ttl time.Duration) {
	if ttl > 0 {
		v.deadline = m.now + ttl.Milliseconds()
	} else {
		v.deadline = 0
	}
}

// dropEmpty deletes a collection whose last element went, as Redis does.
func (m *model) dropEmpty(key string, v *modelKey) {
	if len(v.hash)+len(v.set)+len(v.zset) == 0 {
		delete(m.keys, key)
	}
}

func (m *model) run(op byte, key, field string, a, b byte) string {
	ttl := time.Duration(b%3) * time.Second
	switch op {
	case opSet:
		m.keys[key] = &modelKey{kind: kindString, str: field}
		m.expire(m.keys[key], ttl)
		return show(nil, nil)
	case opGet:
		v, err := m.typed(key, kindString)
		if v == nil {
			return show(fmt.Sprint("", false), err)
		}
		return show(fmt.Sprint(v.str, true), nil)
	case opDel:
		if m.live(key) == nil {
			return show(int64(0), nil)
		}
		delete(m.keys, key)
		return show(int64(1), nil)
	case opIncr:
		return m.incr(key, int64(b)-128, ttl)
	case opHSet:
		v, err := m.create(key, kindHash)
		if err != nil {
			return show(nil, err)
		}
		_, had := v.hash[field]
		v.hash[field] = strconv.Itoa(int(b))
		m.expire(v, ttl)
		return show(boolInt(!had), nil)
	case opHGet:
		v, err := m.typed(key, kindHash)
		if v == nil {
			return show(fmt.Sprint("", false), err)
		}
		val, ok := v.hash[field]
		return show(fmt.Sprint(val, ok), nil)
	case opHDel, opSRem, opZRem:
		return m.remove(op, key, field)
	case opHLen, opSCard, opZCard:
		return m.card(op, key)
	case opSAdd:
		v, err := m.create(key, kindSet)
		if err != nil {
			return show(nil, err)
		}
		had := v.set[field]
		v.set[field] = true
		m.expire(v, ttl)
		return show(boolInt(!had), nil)
	case opZAdd:
		v, err := m.create(key, kindZSet)
		if err != nil {
			return show(nil, err)
		}
		_, had := v.zset[field]
		v.zset[field] = float64(b % 3)
		m.expire(v, ttl)
		return show(boolInt(!had), nil)
	case opZRank:
		return m.rank(key, field, a%2 == 0)
	case opExpire:
		v := m.live(key)
		if v == nil {
			return show(false, nil)
		}
		if d := time.Duration(int(b%5)-1) * time.Second; d > 0 {
			v.deadline = m.now + d.Milliseconds()
		} else {
			delete(m.keys, key)
		}
		return show(true, nil)
	case opTTL:
		v := m.live(key)
		switch {
		case v == nil:
			return show(fmt.Sprint(time.Duration(0), false), nil)
		case v.deadline == 0:
			return show(fmt.Sprint(time.Duration(-1), true), nil)
		}
		return show(fmt.Sprint(time.Duration(v.deadline-m.now)*time.Millisecond, true), nil)
	case opForward:
		return "ok"
	}
	return "?"
}

func (m *model) incr(key string, n int64, ttl time.Duration) string {
	v, err := m.typed(key, kindString)
	if err != nil {
		return show(nil, err)
	}
	cur := int64(0)
	if v != nil {
		if cur, err = strconv.ParseInt(v.str, 10, 64); err != nil {
			return show(nil, ErrNotInteger)
		}
	} else {
		v = &modelKey{kind: kindString}
		m.keys[key] = v
	}
	v.str = strconv.FormatInt(cur+n, 10)
	m.expire(v, ttl)
	return show(cur+n, nil)
}

func (m *model) remove(op byte, key, field string) string {
	k := map[byte]kind{opHDel: kindHash, opSRem: kindSet, opZRem: kindZSet}[op]
	v, err := m.typed(key, k)
	if v == nil {
		return show(int64(0), err)
	}
	_, inHash := v.hash[field]
	_, inZSet := v.zset[field]
	found := inHash || v.set[field] || inZSet
	delete(v.hash, field)
	delete(v.set, field)
	delete(v.zset, field)
	m.dropEmpty(key, v)
	return show(boolInt(found), nil)
}

func (m *model) card(op byte, key string) string {
	k := map[byte]kind{opHLen: kindHash, opSCard: kindSet, opZCard: kindZSet}[op]
	v, err := m.typed(key, k)
	if v == nil {
		return show(int64(0), err)
	}
	return show(int64(len(v.hash)+len(v.set)+len(v.zset)), nil)
}

func (m *model) rank(key, field string, reverse bool) string {
	v, err := m.typed(key, kindZSet)
	if v == nil {
		return show(fmt.Sprint(int64(0), false), err)
	}
	if _, ok := v.zset[field]; !ok {
		return show(fmt.Sprint(int64(0), false), nil)
	}
	members := make([]string, 0, len(v.zset))
	for mem := range v.zset {
		members = append(members, mem)
	}
	slices.SortFunc(members, func(x, y string) int {
		if v.zset[x] != v.zset[y] {
			if v.zset[x] < v.zset[y] {
				return -1
			}
			return 1
		}
		if x < y {
			return -1
		}
		if x > y {
			return 1
		}
		return 0
	})
	if reverse {
		slices.Reverse(members)
	}
	return show(fmt.Sprint(int64(slices.Index(members, field)), true), nil)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

package systemtest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches"
)

// The load of the fault run: every operation of every cache type, and
// memoized calls, picked at random by a few workers, each call under its
// own deadline and recorded.

// faultOp is one operation of the load. redis is false for the memoized
// calls, which succeed without Redis.
type faultOp struct {
	name  string
	redis bool
	run   func(ctx context.Context, r *rand.Rand) error
}

// callStats are one worker's records, or all of them merged.
type callStats struct {
	durations []time.Duration
	over      []overrun // calls over deadline + slack
	errs      map[string]int
	calls     map[string]int
	failed    map[string]int
	memo      []memoCall
	panics    []string
}

func newCallStats() *callStats {
	return &callStats{errs: map[string]int{}, calls: map[string]int{}, failed: map[string]int{}}
}

// add merges the records of o into st.
func (st *callStats) add(o *callStats) {
	st.durations = append(st.durations, o.durations...)
	st.over = append(st.over, o.over...)
	st.panics = append(st.panics, o.panics...)
	st.memo = append(st.memo, o.memo...)
	for _, m := range [][2]map[string]int{{st.calls, o.calls}, {st.failed, o.failed}, {st.errs, o.errs}} {
		for k, n := range m[1] {
			m[0][k] += n
		}
	}
}

// overrun is a call that took longer than its deadline and faultSlack.
type overrun struct {
	desc       string
	start, end time.Time
}

// memoCall is one memoized call: when, and whether it returned the
// function's value.
type memoCall struct {
	start, end time.Time
	err        error
}

// faultLoad is the caches under load and the checks of their results.
type faultLoad struct {
	ops   []faultOp
	memo  *caches.Memo[int, string]
	lease *caches.Memo[int, string]
	cur   atomic.Pointer[faultEvent] // the latest fault
	wrong func(string)               // reports a wrong result
}

// faultKeys is how many keys, fields and members the load spreads over.
const faultKeys = 16

func memoValue(id int) string { return "value-" + strconv.Itoa(id) }

// newFaultLoad builds the families on conn and the operations on them:
// every operation of every cache type, and memoized calls as many as the
// operations of one cache type.
func newFaultLoad(conn *caches.Conn) *faultLoad {
	l := &faultLoad{}
	o := func(prefix string) caches.Options {
		return caches.Options{Prefix: prefix, Conn: conn, TTL: time.Minute}
	}
	l.addKeyOps(caches.NewKeyCache[string](o("f:kv")), caches.NewKeyCache[int64](o("f:n")))
	l.addDictOps(caches.NewDictCache[string, int](o("f:d")))
	setOpts := o("f:s")
	setOpts.HashTag = true
	l.addSetOps(caches.NewSetCache[string](setOpts))
	l.addSortedSetOps(caches.NewSortedSetCache[string](o("f:z")))
	l.addCounterOps(caches.NewCounterCache[string](o("f:c")))
	l.addMemoOps(o("f:m"), len(l.ops)/5)
	return l
}

// add adds an operation on Redis to the load.
func (l *faultLoad) add(name string, run func(ctx context.Context, r *rand.Rand) error) {
	l.ops = append(l.ops, faultOp{name: name, redis: true, run: run})
}

func pick(r *rand.Rand) int      { return r.IntN(faultKeys) }
func member(r *rand.Rand) string { return "m" + strconv.Itoa(r.IntN(faultKeys)) }

// drain runs an iteration to its end or its first error.
func drain[V any](seq iter.Seq2[V, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// addKeyOps adds the operations of KeyCache on kv, whose key i only ever
// holds "v<i>", and the increments on num.
func (l *faultLoad) addKeyOps(kv *caches.KeyCache[string], num *caches.KeyCache[int64]) {
	kvKey := func(r *rand.Rand) (caches.Key[string], string) {
		i := pick(r)
		return kv.Key(i), "v" + strconv.Itoa(i)
	}
	// checkKV reports a value that key i never held: a reply read for
	// another command after a timeout would show here.
	checkKV := func(want, got string, err error) error {
		if err == nil && got != want {
			l.wrong(fmt.Sprintf("KeyCache: got %q, want %q", got, want))
		}
		return err
	}
	l.add("Key.Get", func(ctx context.Context, r *rand.Rand) error {
		k, want := kvKey(r)
		got, err := k.Get(ctx)
		return checkKV(want, got, err)
	})
	l.add("Key.GetOr", func(ctx context.Context, r *rand.Rand) error {
		k, want := kvKey(r)
		got, err := k.GetOr(ctx, want)
		return checkKV(want, got, err)
	})
	l.add("Key.Set", func(ctx context.Context, r *rand.Rand) error { k, v := kvKey(r); return k.Set(ctx, v) })
	l.add("Key.SetTTL", func(ctx context.Context, r *rand.Rand) error { k, v := kvKey(r); return k.SetTTL(ctx, v, time.Minute) })
	l.add("Key.Add", func(ctx context.Context, r *rand.Rand) error { k, v := kvKey(r); _, err := k.Add(ctx, v); return err })
	l.add("Key.Pop", func(ctx context.Context, r *rand.Rand) error {
		k, want := kvKey(r)
		got, err := k.Pop(ctx)
		return checkKV(want, got, err)
	})
	l.add("Key.Delete", func(ctx context.Context, r *rand.Rand) error { k, _ := kvKey(r); _, err := k.Delete(ctx); return err })
	l.add("Key.Has", func(ctx context.Context, r *rand.Rand) error { k, _ := kvKey(r); _, err := k.Has(ctx); return err })
	l.add("Key.TTL", func(ctx context.Context, r *rand.Rand) error { k, _ := kvKey(r); _, err := k.TTL(ctx); return err })
	l.add("Key.Expire", func(ctx context.Context, r *rand.Rand) error {
		k, _ := kvKey(r)
		_, err := k.Expire(ctx, time.Minute)
		return err
	})
	l.add("Key.Persist", func(ctx context.Context, r *rand.Rand) error { k, _ := kvKey(r); _, err := k.Persist(ctx); return err })
	l.add("Key.Incr", func(ctx context.Context, r *rand.Rand) error { _, err := num.Key(pick(r)).Incr(ctx, 2); return err })
	l.add("Key.Decr", func(ctx context.Context, r *rand.Rand) error { _, err := num.Key(pick(r)).Decr(ctx, 1); return err })
	l.addKeyBatchOps(kv)
}

// addKeyBatchOps adds the operations of KeyCache on many keys of kv, and
// the invalidation of the whole family.
func (l *faultLoad) addKeyBatchOps(kv *caches.KeyCache[string]) {
	l.add("KeyCache.GetMany", func(ctx context.Context, r *rand.Rand) error {
		a, b := pick(r), pick(r)
		vals, found, err := kv.GetMany(ctx, kv.Key(a), kv.Key(b))
		for i, id := range []int{a, b} {
			if err == nil && found[i] && vals[i] != "v"+strconv.Itoa(id) {
				l.wrong(fmt.Sprintf("GetMany: got %q for key %d", vals[i], id))
			}
		}
		return err
	})
	l.add("KeyCache.SetMany", func(ctx context.Context, r *rand.Rand) error {
		a, b := pick(r), pick(r)
		return kv.SetMany(ctx,
			caches.Entry[string]{Key: kv.Key(a), Value: "v" + strconv.Itoa(a)},
			caches.Entry[string]{Key: kv.Key(b), Value: "v" + strconv.Itoa(b)})
	})
	l.add("KeyCache.DeleteMany", func(ctx context.Context, r *rand.Rand) error {
		_, err := kv.DeleteMany(ctx, kv.Key(pick(r)), kv.Key(pick(r)))
		return err
	})
	l.add("KeyCache.Invalidate", func(ctx context.Context, r *rand.Rand) error {
		if r.IntN(20) != 0 { // now and then: it empties the family
			_, err := kv.Key(pick(r)).Has(ctx)
			return err
		}
		_, err := kv.Invalidate(ctx)
		return err
	})
}

// addDictOps adds the operations of DictCache.
func (l *faultLoad) addDictOps(dict *caches.DictCache[string, int]) {
	d := func(r *rand.Rand) caches.Dict[string, int] { return dict.Key(r.IntN(4)) }
	l.add("Dict.Get", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Get(ctx, member(r)); return err })
	l.add("Dict.GetMany", func(ctx context.Context, r *rand.Rand) error {
		_, err := d(r).GetMany(ctx, member(r), member(r))
		return err
	})
	l.add("Dict.Set", func(ctx context.Context, r *rand.Rand) error { return d(r).Set(ctx, member(r), r.IntN(100)) })
	l.add("Dict.SetMany", func(ctx context.Context, r *rand.Rand) error {
		return d(r).SetMany(ctx, map[string]int{member(r): 1, member(r): 2})
	})
	l.add("Dict.Add", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Add(ctx, member(r), 3); return err })
	l.add("Dict.Delete", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Delete(ctx, member(r)); return err })
	l.add("Dict.Has", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Has(ctx, member(r)); return err })
	l.add("Dict.Len", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Len(ctx); return err })
	l.add("Dict.Pop", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Pop(ctx, member(r)); return err })
	l.add("Dict.PopItem", func(ctx context.Context, r *rand.Rand) error { _, _, err := d(r).PopItem(ctx); return err })
	l.add("Dict.Incr", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Incr(ctx, member(r), 1); return err })
	l.add("Dict.All", func(ctx context.Context, r *rand.Rand) error { return drain(d(r).All(ctx)) })
	l.add("Dict.Map", func(ctx context.Context, r *rand.Rand) error { _, err := d(r).Map(ctx); return err })
	l.add("Dict.Clear", func(ctx context.Context, r *rand.Rand) error { _, err := dict.Key(4).Clear(ctx); return err })
}

// addSetOps adds the operations of SetCache; sets is hash-tagged, so that
// its keys can meet in the set algebra on one Cluster slot.
func (l *faultLoad) addSetOps(sets *caches.SetCache[string]) {
	s := func(r *rand.Rand) caches.Set[string] { return sets.Key(r.IntN(4)) }
	l.add("Set.Add", func(ctx context.Context, r *rand.Rand) error {
		_, err := s(r).Add(ctx, member(r), member(r))
		return err
	})
	l.add("Set.Remove", func(ctx context.Context, r *rand.Rand) error { return s(r).Remove(ctx, member(r)) })
	l.add("Set.Discard", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Discard(ctx, member(r)); return err })
	l.add("Set.Has", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Has(ctx, member(r)); return err })
	l.add("Set.HasMany", func(ctx context.Context, r *rand.Rand) error {
		_, err := s(r).HasMany(ctx, member(r), member(r))
		return err
	})
	l.add("Set.Len", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Len(ctx); return err })
	l.add("Set.Pop", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Pop(ctx); return err })
	l.add("Set.PopN", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).PopN(ctx, 2); return err })
	l.add("Set.Random", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Random(ctx, 3); return err })
	l.add("Set.All", func(ctx context.Context, r *rand.Rand) error { return drain(s(r).All(ctx)) })
	l.add("Set.Members", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Members(ctx); return err })
	l.add("Set.Clear", func(ctx context.Context, r *rand.Rand) error { _, err := sets.Key("u").Clear(ctx); return err })
	l.addSetAlgebraOps(sets, s)
}

// addSetAlgebraOps adds the set algebra of SetCache over the sets s picks,
// the stored results on their own keys of sets.
func (l *faultLoad) addSetAlgebraOps(sets *caches.SetCache[string], s func(*rand.Rand) caches.Set[string]) {
	l.add("Set.Union", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Union(ctx, s(r)); return err })
	l.add("Set.Intersect", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Intersect(ctx, s(r)); return err })
	l.add("Set.Difference", func(ctx context.Context, r *rand.Rand) error { _, err := s(r).Difference(ctx, s(r)); return err })
	l.add("Set.StoreUnion", func(ctx context.Context, r *rand.Rand) error {
		_, err := sets.Key("u").StoreUnion(ctx, s(r), s(r))
		return err
	})
	l.add("Set.StoreIntersect", func(ctx context.Context, r *rand.Rand) error {
		_, err := sets.Key("i").StoreIntersect(ctx, s(r), s(r))
		return err
	})
	l.add("Set.StoreDifference", func(ctx context.Context, r *rand.Rand) error {
		_, err := sets.Key("d").StoreDifference(ctx, s(r), s(r))
		return err
	})
}

// addSortedSetOps adds the operations of SortedSetCache: writes, reads of
// one member, pops, then ranges.
func (l *faultLoad) addSortedSetOps(zs *caches.SortedSetCache[string]) {
	z := func(r *rand.Rand) caches.SortedSet[string] { return zs.Key(r.IntN(4)) }
	score := func(r *rand.Rand) float64 { return float64(r.IntN(100)) }
	scored := func(r *rand.Rand) caches.Scored[string] {
		return caches.Scored[string]{Member: member(r), Score: score(r)}
	}
	l.add("Sorted.Add", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).Add(ctx, member(r), score(r))
		return err
	})
	l.add("Sorted.AddMany", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).AddMany(ctx, scored(r), scored(r))
		return err
	})
	l.add("Sorted.AddNew", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).AddNew(ctx, member(r), score(r))
		return err
	})
	l.add("Sorted.Update", func(ctx context.Context, r *rand.Rand) error {
		err := z(r).Update(ctx, member(r), score(r))
		if errors.Is(err, caches.ErrNotFound) {
			return nil
		}
		return err
	})
	l.add("Sorted.Incr", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Incr(ctx, member(r), 1); return err })
	l.add("Sorted.Score", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Score(ctx, member(r)); return err })
	l.add("Sorted.Has", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Has(ctx, member(r)); return err })
	l.add("Sorted.Rank", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Rank(ctx, member(r)); return err })
	l.add("Sorted.RevRank", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).RevRank(ctx, member(r)); return err })
	l.add("Sorted.Remove", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Remove(ctx, member(r)); return err })
	l.add("Sorted.Len", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Len(ctx); return err })
	l.add("Sorted.PopMin", func(ctx context.Context, r *rand.Rand) error { _, _, err := z(r).PopMin(ctx); return err })
	l.add("Sorted.PopMax", func(ctx context.Context, r *rand.Rand) error { _, _, err := z(r).PopMax(ctx); return err })
	l.add("Sorted.PopMinN", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).PopMinN(ctx, 2); return err })
	l.add("Sorted.PopMaxN", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).PopMaxN(ctx, 2); return err })
	l.add("Sorted.Clear", func(ctx context.Context, r *rand.Rand) error { _, err := zs.Key(4).Clear(ctx); return err })
	l.addSortedRangeOps(z)
}

// addSortedRangeOps adds the operations of SortedSetCache on ranges of the
// sorted sets z picks.
func (l *faultLoad) addSortedRangeOps(z func(*rand.Rand) caches.SortedSet[string]) {
	l.add("Sorted.Range", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).Range(ctx, 0, 5); return err })
	l.add("Sorted.RevRange", func(ctx context.Context, r *rand.Rand) error { _, err := z(r).RevRange(ctx, 0, 5); return err })
	l.add("Sorted.RangeByScore", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).RangeByScore(ctx, caches.Scores(10, 60), 0, 5)
		return err
	})
	l.add("Sorted.RevRangeByScore", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).RevRangeByScore(ctx, caches.AllScores, 1, 5)
		return err
	})
	l.add("Sorted.Count", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).Count(ctx, caches.Scores(0, 50))
		return err
	})
	l.add("Sorted.RemoveRangeByRank", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).RemoveRangeByRank(ctx, 0, 0)
		return err
	})
	l.add("Sorted.RemoveRangeByScore", func(ctx context.Context, r *rand.Rand) error {
		_, err := z(r).RemoveRangeByScore(ctx, caches.Scores(90, 99))
		return err
	})
	l.add("Sorted.All", func(ctx context.Context, r *rand.Rand) error { return drain(z(r).All(ctx, 4)) })
}

// addCounterOps adds the operations of CounterCache.
func (l *faultLoad) addCounterOps(counts *caches.CounterCache[string]) {
	c := func(r *rand.Rand) caches.Counter[string] { return counts.Key(r.IntN(4)) }
	l.add("Counter.Incr", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Incr(ctx, member(r), 1); return err })
	l.add("Counter.Decr", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Decr(ctx, member(r), 1); return err })
	l.add("Counter.Get", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Get(ctx, member(r)); return err })
	l.add("Counter.Set", func(ctx context.Context, r *rand.Rand) error { return c(r).Set(ctx, member(r), 7) })
	l.add("Counter.Update", func(ctx context.Context, r *rand.Rand) error {
		return c(r).Update(ctx, map[string]int64{member(r): 1, member(r): 2})
	})
	l.add("Counter.Delete", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Delete(ctx, member(r)); return err })
	l.add("Counter.Len", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Len(ctx); return err })
	l.add("Counter.Total", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Total(ctx); return err })
	l.add("Counter.MostCommon", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).MostCommon(ctx, 3); return err })
	l.add("Counter.All", func(ctx context.Context, r *rand.Rand) error { return drain(c(r).All(ctx)) })
	l.add("Counter.Map", func(ctx context.Context, r *rand.Rand) error { _, err := c(r).Map(ctx); return err })
	l.add("Counter.Clear", func(ctx context.Context, r *rand.Rand) error { _, err := counts.Key(4).Clear(ctx); return err })
}

// addMemoOps adds n memoized calls, half with a lease: served by the
// function when Redis is not there.
func (l *faultLoad) addMemoOps(opts caches.Options, n int) {
	fn := func(_ context.Context, id int) (string, error) { return memoValue(id), nil }
	memoOpts := caches.MemoOptions[int]{Options: opts, LoadTimeout: time.Second}
	l.memo = caches.Memoize(fn, memoOpts)
	memoOpts.Options.Prefix, memoOpts.Lease = opts.Prefix+"l", true
	l.lease = caches.Memoize(fn, memoOpts)
	for i := 0; i < n; i++ {
		m, name := l.memo, "Memo.Call"
		if i%2 == 1 {
			m, name = l.lease, "Memo.Call(lease)"
		}
		l.ops = append(l.ops, faultOp{name: name, run: func(ctx context.Context, r *rand.Rand) error {
			id := pick(r)
			v, err := m.Call(ctx, id)
			if err == nil && v != memoValue(id) {
				l.wrong(fmt.Sprintf("%s(%d) = %q", name, id, v))
			}
			return err
		}})
	}
}

// worker runs random operations until stop, each under its own deadline,
// and records every call.
func (l *faultLoad) worker(seed uint64, stop *atomic.Bool, st *callStats) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < faultMaxOps && !stop.Load(); i++ {
		op := l.ops[r.IntN(len(l.ops))]
		l.call(op, r, st)
	}
}

func (l *faultLoad) call(op faultOp, r *rand.Rand, st *callStats) {
	defer func() {
		if p := recover(); p != nil {
			st.panics = append(st.panics, fmt.Sprintf("%s: %v", op.name, p))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	start := time.Now()
	err := op.run(ctx, r)
	end := time.Now()
	took := end.Sub(start)

	st.durations = append(st.durations, took)
	st.calls[op.name]++
	if took > faultDeadline+faultSlack {
		st.over = append(st.over, overrun{fmt.Sprintf("%s took %v (err: %v)", op.name, took, err), start, end})
	}
	if !op.redis {
		st.memo = append(st.memo, memoCall{start: start, end: end, err: err})
	}
	ok := err == nil || errors.Is(err, caches.ErrNotFound)
	if !ok {
		st.failed[op.name]++
		st.errs[errClass(err)]++
		return
	}
	if ev := l.cur.Load(); op.redis && ev != nil {
		ev.served(start, end)
	}
}

// errClass names the kind of a failed call's error, for the report: the
// symptoms of the faults by name, anything else as "other: <message>".
func errClass(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "context deadline exceeded"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "EOF"):
		return "EOF"
	case strings.Contains(msg, "connection reset"):
		return "connection reset"
	case strings.Contains(msg, "i/o timeout"):
		return "i/o timeout"
	case strings.Contains(msg, "broken pipe"):
		return "broken pipe"
	}
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return "other: " + msg
}

func uniqueNames(ops []faultOp) map[string]bool {
	out := map[string]bool{}
	for _, op := range ops {
		out[op.name] = true
	}
	return out
}

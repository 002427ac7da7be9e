package memstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocaches/caches/internal/backend"
)

// diffGen and diffOps drive random commands on a Store, for the accounting
// and invariant tests. (Temporary: replaced by the backendtest generator.)

type diffGen struct{ r *rand.Rand }

func pick[T any](g diffGen, pool ...T) T { return pool[g.r.IntN(len(pool))] }

func (g diffGen) key() string { return pick(g, "a", "b", "c", "d") }
func (g diffGen) member() string {
	return pick(g, "m0", "m1", "m2", "m3", "m4", "", "0", "-1", "1.5", "é", "M")
}
func (g diffGen) members() []string {
	out := make([]string, 1+g.r.IntN(4))
	for i := range out {
		out[i] = g.member()
	}
	return out
}
func (g diffGen) value() string {
	if g.r.IntN(3) == 0 {
		return pick(g,
			strconv.FormatFloat(g.randFloat(), 'f', g.r.IntN(25), 64),
			strconv.FormatFloat(g.randFloat(), 'g', -1, 64),
			strconv.FormatInt(g.r.Int64()>>g.r.IntN(64), 10))
	}
	return pick(g, "10", "abc", "1.5", "-0", "01", "+1", " 1", "1 ", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "1e5", "0x10", "inf", "-inf", "nan", "", "3.0",
		"0", "-", "1e-30", "1e400", ".5", "5.", "0x1p3", "1.7976931348623157e308")
}
func (g diffGen) ttl() time.Duration {
	return pick(g, 0, 0, time.Hour, 2*time.Hour+time.Microsecond)
}
func (g diffGen) int() int64 {
	return pick[int64](g, 0, 1, -1, 2, 5, -3, 100, math.MaxInt64, math.MinInt64, math.MinInt64+1)
}

// randFloat returns a float of random sign and magnitude.
func (g diffGen) randFloat() float64 {
	return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(50)-25))
}

func (g diffGen) float() float64 {
	if g.r.IntN(3) == 0 {
		return g.randFloat()
	}
	return pick(g, 0, 0.1, 0.2, -0.3, 1.5, 1e-20, 1e308, -1e308, 3, math.Copysign(0, -1),
		math.Inf(1), math.Inf(-1), math.NaN(), 1.7976931348623157e308)
}
func (g diffGen) score() float64 {
	return pick(g, 0, 1, -1, 1.5, 2.5, 2.5, 3, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e300)
}
func (g diffGen) bound() string {
	return pick(g, "-inf", "+inf", "inf", "-INF", "1", "(1", "1.5", "(2.5", "2.5", "0", "(0", "-1",
		"abc", "(", "", " 1", "0x2", "nan", "1e400", "(-inf", "+inf)", "3", "(3", "1e-400", "-0")
}
func (g diffGen) op() string     { return pick(g, "SUNION", "SINTER", "SDIFF", "sunion") }
func (g diffGen) keys() []string { return []string{g.key(), g.key(), g.key()}[:1+g.r.IntN(3)] }
func (g diffGen) idx() int64     { return pick[int64](g, 0, 1, 2, -1, -2, -3, 5, 100, -100) }
func (g diffGen) count() int64   { return pick[int64](g, 0, 1, 2, 3, 20, -1, -2, -5) }
func (g diffGen) offset() int64  { return pick[int64](g, 0, 0, 1, 2, 5, -1) }
func (g diffGen) fields() []string {
	return g.members()
}

// diffOps are the commands the comparison runs; each returns a printable
// result. Results whose order Redis leaves unspecified are sorted.
var diffOps = []func(ctx context.Context, g diffGen, c *Store) any{
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.Get(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.Set(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.Set(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SetNX(ctx, g.key(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.GetDel(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.Del(ctx, g.keys()...)) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.DelIfEqual(ctx, g.key(), pick(g, "10", "abc", "1.5", "")))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.Exists(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.PExpire(ctx, g.key(), pick(g, -time.Second, 0, -time.Microsecond, time.Hour, 3*time.Hour+time.Microsecond)))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.PExpireAt(ctx, g.key(), pick(g, time.Unix(1, 0), time.Now().Add(5*time.Hour))))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.Persist(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		ttl, ok, err := c.PTTL(ctx, g.key())
		if ttl > 0 {
			ttl = ttl.Round(time.Minute) // the TTLs used are whole hours
		}
		return fmt.Sprintln(ttl, ok, err)
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.IncrBy(ctx, g.key(), g.int(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.IncrByFloat(ctx, g.key(), g.float(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HGet(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HMGet(ctx, g.key(), g.fields()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		fv := []string{}
		for range 1 + g.r.IntN(3) {
			fv = append(fv, g.member(), g.value())
		}
		return fmt.Sprintln(c.HSet(ctx, g.key(), g.ttl(), fv...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HSetNX(ctx, g.key(), g.member(), g.value(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HDel(ctx, g.key(), g.fields()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HExists(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.HLen(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HGetDel(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HIncrBy(ctx, g.key(), g.member(), g.int(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.HIncrByFloat(ctx, g.key(), g.member(), g.float(), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		fields := g.fields()
		ns := make([]int64, len(fields))
		for i := range ns {
			ns[i] = g.int()
		}
		vals, err := c.HIncrByMany(ctx, g.key(), g.ttl(), fields, ns)
		if errors.Is(err, ErrWrongType) || err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return "WRONGTYPE" // the values are all zero, however returned
		}
		return fmt.Sprintln(vals, err)
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fullScan(ctx, c.HScan, g.key(), 2) },
	func(ctx context.Context, g diffGen, c *Store) any { return pairs(c.HGetAll(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any { return sorted(c.HVals(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SAdd(ctx, g.key(), g.ttl(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SAdd(ctx, g.key(), g.ttl(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SRem(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SIsMember(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SMIsMember(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.SCard(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		// Only counts that make SPOP deterministic.
		return sorted(c.SPop(ctx, g.key(), pick[int64](g, 0, 20, -1)))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		m, err := c.SRandMember(ctx, g.key(), pick[int64](g, 0, 1, 3, 20, -1, -5, math.MinInt64))
		return fmt.Sprintln(len(m), err)
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fullScan(ctx, c.SScan, g.key(), 1) },
	func(ctx context.Context, g diffGen, c *Store) any { return sorted(c.SMembers(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return sorted(c.SCombine(ctx, setop(g.op()), g.keys()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.SCombineStore(ctx, setop(g.op()), g.key(), g.ttl(), g.keys()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		ms := g.members()
		sc := make([]float64, len(ms))
		for i := range sc {
			sc[i] = g.score()
		}
		return fmt.Sprintln(c.ZAdd(ctx, g.key(), g.ttl(), zmode(pick(g, "", "", "NX", "XX")), zs(ms, sc)...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZAdd(ctx, g.key(), g.ttl(), backend.ZAddUpsert, zs([]string{g.member()}, []float64{g.score()})...))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZIncrBy(ctx, g.key(), g.member(), pick(g, 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN()), g.ttl()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZScore(ctx, g.key(), g.member()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZRank(ctx, g.key(), g.member(), g.r.IntN(2) == 0))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZRem(ctx, g.key(), g.members()...))
	},
	func(ctx context.Context, g diffGen, c *Store) any { return fmt.Sprintln(c.ZCard(ctx, g.key())) },
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(splitZ(c.ZPop(ctx, g.key(), g.count(), g.r.IntN(2) == 0)))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(splitZ(c.ZRange(ctx, g.key(), g.idx(), g.idx(), g.r.IntN(2) == 0)))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(splitZ(c.ZRangeByScore(ctx, g.key(), g.bound(), g.bound(), g.r.IntN(2) == 0, g.offset(), g.count())))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZCount(ctx, g.key(), g.bound(), g.bound()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZRemRangeByRank(ctx, g.key(), g.idx(), g.idx()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		return fmt.Sprintln(c.ZRemRangeByScore(ctx, g.key(), g.bound(), g.bound()))
	},
	func(ctx context.Context, g diffGen, c *Store) any {
		notB := func(k string) bool { return k != "b" }
		return fmt.Sprintln(c.DeleteMatching(ctx, pick(g, "*", "a", "[ab]", "?", "[^a]", "b*", "x*", `\a`, "[c-d]", "*[bd]"),
			pick(g, nil, notB), pick[int64](g, 0, 1, 2)))
	},
}

// fullScan runs a scan to completion and returns its sorted results; for
// hashes (width 2) field-value pairs stay together.
func fullScan(ctx context.Context, scan func(context.Context, string, uint64, int64) ([]string, uint64, error), key string, width int) string {
	var all []string
	cursor := uint64(0)
	for {
		page, next, err := scan(ctx, key, cursor, 2)
		if err != nil {
			return err.Error()
		}
		for i := 0; i < len(page); i += width {
			all = append(all, strings.Join(page[i:i+width], "="))
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(all)
	return fmt.Sprintln(all)
}

func pairs(fv []string, err error) string {
	var all []string
	for i := 0; i+1 < len(fv); i += 2 {
		all = append(all, fv[i]+"="+fv[i+1])
	}
	return sorted(all, err)
}

func sorted(v []string, err error) string {
	v = slices.Clone(v)
	slices.Sort(v)
	return fmt.Sprintln(v, err)
}

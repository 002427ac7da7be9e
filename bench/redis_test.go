package bench

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	ekocache "github.com/eko/gocache/lib/v4/cache"
	ekostore "github.com/eko/gocache/lib/v4/store"
	ekoredis "github.com/eko/gocache/store/redis/v4"
	rcache "github.com/go-redis/cache/v9"
	"github.com/gocaches/caches"
	"github.com/redis/go-redis/v9"
)

const ttl = time.Hour

// Values come from variables, as in a program: boxing them for go-redis
// costs what it costs a program.
var (
	payload = "payload of a typical size, a few dozen bytes"
	userID  = "user-42"
	profile = Profile{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Tags: []string{"math", "engines"}}
	ten     = names("m", 10) // the fields or members of the collections
	score3  = 3.0            // a score and an increment, from variables as well
	incr1   = 1.0
)

// sinkMap keeps a map a raw benchmark builds, as a caller would keep it.
var sinkMap map[string]string

// Profile is a typical JSON value.
type Profile struct {
	ID    int64    `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
}

// BenchmarkRedis compares every hot operation of the caches with raw
// go-redis sending the same commands in the same round trips (MULTI/EXEC
// where the cache uses it), on one server, from one goroutine. Names are
// <operation>/<implementation>: ours is the library, raw is go-redis, and
// the KeyCache and Memoize groups add go-redis/cache and eko/gocache.
// Ours keys are o:…, raw keys r:…, of the same length.
func BenchmarkRedis(b *testing.B) {
	e := newRedisEnv(b)
	defer e.close()
	benchKeyCache(e)
	benchDict(e)
	benchSet(e)
	benchZSet(e)
	benchCounter(e)
	benchMemoize(e)
	benchBatches(e)
}

// redisEnv is what the comparisons on Redis share.
type redisEnv struct {
	b      *testing.B
	ctx    context.Context
	rt     *roundTrips   // counts and records what client sends
	client *redis.Client // the client every implementation measured uses
	admin  *redis.Client // fills keys untimed and uncounted
	conn   *caches.Conn  // ours, on client
	gc     *rcache.Cache // go-redis/cache, on client
	eko    *ekocache.Cache[string]
}

func newRedisEnv(b *testing.B) *redisEnv {
	e := &redisEnv{b: b, ctx: context.Background(), rt: &roundTrips{}}
	e.client = redis.NewClient(&redis.Options{Addr: redisAddr})
	e.client.AddHook(e.rt)
	e.admin = redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := e.admin.FlushAll(e.ctx).Err(); err != nil {
		e.close()
		b.Fatal(err)
	}
	e.conn = caches.NewRedisConn(e.client)
	e.gc = rcache.New(&rcache.Options{Redis: e.client})
	e.eko = ekocache.New[string](ekoredis.NewRedis(e.client, ekostore.WithExpiration(ttl)))
	return e
}

func (e *redisEnv) close() {
	e.client.Close()
	e.admin.Close()
}

// opts configures a family of ours on the measured client.
func (e *redisEnv) opts(prefix string) caches.Options {
	return caches.Options{Prefix: prefix, TTL: ttl, Conn: e.conn}
}

// cmp compares the implementations of op, checking that ours and raw send
// the same commands.
func (e *redisEnv) cmp(op string, impls ...impl) { compare(e.b, op, e.rt, impls...) }

func (e *redisEnv) must(err error) {
	if err != nil {
		e.b.Fatal(err)
	}
}

// fill runs cmd for each i < n through pipelines on the admin client.
func (e *redisEnv) fill(n int, cmd func(p redis.Pipeliner, i int)) error {
	return fill(e.ctx, e.admin, n, cmd)
}

// keyCacheBench is one KeyCache of ours holding payload under userID, and
// the keys of the same value for raw go-redis, go-redis/cache and
// eko/gocache.
type keyCacheBench struct {
	*redisEnv
	kc     *caches.KeyCache[string]
	h      caches.Key[string]
	rkey   string
	gcKey  string
	ekoKey string
}

// benchKeyCache compares the operations of a KeyCache: reads, writes,
// taking keys, increments and JSON values.
func benchKeyCache(e *redisEnv) {
	k := &keyCacheBench{redisEnv: e, kc: caches.NewKeyCache[string](e.opts("o:kc")),
		rkey: "r:kc:" + userID, gcKey: "g:kc:" + userID, ekoKey: "e:kc:" + userID}
	k.h = k.kc.Key(userID)
	e.must(k.h.Set(e.ctx, payload))
	e.must(e.admin.Set(e.ctx, k.rkey, payload, ttl).Err())
	e.must(e.gc.Set(&rcache.Item{Ctx: e.ctx, Key: k.gcKey, Value: payload, TTL: ttl}))
	e.must(e.eko.Set(e.ctx, k.ekoKey, payload))
	warmUp(e.b, func(int) error { return e.client.Get(e.ctx, k.rkey).Err() })
	k.gets()
	k.writes()
	k.reads()
	k.takes()
	benchKeyCacheIncr(e)
	benchKeyCacheJSON(e)
}

func (k *keyCacheBench) gets() {
	ctx, client := k.ctx, k.client
	k.cmp("KeyCache.Get",
		impl{name: "ours", op: func(int) error {
			s, err := k.h.Get(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, k.rkey).Result()
			return expect(s == payload, err)
		}},
		impl{name: "go-redis-cache", op: func(int) error {
			var s string
			err := k.gc.Get(ctx, k.gcKey, &s)
			return expect(s == payload, err)
		}},
		impl{name: "eko-gocache", op: func(int) error {
			s, err := k.eko.Get(ctx, k.ekoKey)
			return expect(s == payload, err)
		}},
	)
	k.cmp("KeyCache.Key(id).Get",
		impl{name: "ours", op: func(int) error {
			s, err := k.kc.Key(userID).Get(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, "r:kc:"+userID).Result()
			return expect(s == payload, err)
		}},
	)
	miss := k.kc.Key("missing")
	k.cmp("KeyCache.Get(miss)",
		impl{name: "ours", op: func(int) error {
			_, err := miss.Get(ctx)
			return expect(err == caches.ErrNotFound, nil)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			err := client.Get(ctx, "r:kc:missing").Err()
			return expect(err == redis.Nil, nil)
		}},
	)
}

func (k *keyCacheBench) writes() {
	ctx, client := k.ctx, k.client
	k.cmp("KeyCache.Set",
		impl{name: "ours", op: func(int) error { return k.h.Set(ctx, payload) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error { return client.Set(ctx, k.rkey, payload, ttl).Err() }},
		impl{name: "go-redis-cache", op: func(int) error {
			return k.gc.Set(&rcache.Item{Ctx: ctx, Key: k.gcKey, Value: payload, TTL: ttl})
		}},
		impl{name: "eko-gocache", op: func(int) error { return k.eko.Set(ctx, k.ekoKey, payload) }},
	)
	k.cmp("KeyCache.Add",
		impl{name: "ours", op: func(int) error {
			ok, err := k.h.Add(ctx, payload)
			return expect(!ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.SetNX(ctx, k.rkey, payload, ttl).Result()
			return expect(!ok, err)
		}},
	)
}

func (k *keyCacheBench) reads() {
	ctx, client := k.ctx, k.client
	k.cmp("KeyCache.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := k.h.Has(ctx)
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.Exists(ctx, k.rkey).Result()
			return expect(n == 1, err)
		}},
	)
	k.cmp("KeyCache.TTL",
		impl{name: "ours", op: func(int) error {
			d, err := k.h.TTL(ctx)
			return expect(d > 0, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			d, err := client.PTTL(ctx, k.rkey).Result()
			return expect(d > 0, err)
		}},
	)
}

// takes compares Pop and Delete, each on keys filled for it untimed.
func (k *keyCacheBench) takes() {
	ctx, client := k.ctx, k.client
	var handles []caches.Key[string]
	var keys []string
	fillOurs := func(name string) func(n int) error {
		return func(n int) error {
			handles = make([]caches.Key[string], n)
			for i := range handles {
				handles[i] = k.kc.Key(name, i)
			}
			return k.fill(n, func(p redis.Pipeliner, i int) { p.Set(ctx, handles[i].String(), payload, ttl) })
		}
	}
	fillRaw := func(prefix string) func(n int) error {
		return func(n int) error {
			keys = names(prefix, n)
			return k.fill(n, func(p redis.Pipeliner, i int) { p.Set(ctx, keys[i], payload, ttl) })
		}
	}
	k.cmp("KeyCache.Pop",
		impl{name: "ours", prep: fillOurs("pop"), op: func(i int) error {
			s, err := handles[i].Pop(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillRaw("r:kc:pop:"), op: func(i int) error {
			s, err := client.GetDel(ctx, keys[i]).Result()
			return expect(s == payload, err)
		}},
	)
	k.cmp("KeyCache.Delete",
		impl{name: "ours", prep: fillOurs("del"), op: func(i int) error {
			ok, err := handles[i].Delete(ctx)
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillRaw("r:kc:del:"), op: func(i int) error {
			n, err := client.Del(ctx, keys[i]).Result()
			return expect(n == 1, err)
		}},
	)
}

func benchKeyCacheIncr(e *redisEnv) {
	ki := caches.NewKeyCache[int64](e.opts("o:ki")).Key(userID)
	rki := "r:ki:" + userID
	e.cmp("KeyCache.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := ki.Incr(e.ctx, 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(e.ctx, e.client, []string{rki}, ttlMs, int64Min, int64Max, "incrby", 1).Text())
		}},
	)
}

func benchKeyCacheJSON(e *redisEnv) {
	ctx, client := e.ctx, e.client
	kj := caches.NewKeyCache[Profile](e.opts("o:kj")).Key(userID)
	rkj := "r:kj:" + userID
	e.must(kj.Set(ctx, profile))
	e.must(e.admin.Set(ctx, rkj, mustJSON(profile), ttl).Err())
	e.cmp("KeyCache.Get(JSON)",
		impl{name: "ours", op: func(int) error {
			p, err := kj.Get(ctx)
			return expect(p.ID == profile.ID, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, rkj).Result()
			if err != nil {
				return err
			}
			var p Profile
			err = json.Unmarshal([]byte(s), &p)
			return expect(p.ID == profile.ID, err)
		}},
	)
	e.cmp("KeyCache.Set(JSON)",
		impl{name: "ours", op: func(int) error { return kj.Set(ctx, profile) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			data, err := json.Marshal(profile)
			if err != nil {
				return err
			}
			return client.Set(ctx, rkj, string(data), ttl).Err()
		}},
	)
}

// dictBench is a DictCache of ours holding a hash of ten fields, and raw
// go-redis's copy of it.
type dictBench struct {
	*redisEnv
	dc     *caches.DictCache[string, string]
	d      caches.Dict[string, string]
	rd     string
	tenMap map[string]string
}

// benchDict compares the operations of a DictCache on a hash of ten fields.
func benchDict(e *redisEnv) {
	d := &dictBench{redisEnv: e, dc: caches.NewDictCache[string, string](e.opts("o:dc")), rd: "r:dc:" + userID,
		tenMap: map[string]string{}}
	d.d = d.dc.Key(userID)
	for _, f := range ten {
		d.tenMap[f] = payload
	}
	e.must(d.d.SetMany(e.ctx, d.tenMap))
	e.must(e.admin.HSet(e.ctx, d.rd, d.tenMap).Err())
	d.fields()
	d.many()
	d.whole()
	d.takes()
	benchDictIncr(e)
}

// fields compares the operations on one field.
func (d *dictBench) fields() {
	ctx, client := d.ctx, d.client
	d.cmp("Dict.Get",
		impl{name: "ours", op: func(int) error {
			s, err := d.d.Get(ctx, ten[3])
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.HGet(ctx, d.rd, ten[3]).Result()
			return expect(s == payload, err)
		}},
	)
	d.cmp("Dict.Set",
		impl{name: "ours", op: func(int) error { return d.d.Set(ctx, ten[3], payload) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return writeExpire.Run(ctx, client, []string{d.rd}, ttlMs, "hset", d.rd, ten[3], payload).Err()
		}},
	)
}

// many compares the operations on ten fields at once, and Add and Has on
// one.
func (d *dictBench) many() {
	ctx, client := d.ctx, d.client
	d.cmp("Dict.GetMany(10)",
		impl{name: "ours", op: func(int) error {
			m, err := d.d.GetMany(ctx, ten...)
			return expect(len(m) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			vals, err := client.HMGet(ctx, d.rd, ten...).Result()
			if err != nil {
				return err
			}
			m := make(map[string]string, len(vals))
			for i, v := range vals {
				if s, ok := v.(string); ok {
					m[ten[i]] = s
				}
			}
			sinkMap = m // returned to the caller, as GetMany's map is
			return expect(len(m) == 10, nil)
		}},
	)
	d.cmp("Dict.SetMany(10)",
		impl{name: "ours", op: func(int) error { return d.d.SetMany(ctx, d.tenMap) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			args := make([]any, 0, 3+2*len(d.tenMap))
			args = append(args, ttlMs, "hset", d.rd)
			for f, v := range d.tenMap {
				args = append(args, f, v)
			}
			return writeExpire.Run(ctx, client, []string{d.rd}, args...).Err()
		}},
	)
	d.cmp("Dict.Add",
		impl{name: "ours", op: func(int) error {
			ok, err := d.d.Add(ctx, ten[3], payload)
			return expect(!ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{d.rd}, ttlMs, "hsetnx", d.rd, ten[3], payload).Int64()
			return expect(n == 0, err)
		}},
	)
	d.cmp("Dict.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := d.d.Has(ctx, ten[3])
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.HExists(ctx, d.rd, ten[3]).Result()
			return expect(ok, err)
		}},
	)
}

// whole compares the reads of the whole hash.
func (d *dictBench) whole() {
	ctx, client := d.ctx, d.client
	d.cmp("Dict.Len",
		impl{name: "ours", op: func(int) error {
			n, err := d.d.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.HLen(ctx, d.rd).Result()
			return expect(n == 10, err)
		}},
	)
	d.cmp("Dict.Map(10)",
		impl{name: "ours", op: func(int) error {
			m, err := d.d.Map(ctx)
			return expect(len(m) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			m, err := client.HGetAll(ctx, d.rd).Result()
			return expect(len(m) == 10, err)
		}},
	)
}

// takes compares Pop and Delete on a big hash, filled untimed for them.
func (d *dictBench) takes() {
	ctx, client := d.ctx, d.client
	var fields []string
	dBig := d.dc.Key("big")
	rdBig := "r:dc:big"
	fillHash := func(key string) func(n int) error {
		return func(n int) error {
			fields = names("f", n)
			return d.fill(n, func(p redis.Pipeliner, i int) { p.HSet(ctx, key, fields[i], payload) })
		}
	}
	d.cmp("Dict.Pop",
		impl{name: "ours", prep: fillHash(dBig.String()), op: func(i int) error {
			s, err := dBig.Pop(ctx, fields[i])
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillHash(rdBig), op: func(i int) error {
			var get *redis.StringCmd
			_, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				get = p.HGet(ctx, rdBig, fields[i])
				p.HDel(ctx, rdBig, fields[i])
				return nil
			})
			return expect(get.Val() == payload, err)
		}},
	)
	d.cmp("Dict.Delete",
		impl{name: "ours", prep: fillHash(dBig.String()), op: func(i int) error {
			n, err := dBig.Delete(ctx, fields[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillHash(rdBig), op: func(i int) error {
			n, err := client.HDel(ctx, rdBig, fields[i]).Result()
			return expect(n == 1, err)
		}},
	)
}

func benchDictIncr(e *redisEnv) {
	di := caches.NewDictCache[string, int64](e.opts("o:di")).Key(userID)
	rdi := "r:di:" + userID
	e.cmp("Dict.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := di.Incr(e.ctx, ten[3], 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(e.ctx, e.client, []string{rdi}, ttlMs, int64Min, int64Max, "hincrby", 1, ten[3]).Text())
		}},
	)
}

// benchSet compares the operations of a SetCache on a set of ten members,
// and its taking operations on a big set.
func benchSet(e *redisEnv) {
	sc := caches.NewSetCache[string](e.opts("o:sc"))
	s := sc.Key(userID)
	rs := "r:sc:" + userID
	_, err := s.Add(e.ctx, ten...)
	e.must(err)
	e.must(e.admin.SAdd(e.ctx, rs, ten).Err())
	benchSetMembers(e, s, rs)
	benchSetWhole(e, s, rs)
	benchSetTakes(e, sc.Key("big"), "r:sc:big")
}

// benchSetMembers compares Add, Has and HasMany.
func benchSetMembers(e *redisEnv, s caches.Set[string], rs string) {
	ctx, client := e.ctx, e.client
	e.cmp("Set.Add",
		impl{name: "ours", op: func(int) error {
			n, err := s.Add(ctx, ten[3])
			return expect(n == 0, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{rs}, ttlMs, "sadd", rs, ten[3]).Int64()
			return expect(n == 0, err)
		}},
	)
	e.cmp("Set.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := s.Has(ctx, ten[3])
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.SIsMember(ctx, rs, ten[3]).Result()
			return expect(ok, err)
		}},
	)
	e.cmp("Set.HasMany(10)",
		impl{name: "ours", op: func(int) error {
			oks, err := s.HasMany(ctx, ten...)
			return expect(len(oks) == 10 && oks[9], err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			args := make([]any, len(ten))
			for i, m := range ten {
				args[i] = m
			}
			oks, err := client.SMIsMember(ctx, rs, args...).Result()
			return expect(len(oks) == 10 && oks[9], err)
		}},
	)
}

// benchSetWhole compares Len and Members.
func benchSetWhole(e *redisEnv, s caches.Set[string], rs string) {
	ctx, client := e.ctx, e.client
	e.cmp("Set.Len",
		impl{name: "ours", op: func(int) error {
			n, err := s.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.SCard(ctx, rs).Result()
			return expect(n == 10, err)
		}},
	)
	e.cmp("Set.Members(10)",
		impl{name: "ours", op: func(int) error {
			ms, err := s.Members(ctx)
			return expect(len(ms) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ms, err := client.SMembers(ctx, rs).Result()
			return expect(len(ms) == 10, err)
		}},
	)
}

// benchSetTakes compares Discard and Pop on a big set, filled untimed for
// them.
func benchSetTakes(e *redisEnv, sBig caches.Set[string], rsBig string) {
	ctx, client := e.ctx, e.client
	var members []string
	fillSet := func(key string) func(n int) error {
		return func(n int) error {
			members = names("m", n)
			return e.fill(n, func(p redis.Pipeliner, i int) { p.SAdd(ctx, key, members[i]) })
		}
	}
	e.cmp("Set.Discard",
		impl{name: "ours", prep: fillSet(sBig.String()), op: func(i int) error {
			n, err := sBig.Discard(ctx, members[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillSet(rsBig), op: func(i int) error {
			n, err := client.SRem(ctx, rsBig, members[i]).Result()
			return expect(n == 1, err)
		}},
	)
	e.cmp("Set.Pop",
		impl{name: "ours", prep: fillSet(sBig.String()), op: func(int) error {
			_, err := sBig.Pop(ctx)
			return err
		}},
		impl{name: "raw", pairWith: "ours", prep: fillSet(rsBig), op: func(int) error {
			ms, err := client.SPopN(ctx, rsBig, 1).Result()
			return expect(len(ms) == 1, err)
		}},
	)
}

// benchZSet compares the operations of a SortedSetCache on ten members
// scored 0 … 9, and its taking operations on a big sorted set.
func benchZSet(e *redisEnv) {
	zc := caches.NewSortedSetCache[string](e.opts("o:zc"))
	z := zc.Key(userID)
	rz := "r:zc:" + userID
	for i, m := range ten {
		_, err := z.Add(e.ctx, m, float64(i))
		e.must(err)
		e.must(e.admin.ZAdd(e.ctx, rz, redis.Z{Member: m, Score: float64(i)}).Err())
	}
	benchZSetWrites(e, z, rz, zc.Key("incr"), "r:zc:incr")
	benchZSetReads(e, z, rz)
	benchZSetRanges(e, z, rz)
	benchZSetTakes(e, zc.Key("big"), "r:zc:big")
}

// benchZSetWrites compares Add, and Incr on a sorted set of its own.
func benchZSetWrites(e *redisEnv, z caches.SortedSet[string], rz string, zi caches.SortedSet[string], rzi string) {
	ctx, client := e.ctx, e.client
	e.cmp("ZSet.Add",
		impl{name: "ours", op: func(int) error {
			added, err := z.Add(ctx, ten[3], 3)
			return expect(!added, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{rz}, ttlMs, "zadd", rz, score3, ten[3]).Int64()
			return expect(n == 0, err)
		}},
	)
	e.cmp("ZSet.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := zi.Incr(ctx, ten[3], 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := writeExpire.Run(ctx, client, []string{rzi}, ttlMs, "zincrby", rzi, incr1, ten[3]).Text()
			if err != nil {
				return err
			}
			_, err = strconv.ParseFloat(s, 64)
			return err
		}},
	)
}

// benchZSetReads compares Score, Rank, Len and Count.
func benchZSetReads(e *redisEnv, z caches.SortedSet[string], rz string) {
	ctx, client := e.ctx, e.client
	e.cmp("ZSet.Score",
		impl{name: "ours", op: func(int) error {
			f, err := z.Score(ctx, ten[3])
			return expect(f == 3, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			f, err := client.ZScore(ctx, rz, ten[3]).Result()
			return expect(f == 3, err)
		}},
	)
	e.cmp("ZSet.Rank",
		impl{name: "ours", op: func(int) error {
			r, err := z.Rank(ctx, ten[3])
			return expect(r == 3, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRank(ctx, rz, ten[3]).Result()
			return expect(r == 3, err)
		}},
	)
	e.cmp("ZSet.Len",
		impl{name: "ours", op: func(int) error {
			n, err := z.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.ZCard(ctx, rz).Result()
			return expect(n == 10, err)
		}},
	)
	e.cmp("ZSet.Count",
		impl{name: "ours", op: func(int) error {
			n, err := z.Count(ctx, caches.Scores(2, 6))
			return expect(n == 5, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.ZCount(ctx, rz, "2", "6").Result()
			return expect(n == 5, err)
		}},
	)
}

// benchZSetRanges compares a range by rank and one by score.
func benchZSetRanges(e *redisEnv, z caches.SortedSet[string], rz string) {
	ctx, client := e.ctx, e.client
	e.cmp("ZSet.Range(10)",
		impl{name: "ours", op: func(int) error {
			r, err := z.Range(ctx, 0, 9)
			return expect(len(r) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRangeWithScores(ctx, rz, 0, 9).Result()
			return expect(len(r) == 10, err)
		}},
	)
	e.cmp("ZSet.RangeByScore(10)",
		impl{name: "ours", op: func(int) error {
			r, err := z.RangeByScore(ctx, caches.AllScores, 0, 10)
			return expect(len(r) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: rz, Start: "-inf", Stop: "+inf", ByScore: true, Count: 10}).Result()
			return expect(len(r) == 10, err)
		}},
	)
}

// benchZSetTakes compares Remove and PopMin on a big sorted set, filled
// untimed for them.
func benchZSetTakes(e *redisEnv, zBig caches.SortedSet[string], rzBig string) {
	ctx, client := e.ctx, e.client
	var members []string
	fillZSet := func(key string) func(n int) error {
		return func(n int) error {
			members = names("m", n)
			return e.fill(n, func(p redis.Pipeliner, i int) {
				p.ZAdd(ctx, key, redis.Z{Member: members[i], Score: float64(i)})
			})
		}
	}
	e.cmp("ZSet.Remove",
		impl{name: "ours", prep: fillZSet(zBig.String()), op: func(i int) error {
			n, err := zBig.Remove(ctx, members[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillZSet(rzBig), op: func(i int) error {
			n, err := client.ZRem(ctx, rzBig, members[i]).Result()
			return expect(n == 1, err)
		}},
	)
	e.cmp("ZSet.PopMin",
		impl{name: "ours", prep: fillZSet(zBig.String()), op: func(int) error {
			_, _, err := zBig.PopMin(ctx)
			return err
		}},
		impl{name: "raw", pairWith: "ours", prep: fillZSet(rzBig), op: func(int) error {
			r, err := client.ZPopMin(ctx, rzBig, 1).Result()
			return expect(len(r) == 1, err)
		}},
	)
}

// benchCounter compares the operations of a CounterCache on ten counts.
func benchCounter(e *redisEnv) {
	c := caches.NewCounterCache[string](e.opts("o:cc")).Key(userID)
	rc := "r:cc:" + userID
	counts := map[string]int64{}
	for i, k := range ten {
		counts[k] = int64(i + 1)
	}
	e.must(c.Update(e.ctx, counts))
	for k, n := range counts {
		e.must(e.admin.HSet(e.ctx, rc, k, n).Err())
	}
	benchCounterOne(e, c, rc)
	benchCounterAll(e, c, rc)
}

// benchCounterOne compares Incr and Get of one count.
func benchCounterOne(e *redisEnv, c caches.Counter[string], rc string) {
	ctx, client := e.ctx, e.client
	e.cmp("Counter.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := c.Incr(ctx, ten[3], 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(ctx, client, []string{rc}, ttlMs, int64Min, int64Max, "hincrby", 1, ten[3]).Text())
		}},
	)
	e.cmp("Counter.Get",
		impl{name: "ours", op: func(int) error {
			n, err := c.Get(ctx, ten[0])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.HGet(ctx, rc, ten[0]).Int64()
			return expect(n == 1, err)
		}},
	)
}

// benchCounterAll compares Update and Total of all ten counts.
func benchCounterAll(e *redisEnv, c caches.Counter[string], rc string) {
	ctx, client := e.ctx, e.client
	one := map[string]int64{}
	for _, k := range ten {
		one[k] = 1
	}
	e.cmp("Counter.Update(10)",
		impl{name: "ours", op: func(int) error { return c.Update(ctx, one) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			args := make([]any, 0, 1+2*len(one))
			args = append(args, ttlMs)
			for k, n := range one {
				args = append(args, k, n)
			}
			_, err := hIncrByExpire.Run(ctx, client, []string{rc}, args...).Int64Slice()
			return err
		}},
	)
	e.cmp("Counter.Total(10)",
		impl{name: "ours", op: func(int) error {
			n, err := c.Total(ctx)
			return expect(n > 0, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			vals, err := client.HVals(ctx, rc).Result()
			if err != nil {
				return err
			}
			var sum int64
			for _, v := range vals {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return err
				}
				sum += n
			}
			return expect(sum > 0, nil)
		}},
	)
}

// benchMemoize compares a Memoize hit with go-redis/cache's Once and
// eko/gocache's loadable cache over its Redis store, and with raw GETs
// with and without the timeout Memoize puts on its round trip.
func benchMemoize(e *redisEnv) {
	ctx := e.ctx
	memo := caches.Memoize(func(ctx context.Context, id string) (string, error) {
		return payload, nil
	}, caches.MemoOptions[string]{Options: e.opts("o:me")})
	if _, err := memo.Call(ctx, userID); err != nil {
		e.b.Fatal(err)
	}
	load := func(*rcache.Item) (any, error) { return payload, nil }
	e.must(e.gc.Once(&rcache.Item{Ctx: ctx, Key: "g:me:" + userID, Value: new(string), TTL: ttl, Do: load}))
	loadable := ekocache.NewLoadable[string](func(ctx context.Context, key any) (string, []ekostore.Option, error) {
		return payload, nil, nil
	}, e.eko)
	defer loadable.Close()
	e.must(e.eko.Set(ctx, "e:me:"+userID, payload))
	call := impl{name: "ours", op: func(int) error {
		v, err := memo.Call(ctx, userID)
		return expect(v == payload, err)
	}}
	e.cmp("Memo.Call(hit)", call,
		impl{name: "go-redis-cache-once", pairWith: "ours", op: func(int) error {
			var v string
			err := e.gc.Once(&rcache.Item{Ctx: ctx, Key: "g:me:" + userID, Value: &v, TTL: ttl, Do: load})
			return expect(v == payload, err)
		}},
		impl{name: "eko-gocache-loadable", pairWith: "ours", op: func(int) error {
			v, err := loadable.Get(ctx, "e:me:"+userID)
			return expect(v == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			// Memoize bounds each round trip by CacheTimeout (100 ms by
			// default); raw go-redis doing the same work does too.
			rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			s, err := e.client.Get(rctx, "r:me:"+userID).Result()
			cancel()
			if err == redis.Nil {
				s, err = payload, e.client.Set(ctx, "r:me:"+userID, payload, ttl).Err()
			}
			return expect(s == payload, err)
		}},
	)
	e.cmp("Memo.Call(hit,untimed)", // raw GET without the context timer of Memoize's CacheTimeout
		call,
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := e.client.Get(ctx, "r:me:"+userID).Result()
			return expect(s == payload, err)
		}},
	)
	if st := memo.Stats(); st.Loads != 1 {
		e.b.Fatalf("Memoize measured misses: %+v", st)
	}
}

// batchBench is 1,000 keys of ours and 1,000 of raw go-redis, filled.
type batchBench struct {
	*redisEnv
	kb      *caches.KeyCache[string]
	handles []caches.Key[string]
	entries []caches.Entry[string]
	keys    []string
}

// benchBatches compares batches of 1,000 keys with a raw go-redis pipeline
// (the target) and, for gets, raw MGET, the command ours sends on one
// server.
func benchBatches(e *redisEnv) {
	k := &batchBench{redisEnv: e, kb: caches.NewKeyCache[string](e.opts("o:kb")),
		handles: make([]caches.Key[string], 1000), keys: names("r:kb:", 1000)}
	k.entries = make([]caches.Entry[string], len(k.handles))
	for i := range k.handles {
		k.handles[i] = k.kb.Key(i)
		k.entries[i] = caches.Entry[string]{Key: k.handles[i], Value: payload}
	}
	e.must(k.kb.SetMany(e.ctx, k.entries...))
	e.must(e.fill(len(k.keys), func(p redis.Pipeliner, i int) { p.Set(e.ctx, k.keys[i], payload, ttl) }))
	k.getMany()
	k.setMany()
}

func (k *batchBench) getMany() {
	ctx, client := k.ctx, k.client
	compareSent(k.b, "KeyCache.GetMany(1000)", k.rt, false,
		impl{name: "ours", op: func(int) error {
			vals, found, err := k.kb.GetMany(ctx, k.handles...)
			return expect(len(vals) == 1000 && found[999] && vals[999] == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			cmds := make([]*redis.StringCmd, len(k.keys))
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, key := range k.keys {
					cmds[i] = p.Get(ctx, key)
				}
				return nil
			})
			if err != nil {
				return err
			}
			vals, found := make([]string, len(cmds)), make([]bool, len(cmds))
			for i, c := range cmds {
				vals[i], found[i] = c.Val(), c.Err() == nil
			}
			return expect(found[999] && vals[999] == payload, nil)
		}},
		impl{name: "raw-mget", op: func(int) error {
			res, err := client.MGet(ctx, k.keys...).Result()
			if err != nil {
				return err
			}
			vals, found := make([]string, len(res)), make([]bool, len(res))
			for i, v := range res {
				vals[i], found[i] = v.(string)
			}
			return expect(found[999] && vals[999] == payload, nil)
		}},
	)
}

func (k *batchBench) setMany() {
	ctx, client := k.ctx, k.client
	compareSent(k.b, "KeyCache.SetMany(1000)", k.rt, false,
		impl{name: "ours", op: func(int) error { return k.kb.SetMany(ctx, k.entries...) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, key := range k.keys {
					p.Set(ctx, key, payload, ttl)
				}
				return nil
			})
			return err
		}},
	)
}

// names returns prefix0 … prefix<n-1>.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

var errUnexpected = errors.New("unexpected result")

// expect turns a wrong result into an error, so that a benchmark never
// measures an operation that did not do its work.
func expect(ok bool, err error) error {
	if err != nil {
		return err
	}
	if !ok {
		return errUnexpected
	}
	return nil
}

// fill runs cmd for each i < n through pipelines on the admin client:
// untimed and not counted as round trips.
func fill(ctx context.Context, admin *redis.Client, n int, cmd func(p redis.Pipeliner, i int)) error {
	for start := 0; start < n; start += 1000 {
		_, err := admin.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(n, start+1000); i++ {
				cmd(p, i)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

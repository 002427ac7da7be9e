package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
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

// ttlMs is ttl as the write scripts take it.
var ttlMs = strconv.FormatInt(ttl.Milliseconds(), 10)

// The library runs a write and the refresh of its key's expiry in one
// script (internal/redisbackend/script.go), so that a failed write leaves
// the expiry alone, and an increment in a script that keeps the result
// within the value type's range; raw go-redis doing the same work runs the
// same scripts. These are copies: compare fails if the library sends
// another script than raw does.
var (
	writeExpire = redis.NewScript(`
local r = redis.pcall(unpack(ARGV, 2))
if type(r) == 'table' and r.err then return r end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return r`)
	hIncrByExpire = redis.NewScript(`
local function wrapped(old, by, new)
  return (by > 0 and new < old) or (by < 0 and new > old)
end
local out, first = {}, nil
for i = 2, #ARGV, 2 do
  local old = redis.pcall('HGET', KEYS[1], ARGV[i])
  local r = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  if type(r) == 'number' and wrapped(tonumber(old) or 0, tonumber(ARGV[i + 1]), r) then
    redis.call('HSET', KEYS[1], ARGV[i], old)
    r = redis.error_reply('ERR increment or decrement would overflow')
  end
  if type(r) == 'table' and r.err then
    first = first or r
    r = 0
  end
  out[#out + 1] = r
end
if not (first and string.sub(first.err, 1, 9) == 'WRONGTYPE') then
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
end
if first then return first end
return out`)
	incrWithin = redis.NewScript(`
local key, field = KEYS[1], ARGV[6]
-- num reads a stored number; the retry with a fraction is for the Lua of
-- miniredis, which reads no number from digits beyond the int64 range.
local function num(s)
  if type(s) ~= 'string' then return nil end
  return tonumber(s) or tonumber(s .. '.0')
end
local function get()
  if field then return redis.pcall('HGET', key, field) end
  return redis.pcall('GET', key)
end
local old = get()
local r
if field then r = redis.pcall(ARGV[4], key, field, ARGV[5]) else r = redis.pcall(ARGV[4], key, ARGV[5]) end
if type(r) == 'table' and r.err then return r end
local new = get()
local v, was, by = num(new), num(old) or 0, num(ARGV[5])
local lo, hi = tonumber(ARGV[2]) or -math.huge, tonumber(ARGV[3]) or math.huge
-- Only an integer can wrap around; a float result may round towards 0
-- (INCRBYFLOAT keeps 17 decimals), which is no overflow.
local int = ARGV[4] == 'incrby' or ARGV[4] == 'hincrby'
if v and v == v and v >= lo and v <= hi
  and not (int and ((by > 0 and v < was) or (by < 0 and v > was))) then
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
  return new
end
if field then
  if old then redis.call('HSET', key, field, old) else redis.call('HDEL', key, field) end
elseif old then redis.call('SET', key, old, 'KEEPTTL') else redis.call('DEL', key) end
return redis.error_reply('ERR increment or decrement would leave the range [' .. ARGV[2] .. ', ' .. ARGV[3] .. ']')`)
)

// int64Min and int64Max are the bounds of an int64 increment as incrWithin
// takes them.
var (
	int64Min = strconv.FormatInt(math.MinInt64, 10)
	int64Max = strconv.FormatInt(math.MaxInt64, 10)
)

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

// BenchmarkRedis compares every hot operation of the caches with raw
// go-redis sending the same commands in the same round trips (MULTI/EXEC
// where the cache uses it), on one server, from one goroutine. Names are
// <operation>/<implementation>: ours is the library, raw is go-redis, and
// the KeyCache and Memoize groups add go-redis/cache and eko/gocache.
func BenchmarkRedis(b *testing.B) {
	ctx := context.Background()
	rt := &roundTrips{}
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	client.AddHook(rt)
	admin := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer admin.Close()
	if err := admin.FlushAll(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	conn := caches.NewRedisConn(client)
	opts := func(prefix string) caches.Options { return caches.Options{Prefix: prefix, TTL: ttl, Conn: conn} }
	cmp := func(op string, impls ...impl) { compare(b, op, rt, impls...) }
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	// Ours keys are o:…, raw keys r:…, of the same length.

	// KeyCache.
	kc := caches.NewKeyCache[string](opts("o:kc"))
	h := kc.Key(userID)
	rkey := "r:kc:" + userID
	must(h.Set(ctx, payload))
	must(admin.Set(ctx, rkey, payload, ttl).Err())
	gc := rcache.New(&rcache.Options{Redis: client})
	gcKey := "g:kc:" + userID
	must(gc.Set(&rcache.Item{Ctx: ctx, Key: gcKey, Value: payload, TTL: ttl}))
	eko := ekocache.New[string](ekoredis.NewRedis(client, ekostore.WithExpiration(ttl)))
	ekoKey := "e:kc:" + userID
	must(eko.Set(ctx, ekoKey, payload))

	warmUp(b, func(int) error { return client.Get(ctx, rkey).Err() })
	cmp("KeyCache.Get",
		impl{name: "ours", op: func(int) error {
			s, err := h.Get(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, rkey).Result()
			return expect(s == payload, err)
		}},
		impl{name: "go-redis-cache", op: func(int) error {
			var s string
			err := gc.Get(ctx, gcKey, &s)
			return expect(s == payload, err)
		}},
		impl{name: "eko-gocache", op: func(int) error {
			s, err := eko.Get(ctx, ekoKey)
			return expect(s == payload, err)
		}},
	)
	cmp("KeyCache.Key(id).Get",
		impl{name: "ours", op: func(int) error {
			s, err := kc.Key(userID).Get(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, "r:kc:"+userID).Result()
			return expect(s == payload, err)
		}},
	)
	miss := kc.Key("missing")
	cmp("KeyCache.Get(miss)",
		impl{name: "ours", op: func(int) error {
			_, err := miss.Get(ctx)
			return expect(err == caches.ErrNotFound, nil)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			err := client.Get(ctx, "r:kc:missing").Err()
			return expect(err == redis.Nil, nil)
		}},
	)
	cmp("KeyCache.Set",
		impl{name: "ours", op: func(int) error { return h.Set(ctx, payload) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error { return client.Set(ctx, rkey, payload, ttl).Err() }},
		impl{name: "go-redis-cache", op: func(int) error {
			return gc.Set(&rcache.Item{Ctx: ctx, Key: gcKey, Value: payload, TTL: ttl})
		}},
		impl{name: "eko-gocache", op: func(int) error { return eko.Set(ctx, ekoKey, payload) }},
	)
	cmp("KeyCache.Add",
		impl{name: "ours", op: func(int) error {
			ok, err := h.Add(ctx, payload)
			return expect(!ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.SetNX(ctx, rkey, payload, ttl).Result()
			return expect(!ok, err)
		}},
	)
	cmp("KeyCache.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := h.Has(ctx)
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.Exists(ctx, rkey).Result()
			return expect(n == 1, err)
		}},
	)
	cmp("KeyCache.TTL",
		impl{name: "ours", op: func(int) error {
			d, err := h.TTL(ctx)
			return expect(d > 0, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			d, err := client.PTTL(ctx, rkey).Result()
			return expect(d > 0, err)
		}},
	)
	var popHandles []caches.Key[string]
	var popKeys []string
	cmp("KeyCache.Pop",
		impl{name: "ours", prep: func(n int) error {
			popHandles = make([]caches.Key[string], n)
			for i := range popHandles {
				popHandles[i] = kc.Key("pop", i)
			}
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.Set(ctx, popHandles[i].String(), payload, ttl) })
		}, op: func(i int) error {
			s, err := popHandles[i].Pop(ctx)
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: func(n int) error {
			popKeys = names("r:kc:pop:", n)
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.Set(ctx, popKeys[i], payload, ttl) })
		}, op: func(i int) error {
			s, err := client.GetDel(ctx, popKeys[i]).Result()
			return expect(s == payload, err)
		}},
	)
	cmp("KeyCache.Delete",
		impl{name: "ours", prep: func(n int) error {
			popHandles = make([]caches.Key[string], n)
			for i := range popHandles {
				popHandles[i] = kc.Key("del", i)
			}
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.Set(ctx, popHandles[i].String(), payload, ttl) })
		}, op: func(i int) error {
			ok, err := popHandles[i].Delete(ctx)
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: func(n int) error {
			popKeys = names("r:kc:del:", n)
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.Set(ctx, popKeys[i], payload, ttl) })
		}, op: func(i int) error {
			n, err := client.Del(ctx, popKeys[i]).Result()
			return expect(n == 1, err)
		}},
	)
	ki := caches.NewKeyCache[int64](opts("o:ki")).Key(userID)
	rki := "r:ki:" + userID
	cmp("KeyCache.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := ki.Incr(ctx, 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(ctx, client, []string{rki}, ttlMs, int64Min, int64Max, "incrby", 1).Text())
		}},
	)
	kj := caches.NewKeyCache[Profile](opts("o:kj")).Key(userID)
	rkj := "r:kj:" + userID
	must(kj.Set(ctx, profile))
	must(admin.Set(ctx, rkj, mustJSON(profile), ttl).Err())
	cmp("KeyCache.Get(JSON)",
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
	cmp("KeyCache.Set(JSON)",
		impl{name: "ours", op: func(int) error { return kj.Set(ctx, profile) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			data, err := json.Marshal(profile)
			if err != nil {
				return err
			}
			return client.Set(ctx, rkj, string(data), ttl).Err()
		}},
	)

	// DictCache: a hash of ten fields.
	dc := caches.NewDictCache[string, string](opts("o:dc"))
	d := dc.Key(userID)
	rd := "r:dc:" + userID
	tenMap := map[string]string{}
	for _, f := range ten {
		tenMap[f] = payload
	}
	must(d.SetMany(ctx, tenMap))
	must(admin.HSet(ctx, rd, tenMap).Err())
	cmp("Dict.Get",
		impl{name: "ours", op: func(int) error {
			s, err := d.Get(ctx, ten[3])
			return expect(s == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.HGet(ctx, rd, ten[3]).Result()
			return expect(s == payload, err)
		}},
	)
	cmp("Dict.Set",
		impl{name: "ours", op: func(int) error { return d.Set(ctx, ten[3], payload) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return writeExpire.Run(ctx, client, []string{rd}, ttlMs, "hset", rd, ten[3], payload).Err()
		}},
	)
	cmp("Dict.GetMany(10)",
		impl{name: "ours", op: func(int) error {
			m, err := d.GetMany(ctx, ten...)
			return expect(len(m) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			vals, err := client.HMGet(ctx, rd, ten...).Result()
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
	cmp("Dict.SetMany(10)",
		impl{name: "ours", op: func(int) error { return d.SetMany(ctx, tenMap) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			args := make([]any, 0, 3+2*len(tenMap))
			args = append(args, ttlMs, "hset", rd)
			for f, v := range tenMap {
				args = append(args, f, v)
			}
			return writeExpire.Run(ctx, client, []string{rd}, args...).Err()
		}},
	)
	cmp("Dict.Add",
		impl{name: "ours", op: func(int) error {
			ok, err := d.Add(ctx, ten[3], payload)
			return expect(!ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{rd}, ttlMs, "hsetnx", rd, ten[3], payload).Int64()
			return expect(n == 0, err)
		}},
	)
	cmp("Dict.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := d.Has(ctx, ten[3])
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.HExists(ctx, rd, ten[3]).Result()
			return expect(ok, err)
		}},
	)
	cmp("Dict.Len",
		impl{name: "ours", op: func(int) error {
			n, err := d.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.HLen(ctx, rd).Result()
			return expect(n == 10, err)
		}},
	)
	cmp("Dict.Map(10)",
		impl{name: "ours", op: func(int) error {
			m, err := d.Map(ctx)
			return expect(len(m) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			m, err := client.HGetAll(ctx, rd).Result()
			return expect(len(m) == 10, err)
		}},
	)
	var fields []string
	dBig := dc.Key("big")
	rdBig := "r:dc:big"
	fillHash := func(key string) func(n int) error {
		return func(n int) error {
			fields = names("f", n)
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.HSet(ctx, key, fields[i], payload) })
		}
	}
	cmp("Dict.Pop",
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
	cmp("Dict.Delete",
		impl{name: "ours", prep: fillHash(dBig.String()), op: func(i int) error {
			n, err := dBig.Delete(ctx, fields[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillHash(rdBig), op: func(i int) error {
			n, err := client.HDel(ctx, rdBig, fields[i]).Result()
			return expect(n == 1, err)
		}},
	)
	di := caches.NewDictCache[string, int64](opts("o:di")).Key(userID)
	rdi := "r:di:" + userID
	cmp("Dict.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := di.Incr(ctx, ten[3], 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(ctx, client, []string{rdi}, ttlMs, int64Min, int64Max, "hincrby", 1, ten[3]).Text())
		}},
	)

	// SetCache: a set of ten members.
	sc := caches.NewSetCache[string](opts("o:sc"))
	s := sc.Key(userID)
	rs := "r:sc:" + userID
	_, err := s.Add(ctx, ten...)
	must(err)
	must(admin.SAdd(ctx, rs, ten).Err())
	cmp("Set.Add",
		impl{name: "ours", op: func(int) error {
			n, err := s.Add(ctx, ten[3])
			return expect(n == 0, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{rs}, ttlMs, "sadd", rs, ten[3]).Int64()
			return expect(n == 0, err)
		}},
	)
	cmp("Set.Has",
		impl{name: "ours", op: func(int) error {
			ok, err := s.Has(ctx, ten[3])
			return expect(ok, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ok, err := client.SIsMember(ctx, rs, ten[3]).Result()
			return expect(ok, err)
		}},
	)
	cmp("Set.HasMany(10)",
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
	cmp("Set.Len",
		impl{name: "ours", op: func(int) error {
			n, err := s.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.SCard(ctx, rs).Result()
			return expect(n == 10, err)
		}},
	)
	cmp("Set.Members(10)",
		impl{name: "ours", op: func(int) error {
			ms, err := s.Members(ctx)
			return expect(len(ms) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			ms, err := client.SMembers(ctx, rs).Result()
			return expect(len(ms) == 10, err)
		}},
	)
	var members []string
	sBig := sc.Key("big")
	rsBig := "r:sc:big"
	fillSet := func(key string) func(n int) error {
		return func(n int) error {
			members = names("m", n)
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) { p.SAdd(ctx, key, members[i]) })
		}
	}
	cmp("Set.Discard",
		impl{name: "ours", prep: fillSet(sBig.String()), op: func(i int) error {
			n, err := sBig.Discard(ctx, members[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillSet(rsBig), op: func(i int) error {
			n, err := client.SRem(ctx, rsBig, members[i]).Result()
			return expect(n == 1, err)
		}},
	)
	cmp("Set.Pop",
		impl{name: "ours", prep: fillSet(sBig.String()), op: func(int) error {
			_, err := sBig.Pop(ctx)
			return err
		}},
		impl{name: "raw", pairWith: "ours", prep: fillSet(rsBig), op: func(int) error {
			ms, err := client.SPopN(ctx, rsBig, 1).Result()
			return expect(len(ms) == 1, err)
		}},
	)

	// SortedSetCache: ten members scored 0 … 9.
	zc := caches.NewSortedSetCache[string](opts("o:zc"))
	z := zc.Key(userID)
	rz := "r:zc:" + userID
	for i, m := range ten {
		_, err := z.Add(ctx, m, float64(i))
		must(err)
		must(admin.ZAdd(ctx, rz, redis.Z{Member: m, Score: float64(i)}).Err())
	}
	cmp("ZSet.Add",
		impl{name: "ours", op: func(int) error {
			added, err := z.Add(ctx, ten[3], 3)
			return expect(!added, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := writeExpire.Run(ctx, client, []string{rz}, ttlMs, "zadd", rz, score3, ten[3]).Int64()
			return expect(n == 0, err)
		}},
	)
	zi := zc.Key("incr")
	rzi := "r:zc:incr"
	cmp("ZSet.Incr",
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
	cmp("ZSet.Score",
		impl{name: "ours", op: func(int) error {
			f, err := z.Score(ctx, ten[3])
			return expect(f == 3, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			f, err := client.ZScore(ctx, rz, ten[3]).Result()
			return expect(f == 3, err)
		}},
	)
	cmp("ZSet.Rank",
		impl{name: "ours", op: func(int) error {
			r, err := z.Rank(ctx, ten[3])
			return expect(r == 3, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRank(ctx, rz, ten[3]).Result()
			return expect(r == 3, err)
		}},
	)
	cmp("ZSet.Len",
		impl{name: "ours", op: func(int) error {
			n, err := z.Len(ctx)
			return expect(n == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.ZCard(ctx, rz).Result()
			return expect(n == 10, err)
		}},
	)
	cmp("ZSet.Count",
		impl{name: "ours", op: func(int) error {
			n, err := z.Count(ctx, caches.Scores(2, 6))
			return expect(n == 5, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.ZCount(ctx, rz, "2", "6").Result()
			return expect(n == 5, err)
		}},
	)
	cmp("ZSet.Range(10)",
		impl{name: "ours", op: func(int) error {
			r, err := z.Range(ctx, 0, 9)
			return expect(len(r) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRangeWithScores(ctx, rz, 0, 9).Result()
			return expect(len(r) == 10, err)
		}},
	)
	cmp("ZSet.RangeByScore(10)",
		impl{name: "ours", op: func(int) error {
			r, err := z.RangeByScore(ctx, caches.AllScores, 0, 10)
			return expect(len(r) == 10, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			r, err := client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: rz, Start: "-inf", Stop: "+inf", ByScore: true, Count: 10}).Result()
			return expect(len(r) == 10, err)
		}},
	)
	zBig := zc.Key("big")
	rzBig := "r:zc:big"
	fillZSet := func(key string) func(n int) error {
		return func(n int) error {
			members = names("m", n)
			return fill(ctx, admin, n, func(p redis.Pipeliner, i int) {
				p.ZAdd(ctx, key, redis.Z{Member: members[i], Score: float64(i)})
			})
		}
	}
	cmp("ZSet.Remove",
		impl{name: "ours", prep: fillZSet(zBig.String()), op: func(i int) error {
			n, err := zBig.Remove(ctx, members[i])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", prep: fillZSet(rzBig), op: func(i int) error {
			n, err := client.ZRem(ctx, rzBig, members[i]).Result()
			return expect(n == 1, err)
		}},
	)
	cmp("ZSet.PopMin",
		impl{name: "ours", prep: fillZSet(zBig.String()), op: func(int) error {
			_, _, err := zBig.PopMin(ctx)
			return err
		}},
		impl{name: "raw", pairWith: "ours", prep: fillZSet(rzBig), op: func(int) error {
			r, err := client.ZPopMin(ctx, rzBig, 1).Result()
			return expect(len(r) == 1, err)
		}},
	)

	// CounterCache: ten counts.
	cc := caches.NewCounterCache[string](opts("o:cc"))
	c := cc.Key(userID)
	rc := "r:cc:" + userID
	counts := map[string]int64{}
	for i, k := range ten {
		counts[k] = int64(i + 1)
	}
	must(c.Update(ctx, counts))
	for k, n := range counts {
		must(admin.HSet(ctx, rc, k, n).Err())
	}
	cmp("Counter.Incr",
		impl{name: "ours", op: func(int) error {
			_, err := c.Incr(ctx, ten[3], 1)
			return err
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			return intReply(incrWithin.Run(ctx, client, []string{rc}, ttlMs, int64Min, int64Max, "hincrby", 1, ten[3]).Text())
		}},
	)
	cmp("Counter.Get",
		impl{name: "ours", op: func(int) error {
			n, err := c.Get(ctx, ten[0])
			return expect(n == 1, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			n, err := client.HGet(ctx, rc, ten[0]).Int64()
			return expect(n == 1, err)
		}},
	)
	one := map[string]int64{}
	for _, k := range ten {
		one[k] = 1
	}
	cmp("Counter.Update(10)",
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
	cmp("Counter.Total(10)",
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

	// Memoize: a hit, against go-redis/cache's Once and eko/gocache's
	// loadable cache over its Redis store.
	memo := caches.Memoize(func(ctx context.Context, id string) (string, error) {
		return payload, nil
	}, caches.MemoOptions[string]{Options: opts("o:me")})
	if _, err := memo.Call(ctx, userID); err != nil {
		b.Fatal(err)
	}
	onceKey := "g:me:" + userID
	load := func(*rcache.Item) (any, error) { return payload, nil }
	must(gc.Once(&rcache.Item{Ctx: ctx, Key: onceKey, Value: new(string), TTL: ttl, Do: load}))
	loadable := ekocache.NewLoadable[string](func(ctx context.Context, key any) (string, []ekostore.Option, error) {
		return payload, nil, nil
	}, eko)
	defer loadable.Close()
	loadKey := "e:me:" + userID
	must(eko.Set(ctx, loadKey, payload))
	cmp("Memo.Call(hit)",
		impl{name: "ours", op: func(int) error {
			v, err := memo.Call(ctx, userID)
			return expect(v == payload, err)
		}},
		impl{name: "go-redis-cache-once", pairWith: "ours", op: func(int) error {
			var v string
			err := gc.Once(&rcache.Item{Ctx: ctx, Key: "g:me:" + userID, Value: &v, TTL: ttl, Do: load})
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
			s, err := client.Get(rctx, "r:me:"+userID).Result()
			cancel()
			if err == redis.Nil {
				s, err = payload, client.Set(ctx, "r:me:"+userID, payload, ttl).Err()
			}
			return expect(s == payload, err)
		}},
	)
	cmp("Memo.Call(hit,untimed)", // raw GET without the context timer of Memoize's CacheTimeout
		impl{name: "ours", op: func(int) error {
			v, err := memo.Call(ctx, userID)
			return expect(v == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			s, err := client.Get(ctx, "r:me:"+userID).Result()
			return expect(s == payload, err)
		}},
	)
	if st := memo.Stats(); st.Loads != 1 {
		b.Fatalf("Memoize measured misses: %+v", st)
	}

	// Batches of 1,000 keys, against a raw go-redis pipeline (the target)
	// and, for gets, raw MGET, the command ours sends on one server.
	kb := caches.NewKeyCache[string](opts("o:kb"))
	batchHandles := make([]caches.Key[string], 1000)
	entries := make([]caches.Entry[string], len(batchHandles))
	for i := range batchHandles {
		batchHandles[i] = kb.Key(i)
		entries[i] = caches.Entry[string]{Key: batchHandles[i], Value: payload}
	}
	must(kb.SetMany(ctx, entries...))
	batch := names("r:kb:", 1000)
	must(fill(ctx, admin, len(batch), func(p redis.Pipeliner, i int) { p.Set(ctx, batch[i], payload, ttl) }))
	compareSent(b, "KeyCache.GetMany(1000)", rt, false,
		impl{name: "ours", op: func(int) error {
			vals, found, err := kb.GetMany(ctx, batchHandles...)
			return expect(len(vals) == 1000 && found[999] && vals[999] == payload, err)
		}},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			cmds := make([]*redis.StringCmd, len(batch))
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range batch {
					cmds[i] = p.Get(ctx, k)
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
			res, err := client.MGet(ctx, batch...).Result()
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
	compareSent(b, "KeyCache.SetMany(1000)", rt, false,
		impl{name: "ours", op: func(int) error { return kb.SetMany(ctx, entries...) }},
		impl{name: "raw", pairWith: "ours", op: func(int) error {
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range batch {
					p.Set(ctx, k, payload, ttl)
				}
				return nil
			})
			return err
		}},
	)
}

// intReply reads the integer incrWithin returns as text.
func intReply(s string, err error) error {
	if err != nil {
		return err
	}
	_, err = strconv.ParseInt(s, 10, 64)
	return err
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

package bench

import (
	"math"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// ttlMs is ttl as the write scripts take it.
var ttlMs = strconv.FormatInt(ttl.Milliseconds(), 10)

// The library runs a write and the refresh of its key's expiry in one
// script (internal/redisbackend/script.go), so that a failed write leaves
// the expiry alone, and an increment in a script that keeps the result
// within the value type's range; raw go-redis doing the same work runs the
// same scripts. These are copies: compare fails if the library sends
// another script than raw does.
var (
	writeExpire   = redis.NewScript(writeExpireSrc)
	hIncrByExpire = redis.NewScript(hIncrByExpireSrc)
	incrWithin    = redis.NewScript(incrWithinSrc)
)

// The scripts' sources, which rueidis runs too in the comparisons with
// many callers.
const (
	writeExpireSrc = `
local r = redis.pcall(unpack(ARGV, 2))
if type(r) == 'table' and r.err then return r end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return r`
	hIncrByExpireSrc = `
local function wrapped(old, by, new)
  return (by > 0 and new < old) or (by < 0 and new > old)
end
local out, first = {}, nil
for i = 2, #ARGV, 2 do
  local old = redis.pcall('HGET', KEYS[1], ARGV[i])
  local r = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  if type(r) == 'number' then
    if wrapped(tonumber(old) or 0, tonumber(ARGV[i + 1]), r) then
      redis.call('HSET', KEYS[1], ARGV[i], old)
      r = redis.error_reply('ERR increment or decrement would overflow')
    else
      r = redis.call('HGET', KEYS[1], ARGV[i])
    end
  end
  if type(r) == 'table' and r.err then
    first = first or r
    r = '0'
  end
  out[#out + 1] = r
end
if not (first and string.sub(first.err, 1, 9) == 'WRONGTYPE') then
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
end
if first then return first end
return out`
	incrWithinSrc = `
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
return redis.error_reply('ERR increment or decrement would leave the range [' .. ARGV[2] .. ', ' .. ARGV[3] .. ']')`
)

// int64Min and int64Max are the bounds of an int64 increment as incrWithin
// takes them.
var (
	int64Min = strconv.FormatInt(math.MinInt64, 10)
	int64Max = strconv.FormatInt(math.MaxInt64, 10)
)

// intReply reads the integer incrWithin returns as text.
func intReply(s string, err error) error {
	if err != nil {
		return err
	}
	_, err = strconv.ParseInt(s, 10, 64)
	return err
}

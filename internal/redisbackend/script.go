package redisbackend

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/redis/go-redis/v9"
)

// A write and the refresh of its key's expiry run in one script, so that
// they are atomic, take one round trip, and a write that fails (a key of
// another type, a field that is not a number) leaves the expiry alone: in a
// MULTI the PEXPIRE would run anyway.

// writeExpire runs the command in ARGV[2…] and then sets KEYS[1]'s expiry to
// ARGV[1] milliseconds (PERSIST for 0), unless the command failed.
var writeExpire = newScript(`
local r = redis.pcall(unpack(ARGV, 2))
if type(r) == 'table' and r.err then return r end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return r`)

// hIncrByExpire runs HINCRBY KEYS[1] for each field and increment pair of
// ARGV[2…], all of them (as a MULTI would), then refreshes the expiry unless
// the key holds another type. It returns the new values as the stored
// texts, which, unlike integer replies converted to Lua numbers, are exact
// beyond 2^53; or the first error. An increment that moved a count the
// other way than it points (a server that wraps around on overflow) is
// undone and fails as an overflow.
var hIncrByExpire = newScript(`
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
return out`)

// incrWithin runs the increment ARGV[4] (INCRBY, INCRBYFLOAT, HINCRBY or
// HINCRBYFLOAT) by ARGV[5] of KEYS[1], or of its field ARGV[6], and keeps
// the result only when it reads as a number within [ARGV[2], ARGV[3]] and,
// for an integer increment, moved the way the increment points (a server
// that wraps around on overflow moves it the other way; a float result may
// round towards zero, as INCRBYFLOAT keeps 17 decimals): then it refreshes the expiry to ARGV[1]
// milliseconds (PERSIST for 0) and returns the stored text, which, unlike an
// integer reply converted to a Lua number, is exact beyond 2^53. Otherwise
// it puts the old value back, expiry untouched, and returns an error.
// Lua reads numbers as doubles: the bounds of the integer types up to 32
// bits are exact, and the 64-bit ones read as ±2^63, which no int64 result
// passes (Redis refuses an int64 overflow itself). Infinite bounds are sent
// as "-inf" and "+inf", which not every server's Lua reads as numbers: a
// bound that does not read is unbounded.
var incrWithin = newScript(`
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

// maxScriptArgs bounds the arguments one script call unpacks (Lua's stack
// takes about 8,000); bigger writes fall back to MULTI/EXEC, whose PEXPIRE
// runs even when the write fails.
const maxScriptArgs = 4000

func ttlArg(ttl time.Duration) string {
	if ttl <= 0 {
		return "0"
	}
	return strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
}

// scriptWrite runs cmd with the refresh of key's expiry in writeExpire and
// stores the reply in cmd, an IntCmd, FloatCmd or BoolCmd.
func (r *Backend) scriptWrite(ctx context.Context, key string, ttl time.Duration, cmd redis.Cmder) error {
	args := cmd.Args()
	argv := make([]any, 0, 1+len(args))
	argv = append(argv, ttlArgAny(ttl))
	argv = append(argv, args...)
	reply, err := r.run(ctx, writeExpire, []string{key}, argv...)
	if err != nil {
		cmd.SetErr(err)
		return err
	}
	if err := setReply(cmd, reply.Val()); err != nil {
		cmd.SetErr(err)
		return err
	}
	return nil
}

// runIncrWithin runs incrWithin with the increment's arguments, and field
// (a string) for a hash, and returns the stored text of the result.
func (r *Backend) runIncrWithin(ctx context.Context, key string, ttl time.Duration, min, max, cmd, by, field any) (string, error) {
	argv := make([]any, 0, 6)
	argv = append(argv, ttlArgAny(ttl), min, max, cmd, by)
	if field != nil {
		argv = append(argv, field)
	}
	reply, err := r.run(ctx, incrWithin, []string{key}, argv...)
	if err != nil {
		return "", err
	}
	return reply.Text()
}

// intBoundArg and floatBoundArg return a bound of incrWithin as the script
// reads it, formatted and boxed once for the bounds of the value types:
// every increment of a family carries the same two. Float bounds are
// written with an exponent (not as go-redis writes a float64): the Lua of
// miniredis reads no number from digits beyond the int64 range.
func intBoundArg(n int64) any {
	if a, ok := intBounds[n]; ok {
		return a
	}
	return strconv.FormatInt(n, 10)
}

func floatBoundArg(f float64) any {
	if a, ok := floatBounds[f]; ok {
		return a
	}
	return formatBound(f)
}

var intBounds, floatBounds = boundArgs()

func boundArgs() (map[int64]any, map[float64]any) {
	ints := map[int64]any{0: "0"}
	for _, bits := range []int{8, 16, 32, 64} {
		lo, hi := backend.IntRange(bits)
		for _, n := range []int64{lo, hi, backend.UintMax(bits)} {
			ints[n] = strconv.FormatInt(n, 10)
		}
	}
	floats := map[float64]any{}
	for _, f := range []float64{math.MaxFloat64, backend.MaxFloat32Text, math.Inf(1)} {
		floats[f], floats[-f] = formatBound(f), formatBound(-f)
	}
	return ints, floats
}

// formatBound formats a bound of a float increment as memstore names it in
// its error; the infinite ones as Redis writes them.
func formatBound(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// parseIntReply and parseFloatReply read the text incrWithin returns.
func parseIntReply(s string, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

func parseFloatReply(s string, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(s, 64)
}

// setReply stores a script's reply in the typed command that asked for it.
func setReply(cmd redis.Cmder, res any) error {
	switch c := cmd.(type) {
	case *redis.IntCmd:
		n, ok := res.(int64)
		if !ok {
			return errors.New("caches: unexpected reply " + strings.TrimSpace(strconv.Quote(toString(res))))
		}
		c.SetVal(n)
	case *redis.BoolCmd:
		n, _ := res.(int64)
		c.SetVal(n == 1)
	case *redis.FloatCmd:
		f, err := strconv.ParseFloat(toString(res), 64)
		if err != nil {
			return err
		}
		c.SetVal(f)
	default:
		return errors.New("caches: no reply conversion for " + cmd.Name())
	}
	return nil
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

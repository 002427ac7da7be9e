package caches

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A write and the refresh of its key's expiry run in one script, so that
// they are atomic, take one round trip, and a write that fails (a key of
// another type, a field that is not a number) leaves the expiry alone: in a
// MULTI the PEXPIRE would run anyway.

// writeExpire runs the command in ARGV[2…] and then sets KEYS[1]'s expiry to
// ARGV[1] milliseconds (PERSIST for 0), unless the command failed.
var writeExpire = redis.NewScript(`
local r = redis.pcall(unpack(ARGV, 2))
if type(r) == 'table' and r.err then return r end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return r`)

// hIncrByExpire runs HINCRBY KEYS[1] for each field and increment pair of
// ARGV[2…], all of them (as a MULTI would), then refreshes the expiry unless
// the key holds another type. It returns the new values, or the first error.
var hIncrByExpire = redis.NewScript(`
local out, first = {}, nil
for i = 2, #ARGV, 2 do
  local r = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
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
func (r *redisBackend) scriptWrite(ctx context.Context, key string, ttl time.Duration, cmd redis.Cmder) error {
	args := cmd.Args()
	argv := make([]any, 0, 1+len(args))
	argv = append(argv, ttlArgAny(ttl))
	argv = append(argv, args...)
	res, err := writeExpire.Run(ctx, r.c, []string{key}, argv...).Result()
	if err != nil {
		cmd.SetErr(err)
		return err
	}
	if err := setReply(cmd, res); err != nil {
		cmd.SetErr(err)
		return err
	}
	return nil
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

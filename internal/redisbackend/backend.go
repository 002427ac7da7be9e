// Package redisbackend is the [backend.Backend] over a go-redis client: a
// single node, a Sentinel-managed master or a Cluster. It also reads the
// Redis schemes of the library's DSNs.
package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/unixms"
	"github.com/redis/go-redis/v9"
)

// Backend is the [backend.Backend] over a go-redis client. Composite writes
// (a write and the expiry refresh, a read and a delete) are sent as one
// MULTI/EXEC transaction or one Lua script: one round trip, atomic on the
// server.
//
// Single commands and scripts go through the client's automatic pipeline
// unless [Options] turn it off: calls from concurrent goroutines share
// round trips. Transactions, batches and the cluster-wide SCAN of
// DeleteMatching take connections of their own from the client's pool.
type Backend struct {
	c      redis.UniversalClient
	ap     *redis.AutoPipeliner // c's automatic pipeline; nil when off
	pipe   *pipe                // the library's own pipeline; nil when off
	always bool                 // Options.Always
	owned  bool                 // Close closes c

	// inFlight counts the calls between their start and their reply, to
	// send a lone call without the pipeline (see send).
	inFlight atomic.Int64
}

// New returns the backend over c; Close closes c only when owned. It fails
// only when o's pipeline settings are refused by go-redis.
func New(c redis.UniversalClient, owned bool, o Options) (*Backend, error) {
	if cl, ok := c.(*redis.Client); ok && o.Own && !o.GoRedis && !o.NoAutoPipeline {
		if p, ok := newPipe(cl, o); ok {
			return &Backend{c: c, pipe: p, always: o.Always, owned: owned}, nil
		}
	}
	ap, err := autoPipeline(c, o)
	if err != nil {
		if owned {
			_ = c.Close()
		}
		return nil, fmt.Errorf("automatic pipelining: %w", err)
	}
	return &Backend{c: c, ap: ap, always: o.Always && ap != nil, owned: owned}, nil
}

// Reopen returns a backend over r's client with the pipeline settings o,
// and the library's own pipeline when r has it; r's own pipeline is closed,
// and r must not be used again.
func (r *Backend) Reopen(o Options) (*Backend, error) {
	if r.pipe != nil {
		r.pipe.close()
		o.Own = true
	}
	return New(r.c, r.owned, o)
}

// PipeStats returns how many writes the library's own pipeline made and
// how many commands they carried: zeros when the backend has none.
func (r *Backend) PipeStats() (writes, commands int64) {
	if r.pipe == nil {
		return 0, 0
	}
	return r.pipe.writes.Load(), r.pipe.written.Load()
}

// Owned reports whether Close closes the client.
func (r *Backend) Owned() bool { return r.owned }

// Pipelined reports whether single commands go through the automatic
// pipeline.
func (r *Backend) Pipelined() bool { return r.ap != nil || r.pipe != nil }

// Client returns the go-redis client the backend sends its commands to.
func (r *Backend) Client() redis.UniversalClient { return r.c }

func init() { backend.RegisterClosed(redis.ErrClosed) }

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.HashMapReader = (*Backend)(nil)
	_ backend.SlotChecker   = (*Backend)(nil)
	_ backend.BudgetGetter  = (*Backend)(nil)
)

// CoarseMillis returns false: a round trip to Redis costs far more than
// time.Now, so a Redis backend keeps no clock of its own.
func (r *Backend) CoarseMillis() (int64, bool) { return 0, false }

func (r *Backend) Close() error {
	if r.pipe != nil {
		r.pipe.close()
	}
	if !r.owned {
		return nil
	}
	return r.c.Close()
}

// nilOK turns redis.Nil into ok == false.
func nilOK(err error) (ok bool, _ error) {
	if err == nil {
		return true, nil
	}
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return false, err
}

// expire queues the expiry refresh of key: PEXPIRE for ttl > 0, PERSIST
// otherwise.
func expire(p redis.Pipeliner, key string, ttl time.Duration) {
	if ttl > 0 {
		p.PExpire(context.Background(), key, ttl)
	} else {
		p.Persist(context.Background(), key)
	}
}

// tx sends cmd and the expiry refresh of key in one round trip, atomically,
// and returns the command's error. It runs them in the writeExpire script,
// so that a failed write leaves the expiry alone; a write with more
// arguments than a script takes goes in a MULTI/EXEC instead. The commands
// are built directly, not through a callback, so a write costs no closure
// and no captured variables over what go-redis itself allocates.
func (r *Backend) tx(ctx context.Context, key string, ttl time.Duration, cmd redis.Cmder) error {
	if len(cmd.Args()) <= maxScriptArgs {
		return r.scriptWrite(ctx, key, ttl, cmd)
	}
	p := r.c.TxPipeline()
	_ = p.Process(ctx, cmd)
	expire(p, key, ttl)
	_, err := p.Exec(ctx)
	return err
}

// ttlArgAny is ttlArg(ttl) boxed for a command's arguments, from a small
// cache: the writes of a family all carry its one TTL, so they pay neither
// the formatting nor the boxing. A slot holds the last TTL that hashed to it.
func ttlArgAny(ttl time.Duration) any {
	slot := &ttlArgs[(uint64(ttl)*0x9E3779B97F4A7C15)>>(64-ttlArgsBits)]
	if t := slot.Load(); t != nil && t.ttl == ttl {
		return t.arg
	}
	t := &ttlText{ttl: ttl, arg: ttlArg(ttl)}
	slot.Store(t)
	return t.arg
}

type ttlText struct {
	ttl time.Duration
	arg any
}

const ttlArgsBits = 6

var ttlArgs [1 << ttlArgsBits]atomic.Pointer[ttlText]

// command returns the arguments of a command: name, key, then each of
// rest, in one allocation (go-redis's variadic helpers copy them once more).
func command(name, key string, rest []string) []any {
	args := make([]any, 2+len(rest))
	args[0], args[1] = name, key
	for i, s := range rest {
		args[2+i] = s
	}
	return args
}

// Keys.

func (r *Backend) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.sendString(ctx, "get", key)
	ok, err := nilOK(err)
	return v, ok, err
}

func (r *Backend) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	_, err := r.sendString(ctx, setArgs("set", key, value, ttl, "")...)
	return err
}

func (r *Backend) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	_, err := r.sendString(ctx, setArgs("set", key, value, ttl, "nx")...)
	return nilOK(err)
}

// setArgs returns SET's arguments as go-redis's Set and SetNX write them:
// the expiry in whole seconds (EX) when it is whole seconds, else in
// milliseconds (PX), then flag when not empty.
func setArgs(name, key, value string, ttl time.Duration, flag string) []any {
	args := make([]any, 3, 6)
	args[0], args[1], args[2] = name, key, value
	switch {
	case ttl <= 0:
	case ttl < time.Second || ttl%time.Second != 0:
		args = append(args, "px", ms(ttl))
	default:
		args = append(args, "ex", int64(ttl/time.Second))
	}
	if flag != "" {
		args = append(args, flag)
	}
	return args
}

func (r *Backend) GetDel(ctx context.Context, key string) (string, bool, error) {
	v, err := r.sendString(ctx, "getdel", key)
	ok, err := nilOK(err)
	return v, ok, err
}

// delIfEqual deletes a key only if it holds the given value: the release of
// a lease by its owner. The GET's error (WRONGTYPE) is returned as it is,
// not raised: a raised error gets the script's location appended, and on
// miniredis a compilation error's text.
var delIfEqual = newScript(`
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' and v.err then return v end
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func (r *Backend) DelIfEqual(ctx context.Context, key, value string) (bool, error) {
	cmd, err := r.run(ctx, delIfEqual, []string{key}, value)
	if err != nil {
		return false, err
	}
	n, err := cmd.Int64()
	return n == 1, err
}

func (r *Backend) Exists(ctx context.Context, key string) (bool, error) {
	n, err := r.sendInt(ctx, "exists", key)
	return n == 1, err
}

// PTTL reads the reply in milliseconds itself: go-redis's PTTL converts it
// to a Duration, which overflows beyond about 292 years.
func (r *Backend) PTTL(ctx context.Context, key string) (time.Duration, bool, error) {
	ms, err := r.sendInt(ctx, "pttl", key)
	switch {
	case err != nil:
		return 0, false, err
	case ms == -2:
		return 0, false, nil
	case ms == -1:
		return -1, true, nil
	}
	return msDuration(ms), true, nil
}

func (r *Backend) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return r.sendBool(ctx, "pexpire", key, ms(ttl))
}

// PExpireAt sends the deadline in milliseconds itself: go-redis's PExpireAt
// computes it through UnixNano, which overflows after 2262.
func (r *Backend) PExpireAt(ctx context.Context, key string, at time.Time) (bool, error) {
	return r.sendBool(ctx, "pexpireat", key, unixms.Of(at))
}

// msDuration converts a remaining time in milliseconds to a Duration: the
// largest Duration for a time that a Duration cannot hold to the
// millisecond (about 292 years), as [backend.PTTL] specifies.
func msDuration(ms int64) time.Duration {
	if ms >= math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

func (r *Backend) Persist(ctx context.Context, key string) (bool, error) {
	return r.sendBool(ctx, "persist", key)
}

func (r *Backend) IncrByWithin(ctx context.Context, key string, n, min, max int64, ttl time.Duration) (int64, error) {
	s, err := r.runIncrWithin(ctx, key, ttl, intBoundArg(min), intBoundArg(max), "incrby", n, nil)
	return parseIntReply(s, err)
}

func (r *Backend) IncrByFloatWithin(ctx context.Context, key string, f, min, max float64, ttl time.Duration) (float64, error) {
	s, err := r.runIncrWithin(ctx, key, ttl, floatBoundArg(min), floatBoundArg(max), "incrbyfloat", f, nil)
	return parseFloatReply(s, err)
}

// Hashes.

func (r *Backend) HGet(ctx context.Context, key, field string) (string, bool, error) {
	v, err := r.sendString(ctx, "hget", key, field)
	ok, err := nilOK(err)
	return v, ok, err
}

func (r *Backend) HMGet(ctx context.Context, key string, fields ...string) ([]string, []bool, error) {
	cmd := redis.NewSliceCmd(ctx, command("hmget", key, fields)...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, nil, err
	}
	vals := cmd.Val()
	out, ok := make([]string, len(vals)), make([]bool, len(vals))
	for i, v := range vals {
		out[i], ok[i] = v.(string)
	}
	return out, ok, nil
}

func (r *Backend) HSet(ctx context.Context, key string, ttl time.Duration, fieldValues ...string) (int64, error) {
	cmd := redis.NewIntCmd(ctx, command("hset", key, fieldValues)...)
	err := r.tx(ctx, key, ttl, cmd)
	return cmd.Val(), err
}

func (r *Backend) HSetNX(ctx context.Context, key, field, value string, ttl time.Duration) (bool, error) {
	cmd := redis.NewBoolCmd(ctx, "hsetnx", key, field, value)
	err := r.tx(ctx, key, ttl, cmd)
	return cmd.Val(), err
}

func (r *Backend) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	return r.sendInt(ctx, command("hdel", key, fields)...)
}

func (r *Backend) HExists(ctx context.Context, key, field string) (bool, error) {
	return r.sendBool(ctx, "hexists", key, field)
}

func (r *Backend) HLen(ctx context.Context, key string) (int64, error) {
	return r.sendInt(ctx, "hlen", key)
}

func (r *Backend) HGetDel(ctx context.Context, key, field string) (string, bool, error) {
	p := r.c.TxPipeline()
	get := p.HGet(ctx, key, field)
	_ = p.Process(ctx, redis.NewIntCmd(ctx, "hdel", key, field))
	_, err := p.Exec(ctx)
	ok, err := nilOK(err)
	return get.Val(), ok, err
}

// hPopRandom removes and returns one random field: HRANDFIELD and HDEL in
// one script, so no other client can take the same field.
var hPopRandom = newScript(`
local f = redis.call('HRANDFIELD', KEYS[1], 1, 'WITHVALUES')
if #f == 0 then return false end
redis.call('HDEL', KEYS[1], f[1])
return f`)

func (r *Backend) HPopRandom(ctx context.Context, key string) (string, string, bool, error) {
	cmd, err := r.run(ctx, hPopRandom, []string{key})
	if ok, err := nilOK(err); !ok || err != nil {
		return "", "", false, err
	}
	res, err := cmd.StringSlice()
	if err != nil {
		return "", "", false, err
	}
	return res[0], res[1], true, nil
}

func (r *Backend) HIncrByWithin(ctx context.Context, key, field string, n, min, max int64, ttl time.Duration) (int64, error) {
	s, err := r.runIncrWithin(ctx, key, ttl, intBoundArg(min), intBoundArg(max), "hincrby", n, field)
	return parseIntReply(s, err)
}

func (r *Backend) HIncrByFloatWithin(ctx context.Context, key, field string, f, min, max float64, ttl time.Duration) (float64, error) {
	s, err := r.runIncrWithin(ctx, key, ttl, floatBoundArg(min), floatBoundArg(max), "hincrbyfloat", f, field)
	return parseFloatReply(s, err)
}

func (r *Backend) HIncrByMany(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	if 2*len(fields) >= maxScriptArgs {
		return r.hIncrByManyTx(ctx, key, ttl, fields, ns)
	}
	argv := make([]any, 0, 1+2*len(fields))
	argv = append(argv, ttlArgAny(ttl))
	for i, f := range fields {
		argv = append(argv, f, ns[i])
	}
	cmd, err := r.run(ctx, hIncrByExpire, []string{key}, argv...)
	if err != nil {
		return make([]int64, len(fields)), err
	}
	return cmd.Int64Slice()
}

// hIncrByManyTx is HIncrByMany for more fields than a script takes: the
// increments and the expiry refresh in one MULTI/EXEC.
func (r *Backend) hIncrByManyTx(ctx context.Context, key string, ttl time.Duration, fields []string, ns []int64) ([]int64, error) {
	p := r.c.TxPipeline()
	cmds := make([]*redis.IntCmd, len(fields))
	for i, f := range fields {
		cmds[i] = p.HIncrBy(ctx, key, f, ns[i])
	}
	expire(p, key, ttl)
	_, err := p.Exec(ctx)
	out := make([]int64, len(fields))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, err
}

func (r *Backend) HScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return r.sendScan(ctx, scanArgs("hscan", key, cursor, count)...)
}

// HScanInstance sends HSCAN with the runID script in one MULTI/EXEC; the
// instance is the run_id of the server that ran them (see scanInstance).
func (r *Backend) HScanInstance(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, string, error) {
	p := r.c.TxPipeline()
	id := runID.Eval(ctx, p, []string{key})
	scan := p.HScan(ctx, key, cursor, "", count)
	_, _ = p.Exec(ctx)
	return scanInstance(id, scan)
}

// runID returns the server's run_id: the INFO server field that is new at
// every start of redis-server, restarts that reload the data included. It
// is a script, not INFO itself, because go-redis's cluster client would
// take INFO's argument for a key and refuse the transaction as cross-slot:
// the script names the scanned key only so that it is routed with it. A
// server that refuses INFO's server section but answers plain INFO without
// a run_id (miniredis) returns "", and one that refuses INFO (an ACL user
// without it) fails it.
var runID = redis.NewScript(`
local info = redis.pcall('INFO', 'server')
if type(info) == 'table' then info = redis.call('INFO') end
return string.match(info, 'run_id:(%x+)') or ''`)

// scanInstance returns the page of scan and the run_id that id, the runID
// script, read before it in the same MULTI/EXEC. A transaction runs on one
// server with nothing in between, so no failover or slot move separates the
// run_id from the page: on a cluster go-redis sends it to the node of the
// key's slot and, after a MOVED redirection, sends all of it again to the
// new node, whose run_id is its own. A server without a run_id reports ""
// on every page: its scans cannot be checked.
func scanInstance(id *redis.Cmd, scan *redis.ScanCmd) ([]string, uint64, string, error) {
	page, next, err := scan.Result()
	instance, idErr := id.Text()
	if idErr != nil && (err == nil || redis.HasErrorPrefix(err, "EXECABORT")) {
		// The script failed, or was refused and made EXEC discard the scan.
		return nil, 0, "", fmt.Errorf("run_id from INFO server: %w", idErr)
	}
	if err != nil {
		return nil, 0, "", err
	}
	return page, next, instance, nil
}

func (r *Backend) HGetAll(ctx context.Context, key string) ([]string, error) {
	m, err := r.HGetAllMap(ctx, key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, 2*len(m))
	for f, v := range m {
		out = append(out, f, v)
	}
	return out, nil
}

// HGetAllMap is HGETALL as go-redis returns it (the [hashMapReader]
// capability): [Dict.Map] builds its result from the map directly, or
// returns it for string fields and values, instead of from the flat slice
// of [backend.HGetAll].
func (r *Backend) HGetAllMap(ctx context.Context, key string) (map[string]string, error) {
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", key)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

func (r *Backend) HVals(ctx context.Context, key string) ([]string, error) {
	return r.sendStrings(ctx, "hvals", key)
}

// Sets.

func (r *Backend) SAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int64, error) {
	cmd := redis.NewIntCmd(ctx, command("sadd", key, members)...)
	err := r.tx(ctx, key, ttl, cmd)
	return cmd.Val(), err
}

func (r *Backend) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	return r.sendInt(ctx, command("srem", key, members)...)
}

func (r *Backend) SIsMember(ctx context.Context, key, member string) (bool, error) {
	return r.sendBool(ctx, "sismember", key, member)
}

func (r *Backend) SMIsMember(ctx context.Context, key string, members ...string) ([]bool, error) {
	cmd := redis.NewBoolSliceCmd(ctx, command("smismember", key, members)...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

func (r *Backend) SCard(ctx context.Context, key string) (int64, error) {
	return r.sendInt(ctx, "scard", key)
}

func (r *Backend) SPop(ctx context.Context, key string, count int64) ([]string, error) {
	return r.sendStrings(ctx, "spop", key, count)
}

func (r *Backend) SRandMember(ctx context.Context, key string, count int64) ([]string, error) {
	return r.sendStrings(ctx, "srandmember", key, count)
}

func (r *Backend) SScan(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, error) {
	return r.sendScan(ctx, scanArgs("sscan", key, cursor, count)...)
}

// SScanInstance sends SSCAN with the runID script in one MULTI/EXEC, as
// HScanInstance does.
func (r *Backend) SScanInstance(ctx context.Context, key string, cursor uint64, count int64) ([]string, uint64, string, error) {
	p := r.c.TxPipeline()
	id := runID.Eval(ctx, p, []string{key})
	scan := p.SScan(ctx, key, cursor, "", count)
	_, _ = p.Exec(ctx)
	return scanInstance(id, scan)
}

func (r *Backend) SMembers(ctx context.Context, key string) ([]string, error) {
	return r.sendStrings(ctx, "smembers", key)
}

func (r *Backend) SCombine(ctx context.Context, op backend.SetOp, keys ...string) ([]string, error) {
	args := make([]any, 1+len(keys))
	args[0] = strings.ToLower(op.String())
	for i, k := range keys {
		args[1+i] = k
	}
	return r.sendStrings(ctx, args...)
}

func (r *Backend) SCombineStore(ctx context.Context, op backend.SetOp, dest string, ttl time.Duration, keys ...string) (int64, error) {
	cmd := redis.NewIntCmd(ctx, command(strings.ToLower(op.String())+"store", dest, keys)...)
	err := r.tx(ctx, dest, ttl, cmd)
	return cmd.Val(), err
}

// Sorted sets.

func (r *Backend) ZAdd(ctx context.Context, key string, ttl time.Duration, mode backend.ZAddMode, members ...backend.Z) (int64, error) {
	// ZADD key [NX|XX] score member …, as go-redis's ZAddArgs writes it.
	args := make([]any, 0, 3+2*len(members))
	args = append(args, "zadd", key)
	switch mode {
	case backend.ZAddNX:
		args = append(args, "nx")
	case backend.ZAddXX:
		args = append(args, "xx")
	}
	for _, m := range members {
		args = append(args, m.Score, m.Member)
	}
	cmd := redis.NewIntCmd(ctx, args...)
	err := r.tx(ctx, key, ttl, cmd)
	return cmd.Val(), err
}

func (r *Backend) ZIncrBy(ctx context.Context, key, member string, incr float64, ttl time.Duration) (float64, error) {
	cmd := redis.NewFloatCmd(ctx, "zincrby", key, incr, member)
	err := r.tx(ctx, key, ttl, cmd)
	return cmd.Val(), err
}

func (r *Backend) ZScore(ctx context.Context, key, member string) (float64, bool, error) {
	s, err := r.sendFloat(ctx, "zscore", key, member)
	ok, err := nilOK(err)
	return s, ok, err
}

func (r *Backend) ZRank(ctx context.Context, key, member string, reverse bool) (int64, bool, error) {
	name := "zrank"
	if reverse {
		name = "zrevrank"
	}
	rank, err := r.sendInt(ctx, name, key, member)
	ok, err := nilOK(err)
	return rank, ok, err
}

func (r *Backend) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	return r.sendInt(ctx, command("zrem", key, members)...)
}

func (r *Backend) ZCard(ctx context.Context, key string) (int64, error) {
	return r.sendInt(ctx, "zcard", key)
}

// ZPop, ZRange and ZRangeByScore send the commands go-redis's ZPopMin,
// ZPopMax and ZRangeArgsWithScores send.

func (r *Backend) ZPop(ctx context.Context, key string, count int64, max bool) ([]backend.Z, error) {
	return toZ(r.zPop(ctx, key, count, max))
}

func (r *Backend) ZRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]backend.Z, error) {
	return toZ(r.zRange(ctx, key, start, stop, reverse))
}

func (r *Backend) ZRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]backend.Z, error) {
	return toZ(r.zRangeByScore(ctx, key, min, max, reverse, offset, count))
}

func (r *Backend) zPop(ctx context.Context, key string, count int64, max bool) ([]redis.Z, error) {
	name := "zpopmin"
	if max {
		name = "zpopmax"
	}
	return r.sendZ(ctx, name, key, count)
}

func (r *Backend) zRange(ctx context.Context, key string, start, stop int64, reverse bool) ([]redis.Z, error) {
	args := make([]any, 0, 6)
	args = append(args, "zrange", key, start, stop)
	if reverse {
		args = append(args, "rev")
	}
	return r.sendZ(ctx, append(args, "withscores")...)
}

// zRangeByScore sends LIMIT unless the whole range is asked for; a count
// of 0 is sent too, so that a key of another type or a bad bound fails as
// it does on Redis.
func (r *Backend) zRangeByScore(ctx context.Context, key, min, max string, reverse bool, offset, count int64) ([]redis.Z, error) {
	args := make([]any, 0, 10)
	args = append(args, "zrange", key)
	if reverse {
		args = append(args, scoreArg(max), scoreArg(min), "byscore", "rev")
	} else {
		args = append(args, scoreArg(min), scoreArg(max), "byscore")
	}
	if offset != 0 || count >= 0 {
		args = append(args, "limit", offset, count)
	}
	return r.sendZ(ctx, append(args, "withscores")...)
}

// The unbounded score limits, boxed once.
var minusInf, plusInf any = "-inf", "+inf"

// scoreArg boxes a score bound for a command; the unbounded ones cost no
// allocation.
func scoreArg(s string) any {
	switch s {
	case "-inf":
		return minusInf
	case "+inf":
		return plusInf
	}
	return s
}

func (r *Backend) ZCount(ctx context.Context, key, min, max string) (int64, error) {
	return r.sendInt(ctx, "zcount", key, min, max)
}

func (r *Backend) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) (int64, error) {
	return r.sendInt(ctx, "zremrangebyrank", key, start, stop)
}

func (r *Backend) ZRemRangeByScore(ctx context.Context, key, min, max string) (int64, error) {
	return r.sendInt(ctx, "zremrangebyscore", key, min, max)
}

// DeleteMatching walks the keyspace with SCAN MATCH and UNLINKs the keys of
// each page that want accepts.
//
// On a cluster it works in passes. A pass scans every master
// (ForEachMaster, which reloads the topology first) and UNLINKs each key
// through the cluster client, one command per key in a pipeline: the
// client routes a key by its slot and follows MOVED and ASK, so a key whose
// slot moved between the SCAN and the UNLINK is still deleted. A slot that
// moves during a pass can also carry keys from a master not yet scanned to
// one already scanned, so each master's own view of its slots (CLUSTER
// NODES, with its MIGRATING and IMPORTING marks) is read before and after
// its scan. When some master's slots moved or were moving, another pass
// runs, until a pass sees every slot still, or a pass after the first finds
// nothing (the keys a move carried are found where it left them), at most
// clusterPasses passes; if slots are still moving then, the error says that
// keys may remain.
func (r *Backend) DeleteMatching(ctx context.Context, match string, want func(string) bool, batch int64) (int64, error) {
	cc, ok := r.c.(*redis.ClusterClient)
	if !ok {
		return deleteMatching(ctx, r.c, r.c, match, want, batch, false)
	}
	var total int64
	for pass := 1; pass <= clusterPasses; pass++ {
		n, moving, err := clusterDeletePass(ctx, cc, match, want, batch)
		total += n
		if err != nil || !moving || (pass > 1 && n == 0) {
			return total, err
		}
	}
	return total, fmt.Errorf("cluster slots kept moving during %d passes of SCAN MATCH %q: keys may remain", clusterPasses, match)
}

// clusterPasses bounds the passes of a cluster DeleteMatching.
const clusterPasses = 8

// clusterDeletePass scans every master once, deletes what it finds and
// reports whether a master's slots moved or were moving meanwhile.
func clusterDeletePass(ctx context.Context, cc *redis.ClusterClient, match string, want func(string) bool, batch int64) (int64, bool, error) {
	var total atomic.Int64
	var moving atomic.Bool
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		before, err := ownSlots(ctx, node)
		if err != nil {
			return err
		}
		n, err := deleteMatching(ctx, node, cc, match, want, batch, true)
		total.Add(n)
		if err != nil {
			return err
		}
		after, err := ownSlots(ctx, node)
		if after != before || strings.Contains(after, "[") {
			moving.Store(true)
		}
		return err
	})
	return total.Load(), moving.Load(), err
}

// ownSlots returns the slots a master serves as it sees them: the slot
// fields of its own line of CLUSTER NODES, where a slot it is migrating or
// importing shows as [slot->-node] or [slot-<-node].
func ownSlots(ctx context.Context, node *redis.Client) (string, error) {
	nodes, err := node.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(nodes, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 8 && slices.Contains(strings.Split(fields[2], ","), "myself") {
			return strings.Join(fields[8:], " "), nil
		}
	}
	return "", fmt.Errorf("CLUSTER NODES of %s has no line for the node itself", node.Options().Addr)
}

// deleteMatching walks one server's keyspace with SCAN MATCH through scan
// and UNLINKs the keys of each page that want accepts through del: one
// command for the page, or, when del is a cluster client and the page may
// span slots, one UNLINK per key in a pipeline.
func deleteMatching(ctx context.Context, scan processor, del redis.Cmdable, match string, want func(string) bool, batch int64, perKey bool) (int64, error) {
	var cursor, total uint64
	for {
		keys, next, err := scanPage(ctx, scan, cursor, match, batch)
		if err != nil {
			return int64(total), err
		}
		if want != nil {
			keys = slices.DeleteFunc(keys, func(k string) bool { return !want(k) })
		}
		if len(keys) > 0 {
			n, err := unlink(ctx, del, keys, perKey)
			total += uint64(n)
			if err != nil {
				return int64(total), err
			}
		}
		if cursor = next; cursor == 0 {
			return int64(total), nil
		}
	}
}

// processor sends a command: a client of one server or of all of them.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// scanPage is SCAN cursor MATCH match [COUNT count] (COUNT when count > 0).
// Unlike go-redis's Scan it sends an empty pattern too, which matches the
// empty key only, as DeleteMatching's pattern does everywhere.
func scanPage(ctx context.Context, c processor, cursor uint64, match string, count int64) ([]string, uint64, error) {
	args := []any{"scan", cursor, "match", match}
	if count > 0 {
		args = append(args, "count", count)
	}
	cmd := redis.NewScanCmd(ctx, nil, args...)
	_ = c.Process(ctx, cmd)
	return cmd.Result()
}

func unlink(ctx context.Context, c redis.Cmdable, keys []string, perKey bool) (int64, error) {
	if !perKey {
		return c.Unlink(ctx, keys...).Result()
	}
	cmds := make([]*redis.IntCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Unlink(ctx, k)
		}
		return nil
	})
	var n int64
	for _, cmd := range cmds {
		n += cmd.Val()
	}
	return n, err
}

// toZ turns go-redis's []redis.Z into the contract's []backend.Z.
func toZ(zs []redis.Z, err error) ([]backend.Z, error) {
	if err != nil {
		return nil, err
	}
	out := make([]backend.Z, len(zs))
	for i, z := range zs {
		out[i] = backend.Z{Member: z.Member.(string), Score: z.Score}
	}
	return out, nil
}

// scanArgs returns HSCAN's or SSCAN's arguments as go-redis writes them.
func scanArgs(name, key string, cursor uint64, count int64) []any {
	args := []any{name, key, cursor}
	if count > 0 {
		args = append(args, "count", count)
	}
	return args
}

// ms returns ttl in milliseconds as go-redis sends it: a positive ttl
// below a millisecond is 1, not 0 (which would delete the key).
func ms(ttl time.Duration) int64 {
	if ttl > 0 && ttl < time.Millisecond {
		return 1
	}
	return int64(ttl / time.Millisecond)
}

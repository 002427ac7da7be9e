package redisbackend

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure the adapter. The zero value is the default: automatic
// pipelining on, with go-redis's batch size and no flush delay.
type Options struct {
	// NoAutoPipeline sends each call through the client's connection pool
	// on a connection of its own, one round trip per call, instead of
	// through the automatic pipeline.
	NoAutoPipeline bool
	// MaxBatch is the most commands one automatic-pipeline flush writes
	// (a soft bound: go-redis may write a few more under load). Zero or
	// less: 200.
	MaxBatch int
	// Window is how long the pipeline waits for more commands after a
	// flush before it writes the next batch: longer makes batches deeper
	// and costs each call up to that much latency. Zero or less: no wait;
	// calls that arrive while a batch is on the wire go in the next one.
	Window time.Duration

	// Own sends the pipelined calls of a single-node client through the
	// library's own pipeline (pipe.go) on a connection of its own, instead
	// of through go-redis's. Commands whose replies it does not decode, and
	// clients it cannot speak for, keep go-redis's path.
	Own bool
	// GoRedis keeps go-redis's automatic pipeline where Own would use the
	// library's: every command then passes through the client's hooks.
	GoRedis bool

	// Always sends every call through the pipeline, a lone one included
	// (see send). Tests set it so that the behaviour suite exercises the
	// pipeline even from one goroutine; users have no way to set it.
	Always bool
}

// asyncPipeliner is a go-redis client that runs an automatic pipeline:
// *redis.Client (single node and Sentinel), *redis.ClusterClient,
// *redis.Ring, and an *redis.AutoPipeliner itself.
type asyncPipeliner interface {
	AsyncAutoPipelineWithOptions(*redis.AutoPipelineOptions) (*redis.AutoPipeliner, error)
}

// autoPipeline returns c's automatic pipeline configured by o, or nil when
// o turns it off or c has none.
func autoPipeline(c redis.UniversalClient, o Options) (*redis.AutoPipeliner, error) {
	a, ok := c.(asyncPipeliner)
	if o.NoAutoPipeline || !ok {
		return nil, nil
	}
	cfg := redis.DefaultAutoPipelineOptions()
	if o.MaxBatch > 0 {
		cfg.MaxBatchSize = o.MaxBatch
	}
	if o.Window > 0 {
		cfg.MaxFlushDelay = o.Window
	}
	ap, err := a.AsyncAutoPipelineWithOptions(cfg)
	if errors.Is(err, redis.ErrRingAutoPipelineUnsupported) {
		return nil, nil // a Ring has no automatic pipeline: use its pool
	}
	return ap, err
}

// send sends one command and waits for its reply, and returns the
// command's error. A call that finds no other call of this backend in
// flight sends its command on a pooled connection of its own: alone, it
// has nothing to share a round trip with, and the pipeline's hand-off to
// its flusher would only add latency. A call that overlaps others joins
// the next batch of the client's automatic pipeline, and waits for its
// reply or for ctx, whichever comes first.
//
// When ctx ends first, send returns ctx's error and the command is
// abandoned: it may still run on the server (as a command whose reply
// the client stopped waiting for always may), and cmd must not be read,
// since the pipeline still writes its reply into it. Callers therefore
// look only at the error send returns until it is nil.
func (r *Backend) send(ctx context.Context, cmd redis.Cmder) error {
	if r.ap != nil || r.pipe != nil {
		defer r.inFlight.Add(-1)
		if r.inFlight.Add(1) > 1 || r.always {
			return r.pipeline(ctx, cmd)
		}
	}
	_ = r.c.Process(ctx, cmd)
	return cmd.Err()
}

// pipeline sends cmd through the automatic pipeline, as send describes.
func (r *Backend) pipeline(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err // nothing is sent on a context that has ended
	}
	if r.pipe != nil {
		if piped(cmd) {
			return r.pipe.do(ctx, cmd)
		}
		_ = r.c.Process(ctx, cmd)
		return cmd.Err()
	}
	f := r.ap.Submit(ctx, cmd)
	if err := f.WaitContext(ctx); err != nil {
		return err
	}
	return nil
}

// The typed sends: one command built from args, its value or its error.

func (r *Backend) sendString(ctx context.Context, args ...any) (string, error) {
	cmd := redis.NewStringCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return "", err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendInt(ctx context.Context, args ...any) (int64, error) {
	cmd := redis.NewIntCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return 0, err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendBool(ctx context.Context, args ...any) (bool, error) {
	cmd := redis.NewBoolCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return false, err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendFloat(ctx context.Context, args ...any) (float64, error) {
	cmd := redis.NewFloatCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return 0, err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendStrings(ctx context.Context, args ...any) ([]string, error) {
	cmd := redis.NewStringSliceCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendZ(ctx context.Context, args ...any) ([]redis.Z, error) {
	cmd := redis.NewZSliceCmd(ctx, args...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

func (r *Backend) sendScan(ctx context.Context, args ...any) ([]string, uint64, error) {
	cmd := redis.NewScanCmd(ctx, nil, args...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, 0, err
	}
	page, cursor := cmd.Val()
	return page, cursor, nil
}

// script is a Lua script the adapter runs by its SHA1.
type script struct{ src, sha string }

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// run runs s with EVALSHA, and with EVAL when the server does not have it
// yet (NOSCRIPT), which also loads it, and returns the reply.
func (r *Backend) run(ctx context.Context, s *script, keys []string, args ...any) (*redis.Cmd, error) {
	cmd := redis.NewCmd(ctx, evalArgs("evalsha", s.sha, keys, args)...)
	err := r.send(ctx, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, evalArgs("eval", s.src, keys, args)...)
		err = r.send(ctx, cmd)
	}
	if err != nil {
		return nil, err
	}
	return cmd, nil
}

// evalArgs returns EVAL's or EVALSHA's arguments: name, script, the number
// of keys, the keys, then args, in one allocation.
func evalArgs(name, script string, keys []string, args []any) []any {
	out := make([]any, 0, 3+len(keys)+len(args))
	out = append(out, name, script, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return append(out, args...)
}

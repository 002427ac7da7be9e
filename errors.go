package caches

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gocaches/caches/internal/backend"
)

// Sentinel errors. Compare with [errors.Is]: the library may wrap them to add
// the key at fault.
var (
	// ErrNotFound is returned by reads such as [Key.Get] when the key (or the
	// field or member) does not exist. It is returned unwrapped, so a miss
	// costs no allocation.
	ErrNotFound = errors.New("caches: not found")

	// ErrWrongType is wrapped by every operation whose key holds another kind
	// of Redis value (Redis answers "WRONGTYPE").
	ErrWrongType = errors.New("caches: key holds the wrong kind of value")

	// ErrNotNumber is wrapped when an increment meets a stored value that is
	// not a number, or would overflow or produce NaN or infinity.
	ErrNotNumber = errors.New("caches: value is not a number or out of range")

	// ErrClosed is wrapped by operations on a closed connection.
	ErrClosed = errors.New("caches: connection is closed")

	// ErrCrossSlot is wrapped when a command across several keys (set
	// algebra) names keys on different Redis Cluster slots; the library
	// refuses it before sending it. [Options.HashTag] keeps a family's keys
	// on one slot.
	ErrCrossSlot = backend.ErrCrossSlot

	// ErrPrefixOverlap is wrapped by every operation of a family whose
	// prefix overlaps the prefix of another family on the same connection
	// in this process: one is the other followed by ":" (see
	// [Options.Prefix]). The family that came second is refused, so that
	// neither reads, overwrites or invalidates the other's keys.
	ErrPrefixOverlap = errors.New("caches: family prefixes overlap")

	// ErrUnknownConnection is wrapped when a family names a connection that
	// no CACHES_DSN variable and no [Register] call defines.
	ErrUnknownConnection = errors.New("caches: unknown connection")

	// ErrIterationBroken is wrapped by the error that ends an iterator
	// ([Dict.All], [Set.All], [Counter.All]) whose pages came from two
	// server instances: Redis restarted (even with its data), a failover
	// promoted another server, or a cluster slot moved to another node. A
	// SCAN cursor means something only to the instance that issued it, so
	// such an iteration may have yielded some entries twice and missed
	// others. Start the iteration again.
	ErrIterationBroken = errors.New("caches: iteration broken by a change of server")
)

// DecodeError reports a stored value that the family's codec cannot decode.
// It names the Redis key (and the field or member, for collections) so the
// culprit can be inspected with redis-cli.
type DecodeError struct {
	Key   string // the Redis key
	Field string // the hash field or member, if any
	Type  string // the Go type the value was decoded into
	Err   error  // the codec's error
}

func (e *DecodeError) Error() string {
	where := fmt.Sprintf("key %q", e.Key)
	if e.Field != "" {
		where += fmt.Sprintf(" field %q", e.Field)
	}
	return fmt.Sprintf("caches: cannot decode %s as %s: %v", where, e.Type, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// KeyError wraps a backend failure with the key it concerns.
type KeyError struct {
	Op  string // the operation, e.g. "get"
	Key string // the Redis key
	Err error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("caches: %s %q: %v", e.Op, e.Key, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// keyErr wraps err, a backend error, in a [KeyError] and maps the Redis error
// texts that callers want to test for onto the sentinels.
func keyErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &KeyError{Op: op, Key: key, Err: classify(err)}
}

// classify maps a backend error onto a sentinel, keeping the original
// message visible. A closed client or store is recognised by its sentinel;
// Redis's replies only by their text, the one thing they have.
func classify(err error) error {
	if backend.IsClosed(err) {
		return fmt.Errorf("%w (%w)", ErrClosed, err)
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGTYPE"):
		return fmt.Errorf("%w (%s)", ErrWrongType, msg)
	case strings.HasPrefix(msg, "ERR value is not an integer"),
		strings.HasPrefix(msg, "ERR value is not a valid float"),
		strings.HasPrefix(msg, "ERR hash value is not"),
		strings.HasPrefix(msg, "ERR increment"),
		strings.HasPrefix(msg, "ERR resulting score is not a number"):
		return fmt.Errorf("%w (%s)", ErrNotNumber, msg)
	}
	return err
}

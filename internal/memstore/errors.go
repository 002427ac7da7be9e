package memstore

import (
	"errors"
	"strings"

	"github.com/gocaches/caches/internal/backend"
)

// Redis error replies, word for word as Redis 7.0 sends them.
const (
	msgWrongType      = "WRONGTYPE Operation against a key holding the wrong kind of value"
	msgNotInteger     = "ERR value is not an integer or out of range"
	msgOverflow       = "ERR increment or decrement would overflow"
	msgNotFloat       = "ERR value is not a valid float"
	msgIncrNaNInf     = "ERR increment would produce NaN or Infinity"
	msgNaNOrInfinity  = "ERR value is NaN or Infinity"
	msgHashNotInteger = "ERR hash value is not an integer"
	msgHashNotFloat   = "ERR hash value is not a float"
	msgMinMaxNotFloat = "ERR min or max is not a float"
	msgScoreNaN       = "ERR resulting score is not a number (NaN)"
	msgNotPositive    = "ERR value is out of range, must be positive"
	msgCountRange     = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	msgSyntax         = "ERR syntax error"
	msgClosed         = "memstore: store is closed"
	msgNoPath         = "memstore: store has no Path to save to"
	msgBadSnapshot    = "memstore: bad snapshot file"
	msgLocked         = "memstore: another store holds the file"

	// msgWrongArgsPrefix and msgWrongArgsSuffix surround the lower-case
	// command name in Redis's arity error.
	msgWrongArgsPrefix = "ERR wrong number of arguments for '"
	msgWrongArgsSuffix = "' command"
)

var (
	// ErrWrongType is the WRONGTYPE error: the key holds another data type.
	ErrWrongType = errors.New(msgWrongType)
	// ErrNotInteger is returned by INCRBY when the value is not an integer.
	ErrNotInteger = errors.New(msgNotInteger)
	// ErrOverflow is returned by INCRBY and HINCRBY when the result would
	// overflow an int64.
	ErrOverflow = errors.New(msgOverflow)
	// ErrNotFloat is returned when a value or argument is not a valid float
	// (INCRBYFLOAT, ZADD and ZINCRBY with NaN).
	ErrNotFloat = errors.New(msgNotFloat)
	// ErrIncrNaNInf is returned by INCRBYFLOAT and HINCRBYFLOAT when the
	// result would be NaN or infinite.
	ErrIncrNaNInf = errors.New(msgIncrNaNInf)
	// ErrNaNOrInfinity is returned by HINCRBYFLOAT when the increment itself
	// is NaN or infinite.
	ErrNaNOrInfinity = errors.New(msgNaNOrInfinity)
	// ErrHashNotInteger is returned by HINCRBY when the field's value is not
	// an integer.
	ErrHashNotInteger = errors.New(msgHashNotInteger)
	// ErrHashNotFloat is returned by HINCRBYFLOAT when the field's value is
	// not a float.
	ErrHashNotFloat = errors.New(msgHashNotFloat)
	// ErrMinMaxNotFloat is returned by the score-range commands (ZCOUNT,
	// ZRANGE BYSCORE, ZREMRANGEBYSCORE) when a bound does not parse.
	ErrMinMaxNotFloat = errors.New(msgMinMaxNotFloat)
	// ErrScoreNaN is returned by ZINCRBY when the new score would be NaN.
	ErrScoreNaN = errors.New(msgScoreNaN)
	// ErrNotPositive is returned by SPOP, ZPOPMIN and ZPOPMAX for a negative
	// count.
	ErrNotPositive = errors.New(msgNotPositive)
	// ErrCountRange is returned by SRANDMEMBER for a count of math.MinInt64.
	ErrCountRange = errors.New(msgCountRange)
	// ErrSyntax is the generic Redis syntax error, returned by ZADD for an
	// unknown mode.
	ErrSyntax = errors.New(msgSyntax)
	// ErrClosed is returned by every method of a Store after Close; it is
	// also backend.ErrClosed for errors.Is.
	ErrClosed error = closedError{}
	// ErrNoPath is returned by Save for a store without a Path.
	ErrNoPath = errors.New(msgNoPath)
	// ErrBadSnapshot is wrapped by the error Open returns for a file that
	// is not a valid snapshot: corrupt, truncated, of another format or of
	// an unsupported version.
	ErrBadSnapshot = errors.New(msgBadSnapshot)
	// ErrLocked is wrapped by the error Open returns for a Path that
	// another open store, in this process or another, holds.
	ErrLocked = errors.New(msgLocked)
)

// wrongArgs returns Redis's arity error for the command cmd.
func wrongArgs(cmd string) error {
	return errors.New(msgWrongArgsPrefix + strings.ToLower(cmd) + msgWrongArgsSuffix)
}

// outOfRange is the error of a bounded increment whose result is not
// within [min, max]. It is the library's own (Redis has no such command),
// worded as Redis words an increment's overflow.
func outOfRange(min, max string) error {
	return errors.New("ERR increment or decrement would leave the range [" + min + ", " + max + "]")
}

// closedError is ErrClosed: the store's own text, and backend.ErrClosed to
// errors.Is, as the backend contract asks.
type closedError struct{}

func (closedError) Error() string        { return msgClosed }
func (closedError) Is(target error) bool { return target == backend.ErrClosed }

package redisbackend

import (
	"bufio"
	"encoding"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// This file is the RESP2 codec of the library's own pipeline (pipe.go):
// commands encoded from go-redis command values' arguments, and replies
// decoded into those values with what go-redis's own reader would put
// there, so that the adapter reads them the same way whichever path sent
// them.

// serverError is an error reply of the server. It is a [redis.Error], so
// redis.HasErrorPrefix and the library's error classification read it as
// they read go-redis's own.
type serverError string

func (e serverError) Error() string { return string(e) }
func (serverError) RedisError()     {}

// errProtocol is a reply the codec cannot read: the connection is out of
// step with the server and is closed.
var errProtocol = errors.New("redis: protocol error in a reply")

// piped reports whether the pipe can decode cmd's reply; other commands
// take go-redis's path.
func piped(cmd redis.Cmder) bool {
	switch cmd.(type) {
	case *redis.StringCmd, *redis.StatusCmd, *redis.IntCmd, *redis.BoolCmd,
		*redis.FloatCmd, *redis.StringSliceCmd, *redis.SliceCmd, *redis.BoolSliceCmd,
		*redis.ZSliceCmd, *redis.ScanCmd, *redis.MapStringStringCmd, *redis.Cmd:
		return true
	}
	return false
}

// appendCommand appends args as a RESP array of bulk strings, each
// argument written as go-redis writes it.
func appendCommand(b []byte, args []any) ([]byte, error) {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		var err error
		if b, err = appendArg(b, a); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendArg(b []byte, a any) ([]byte, error) {
	switch v := a.(type) {
	case string:
		return appendBulk(b, v), nil
	case []byte:
		return appendBulk(b, unsafe.String(unsafe.SliceData(v), len(v))), nil
	case int:
		return appendBulkInt(b, int64(v)), nil
	case int64:
		return appendBulkInt(b, v), nil
	case int32:
		return appendBulkInt(b, int64(v)), nil
	case uint64:
		var buf [24]byte
		return appendBulk(b, string(strconv.AppendUint(buf[:0], v, 10))), nil
	case float64:
		var buf [32]byte
		return appendBulk(b, string(strconv.AppendFloat(buf[:0], v, 'f', -1, 64))), nil
	case bool:
		if v {
			return appendBulk(b, "1"), nil
		}
		return appendBulk(b, "0"), nil
	case time.Duration:
		return appendBulkInt(b, int64(v)), nil
	case time.Time:
		return appendBulk(b, v.Format(time.RFC3339Nano)), nil
	case nil:
		return appendBulk(b, ""), nil
	case encoding.BinaryMarshaler:
		data, err := v.MarshalBinary()
		if err != nil {
			return b, err
		}
		return appendBulk(b, string(data)), nil
	}
	return b, fmt.Errorf("redis: can't marshal %T (implement encoding.BinaryMarshaler)", a)
}

func appendBulk(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

func appendBulkInt(b []byte, n int64) []byte {
	var buf [24]byte
	text := strconv.AppendInt(buf[:0], n, 10)
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(text)), 10)
	b = append(b, '\r', '\n')
	b = append(b, text...)
	return append(b, '\r', '\n')
}

// nullReply is the value of a RESP2 null (bulk or array) in a decoded
// aggregate: nil, as go-redis decodes it.
var nullReply any

// readInto reads one reply from r into cmd: its value, or its error (an
// error reply, or redis.Nil for a null, as go-redis sets them). The error
// it returns is the connection's: a failed read or an unreadable reply,
// after which the connection is out of step and must be closed.
func readInto(r *bufio.Reader, cmd redis.Cmder) error {
	line, err := readLine(r)
	if err != nil {
		return err
	}
	switch c := cmd.(type) {
	case *redis.StringCmd:
		s, err := readText(r, line, cmd)
		if err == nil {
			c.SetVal(s)
		}
		return connErr(err)
	case *redis.StatusCmd:
		s, err := readText(r, line, cmd)
		if err == nil {
			c.SetVal(s)
		}
		return connErr(err)
	case *redis.IntCmd:
		return readIntInto(r, line, c)
	case *redis.BoolCmd:
		return readBoolInto(r, line, c)
	case *redis.FloatCmd:
		s, err := readText(r, line, cmd)
		if err == nil {
			setParsed(cmd, func() error {
				f, err := strconv.ParseFloat(s, 64)
				c.SetVal(f)
				return err
			})
		}
		return connErr(err)
	}
	v, err := readValue(r, line)
	if err != nil {
		return err
	}
	setAggregate(cmd, v)
	return nil
}

// errReplied marks, inside the codec, a reply that was an error or a null
// and has been set on the command already.
var errReplied = errors.New("reply set on the command")

// connErr turns the codec's marker back into no connection error.
func connErr(err error) error {
	if err == errReplied {
		return nil
	}
	return err
}

// readText reads a reply go-redis reads as text: a status, a bulk string
// or an integer. An error reply, a null or another type is set on cmd and
// reported as errReplied.
func readText(r *bufio.Reader, line []byte, cmd redis.Cmder) (string, error) {
	cmd.SetErr(nil)
	switch line[0] {
	case '+', ':':
		return string(line[1:]), nil
	case '$':
		s, null, err := readBulk(r, line)
		if err != nil {
			return "", err
		}
		if null {
			cmd.SetErr(redis.Nil)
			return "", errReplied
		}
		return s, nil
	case '-':
		cmd.SetErr(serverError(line[1:]))
		return "", errReplied
	}
	v, err := readValue(r, line)
	if err != nil {
		return "", err
	}
	if v == nil {
		cmd.SetErr(redis.Nil)
	} else {
		cmd.SetErr(fmt.Errorf("redis: can't parse reply=%.100q reading string", line))
	}
	return "", errReplied
}

func readIntInto(r *bufio.Reader, line []byte, c *redis.IntCmd) error {
	if line[0] == ':' {
		n, ok := parseInt(line[1:])
		if !ok {
			return errProtocol
		}
		c.SetErr(nil)
		c.SetVal(n)
		return nil
	}
	s, err := readText(r, line, c)
	if err == nil {
		setParsed(c, func() error {
			n, err := strconv.ParseInt(s, 10, 64)
			c.SetVal(n)
			return err
		})
	}
	return connErr(err)
}

// readBoolInto reads as go-redis's BoolCmd does: "OK", "1" and "true" are
// true, a null is false without an error.
func readBoolInto(r *bufio.Reader, line []byte, c *redis.BoolCmd) error {
	s, err := readText(r, line, c)
	switch {
	case err == nil:
		c.SetVal(s == "OK" || s == "1" || s == "true")
	case err == errReplied && errors.Is(c.Err(), redis.Nil):
		c.SetErr(nil)
		c.SetVal(false)
	}
	return connErr(err)
}

// setParsed runs parse, which sets cmd's value, and sets its error.
func setParsed(cmd redis.Cmder, parse func() error) {
	if err := parse(); err != nil {
		cmd.SetErr(err)
	}
}

// readLine reads one line of a reply, without its CRLF. The slice is valid
// until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: an error or status text that long.
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	return line[:len(line)-2], nil
}

// parseInt parses a reply's decimal integer, without allocating when it
// has fewer than 19 digits.
func parseInt(b []byte) (int64, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) >= 19 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(b) {
		n = -n
	}
	return n, true
}

// readBulk reads the payload of a bulk string whose header is line.
func readBulk(r *bufio.Reader, line []byte) (s string, null bool, err error) {
	n64, ok := parseInt(line[1:])
	n := int(n64)
	switch {
	case !ok || n < -1:
		return "", false, errProtocol
	case n == -1:
		return "", true, nil
	}
	if n+2 <= r.Buffered() {
		b, _ := r.Peek(n + 2)
		s = string(b[:n])
		_, _ = r.Discard(n + 2)
	} else {
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", false, err
		}
		s = unsafe.String(unsafe.SliceData(b), n)
	}
	return s, false, nil
}

// readValue reads the reply whose first line is line as go-redis's generic
// reader does: a string (status or bulk), an int64, nil for a null, a
// []any for an array, and a serverError for an error reply.
func readValue(r *bufio.Reader, line []byte) (any, error) {
	switch line[0] {
	case '+':
		return string(line[1:]), nil
	case '-':
		return serverError(line[1:]), nil
	case ':':
		n, ok := parseInt(line[1:])
		if !ok {
			return nil, errProtocol
		}
		return n, nil
	case '$':
		s, null, err := readBulk(r, line)
		if err != nil || null {
			return nullReply, err
		}
		return s, nil
	case '*':
		return readArray(r, line)
	}
	return nil, errProtocol
}

func readArray(r *bufio.Reader, line []byte) (any, error) {
	n64, ok := parseInt(line[1:])
	n := int(n64)
	switch {
	case !ok || n < -1:
		return nil, errProtocol
	case n == -1:
		return nullReply, nil
	}
	vals := make([]any, n)
	for i := range vals {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if vals[i], err = readValue(r, line); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// setAggregate sets on cmd the reply v, decoded by readValue, as go-redis
// sets that reply on that type of command.
func setAggregate(cmd redis.Cmder, v any) {
	cmd.SetErr(nil)
	switch e := v.(type) {
	case serverError:
		cmd.SetErr(e)
		return
	case nil:
		cmd.SetErr(redis.Nil)
		return
	}
	if c, ok := cmd.(*redis.Cmd); ok {
		c.SetVal(v)
		return
	}
	vals, ok := v.([]any)
	if !ok {
		cmd.SetErr(fmt.Errorf("redis: got %T, wanted an array reply for %s", v, cmd.Name()))
		return
	}
	if err := setSlice(cmd, vals); err != nil {
		cmd.SetErr(err)
	}
}

// setSlice sets an array reply on the commands whose value is a slice or
// a map.
func setSlice(cmd redis.Cmder, vals []any) error {
	switch c := cmd.(type) {
	case *redis.SliceCmd:
		c.SetVal(vals)
	case *redis.StringSliceCmd:
		ss, err := texts(vals)
		c.SetVal(ss)
		return err
	case *redis.BoolSliceCmd:
		bs := make([]bool, len(vals))
		for i, v := range vals {
			n, _ := v.(int64)
			bs[i] = n == 1
		}
		c.SetVal(bs)
	case *redis.MapStringStringCmd:
		ss, err := texts(vals)
		if err != nil || len(ss)%2 != 0 {
			return errors.Join(err, errProtocol)
		}
		m := make(map[string]string, len(ss)/2)
		for i := 0; i < len(ss); i += 2 {
			m[ss[i]] = ss[i+1]
		}
		c.SetVal(m)
	case *redis.ZSliceCmd:
		return setZs(c, vals)
	case *redis.ScanCmd:
		return setScan(c, vals)
	}
	return nil
}

// texts returns the elements of an array reply as strings: an integer in
// decimal, a null as "".
func texts(vals []any) ([]string, error) {
	ss := make([]string, len(vals))
	for i, v := range vals {
		switch e := v.(type) {
		case string:
			ss[i] = e
		case int64:
			ss[i] = strconv.FormatInt(e, 10)
		case nil:
		case serverError:
			return nil, e
		default:
			return nil, errProtocol
		}
	}
	return ss, nil
}

// setZs reads a RESP2 reply WITHSCORES: members and scores alternating.
func setZs(c *redis.ZSliceCmd, vals []any) error {
	ss, err := texts(vals)
	if err != nil || len(ss)%2 != 0 {
		return errors.Join(err, errProtocol)
	}
	zs := make([]redis.Z, len(ss)/2)
	for i := range zs {
		score, err := strconv.ParseFloat(ss[2*i+1], 64)
		if err != nil {
			return err
		}
		zs[i] = redis.Z{Member: ss[2*i], Score: score}
	}
	c.SetVal(zs)
	return nil
}

// setScan reads a SCAN family reply: the next cursor and a page.
func setScan(c *redis.ScanCmd, vals []any) error {
	if len(vals) != 2 {
		return errProtocol
	}
	text, _ := vals[0].(string)
	cursor, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return errProtocol
	}
	page, ok := vals[1].([]any)
	if !ok {
		return errProtocol
	}
	keys, err := texts(page)
	c.SetVal(keys, cursor)
	return err
}

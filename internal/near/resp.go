package near

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// value is one RESP2/RESP3 reply: push is set for a '>' push, err for an
// error reply, null for a null; str holds simple, bulk and verbatim
// strings, numbers, doubles and booleans as text; elems the elements of an
// array, set, map (flattened) or push.
type value struct {
	push  bool
	null  bool
	err   string
	str   string
	elems []value
}

// maxElems bounds an aggregate's length, so that a corrupt reply cannot
// make the reader allocate without bound.
const maxElems = 1 << 24

// readValue reads one reply; attributes ('|') are read and skipped.
func readValue(r *bufio.Reader) (value, error) {
	line, err := readLine(r)
	if err != nil {
		return value{}, err
	}
	if len(line) == 0 {
		return value{}, errors.New("near: empty RESP line")
	}
	kind, rest := line[0], string(line[1:])
	switch kind {
	case '+', ':', ',', '#', '(':
		return value{str: rest}, nil
	case '-', '!':
		if kind == '!' {
			s, err := readBulk(r, rest)
			return value{err: s}, err
		}
		return value{err: rest}, nil
	case '_':
		return value{null: true}, nil
	case '$', '=':
		if rest == "-1" {
			return value{null: true}, nil
		}
		s, err := readBulk(r, rest)
		return value{str: s}, err
	case '*', '~', '>', '%', '|':
		return readAggregate(r, kind, rest)
	}
	return value{}, fmt.Errorf("near: unknown RESP type %q", kind)
}

func readAggregate(r *bufio.Reader, kind byte, rest string) (value, error) {
	n, err := strconv.Atoi(rest)
	if err != nil {
		return value{}, fmt.Errorf("near: bad RESP length %q", rest)
	}
	if n < 0 {
		return value{null: true}, nil
	}
	if kind == '%' || kind == '|' {
		n *= 2
	}
	if n > maxElems {
		return value{}, fmt.Errorf("near: RESP aggregate of %d elements", n)
	}
	v := value{push: kind == '>', elems: make([]value, n)}
	for i := range v.elems {
		if v.elems[i], err = readValue(r); err != nil {
			return value{}, err
		}
	}
	if kind == '|' { // an attribute precedes the reply it describes
		return readValue(r)
	}
	return v, nil
}

func readBulk(r *bufio.Reader, rest string) (string, error) {
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > 512<<20 {
		return "", fmt.Errorf("near: bad RESP bulk length %q", rest)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("near: RESP line without CRLF")
	}
	return line[:len(line)-2], nil
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

package caches

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Keys
//
// A handle's Redis key is the family's prefix followed, for each argument, by
// ":" and the argument's text:
//
//	prefix "user", Key(42, "eu")  →  user:42:eu
//	prefix "user", Key()          →  user
//
// An argument's text is the string itself (string, []byte), its decimal form
// (integers), strconv's shortest form (floats: 1.5, 1e+21, NaN), "true" or
// "false" (bool), the instant in UTC as RFC 3339 with nanoseconds for a
// time.Time (2026-11-29T08:00:00Z, whatever its zone and monotonic clock
// reading), or its String method (fmt.Stringer). Named types whose
// underlying kind is one of those are accepted too. Other types are an error
// reported by every operation of the handle.
//
// The characters '%', ':', '{' and '}' inside an argument are written as
// %25, %3A, %7B and %7D, so no two different argument lists give one key
// (Key("a:b", "c") is user:a%3Ab:c, Key("a", "b:c") is user:a:b%3Ac), and an
// argument can never create a Redis Cluster hash tag by accident. Empty
// strings, zeros and false are kept as arguments. Arguments are identified
// by their text alone: Key(1) and Key("1") are the same key.
//
// With [Options.HashTag] the prefix is wrapped in braces, {user}:42:eu, so
// that every key of the family hashes to one Redis Cluster slot.
//
// The prefix is used verbatim, so two families could name one key if one's
// prefix were the other's followed by ":": family "user" with Key("eu", 1)
// and family "user:eu" with Key(1) both give user:eu:1, and invalidating
// "user" would delete "user:eu"'s keys. The library refuses that: on one
// connection, no family's prefix may be another's followed by ":" (nor by
// "%lease", the suffix of Memoize's lease keys). The prefixes compared are
// those the keys start with, the hash tag applied: {user} and {user}:eu
// overlap, {user} and {user:eu} do not. The family that comes second is
// refused: each of its operations returns an error wrapping
// [ErrPrefixOverlap] that names both prefixes. A family given
// [Options.Conn] comes when it is created; one that finds its connection by
// name comes at its first operation (and again whenever the registry maps
// the name anew). The same prefix twice is allowed (one family declared
// twice); families on different connections are not compared (connections
// are told apart by identity: two connections to one Redis database are two
// connections, so keep their families apart yourself), and a prefix is
// forgotten once no family using it remains (the program dropped them and
// the garbage collector reclaimed them). A family without prefix is not
// checked: its arguments alone make its keys, so keeping them apart from
// other families' keys is up to the caller (and it cannot be invalidated).
// The check covers one process: processes sharing a Redis must follow the
// same rule in their code.

const keyEscapes = "%:{}"

// errEmptyKey is returned when neither a prefix nor arguments make a key.
var errEmptyKey = errors.New("caches: empty key (no prefix and no arguments)")

// keyPrefix returns the text every key of a family starts with.
func keyPrefix(prefix string, hashTag bool) (string, error) {
	if hashTag {
		if prefix == "" {
			return "", errors.New("caches: Options.HashTag needs a non-empty Options.Prefix")
		}
		return "{" + prefix + "}", nil
	}
	return prefix, nil
}

// buildKey returns prefix followed by the escaped arguments.
func buildKey(prefix string, args []any) (string, error) {
	if len(args) == 0 {
		if prefix == "" {
			return "", errEmptyKey
		}
		return prefix, nil
	}
	b := make([]byte, 0, keyCap(prefix, args))
	b = append(b, prefix...)
	for i, arg := range args {
		if i > 0 || prefix != "" {
			b = append(b, ':')
		}
		var err error
		if b, err = appendArg(b, arg); err != nil {
			return "", fmt.Errorf("caches: key argument %d: %w", i, err)
		}
	}
	return bytesString(b), nil
}

// keyCap estimates a key's length, so that building it usually takes one
// allocation: strings as they are, anything else as a number.
func keyCap(prefix string, args []any) int {
	n := len(prefix)
	for _, arg := range args {
		if s, ok := arg.(string); ok {
			n += 1 + len(s)
		} else {
			n += 1 + 20
		}
	}
	return n
}

// textKey is the key of one argument whose text is text: what buildKey
// gives for an argument of a raw kind, without boxing it.
func textKey(prefix, text string) string {
	b := make([]byte, 0, len(prefix)+1+len(text))
	b = append(b, prefix...)
	if prefix != "" {
		b = append(b, ':')
	}
	return bytesString(appendEscaped(b, text))
}

// bytesString returns b as a string without copying it; b must not change
// afterwards.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendArg appends the escaped text of one key argument.
func appendArg(b []byte, arg any) ([]byte, error) {
	switch v := arg.(type) {
	case string:
		return appendEscaped(b, v), nil
	case []byte:
		return appendEscaped(b, string(v)), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64), nil
	case time.Time:
		// Not String, which carries the zone and the monotonic clock
		// reading: equal instants must give one key.
		return appendEscaped(b, v.UTC().Format(time.RFC3339Nano)), nil
	case fmt.Stringer:
		return appendEscaped(b, v.String()), nil
	}
	return appendReflect(b, arg)
}

// appendReflect handles the remaining integer and float sizes and named types
// whose underlying kind is supported.
func appendReflect(b []byte, arg any) ([]byte, error) {
	v := reflect.ValueOf(arg)
	switch v.Kind() {
	case reflect.String:
		return appendEscaped(b, v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 32), nil
	case reflect.Float64:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 64), nil
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return appendEscaped(b, string(v.Bytes())), nil
		}
	}
	if arg == nil {
		return b, errors.New("nil is not a valid key argument")
	}
	return b, fmt.Errorf("unsupported type %T (use a string, number, bool, []byte or fmt.Stringer)", arg)
}

// appendEscaped appends s with the characters of keyEscapes percent-encoded.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, keyEscapes) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(keyEscapes, c) < 0 {
			b = append(b, c)
			continue
		}
		b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return b
}

package caches

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
)

// KeyForm selects how [Memoize] turns an argument into its key when
// [MemoOptions.Key] is unset. Every form keeps keys under the family's
// prefix, escaped as [KeyCache.Key] escapes its arguments, so Invalidate,
// InvalidateAll and leases work alike in all of them.
type KeyForm uint8

const (
	// KeyJSON, the default, keys an argument of a raw kind (string,
	// number, bool, []byte) or a fmt.Stringer by its text, and any other
	// argument by its JSON encoding, escaped: a struct argument
	// {User: 1, Limit: 10} gives reco:%7B"User"%3A1,"Limit"%3A10%7D.
	KeyJSON KeyForm = iota
	// KeyFields keys a struct argument by its exported fields in
	// declaration order, each one key argument as [KeyCache.Key] takes it
	// (fields tagged `json:"-"` left out): {User: 1, Limit: 10} gives
	// reco:1:10, the key of Key(1, 10). A field of a raw kind is its text,
	// any other field (a slice, a map, a nested struct, a time.Time) its
	// JSON. Arguments that are not structs are keyed as by KeyJSON.
	KeyFields
	// KeyHash keys every argument by a fixed-length digest of the text
	// KeyJSON would use, before escaping: 32 hexadecimal digits, the first
	// 128 bits of its SHA-256 (for {User: 1, Limit: 10}, of
	// {"User":1,"Limit":10}: reco:f4ee6b69…). For long or sensitive
	// arguments; the key no longer shows the argument.
	KeyHash
)

// memoKey returns the key arguments rule of form for arguments of type A.
// A struct without fields (struct{}) gives no key argument in every form.
func memoKey[A any](form KeyForm) func(A) ([]any, error) {
	t := reflect.TypeOf((*A)(nil)).Elem()
	def := defaultMemoKey[A]()
	switch {
	case t.Kind() == reflect.Struct && t.NumField() == 0:
		return def
	case form == KeyFields && t.Kind() == reflect.Struct:
		return fieldsKey[A](t)
	case form == KeyHash:
		return hashedKey(def)
	}
	return def
}

// hashedKey is the KeyHash rule over the KeyJSON rule def.
func hashedKey[A any](def func(A) ([]any, error)) func(A) ([]any, error) {
	return func(a A) ([]any, error) {
		args, err := def(a)
		if err != nil || len(args) != 1 {
			return args, err
		}
		text, err := argText(args[0])
		if err != nil {
			return nil, fmt.Errorf("caches: memoize key of %T: %w", a, err)
		}
		sum := sha256.Sum256([]byte(text))
		return []any{hex.EncodeToString(sum[:16])}, nil
	}
}

// fieldsKey is the KeyFields rule for the struct type t.
func fieldsKey[A any](t reflect.Type) func(A) ([]any, error) {
	var fields []int
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && strings.Split(f.Tag.Get("json"), ",")[0] != "-" {
			fields = append(fields, i)
		}
	}
	return func(a A) ([]any, error) {
		v := reflect.ValueOf(a)
		args := make([]any, len(fields))
		for j, i := range fields {
			arg, err := fieldArg(v.Field(i))
			if err != nil {
				return nil, fmt.Errorf("caches: memoize key of %s, field %s: %w", t, t.Field(i).Name, err)
			}
			args[j] = arg
		}
		return args, nil
	}
}

// fieldArg is the key argument of one field: its value of a raw kind as
// the basic type (so a String method does not replace its text), or its
// JSON.
func fieldArg(f reflect.Value) (any, error) {
	switch f.Kind() {
	case reflect.String:
		return f.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return f.Uint(), nil
	case reflect.Float32:
		return float32(f.Float()), nil
	case reflect.Float64:
		return f.Float(), nil
	case reflect.Bool:
		return f.Bool(), nil
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.Uint8 {
			return string(f.Bytes()), nil
		}
	}
	b, err := JSON.Marshal(f.Interface())
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// readEntry returns the stored memo entry s: a frame (see memoEntry) when
// s parses as one, otherwise a plain value, the codec's bytes alone, with
// no compute time or expiry (so it is never refreshed early).
func readEntry(s string) memoEntry {
	if e, ok := parseEntry(s); ok {
		return e
	}
	return memoEntry{payload: s}
}

// plainEntry is what [MemoOptions.Plain] stores for a result encoded as
// payload: payload itself, or payload framed when it would read as a frame.
func plainEntry(payload string) string {
	if _, ok := parseEntry(payload); ok {
		return formatEntry(false, 0, 0, payload)
	}
	return payload
}

package caches

import (
	"fmt"
	"reflect"
	"strings"
)

// Arg returns argument i of the handle h (as [Key.Args] gives it) as a T,
// converted by its text in the key when it is not a T already: a handle
// built with Key(3) gives int64 3 to Arg[int64], as one built with
// Key(int64(3)) does (they are one Redis key), and "3" to Arg[string]. T
// may be a string, []byte, bool, integer or float kind, or the type the
// argument has. An index out of range, a text T cannot hold (Arg[uint8] of
// 300, Arg[int] of "x") and another T are errors, never a panic: it is the
// helper for hooks and loaders that get an id back from their handle.
func Arg[T any](h interface{ Args() []any }, i int) (T, error) {
	var zero T
	args := h.Args()
	if i < 0 || i >= len(args) {
		return zero, fmt.Errorf("caches: key argument %d of %d", i, len(args))
	}
	if v, ok := args[i].(T); ok {
		return v, nil
	}
	text, err := argText(args[i])
	if err != nil {
		return zero, fmt.Errorf("caches: key argument %d: %w", i, err)
	}
	vc := rawCodec[T](reflect.TypeOf((*T)(nil)).Elem())
	if vc.decode == nil {
		return zero, fmt.Errorf("caches: key argument %d (%T) as %T: not a string, []byte, bool or number type", i, args[i], zero)
	}
	v, err := vc.decode(text)
	if err != nil {
		return zero, fmt.Errorf("caches: key argument %d %q as %T: %w", i, text, zero, err)
	}
	return v, nil
}

// argText is the text of a key argument, as the key holds it unescaped.
func argText(arg any) (string, error) {
	b, err := appendArg(nil, arg)
	if err != nil {
		return "", err
	}
	return unescapeArg(string(b)), nil
}

// argUnescaper undoes appendEscaped in one pass.
var argUnescaper = strings.NewReplacer("%25", "%", "%3A", ":", "%7B", "{", "%7D", "}")

// unescapeArg undoes appendEscaped.
func unescapeArg(s string) string { return argUnescaper.Replace(s) }

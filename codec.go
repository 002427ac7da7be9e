package caches

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/gocaches/caches/internal/backend"
)

// Codec turns values that are not stored raw into bytes and back. Strings,
// byte slices, integers, floats and bools (and named types of those kinds)
// are always stored raw, as redis-cli shows them, so that INCRBY, HINCRBY and
// ZINCRBY work on them; every other type goes through the family's Codec,
// [JSON] by default.
//
// A Codec must be safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default [Codec], encoding/json.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// numKind says which Redis increment a raw numeric type supports.
type numKind uint8

const (
	notNumeric numKind = iota
	intNumeric
	floatNumeric
)

// valueCodec converts one Go type to the string stored in Redis and back.
// It is chosen once per family, so the hot path does no type switch.
type valueCodec[V any] struct {
	encode   func(V) (string, error)
	decode   func(string) (V, error)
	typeName string
	num      numKind
	// The range of V's values that an increment may store, so that the
	// result always decodes: [imin, imax] for intNumeric (an unsigned
	// 64-bit type stops at the int64 maximum, where Redis's integers
	// stop), [-fmax, fmax] for floatNumeric.
	imin, imax int64
	fmax       float64
}

// newValueCodec returns the raw codec for V's kind, or one that delegates to
// c (JSON when c is nil).
func newValueCodec[V any](c Codec) valueCodec[V] {
	t := reflect.TypeOf((*V)(nil)).Elem()
	vc := rawCodec[V](t)
	if vc.encode == nil {
		vc = codecOf[V](c)
	}
	vc.typeName = t.String()
	return vc
}

// codecOf wraps a user [Codec].
func codecOf[V any](c Codec) valueCodec[V] {
	if c == nil {
		c = JSON
	}
	return valueCodec[V]{
		encode: func(v V) (string, error) {
			b, err := c.Marshal(v)
			return string(b), err
		},
		decode: func(s string) (V, error) {
			var v V
			err := c.Unmarshal([]byte(s), &v)
			return v, err
		},
	}
}

// rawCodec returns the raw codec for t's kind, or a zero valueCodec when t is
// not stored raw. Named types share their underlying type's memory layout, so
// the conversions below are reinterpretations of V, chosen once per family.
func rawCodec[V any](t reflect.Type) valueCodec[V] {
	switch t.Kind() {
	case reflect.String:
		return valueCodec[V]{
			encode: func(v V) (string, error) { return *(*string)(unsafe.Pointer(&v)), nil },
			decode: func(s string) (V, error) { return *(*V)(unsafe.Pointer(&s)), nil },
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			return valueCodec[V]{}
		}
		return valueCodec[V]{
			encode: func(v V) (string, error) { return string(*(*[]byte)(unsafe.Pointer(&v))), nil },
			decode: func(s string) (V, error) { b := []byte(s); return *(*V)(unsafe.Pointer(&b)), nil },
		}
	case reflect.Bool:
		return valueCodec[V]{
			encode: func(v V) (string, error) { return strconv.FormatBool(*(*bool)(unsafe.Pointer(&v))), nil },
			decode: func(s string) (V, error) {
				b, err := strconv.ParseBool(s)
				return *(*V)(unsafe.Pointer(&b)), err
			},
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intCodec[V](t)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintCodec[V](t)
	case reflect.Float32, reflect.Float64:
		return floatCodec[V](t)
	}
	return valueCodec[V]{}
}

func intCodec[V any](t reflect.Type) valueCodec[V] {
	k, bits := t.Kind(), t.Bits()
	imin, imax := backend.IntRange(bits)
	return valueCodec[V]{
		num:  intNumeric,
		imin: imin,
		imax: imax,
		encode: func(v V) (string, error) {
			return strconv.FormatInt(loadInt(unsafe.Pointer(&v), k), 10), nil
		},
		decode: func(s string) (V, error) {
			var v V
			n, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return v, numError(s, t)
			}
			storeInt(unsafe.Pointer(&v), k, n)
			return v, nil
		},
	}
}

func uintCodec[V any](t reflect.Type) valueCodec[V] {
	k, bits := t.Kind(), t.Bits()
	return valueCodec[V]{
		num:  intNumeric,
		imax: backend.UintMax(bits),
		encode: func(v V) (string, error) {
			return strconv.FormatUint(loadUint(unsafe.Pointer(&v), k), 10), nil
		},
		decode: func(s string) (V, error) {
			var v V
			n, err := strconv.ParseUint(s, 10, bits)
			if err != nil {
				return v, numError(s, t)
			}
			storeUint(unsafe.Pointer(&v), k, n)
			return v, nil
		},
	}
}

func floatCodec[V any](t reflect.Type) valueCodec[V] {
	bits := t.Bits()
	fmax := math.MaxFloat64
	if bits == 32 {
		fmax = backend.MaxFloat32Text
	}
	return valueCodec[V]{
		num:  floatNumeric,
		fmax: fmax,
		encode: func(v V) (string, error) {
			if bits == 32 {
				return strconv.FormatFloat(float64(*(*float32)(unsafe.Pointer(&v))), 'g', -1, 32), nil
			}
			return strconv.FormatFloat(*(*float64)(unsafe.Pointer(&v)), 'g', -1, 64), nil
		},
		decode: func(s string) (V, error) {
			var v V
			f, err := strconv.ParseFloat(s, bits)
			if err != nil {
				return v, numError(s, t)
			}
			if bits == 32 {
				*(*float32)(unsafe.Pointer(&v)) = float32(f)
			} else {
				*(*float64)(unsafe.Pointer(&v)) = f
			}
			return v, nil
		},
	}
}

// loadInt reads the signed integer of kind k at p.
func loadInt(p unsafe.Pointer, k reflect.Kind) int64 {
	switch k {
	case reflect.Int8:
		return int64(*(*int8)(p))
	case reflect.Int16:
		return int64(*(*int16)(p))
	case reflect.Int32:
		return int64(*(*int32)(p))
	case reflect.Int64:
		return *(*int64)(p)
	}
	return int64(*(*int)(p))
}

// storeInt writes n as the signed integer of kind k at p; n fits, because it
// was parsed with k's bit size.
func storeInt(p unsafe.Pointer, k reflect.Kind, n int64) {
	switch k {
	case reflect.Int8:
		*(*int8)(p) = int8(n)
	case reflect.Int16:
		*(*int16)(p) = int16(n)
	case reflect.Int32:
		*(*int32)(p) = int32(n)
	case reflect.Int64:
		*(*int64)(p) = n
	default:
		*(*int)(p) = int(n)
	}
}

// loadUint reads the unsigned integer of kind k at p.
func loadUint(p unsafe.Pointer, k reflect.Kind) uint64 {
	switch k {
	case reflect.Uint8:
		return uint64(*(*uint8)(p))
	case reflect.Uint16:
		return uint64(*(*uint16)(p))
	case reflect.Uint32:
		return uint64(*(*uint32)(p))
	case reflect.Uint64:
		return *(*uint64)(p)
	}
	return uint64(*(*uint)(p))
}

// storeUint writes n as the unsigned integer of kind k at p.
func storeUint(p unsafe.Pointer, k reflect.Kind, n uint64) {
	switch k {
	case reflect.Uint8:
		*(*uint8)(p) = uint8(n)
	case reflect.Uint16:
		*(*uint16)(p) = uint16(n)
	case reflect.Uint32:
		*(*uint32)(p) = uint32(n)
	case reflect.Uint64:
		*(*uint64)(p) = n
	default:
		*(*uint)(p) = uint(n)
	}
}

func numError(s string, t reflect.Type) error {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return fmt.Errorf("%q is not a valid %s", s, t)
}

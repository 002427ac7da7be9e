package memstore

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses s as Redis's string2ll does: an optional '-' and decimal
// digits without leading zeros ("0" alone excepted), no '+', no spaces,
// within int64.
func parseInt(s string) (int64, bool) {
	if s == "0" {
		return 0, true
	}
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// addInt returns a+b, or false when the sum overflows int64, the test
// INCRBY and HINCRBY make before writing.
func addInt(a, b int64) (int64, bool) {
	if (b < 0 && a < 0 && b < math.MinInt64-a) || (b > 0 && a > 0 && b > math.MaxInt64-a) {
		return 0, false
	}
	return a + b, true
}

// checkIntRange returns the error of a bounded increment (IncrByWithin,
// HIncrByWithin) whose result v is not within [min, max].
func checkIntRange(v, min, max int64) error {
	if v < min || v > max {
		return outOfRange(strconv.FormatInt(min, 10), strconv.FormatInt(max, 10))
	}
	return nil
}

// checkFloatRange returns the error of a bounded float increment whose
// stored result s, read as a float64, is not within [min, max]. A result
// beyond float64 reads as ±Inf, so only an infinite bound admits it.
func checkFloatRange(s string, min, max float64) error {
	if f, _ := strconv.ParseFloat(s, 64); f < min || f > max {
		return outOfRange(formatBound(min), formatBound(max))
	}
	return nil
}

// formatBound formats a bound of a float increment as the Redis adapter
// sends it to its script, so that both name the range alike.
func formatBound(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// numForm is the shape of a string that C's strtod would consume whole.
type numForm uint8

const (
	formInvalid numForm = iota
	formDecimal         // [sign] digits [. digits] [e [sign] digits]
	formHex             // [sign] 0x hexdigits [. hexdigits] [p [sign] digits]
	formInf             // [sign] inf | infinity, any case
	formNaN             // [sign] nan | nan(chars), any case
)

// strtodForm classifies s by the grammar of strtod and strtold, requiring
// the whole of s to be consumed, as Redis does when it checks that the end
// pointer reached the end of the string. Leading white space is the
// caller's business.
func strtodForm(s string) numForm {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	lower := strings.ToLower(s)
	switch {
	case lower == "inf" || lower == "infinity":
		return formInf
	case lower == "nan" || (strings.HasPrefix(lower, "nan(") && strings.HasSuffix(lower, ")") &&
		strings.Trim(lower[4:len(lower)-1], "abcdefghijklmnopqrstuvwxyz0123456789_") == ""):
		return formNaN
	case strings.HasPrefix(lower, "0x"):
		if mantissa(lower[2:], isHexDigit, 'p') {
			return formHex
		}
	case mantissa(lower, isDigit, 'e'):
		return formDecimal
	}
	return formInvalid
}

// mantissa reports whether s is digits with an optional fraction, holding at
// least one digit, optionally followed by the exponent letter exp and a
// signed decimal exponent.
func mantissa(s string, digit func(byte) bool, exp byte) bool {
	i, n := 0, 0
	for ; i < len(s) && digit(s[i]); i++ {
		n++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && digit(s[i]); i++ {
			n++
		}
	}
	if n == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != exp {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') }

// isSpace reports whether c is white space for C's isspace.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// parseStrtod parses s the way Redis parses a score bound with strtod: it
// allows leading white space, hexadecimal and infinities, takes an empty
// string for 0, saturates out-of-range values to ±Inf or 0, and rejects NaN
// and trailing characters.
func parseStrtod(s string) (float64, bool) {
	if s == "" {
		return 0, true
	}
	t := strings.TrimLeftFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
	switch strtodForm(t) {
	case formInf:
		return math.Inf(signOf(t)), true
	case formHex:
		if !strings.ContainsAny(t, "pP") {
			t += "p0"
		}
	case formDecimal:
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && err.(*strconv.NumError).Err != strconv.ErrRange {
		return 0, false
	}
	return f, true
}

// signOf returns -1 when s starts with '-' and 1 otherwise.
func signOf(s string) int {
	if strings.HasPrefix(s, "-") {
		return -1
	}
	return 1
}

// scoreRange is a score interval of ZCOUNT, ZRANGE BYSCORE and
// ZREMRANGEBYSCORE, each bound inclusive unless marked exclusive.
type scoreRange struct {
	min, max     float64
	minEx, maxEx bool
}

// parseScoreRange parses min and max in Redis's syntax ("1.5", "(1.5",
// "-inf", "+inf"), as zslParseRange does.
func parseScoreRange(min, max string) (scoreRange, error) {
	var r scoreRange
	var okMin, okMax bool
	r.min, r.minEx, okMin = parseScoreBound(min)
	r.max, r.maxEx, okMax = parseScoreBound(max)
	if !okMin || !okMax {
		return r, ErrMinMaxNotFloat
	}
	return r, nil
}

// parseScoreBound parses one bound of a score range: a float, exclusive
// when prefixed by '('.
func parseScoreBound(s string) (v float64, exclusive, ok bool) {
	if rest, found := strings.CutPrefix(s, "("); found {
		v, ok = parseStrtod(rest)
		return v, true, ok
	}
	v, ok = parseStrtod(s)
	return v, false, ok
}

// empty reports whether no score can be in r.
func (r scoreRange) empty() bool {
	return r.min > r.max || (r.min == r.max && (r.minEx || r.maxEx))
}

// aboveMin reports whether v is on the right side of r's minimum.
func (r scoreRange) aboveMin(v float64) bool {
	if r.minEx {
		return v > r.min
	}
	return v >= r.min
}

// belowMax reports whether v is on the right side of r's maximum.
func (r scoreRange) belowMax(v float64) bool {
	if r.maxEx {
		return v < r.max
	}
	return v <= r.max
}

// Redis computes INCRBYFLOAT and HINCRBYFLOAT in C's long double, the x87
// 80-bit format on amd64, and stores the result printed with "%.17Lf" with
// trailing zeros removed. These constants describe that format.
const (
	ldPrec = 64 // mantissa bits
	// ldMaxExp and ldMinExp bound the binary exponent (as big.Float.MantExp
	// reports it) of finite non-zero long doubles, subnormals included.
	ldMaxExp = 16384
	ldMinExp = -16444
	// ldMaxChars is Redis's MAX_LONG_DOUBLE_CHARS: longer strings are not
	// parsed as numbers.
	ldMaxChars = 5 * 1024
	// ldDecimals is the number of decimals Redis prints before trimming.
	ldDecimals = 17
)

// parseLongDouble parses s as Redis's string2ld does: strtold's grammar,
// no leading white space, nothing left over, no NaN, and neither overflow
// nor underflow to zero.
func parseLongDouble(s string) (*big.Float, bool) {
	if s == "" || len(s) >= ldMaxChars || isSpace(s[0]) {
		return nil, false
	}
	base := 10
	switch strtodForm(s) {
	case formInf:
		return new(big.Float).SetInf(signOf(s) < 0), true
	case formHex:
		base = 0
	case formDecimal:
	default:
		return nil, false
	}
	f, _, err := big.ParseFloat(s, base, ldPrec, big.ToNearestEven)
	if err != nil || !ldFinite(f) {
		return nil, false
	}
	if f.Sign() != 0 && f.MantExp(nil) < ldMinExp {
		return nil, false
	}
	return f, true
}

// ldFinite reports whether f is finite as a long double.
func ldFinite(f *big.Float) bool {
	return !f.IsInf() && f.MantExp(nil) <= ldMaxExp
}

// incrLongDouble adds incr to the stored number cur (nil for a missing
// value) in long double precision, as INCRBYFLOAT and HINCRBYFLOAT do, and
// returns the string Redis stores. The increment reaches Redis as go-redis
// formats it, the shortest decimal that round-trips. ok is false when the
// sum is NaN or infinite.
func incrLongDouble(cur *big.Float, incr float64) (string, bool) {
	inc, _, err := big.ParseFloat(strconv.FormatFloat(incr, 'f', -1, 64), 10, ldPrec, big.ToNearestEven)
	if err != nil {
		return "", false
	}
	sum := new(big.Float).SetPrec(ldPrec)
	if cur != nil {
		if cur.IsInf() && inc.IsInf() && cur.Signbit() != inc.Signbit() {
			return "", false
		}
		sum.Add(cur, inc)
	} else {
		sum.Set(inc)
	}
	if !ldFinite(sum) {
		return "", false
	}
	return formatLongDouble(sum), true
}

// formatLongDouble prints f as Redis's ld2string does in LD_STR_HUMAN mode:
// 17 decimals, trailing zeros and a trailing point removed, "-0" as "0".
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', ldDecimals)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// replyFloat parses a stored float string the way go-redis parses the
// reply of INCRBYFLOAT and HINCRBYFLOAT.
func replyFloat(s string) (float64, error) {
	return strconv.ParseFloat(s, 64)
}

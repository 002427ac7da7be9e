package memstore

// globMatch reports whether s matches the glob pattern, exactly as Redis's
// stringmatchlen matches the patterns of KEYS and SCAN MATCH (case
// sensitive, byte by byte): '*' matches any run of bytes, '?' any one byte,
// "[abc]" one of the listed bytes, "[^abc]" any other byte, "[a-z]" a byte
// in the range (in either order), and '\' makes the next byte literal, in
// and out of brackets. Redis's quirks are kept: a '[' without its ']' runs
// to the end of the pattern, "[]" is an empty class that matches nothing, a
// '-' right before the closing ']' makes a range that swallows it, a
// trailing '\' matches itself, bytes from 0x80 up sort below 0x00 in ranges
// (x86-64's signed char), and the empty string matches no pattern but the
// empty one, not even "*" (SCAN special-cases "*"; see scanMatch).
func globMatch(pattern, s string) bool {
	skipLonger := false
	return globMatchFrom(pattern, s, &skipLonger)
}

// globMatchFrom is stringmatchlen_impl. skipLonger is set once a '*' has
// found no match for the rest of the pattern at any later position in s:
// every enclosing '*' can then stop trying longer runs too, which keeps
// patterns with many stars from taking exponential time.
func globMatchFrom(p, s string, skipLonger *bool) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for ; len(s) > 0; s = s[1:] {
				if globMatchFrom(p[1:], s, skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
			}
			*skipLonger = true
			return false
		case '?':
			p = p[1:]
		case '[':
			var ok bool
			if p, ok = globClass(p[1:], s[0]); !ok {
				return false
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			p = p[1:]
		}
		s = s[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
		}
	}
	return len(p) == 0 && len(s) == 0
}

// globClass matches c against the bracket expression that p starts just
// after its '[', and returns the pattern after the class and whether c
// matched. A class without its ']' runs to the end of the pattern.
func globClass(p string, c byte) (rest string, ok bool) {
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	match := false
	for len(p) > 0 && p[0] != ']' {
		switch {
		case p[0] == '\\' && len(p) >= 2:
			p = p[1:]
			match = match || p[0] == c
		case len(p) >= 3 && p[1] == '-':
			// Redis compares chars, which are signed on x86-64 and
			// unsigned on arm64; the x86-64 order is the one kept.
			lo, hi := min(int8(p[0]), int8(p[2])), max(int8(p[0]), int8(p[2]))
			match = match || (int8(c) >= lo && int8(c) <= hi)
			p = p[2:]
		default:
			match = match || p[0] == c
		}
		p = p[1:]
	}
	if len(p) > 0 {
		p = p[1:] // the ']'
	}
	return p, match != not
}

// scanMatch reports whether SCAN … MATCH pattern returns key: as globMatch
// does, except that "*" matches every key, the empty one included, since
// SCAN skips matching altogether for it.
func scanMatch(pattern, key string) bool {
	return pattern == "*" || globMatch(pattern, key)
}

package debezium

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSON text is UTF-8 (RFC 8259), and a JSON string is a sequence of
// Unicode characters. A string with bytes that are not UTF-8, or with an
// escaped UTF-16 surrogate that is not half of a pair ("\ud800"), has no
// exact value in any warehouse's text column: DuckDB would store NULL, the
// JSON parser would keep the escape as six characters or turn it into
// U+FFFD. Such a record is bad input, decided here so that every warehouse
// treats it alike: checkText names where the bad string is.

// checkText returns an error naming the first string of the JSON document
// b that has no exact Unicode value, or nil. what names the document
// ("value", "key").
func checkText(b []byte, what string) error {
	if utf8.Valid(b) && !hasSurrogateEscape(b) {
		return nil // the common case: one fast pass
	}
	path, reason := findBadString(b)
	if reason == "" {
		return nil // escaped surrogate pairs only
	}
	if path == "" {
		return fmt.Errorf("%s: %s", what, reason)
	}
	col := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		col = path[i+1:]
	}
	return fmt.Errorf("%s: column %q: %s (at %s)", what, col, reason, path)
}

// hasSurrogateEscape reports whether b may hold an escaped surrogate: a
// quick over-approximation (it does not look at preceding backslashes).
func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if c := b[i+2]; c == 'd' || c == 'D' {
			return true
		}
		b = b[i+2:]
	}
}

// findBadString walks the JSON document b and returns the path of the first
// bad string (object keys joined with '.', array indexes as numbers; "" at
// the top level) and what is wrong with it; reason "" when there is none.
func findBadString(b []byte) (path, reason string) {
	type frame struct {
		array bool
		key   string
		index int
	}
	var stack []frame
	where := func() string {
		parts := make([]string, 0, len(stack))
		for _, f := range stack {
			if f.array {
				parts = append(parts, strconv.Itoa(f.index))
			} else if f.key != "" {
				parts = append(parts, f.key)
			}
		}
		return strings.Join(parts, ".")
	}
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, frame{})
			expectKey = true
		case '[':
			stack = append(stack, frame{array: true})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].array {
					stack[n-1].index++
				} else {
					stack[n-1].key, expectKey = "", true
				}
			}
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				end = len(b)
			}
			s := b[i+1 : max(end-1, i+1)]
			bad := badString(s)
			if expectKey {
				expectKey = false
				if bad != "" {
					p := where()
					if p == "" {
						return "", "a field name " + bad
					}
					return "", "a field name in " + p + " " + bad
				}
				if n := len(stack); n > 0 {
					stack[n-1].key = string(s)
				}
			} else if bad != "" {
				return where(), "the string " + bad
			}
			i = end - 1
		}
	}
	if !utf8.Valid(b) {
		return "", "the document is not valid UTF-8"
	}
	return "", ""
}

// badString says what makes the raw (still escaped) JSON string s have no
// exact Unicode value, or "".
func badString(s []byte) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			if s[i+1] != 'u' || i+6 > len(s) {
				i += 2
				continue
			}
			r, err := strconv.ParseUint(string(s[i+2:i+6]), 16, 16)
			if err != nil {
				i += 2
				continue
			}
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return fmt.Sprintf("has a lone UTF-16 low surrogate \\u%04x", r)
			case r >= 0xd800 && r <= 0xdbff:
				if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
					if lo, err := strconv.ParseUint(string(s[i+8:i+12]), 16, 16); err == nil && lo >= 0xdc00 && lo <= 0xdfff {
						i += 12
						continue
					}
				}
				return fmt.Sprintf("has a lone UTF-16 high surrogate \\u%04x", r)
			}
			i += 6
			continue
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Sprintf("is not valid UTF-8 (byte 0x%02x)", c)
		}
		i += n
	}
	return ""
}

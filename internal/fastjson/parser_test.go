package fastjson

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	upstream "github.com/valyala/fastjson"
)

// strictCases are documents on the edge of what the strict parser accepts;
// FuzzParse checks them, and whatever the fuzzer adds, against upstream.
var strictCases = []string{
	``, ` `, `null`, `nul`, `nullx`, `true`, `false`, `tru`, `NaN`, `nan`, `-nan`, `inf`, `-Inf`, `Infinity`,
	`0`, `-0`, `01`, `-01`, `1.`, `.5`, `1.5`, `1.5.3`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-`, `+1`, `1-2`, `0x10`,
	`123456789012345678901234567890`, `1.0e400`, `[1,2,]`, `[,]`, `[]`, `{}`, `{,}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`,
	`{"a":1}x`, ` {"a":1} `, "{\"a\":1}\n", `"abc"`, `"ab`, `"a\"b"`, `"a\\"`, `"a\\\"b"`, `"\/\b\f\n\r\t"`, `"\x"`,
	`"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\u12"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`,
	`"\ud83d\u0041"`, `"\ud83d\ud83d"`, `"\\ud83d"`, `"\\\ud83d"`, "\"\x01\"", "\"\x00\\b\"", "{\"\x01\\n\":1}", "\"\x7f\"", "\"\xff\"", "\"\xc3\xa9\"",
	"\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", "{\"\xff\":1}", "{\"\\ud800\":1}", `{"\u0041":1}`, "\xff", "[\"a\"]\xff",
	`{"a":{"b":[1,{"c":"d"}]}}`, strings.Repeat("[", 300) + strings.Repeat("]", 300),
	strings.Repeat("[", 301) + strings.Repeat("]", 301), `{"schema":{"type":"struct"},"payload":{"op":"c"}}`,
}

// reference says whether upstream fastjson accepts s (validator and
// parser), its strings have exact Unicode values, and they hold no control
// character. (Upstream's validator misses a control character that comes
// before an escape in the same string, "\x00\\n"; RFC 8259 forbids it.)
func reference(s string) bool {
	if upstream.Validate(s) != nil {
		return false
	}
	var p upstream.Parser
	if _, err := p.Parse(s); err != nil {
		return false // deeper than MaxDepth
	}
	if !utf8.ValidString(s) {
		return false
	}
	// Every escape of every string: surrogates must pair.
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case !in && s[i] == '"':
			in = true
		case in && s[i] == '"':
			in = false
		case in && s[i] < 0x20:
			return false
		case in && s[i] == '\\' && s[i+1] == 'u':
			r, _ := strconv.ParseUint(s[i+2:i+6], 16, 16)
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return false
			case r >= 0xd800 && r <= 0xdbff:
				if i+12 > len(s) || s[i+6:i+8] != `\u` {
					return false
				}
				lo, err := strconv.ParseUint(s[i+8:i+12], 16, 16)
				if err != nil || lo < 0xdc00 || lo > 0xdfff {
					return false
				}
				i += 11
			default:
				i += 5
			}
		case in && s[i] == '\\':
			i++
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	for _, c := range strictCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Parser
		v, err := p.Parse(s)
		want := reference(s)
		if (err == nil) != want {
			t.Fatalf("Parse(%q): err = %v, want accepted = %v", s, err, want)
		}
		if err != nil {
			return
		}
		var up upstream.Parser
		uv, _ := up.Parse(s)
		if a, b := v.MarshalTo(nil), uv.MarshalTo(nil); !bytes.Equal(a, b) {
			t.Fatalf("Parse(%q) marshals to %s, upstream to %s", s, a, b)
		}
		if a, b := walk(v), walkUpstream(uv); a != b {
			t.Fatalf("Parse(%q) reads as %s, upstream as %s", s, a, b)
		}
	})
}

func TestParse_StrictCases(t *testing.T) {
	for _, c := range strictCases {
		var p Parser
		_, err := p.Parse(c)
		if want := reference(c); (err == nil) != want {
			t.Errorf("Parse(%q): err = %v, want accepted = %v", c, err, want)
		}
	}
}

// TestParse_NoCopyAliasing: values stay valid while the input is reused,
// as upstream's (the parser works on its own copy).
func TestParse_NoCopyAliasing(t *testing.T) {
	in := []byte(`{"a":"x\ny"}`)
	var p Parser
	v, err := p.ParseBytes(in)
	if err != nil {
		t.Fatal(err)
	}
	copy(in, `{"b":"zzzzz"}`)
	if got := string(v.GetStringBytes("a")); got != "x\ny" {
		t.Fatalf("a = %q", got)
	}
}

// walk renders a value through the accessors the decoder uses: types,
// unescaped strings and keys, number literals.
func walk(v *Value) string {
	var b strings.Builder
	var rec func(v *Value)
	rec = func(v *Value) {
		switch v.Type() {
		case TypeObject:
			o, _ := v.Object()
			b.WriteString("{")
			o.Visit(func(k []byte, v *Value) { b.WriteString(strconv.Quote(string(k)) + ":"); rec(v) })
			b.WriteString("}")
		case TypeArray:
			a, _ := v.Array()
			b.WriteString("[")
			for _, e := range a {
				rec(e)
			}
			b.WriteString("]")
		case TypeString:
			s, _ := v.StringBytes()
			b.WriteString(strconv.Quote(string(s)))
		default:
			b.WriteString(v.Type().String() + ":" + string(v.MarshalTo(nil)))
		}
		b.WriteString(",")
	}
	rec(v)
	return b.String()
}

func walkUpstream(v *upstream.Value) string {
	var b strings.Builder
	var rec func(v *upstream.Value)
	rec = func(v *upstream.Value) {
		switch v.Type() {
		case upstream.TypeObject:
			o, _ := v.Object()
			b.WriteString("{")
			o.Visit(func(k []byte, v *upstream.Value) { b.WriteString(strconv.Quote(string(k)) + ":"); rec(v) })
			b.WriteString("}")
		case upstream.TypeArray:
			a, _ := v.Array()
			b.WriteString("[")
			for _, e := range a {
				rec(e)
			}
			b.WriteString("]")
		case upstream.TypeString:
			s, _ := v.StringBytes()
			b.WriteString(strconv.Quote(string(s)))
		default:
			b.WriteString(v.Type().String() + ":" + string(v.MarshalTo(nil)))
		}
		b.WriteString(",")
	}
	rec(v)
	return b.String()
}

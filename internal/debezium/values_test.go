package debezium

import (
	"math"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
)

// Issue 8, case 3 ("Values"): a value that has no exact value in a
// warehouse column is bad input the decoder names, so that every warehouse
// dead-letters it alike.

func decodeErr(t *testing.T, opts Options, key, value string) error {
	t.Helper()
	res, err := NewDecoder(opts).decode(Record{Topic: "srv.db.t", Key: []byte(key), Value: []byte(value)})
	checkResult(t, res, err)
	return err
}

// TestValues_InvalidUTF8IsBadInput: bytes that are not UTF-8 and lone
// escaped surrogates, in a value or a key, with and without schemas, are
// errors naming the column; surrogate pairs and NUL are text.
func TestValues_InvalidUTF8IsBadInput(t *testing.T) {
	schemaless := func(s string) string {
		return `{"op":"c","after":{"id":1,"name":"` + s + `"},"source":{}}`
	}
	cases := []struct {
		name, key, value, want string
	}{
		{"raw 0xff schemaless", `{"id":1}`, schemaless("a\xffb"), `value: column "name": the string is not valid UTF-8 (byte 0xff)`},
		{"truncated sequence", `{"id":1}`, schemaless("a\xe2\x82"), `column "name"`},
		{"overlong encoding", `{"id":1}`, schemaless("\xc0\xaf"), `column "name"`},
		{"encoded surrogate", `{"id":1}`, schemaless("\xed\xa0\x80"), `column "name"`},
		{"lone high surrogate", `{"id":1}`, schemaless(`\ud800`), `column "name": the string has a lone UTF-16 high surrogate \ud800`},
		{"high surrogate then a letter", `{"id":1}`, schemaless(`\ud800\u0041`), `high surrogate`},
		{"lone low surrogate", `{"id":1}`, schemaless(`x\uDC00`), `low surrogate \udc00`},
		{"with schema", typedKey, string(typedEvent(t, field{Type: "string"}, "\"\xff\"")), `column "v"`},
		{"with schema, surrogate", typedKey, string(typedEvent(t, field{Type: "string"}, `"\udfff"`)), `column "v"`},
		{"in a JSON column", `{"id":1}`, "{\"op\":\"c\",\"after\":{\"id\":1,\"doc\":{\"k\":\"\xff\"}},\"source\":{}}", `(at after.doc.k)`},
		{"in a field name", `{"id":1}`, "{\"op\":\"c\",\"after\":{\"id\":1,\"n\xffme\":\"x\"},\"source\":{}}", `field name in after is not valid UTF-8`},
		{"in the key", "{\"id\":\"\xff\"}", schemaless("x"), `key: column "id": the string is not valid UTF-8`},
		{"in the key, surrogate", `{"id":"\ud800"}`, schemaless("x"), `key: column "id"`},
		{"in a tombstone's key", "{\"id\":\"\xfe\"}", `null`, `key: column "id"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decodeErr(t, Options{}, c.key, c.value)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	for _, ok := range []string{`\ud83d\ude80`, `\\ud800`, "é\u00e9 🚀", `\u0000`, `\"\\`} {
		value := schemaless(ok)
		c := decodeOne(t, Options{}, "srv.db.t", []byte(`{"id":1}`), []byte(value))
		if s, _ := c.Row[c.Schema.Index("name")].(string); s == "" {
			t.Errorf("%s: name = %#v", ok, c.Row[c.Schema.Index("name")])
		}
	}
}

// TestValues_FloatOutOfRangeIsBadInput: a number beyond a float column's
// range is an error, not an infinity; Debezium's quoted NaN and infinities
// stay what they are.
func TestValues_FloatOutOfRangeIsBadInput(t *testing.T) {
	float32F, float64F := field{Type: "float"}, field{Type: "double"}
	for _, c := range []struct {
		f    field
		lit  string
		want string
	}{
		{float64F, "1e400", "1e400 is out of range for float64"},
		{float64F, "-1e400", "-1e400 is out of range for float64"},
		{float64F, `"1e400"`, "out of range for float64"},
		{float32F, "1e39", "out of range for float32"},
		{float32F, "-3.5e38", "out of range for float32"},
	} {
		_, _, err := decodeTyped(t, c.f, c.lit)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"v"`) {
			t.Errorf("%s %s: err = %v, want %q naming the column", c.f.Type, c.lit, err, c.want)
		}
	}
	// Without a schema, and declared.
	for _, opts := range []Options{{}, {Table: func(string) TableOptions {
		return TableOptions{Name: "t", Columns: map[string]change.Type{"v": change.Float32}}
	}}} {
		if err := decodeErr(t, opts, `{"id":1}`, `{"op":"c","after":{"id":1,"v":1e400},"source":{}}`); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("schemaless 1e400: err = %v", err)
		}
	}
	for _, c := range []struct {
		f   field
		lit string
		ok  func(float64) bool
	}{
		{float64F, `"NaN"`, math.IsNaN},
		{float64F, `"Infinity"`, func(f float64) bool { return math.IsInf(f, 1) }},
		{float64F, `"-Infinity"`, func(f float64) bool { return math.IsInf(f, -1) }},
		{float32F, `"Infinity"`, func(f float64) bool { return math.IsInf(f, 1) }},
		{float32F, "3.4028234663852886e38", func(f float64) bool { return f == math.MaxFloat32 }},
		{float64F, "1.7976931348623157e308", func(f float64) bool { return f == math.MaxFloat64 }},
		{float64F, "4.9e-324", func(f float64) bool { return f == math.SmallestNonzeroFloat64 }},
	} {
		v, _, err := decodeTyped(t, c.f, c.lit)
		f, _ := v.(float64)
		if err != nil || !c.ok(f) {
			t.Errorf("%s %s: %v, %v", c.f.Type, c.lit, v, err)
		}
	}
}

// TestValues_UnsignedBigintIsExactNumeric: a schemaless integer beyond
// int64 is an exact DECIMAL(20,0) (to 20 digits) or DECIMAL(38,0), types a
// BIGINT column widens to and that keep taking ordinary integers; more
// than 38 digits fit no column.
func TestValues_UnsignedBigintIsExactNumeric(t *testing.T) {
	for _, c := range []struct {
		lit string
		typ change.Type
	}{
		{"18446744073709551615", change.DecimalType(20, 0)},
		{"-9223372036854775809", change.DecimalType(20, 0)},
		{"99999999999999999999", change.DecimalType(20, 0)},
		{"100000000000000000000", change.DecimalType(38, 0)},
		{"-" + strings.Repeat("9", 38), change.DecimalType(38, 0)},
	} {
		ch := decodeOne(t, Options{}, "srv.db.t", []byte(`{"id":1}`), []byte(`{"op":"c","after":{"id":1,"n":`+c.lit+`},"source":{}}`))
		i := ch.Schema.Index("n")
		d, ok := ch.Row[i].(change.Decimal)
		if !ch.Schema.Columns[i].Type.Equal(c.typ) || !ok || d.String() != c.lit {
			t.Errorf("%s: %s %#v, want %s exactly", c.lit, ch.Schema.Columns[i].Type, ch.Row[i], c.typ)
		}
		w, ok := change.Widen(change.Int64, c.typ)
		if !ok || !w.Equal(c.typ) {
			t.Errorf("Widen(bigint, %s) = %s, %v", c.typ, w, ok)
		}
		if back, ok := change.Widen(w, change.Int64); !ok || !back.Equal(w) {
			t.Errorf("Widen(%s, bigint) = %s, %v: the widened column must keep taking integers", w, back, ok)
		}
	}
	err := decodeErr(t, Options{}, `{"id":1}`, `{"op":"c","after":{"id":1,"n":1`+strings.Repeat("0", 38)+`},"source":{}}`)
	if err == nil || !strings.Contains(err.Error(), `column "n"`) || !strings.Contains(err.Error(), "DECIMAL(38,0)") {
		t.Errorf("39 digits: err = %v, want a dead-letter reason naming the column and DECIMAL(38,0)", err)
	}
}

// TestValues_TimeOutsideEveryWarehouseIsBadInput: epoch numbers a
// warehouse would refuse or overflow on are errors.
func TestValues_TimeOutsideEveryWarehouseIsBadInput(t *testing.T) {
	for _, c := range []struct {
		f   field
		lit string
	}{
		{named("int64", "org.apache.kafka.connect.data.Timestamp"), "9223372036854775806"},
		{named("int64", "io.debezium.time.Timestamp"), "-9223372036854775806"},
		{named("string", "io.debezium.time.ZonedTimestamp"), `"-5000-01-01T00:00:00Z"`},
	} {
		if _, _, err := decodeTyped(t, c.f, c.lit); err == nil || !strings.Contains(err.Error(), "outside the range") {
			t.Errorf("%s %s: err = %v", c.f.Name, c.lit, err)
		}
	}
}

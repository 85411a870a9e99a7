package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func mac(text string) string {
	m := hmac.New(sha256.New, testKey)
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))
}

// TestMask_CanonicalTexts: each kind of value hashes as one documented
// text, whatever its scale or zone.
func TestMask_CanonicalTexts(t *testing.T) {
	cases := []struct {
		v    any
		typ  change.Type
		want string
	}{
		{true, change.Bool, "true"},
		{int64(-42), change.Int64, "-42"},
		{1.5, change.Float64, "1.5"},
		{change.Decimal{Unscaled: big.NewInt(1230), Scale: 2}, change.DecimalType(10, 2), "12.3"},
		{change.Decimal{Unscaled: big.NewInt(1200), Scale: 2}, change.DecimalType(10, 2), "12"},
		{change.Decimal{Unscaled: big.NewInt(-5), Scale: 3}, change.DecimalType(10, 3), "-0.005"},
		{change.Decimal{Unscaled: big.NewInt(0), Scale: 3}, change.DecimalType(10, 3), "0"},
		{"héllo", change.String, "héllo"},
		{[]byte{0, 1, 2}, change.Bytes, "\x00\x01\x02"},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), change.Date, "2024-02-29"},
		{time.Date(2024, 2, 29, 13, 4, 5, 120000000, time.FixedZone("x", 3600)), change.TimestampTZ, "2024-02-29T12:04:05.12Z"},
		{change.TimeOfDay(13*time.Hour + 4*time.Minute + 5*time.Second + 500*time.Millisecond), change.TimeType(change.UnitMicros), "13:04:05.5"},
	}
	for _, tc := range cases {
		if got := string(Canonical(nil, tc.v, tc.typ)); got != tc.want {
			t.Errorf("Canonical(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func rules(r Rules) *Table { return New(testKey, map[string]Rules{"t": r}).For("t") }

// TestMask_ApplyDropsHashesAndKeepsUnchanged: excluded columns leave the
// row and schema, hashed ones hold the HMAC and are text, an unchanged
// (TOAST) value stays an unchanged marker, NULL stays NULL, and the key
// id follows the hashed key.
func TestMask_ApplyDropsHashesAndKeepsUnchanged(t *testing.T) {
	m := rules(Rules{Exclude: []string{"ssn"}, Hash: []string{"id", "email", "notes", "nick"}})
	s := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "email", Type: change.String},
		{Name: "ssn", Type: change.String}, {Name: "notes", Type: change.String}, {Name: "nick", Type: change.String}},
		[]change.Column{{Name: "id", Type: change.Int64}})
	c := &change.Change{Op: change.OpUpsert, Schema: s, Key: []any{int64(7)}, KeyID: change.KeyID([]any{int64(7)}),
		Row: []any{int64(7), "a@b.c", "123", "__placeholder", nil}, Unchanged: []bool{false, false, false, true, false}}
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	if got := c.Schema.String(); got != "(id string, email string, notes string, nick string) key(id)" {
		t.Fatalf("schema %s", got)
	}
	want := []any{mac("7"), mac("a@b.c"), "__placeholder", nil}
	if fmt.Sprint(c.Row) != fmt.Sprint(want) || fmt.Sprint(c.Unchanged) != "[false false true false]" {
		t.Fatalf("row %v unchanged %v, want %v", c.Row, c.Unchanged, want)
	}
	if c.Key[0] != mac("7") || c.KeyID != change.KeyID([]any{mac("7")}) {
		t.Fatalf("key %v", c.Key)
	}
}

// TestMask_TypeChangeStaysText: a hashed column whose source type changes
// (int to decimal) stays text and hashes the canonical value.
func TestMask_TypeChangeStaysText(t *testing.T) {
	m := rules(Rules{Hash: []string{"v"}})
	for _, col := range []struct {
		typ change.Type
		v   any
	}{{change.Int32, int64(12)}, {change.DecimalType(10, 2), change.Decimal{Unscaled: big.NewInt(1200), Scale: 2}}} {
		s := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "v", Type: col.typ}}, []change.Column{{Name: "id", Type: change.Int64}})
		c := &change.Change{Op: change.OpUpsert, Schema: s, Key: []any{int64(1)}, Row: []any{int64(1), col.v}}
		if err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
		if c.Schema.Columns[1].Type.Kind != change.KindString || c.Row[1] != mac("12") {
			t.Fatalf("%s: %s %v", col.typ, c.Schema, c.Row)
		}
	}
}

// TestMask_ExcludedKeyIsConfigError: a key column left out is the
// configuration's error, naming the column and the key.
func TestMask_ExcludedKeyIsConfigError(t *testing.T) {
	for _, r := range []Rules{{Exclude: []string{"id"}}, {Include: []string{"v"}}} {
		m := rules(r)
		s := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "v", Type: change.String}}, []change.Column{{Name: "id", Type: change.Int64}})
		err := m.Apply(&change.Change{Op: change.OpUpsert, Schema: s, Key: []any{int64(1)}, Row: []any{int64(1), "x"}})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), `column "id" is a primary-key column`) {
			t.Fatalf("%+v: err = %v", r, err)
		}
	}
}

// TestMask_LandingEscapes: names and texts are valid JSON whatever they
// hold.
func TestMask_LandingEscapes(t *testing.T) {
	m := rules(Rules{Hash: []string{"h"}})
	s := change.NewSchema([]change.Column{{Name: "k\"ey", Type: change.String}, {Name: "h", Type: change.String}},
		[]change.Column{{Name: "k\"ey", Type: change.String}})
	c := &change.Change{Op: change.OpUpsert, Schema: s, Key: []any{"a\n\"b\xff"}, Row: []any{"a\n\"b\xff", "x"}}
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	got := string(m.Landing([]byte(`{"k\"ey":"a\n\"b","h":"x"}`), c, nil))
	want := `{"k\"ey":"a\n\"b","h":"` + mac("x") + `","_cdc_key":{"k\"ey":"a\u000a\"b\ufffd"}}`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// TestMask_WithholdCutsValues: a decoding error of a table with rules
// keeps where it happened and drops the value.
func TestMask_WithholdCutsValues(t *testing.T) {
	for in, want := range map[string]string{
		`column "ssn": integer: "SECRET" is not an integer in range`: `column "ssn": integer (details withheld: the table has column rules)`,
		`value is not JSON: cannot parse JSON: tail: "SECRET"`:       `value is not JSON: cannot parse JSON (details withheld: the table has column rules)`,
		`key column "id": uuid: SECRET is not a UUID`:                `key column "id": uuid (details withheld: the table has column rules)`,
		`bad: SECRET`: `bad (details withheld: the table has column rules)`,
	} {
		got := Withhold(errors.New(in))
		if got.Error() != want || !IsWithheld(got) {
			t.Errorf("Withhold(%q) = %q, want %q", in, got, want)
		}
	}
	// The original error is still found: a registry outage stays one.
	outage := errors.New("schema registry unavailable")
	if err := Withhold(fmt.Errorf("value: %w: SECRET", outage)); !errors.Is(err, outage) || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Withhold lost the chain or kept the value: %v", err)
	}
}

// TestMask_LandingPayload: the landing payload of an envelope has no
// before image, the after image without left-out columns and with the
// hashed ones' hashes (an unchanged value keeps its placeholder), and the
// masked key; a flattened row keeps Debezium's __ fields.
func TestMask_LandingPayload(t *testing.T) {
	m := rules(Rules{Exclude: []string{"ssn"}, Hash: []string{"id", "email", "notes"}})
	s := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "email", Type: change.String},
		{Name: "ssn", Type: change.String}, {Name: "notes", Type: change.String}}, []change.Column{{Name: "id", Type: change.Int64}})
	newChange := func() *change.Change {
		return &change.Change{Op: change.OpUpsert, Schema: s, Key: []any{int64(7)},
			Row: []any{int64(7), "a@b.c", "SECRET", "__ph"}, Unchanged: []bool{false, false, false, true}}
	}
	c := newChange()
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	got := string(m.Landing([]byte(`{"before":{"id":7,"email":"old@b.c","ssn":"SECRET"},"after":{"id":7,"email":"a@b.c","ssn":"SECRET","notes":"__ph"},"op":"u","source":{"pos":1}}`), c, nil))
	want := `{"before":null,"after":{"id":"` + mac("7") + `","email":"` + mac("a@b.c") + `","notes":"__ph"},"op":"u","source":{"pos":1},"_cdc_key":{"id":"` + mac("7") + `"}}`
	if got != want {
		t.Errorf("envelope:\n got %s\nwant %s", got, want)
	}
	c = newChange()
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	got = string(m.Landing([]byte(`{"id":7,"email":"a@b.c","ssn":"SECRET","notes":"__ph","__op":"u","__ssn":"meta"}`), c, nil))
	want = `{"id":"` + mac("7") + `","email":"` + mac("a@b.c") + `","notes":"__ph","__op":"u","__ssn":"meta","_cdc_key":{"id":"` + mac("7") + `"}}`
	if got != want {
		t.Errorf("flattened:\n got %s\nwant %s", got, want)
	}
	// With the decoded before image, it is kept masked too.
	c, b := newChange(), newChange()
	b.Row[1], b.Unchanged = "old@b.c", nil
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(b); err != nil {
		t.Fatal(err)
	}
	got = string(m.Landing([]byte(`{"before":{"id":7,"email":"old@b.c","ssn":"SECRET"},"op":"d","after":null}`), c, b))
	want = `{"before":{"id":"` + mac("7") + `","email":"` + mac("old@b.c") + `"},"op":"d","after":null,"_cdc_key":{"id":"` + mac("7") + `"}}`
	if got != want {
		t.Errorf("before:\n got %s\nwant %s", got, want)
	}
}

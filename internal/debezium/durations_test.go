package debezium

import (
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
)

// MySQL and MariaDB TIME is a duration (-838:59:59 to 838:59:59): events of
// their connectors type time columns as intervals, so negative values and
// values past 24:00 land exactly instead of being dead-lettered.
func TestBinlogTimeIsADuration(t *testing.T) {
	for _, tc := range []struct {
		schemaName, lit string
		want            int64 // µs
	}{
		{"io.debezium.time.MicroTime", "-1800000000", -1_800_000_000},
		{"io.debezium.time.MicroTime", "94500000000", 94_500_000_000},
		{"io.debezium.time.MicroTime", "49890000000", 49_890_000_000},
		{"io.debezium.time.Time", "-1800000", -1_800_000_000},
	} {
		for _, source := range []string{"io.debezium.connector.mysql.Source", "io.debezium.connector.mariadb.Source"} {
			ev := []byte(strings.Replace(string(typedEvent(t, field{Type: "int64", Name: tc.schemaName}, tc.lit)),
				"srv.test.Source", source, 1))
			res, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: ev})
			if err != nil {
				t.Fatalf("%s %s: %v", source, tc.lit, err)
			}
			c := res.Change
			i := c.Schema.Index("v")
			if c.Schema.Columns[i].Type.Kind != change.KindInterval {
				t.Errorf("%s %s: type %s, want interval", source, tc.lit, c.Schema.Columns[i].Type)
			}
			if got, ok := c.Row[i].(change.IntervalValue); !ok || got.Micros != tc.want || got.Months != 0 || got.Days != 0 {
				t.Errorf("%s %s: value %#v, want %d µs", source, tc.lit, c.Row[i], tc.want)
			}
		}
	}
}

// Without schemas, a declared decimal reads base64 (Debezium's default
// precise mode) unless the literal can only be text; in string mode,
// digits are numbers.
func TestDeclaredDecimalStrings(t *testing.T) {
	dec := change.DecimalType(10, 2)
	for _, tc := range []struct {
		lit     string
		strings bool
		want    string
	}{
		{`"1234"`, false, "-26588.24"}, // base64 of the unscaled -2658824
		{`"12.34"`, false, "12.34"},
		{`"-5.00"`, false, "-5.00"},
		{`"1234.00"`, true, "1234.00"},
		{`"1234"`, true, "1234.00"},
		{`"bg=="`, false, "1.10"},
	} {
		value := []byte(`{"before":null,"after":{"id":1,"v":` + tc.lit + `},"op":"c","source":{}}`)
		d := NewDecoder(Options{Table: func(string) TableOptions {
			return TableOptions{Name: "t", Columns: map[string]change.Type{"v": dec}, DecimalStrings: tc.strings}
		}})
		res, err := d.Decode(Record{Topic: "a.b.t", Key: []byte(`{"id":1}`), Value: value})
		if err != nil {
			t.Fatalf("%s: %v", tc.lit, err)
		}
		got, ok := res.Change.Row[res.Change.Schema.Index("v")].(change.Decimal)
		if !ok {
			t.Fatalf("%s: %#v is not a decimal", tc.lit, res.Change.Row)
		}
		if got.String() != tc.want {
			t.Errorf("%s (string mode %v): %s, want %s", tc.lit, tc.strings, got, tc.want)
		}
	}
}

package debezium

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
)

// TestCoerce_Matrix runs coerce over every pair of a set of source types
// and declared types, with values of every normalised Go type, and compares
// each outcome (value and Go type, or error text) with
// testdata/coerce.golden, recorded from the single-switch coerce that the
// per-kind converters replaced: the converters change nothing. Set
// CDCSYNC_UPDATE_GOLDEN=1 to record it again after a deliberate change.
func TestCoerce_Matrix(t *testing.T) {
	list := func(e change.Type) change.Type { return change.Type{Kind: change.KindList, Elem: &e} }
	types := []change.Type{
		change.Bool, change.Int16, change.Int32, change.Int64, change.Float32, change.Float64,
		change.DecimalType(5, 2), change.DecimalType(20, 4), change.DecimalType(0, 0), change.String, change.Bytes,
		change.Date, change.TimeType(change.UnitMicros), change.TimeTZ, change.TimestampType(change.UnitMillis),
		change.TimestampTZ, change.Interval, change.JSON, change.UUID, change.Geometry,
		list(change.Int32), list(change.String), {Kind: change.KindList}, {Kind: change.KindUnknown},
	}
	dec := func(unscaled string, scale int) change.Decimal {
		n, _ := new(big.Int).SetString(unscaled, 10)
		return change.Decimal{Unscaled: n, Scale: scale}
	}
	values := []any{
		true, false, int64(0), int64(1), int64(2), int64(-1), int64(40000), int64(1) << 40, int64(math.MinInt64),
		1.5, 2.0, 0.0, math.NaN(), math.Inf(1), 1e300, 3.4e39, 1e-5,
		dec("12345", 2), dec("100", 2), dec("5", -2), dec("123456789012345678901234567890", 0), dec("-7", 0),
		dec("1"+strings.Repeat("0", 400), 0),
		"", "abc", "12.5", "-3", "1e3", `{"a":1}`, "[1,2]", "550e8400-e29b-41d4-a716-446655440000", "10:00:00+02",
		[]byte{1, 2}, []byte("x"),
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 13, 4, 5, 600, time.UTC),
		change.TimeOfDay(13*3600e9 + 5e8), change.TimeOfDay(0),
		change.IntervalValue{Months: 1, Days: 2, Micros: 3},
		change.PosInfinity, change.NegInfinity,
		[]any{int64(1), nil, int64(70000)}, []any{int64(1), nil}, []any{"x", true}, []any{},
	}
	// One line per pair of types, one outcome per value: "-" for the
	// "does not convert" error (its text follows from the two types, and
	// is checked to), else the error's text or the value with its Go type.
	var out strings.Builder
	for _, from := range types {
		for _, to := range types {
			noConversion := fmt.Sprintf("the event's %s value does not convert to the declared type %s", from, to)
			fmt.Fprintf(&out, "%s -> %s:", from, to)
			for _, v := range values {
				got, err := coerce(v, from, to)
				switch {
				case err != nil && err.Error() == noConversion:
					out.WriteString(" -")
				case err != nil:
					fmt.Fprintf(&out, " [error %s]", err)
				default:
					fmt.Fprintf(&out, " [%T %v]", got, got)
				}
			}
			out.WriteString("\n")
		}
	}
	golden := filepath.Join("testdata", "coerce.golden")
	if os.Getenv("CDCSYNC_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
}

package verify

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// TestNormalize_Matrix runs normalize over every family (and one past
// them) with the representations drivers return, and compares each outcome
// (value and Go type, or error text) with testdata/normalize.golden,
// recorded from the single-switch normalize that the per-family
// normalizers replaced: they change nothing. Set CDCSYNC_UPDATE_GOLDEN=1 to
// record it again after a deliberate change.
func TestNormalize_Matrix(t *testing.T) {
	zone := time.FixedZone("x", 5*3600+1800)
	values := []any{
		nil, true, false, int64(0), int64(-7), int32(5), int16(-3), int8(2), 9, uint8(200), uint16(60000), uint32(1 << 31),
		uint64(1 << 62), uint64(math.MaxUint64), big.NewInt(42), new(big.Int).Lsh(big.NewInt(1), 70),
		1.5, float32(0.1), math.NaN(), math.Inf(-1),
		"", " 12 ", "t", "FALSE", "0", "1", "yes", "-12.30", "1e3", "0.1", "2024-02-29", "2024-02-29 13:04:05.123456",
		"2024-02-29T13:04:05Z", "2024-02-29 13:04:05+05:30", "2024-02-29T13:04:05.5+02", "not a time",
		"13:04:05.25", "-838:59:59", "25:00:00", "1:2", "P1Y2M3W4DT5H6M7.5S", "P-1D", "PT0.0000001S", "P1X", `{"a":1}`,
		[]byte("12"), []byte{0x80, 0x01}, []byte("true"),
		time.Date(2024, 2, 29, 13, 4, 5, 123456789, zone), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		90 * time.Minute, Interval{Months: 1, Days: 2, Micros: 3}, duckdb.Interval{Months: 4, Days: 5, Micros: 6},
		[]any{int64(1), "x"}, map[string]any{"k": int64(1)}, struct{ A int }{3},
	}
	var out strings.Builder
	for f := Family(0); f <= FList+1; f++ {
		for i, v := range values {
			got, err := normalize(v, f)
			if err != nil {
				fmt.Fprintf(&out, "%s #%d: error %s\n", f, i, err)
			} else {
				fmt.Fprintf(&out, "%s #%d: %T %v\n", f, i, got, got)
			}
		}
	}
	golden := filepath.Join("testdata", "normalize.golden")
	if os.Getenv("CDCSYNC_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

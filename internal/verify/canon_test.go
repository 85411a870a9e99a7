package verify

import (
	"math"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func TestCompareKind(t *testing.T) {
	for _, tc := range []struct {
		a, b Family
		want kind
	}{
		{FInt, FInt, kInt},
		{FInt, FBool, kInt}, // MySQL TINYINT(1) vs a boolean declared in the config
		{FDecimal, FDecimal, kDecimal},
		{FDecimal, FString, kDecimal}, // DECIMAL(65,30) stored as VARCHAR
		{FInt, FDecimal, kDecimal},
		{FFloat32, FFloat32, kFloat32},
		{FFloat64, FDecimal, kFloat64},
		{FTimestamp, FTimestamp, kInstant},
		{FTimestampTZ, FTimestamp, kInstant},
		{FDate, FDate, kDate},
		{FDate, FTimestamp, kInstant},
		{FTime, FTime, kTime},
		{FJSON, FString, kJSON},
		{FString, FJSON, kJSON},
		{FList, FList, kJSON},
		{FUUID, FUUID, kUUID},
		{FUUID, FString, kUUID},
		{FInterval, FInterval, kInterval},
		{FBits, FBytes, kBitsInt},
		{FBits, FBool, kBitsInt},
		{FBytes, FBytes, kBytes},
		{FString, FString, kText},
		{FTimestamp, FInt, kText}, // an undeclared epoch number is not a timestamp
	} {
		if got := compareKind(tc.a, tc.b); got != tc.want {
			t.Errorf("compareKind(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// eq normalises a source and a target driver value and reports whether
// they compare equal.
func eq(t *testing.T, sv any, sf Family, tv any, tf Family) bool {
	t.Helper()
	s, err := normalize(sv, sf)
	if err != nil {
		t.Fatalf("normalize source %#v as %s: %v", sv, sf, err)
	}
	g, err := normalize(tv, tf)
	if err != nil {
		t.Fatalf("normalize target %#v as %s: %v", tv, tf, err)
	}
	k := compareKind(sf, tf)
	return canonical(s, sf, k) == canonical(g, tf, k)
}

func TestCanonicalEquality(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	la, _ := time.LoadLocation("America/Los_Angeles")
	for _, tc := range []struct {
		name   string
		sv     any
		sf     Family
		tv     any
		tf     Family
		expect bool
	}{
		{"int text vs int16", []byte("42"), FInt, int16(42), FInt, true},
		{"tinyint(1) vs boolean", []byte("1"), FInt, true, FBool, true},
		{"tinyint(1) 0 vs true", []byte("0"), FInt, true, FBool, false},
		{"decimal scale", []byte("12.30"), FDecimal, "12.3000000000", FDecimal, true},
		{"decimal differs", []byte("12.30"), FDecimal, "12.31", FDecimal, false},
		{"decimal negative zero", "-0.00", FDecimal, "0", FDecimal, true},
		{"decimal vs varchar", "123456789012345678901234567890.123", FDecimal, "123456789012345678901234567890.1230", FString, true},
		{"float32 text vs float32", []byte("1.1"), FFloat32, float32(1.1), FFloat32, true},
		{"float32: a snapshot's 6 digits vs the binlog's exact float", float32(6.0 / 7), FFloat32, 0.857143, FFloat32, true},
		{"float32 differs", float32(0.857142), FFloat32, float32(0.857143), FFloat32, false},
		{"float64", tenth + fifth, FFloat64, 0.30000000000000004, FFloat64, true},
		{"float64 differs", 0.1, FFloat64, 0.1000001, FFloat64, false},
		{"NaN", math.NaN(), FFloat64, math.NaN(), FFloat64, true},
		{"-0", math.Copysign(0, -1), FFloat64, 0.0, FFloat64, true},
		{"datetime vs timestamp", time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), FTimestamp,
			time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), FTimestamp, true},
		{"datetime: the wall clock, whatever the driver's zone", time.Date(2024, 1, 2, 3, 4, 5, 0, la), FTimestamp,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), FTimestamp, true},
		{"timestamptz instants", time.Date(2024, 1, 2, 3, 4, 5, 0, la), FTimestampTZ,
			time.Date(2024, 1, 2, 11, 4, 5, 0, time.UTC), FTimestampTZ, true},
		{"timestamp text vs timestamptz", "2024-01-02 03:04:05.5+00", FTimestampTZ,
			time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC), FTimestampTZ, true},
		{"timestamp µs truncation", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), FTimestamp,
			time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), FTimestamp, true},
		{"timestamp ms off", time.Date(2024, 1, 2, 3, 4, 5, 1000000, time.UTC), FTimestamp,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), FTimestamp, false},
		{"date", "2024-02-29", FDate, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), FDate, true},
		{"time text vs time", []byte("12:34:56.500000"), FTime, time.Date(1, 1, 1, 12, 34, 56, 5e8, time.UTC), FTime, true},
		{"duckdb time text", "12:34:56", FTime, "12:34:56", FTime, true},
		{"mysql negative time", "-01:00:00", FTime, "01:00:00", FTime, false},
		{"json key order and spacing", []byte(`{"b": [1, 2.50], "a": {"y": null, "x": "s"}}`), FJSON,
			`{"a":{"x":"s","y":null},"b":[1,2.5]}`, FJSON, true},
		{"json differs", `{"a":1}`, FJSON, `{"a":"1"}`, FJSON, false},
		{"mariadb json text vs json", []byte(`{"k": true}`), FString, `{"k":true}`, FJSON, true},
		{"list", `[1,2,3]`, FList, `[1, 2, 3]`, FList, true},
		{"uuid case", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", FUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", FUUID, true},
		{"interval: months of 30.4375 days", "P1Y2M3DT4H5M6.78S", FInterval,
			duckdb.Interval{Micros: 37091106780000}, FInterval, true},
		{"interval parts vs micros", "P1M", FInterval, duckdb.Interval{Months: 1}, FInterval, true},
		{"bit big-endian vs Debezium's little-endian", []byte{0x02, 0x01}, FBits, []byte{0x01, 0x02}, FBytes, true},
		{"bit(1) vs boolean", []byte{1}, FBits, true, FBool, true},
		{"bytes", []byte{0, 1, 2}, FBytes, []byte{0, 1, 2}, FBytes, true},
		{"bytes differ", []byte{0, 1, 2}, FBytes, []byte{0, 1}, FBytes, false},
		{"enum text", []byte("gold"), FString, "gold", FString, true},
		{"NULL vs empty", nil, FString, "", FString, false},
		{"NULL vs 0", nil, FInt, int32(0), FInt, false},
		{"NULL vs NULL", nil, FJSON, nil, FJSON, true},
		{"unsigned bigint", uint64(18446744073709551615), FDecimal, "18446744073709551615", FDecimal, true},
	} {
		if got := eq(t, tc.sv, tc.sf, tc.tv, tc.tf); got != tc.expect {
			t.Errorf("%s: equal = %v, want %v", tc.name, got, tc.expect)
		}
	}
}

func TestUnreadableValuesDiffer(t *testing.T) {
	k := compareKind(FTimestampTZ, FTimestampTZ)
	a := canonical(unreadable("infinity"), FTimestampTZ, k)
	b := canonical(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), FTimestampTZ, k)
	if a == b || a == "" || a != canonical(unreadable("infinity"), FTimestampTZ, k) {
		t.Errorf("unreadable %q vs %q", a, b)
	}
}

func TestParsers(t *testing.T) {
	for s, want := range map[string]int64{
		"00:00:00": 0, "12:34:56.789": 45296789000, "24:00:00": 86400e6, "-838:59:59.000000": -3020399e6,
	} {
		if got, err := parseTimeOfDay(s); err != nil || got != want {
			t.Errorf("parseTimeOfDay(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for s, want := range map[string]Interval{
		"P1Y2M3DT4H5M6.78S": {Months: 14, Days: 3, Micros: 4*3600e6 + 5*60e6 + 6780000},
		"PT0S":              {},
		"P-1M-2DT-3S":       {Months: -1, Days: -2, Micros: -3e6},
		"P2W":               {Days: 14},
	} {
		if got, err := parseInterval(s); err != nil || got != want {
			t.Errorf("parseInterval(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1 mon", "P1X", "PT1.5M"} {
		if _, err := parseInterval(s); err == nil {
			t.Errorf("parseInterval(%q) succeeded", s)
		}
	}
}

func TestDisplay(t *testing.T) {
	long := make([]rune, 100)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		v    any
		f    Family
		want string
	}{
		{nil, FString, "NULL"},
		{"a\"b", FString, `"a\"b"`},
		{string(long), FString, `"` + string(long[:60]) + `"…(100 chars)`},
		{"12.30", FDecimal, "12.30"},
		{int64(45296789000), FTime, "12:34:56.789000"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), FTimestampTZ, "2024-01-02 03:04:05Z"},
		{[]byte{1, 0xab}, FBytes, `\x01ab`},
	} {
		if got := display(tc.v, tc.f); got != tc.want {
			t.Errorf("display(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestCompare_DuckLakeIntervalAsMicros: DuckLake stores an interval (and
// MySQL's TIME duration) as BIGINT microseconds; verify compares it with
// the source's interval by length, sign included.
func TestCompare_DuckLakeIntervalAsMicros(t *testing.T) {
	for _, fams := range [][2]Family{{FInterval, FInt}, {FTime, FInt}} {
		if got := compareKind(fams[0], fams[1]); got != kInterval {
			t.Errorf("compareKind(%s, %s) = %d, want kInterval", fams[0], fams[1], got)
		}
	}
	for _, tc := range []struct {
		name   string
		sv     any
		sf     Family
		tv     any
		expect bool
	}{
		{"a month of 30.4375 days", "P1M", FInterval, int64(2_629_800_000_000), true},
		{"negative (PostgreSQL's -1 day +02:00)", "P-1DT2H", FInterval, int64(-79_200_000_000), true},
		{"sign differs", "P1D", FInterval, int64(-86_400_000_000), false},
		{"microseconds", "PT0.000001S", FInterval, int64(1), true},
		{"MySQL TIME", "-01:00:00", FTime, int64(-3_600_000_000), true},
	} {
		if got := eq(t, tc.sv, tc.sf, tc.tv, FInt); got != tc.expect {
			t.Errorf("%s: equal = %v, want %v", tc.name, got, tc.expect)
		}
	}
}

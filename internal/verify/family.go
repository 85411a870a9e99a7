package verify

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Family is what a column's values are, whatever the database calls its
// type. A Database returns each value in its family's normal form, noted
// after each constant; NULL is nil in every family.
type Family uint8

// The column families.
const (
	FOther       Family = iota // string: the database's text rendering
	FBool                      // bool
	FInt                       // int64
	FDecimal                   // string: exact decimal text, e.g. "-12.30" (or "NaN")
	FFloat32                   // float64 holding a float32 value
	FFloat64                   // float64
	FString                    // string
	FBytes                     // []byte
	FBits                      // []byte, big-endian (MySQL BIT)
	FDate                      // time.Time, midnight UTC
	FTime                      // int64: microseconds since midnight (MySQL TIME may be negative or ≥ 24 h)
	FTimestamp                 // time.Time: the wall clock, read as UTC
	FTimestampTZ               // time.Time: the instant, in UTC
	FJSON                      // string: JSON text
	FUUID                      // string
	FInterval                  // Interval
	FList                      // string: a JSON array
)

var familyNames = [...]string{"other", "boolean", "integer", "decimal", "float", "double", "string", "bytes",
	"bits", "date", "time", "timestamp", "timestamptz", "json", "uuid", "interval", "list"}

func (f Family) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Interval is the normal form of FInterval.
type Interval struct {
	Months, Days, Micros int64
}

// Column is one column of a table.
type Column struct {
	Name   string
	Type   string // the database's own type name, e.g. "decimal(10,2)"
	Family Family
}

// Table is a table as one database holds it.
type Table struct {
	Name    string
	Columns []Column // in table order; a target's cdcsync columns (_cdc_*) are left out
	Key     []int    // the primary key, as indexes into Columns, in key order
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// normalize converts what a database/sql driver returned for a column of
// family f into the family's normal form. Drivers differ (MySQL's text
// protocol returns []byte for everything, DuckDB returns typed values), so
// each family's normalizer accepts any of their representations.
func normalize(v any, f Family) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok && f != FBytes && f != FBits {
		v = string(b)
	}
	if int(f) < len(normalizers) {
		out, err := normalizers[f](v, f)
		if !errors.Is(err, errNotNormal) {
			return out, err
		}
	}
	return nil, fmt.Errorf("a %T value (%v) is not a %s", v, v, f)
}

// A normalizer converts a driver's value (not nil; []byte already text
// unless f holds bytes) into family f's normal form, or returns
// errNotNormal when the value's type does not belong to the family.
type normalizer func(v any, f Family) (any, error)

// errNotNormal is a normalizer's "not a value of this family"; normalize
// replaces it with an error naming the value and the family.
var errNotNormal = errors.New("not a value of the family")

// normalizers holds one normalizer per family.
var normalizers = [...]normalizer{
	FOther:       normText,
	FBool:        normBool,
	FInt:         normInt,
	FDecimal:     normDecimal,
	FFloat32:     normFloat,
	FFloat64:     normFloat,
	FString:      normText,
	FBytes:       normBytes,
	FBits:        normBytes,
	FDate:        normTemporal,
	FTime:        normTime,
	FTimestamp:   normTemporal,
	FTimestampTZ: normTemporal,
	FJSON:        normText,
	FUUID:        normText,
	FInterval:    normInterval,
	FList:        normText,
}

// normBool takes booleans, t/true/1 and f/false/0 in any case, and
// integers (non-zero is true).
func normBool(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "t", "true", "1":
			return true, nil
		case "f", "false", "0":
			return false, nil
		}
	default:
		if n, ok := asInt(v); ok {
			return n != 0, nil
		}
	}
	return nil, errNotNormal
}

// normInt takes integers of any width, booleans and integer text.
func normInt(v any, _ Family) (any, error) {
	if n, ok := asInt(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case bool:
		return b2i(x), nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return nil, errNotNormal
}

// normDecimal renders decimal text, big integers, floats, driver decimal
// types (fmt.Stringer) and integers as exact decimal text.
func normDecimal(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case fmt.Stringer:
		return x.String(), nil
	default:
		if n, ok := asInt(v); ok {
			return strconv.FormatInt(n, 10), nil
		}
		if u, ok := v.(uint64); ok {
			return strconv.FormatUint(u, 10), nil
		}
	}
	return nil, errNotNormal
}

// normFloat takes floats, float text and integers; FFloat32 values are
// rounded to float32.
func normFloat(v any, f Family) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case string:
		if g, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			if f == FFloat32 {
				g = float64(float32(g))
			}
			return g, nil
		}
	default:
		if n, ok := asInt(v); ok {
			return float64(n), nil
		}
	}
	return nil, errNotNormal
}

// normBytes copies bytes, and takes text as its bytes.
func normBytes(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case []byte:
		return append([]byte(nil), x...), nil
	case string:
		return []byte(x), nil
	}
	return nil, errNotNormal
}

// normTemporal takes times and timestamp text: a date at midnight UTC, a
// timestamp as its wall clock read as UTC, a timestamptz as its instant
// in UTC.
func normTemporal(v any, f Family) (any, error) {
	switch x := v.(type) {
	case time.Time:
		if f == FTimestamp {
			// A zoneless value is its wall clock; drivers may attach a zone.
			return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC), nil
		}
		if f == FDate {
			return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC), nil
		}
		return x.UTC(), nil
	case string:
		t, err := parseTimestampText(x)
		if err != nil {
			return nil, err
		}
		return normTemporal(t, f)
	}
	return nil, errNotNormal
}

// normTime takes times of day (time.Time, text, durations, integers of
// microseconds) as microseconds since midnight.
func normTime(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return int64(x.Hour())*3600e6 + int64(x.Minute())*60e6 + int64(x.Second())*1e6 + int64(x.Nanosecond()/1000), nil
	case string:
		return parseTimeOfDay(x)
	case time.Duration:
		return x.Microseconds(), nil
	default:
		if n, ok := asInt(v); ok {
			return n, nil
		}
	}
	return nil, errNotNormal
}

// normInterval takes intervals, DuckDB's, and ISO-8601 text.
func normInterval(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case Interval:
		return x, nil
	case string:
		return parseInterval(x)
	case duckdb.Interval:
		return Interval{Months: int64(x.Months), Days: int64(x.Days), Micros: x.Micros}, nil
	}
	return nil, errNotNormal
}

// normText takes text, and renders anything else as fmt does.
func normText(v any, _ Family) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	default:
		return fmt.Sprint(x), nil
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= 1<<63-1 {
			return int64(x), true
		}
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// parseTimestampText reads the timestamp and date renderings databases
// and Debezium use: "2006-01-02", "2006-01-02 15:04:05.999999",
// ISO-8601 with "T", with or without an offset ("Z", "+02", "+02:00").
func parseTimestampText(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// parseTimeOfDay reads "[-]H+:MM:SS[.ffffff]" into microseconds.
func parseTimeOfDay(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	parts := strings.Split(body, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, frac, _ := strings.Cut(parts[2], ".")
	sc, err3 := strconv.ParseInt(sec, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(frac) > 9 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	var us int64
	if frac != "" {
		f, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time of day", s)
		}
		us = f
	}
	total := ((h*60+m)*60+sc)*1e6 + us
	if neg {
		total = -total
	}
	return total, nil
}

// parseInterval reads an ISO-8601 duration (PostgreSQL's intervalstyle
// iso_8601, Debezium's Interval): P[nY][nM][nW][nD][T[nH][nM][n.nS]], each
// number possibly negative.
func parseInterval(s string) (Interval, error) {
	bad := fmt.Errorf("%q is not an ISO-8601 interval", s)
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "P") {
		return Interval{}, bad
	}
	var iv Interval
	inTime := false
	num := ""
	for _, r := range s[1:] {
		switch {
		case r == 'T':
			inTime = true
		case r == '-' || r == '+' || r == '.' || (r >= '0' && r <= '9'):
			num += string(r)
		default:
			if num == "" {
				return Interval{}, bad
			}
			if r == 'S' {
				rat, ok := new(big.Rat).SetString(num)
				if !ok {
					return Interval{}, bad
				}
				rat.Mul(rat, big.NewRat(1e6, 1))
				if !rat.IsInt() {
					return Interval{}, bad
				}
				iv.Micros += rat.Num().Int64()
				num = ""
				continue
			}
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return Interval{}, bad
			}
			num = ""
			switch {
			case r == 'Y' && !inTime:
				iv.Months += 12 * n
			case r == 'M' && !inTime:
				iv.Months += n
			case r == 'W' && !inTime:
				iv.Days += 7 * n
			case r == 'D' && !inTime:
				iv.Days += n
			case r == 'H' && inTime:
				iv.Micros += n * 3600e6
			case r == 'M' && inTime:
				iv.Micros += n * 60e6
			default:
				return Interval{}, bad
			}
		}
	}
	if num != "" {
		return Interval{}, bad
	}
	return iv, nil
}

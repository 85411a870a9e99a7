package duckdb

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// sqlType renders a column type in DuckDB's dialect.
func sqlType(t change.Type) string {
	switch t.Kind {
	case change.KindBool:
		return "BOOLEAN"
	case change.KindInt16:
		return "SMALLINT"
	case change.KindInt32:
		return "INTEGER"
	case change.KindInt64:
		return "BIGINT"
	case change.KindFloat32:
		return "FLOAT"
	case change.KindFloat64:
		return "DOUBLE"
	case change.KindDecimal:
		if t.Precision == 0 || t.Precision > 38 {
			// Decimals without a fixed scale (PostgreSQL numeric,
			// Debezium's VariableScaleDecimal) or wider than DuckDB's 38
			// digits are kept exact, as text.
			return "VARCHAR"
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case change.KindString:
		return "VARCHAR"
	case change.KindBytes:
		return "BLOB"
	case change.KindDate:
		return "DATE"
	case change.KindTime:
		if t.Unit == change.UnitNanos {
			return "TIME_NS"
		}
		return "TIME"
	case change.KindTimeTZ:
		return "TIME WITH TIME ZONE"
	case change.KindTimestamp:
		if t.Unit == change.UnitNanos {
			return "TIMESTAMP_NS"
		}
		return "TIMESTAMP"
	case change.KindTimestampTZ:
		return "TIMESTAMP WITH TIME ZONE"
	case change.KindInterval:
		return "INTERVAL"
	case change.KindJSON, change.KindGeometry:
		return "JSON"
	case change.KindUUID:
		return "UUID"
	case change.KindList:
		if t.Elem == nil {
			return "JSON"
		}
		return sqlType(*t.Elem) + "[]"
	}
	return "VARCHAR"
}

var decimalRE = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// ParseType reads a DuckDB column type back as cdcsync's type (see
// parseType); for dialects built on DuckDB (Iceberg).
func ParseType(s string) change.Type { return parseType(s) }

// parseType reads a DuckDB column type back as cdcsync's type. Types cdcsync
// never creates read back as KindUnknown: such columns are only ever
// written with values of exactly their SQL type.
func parseType(s string) change.Type {
	s = strings.ToUpper(strings.TrimSpace(s))
	if strings.HasSuffix(s, "[]") {
		e := parseType(s[:len(s)-2])
		return change.ListType(e)
	}
	if m := decimalRE.FindStringSubmatch(s); m != nil {
		p, _ := strconv.Atoi(m[1])
		sc, _ := strconv.Atoi(m[2])
		return change.DecimalType(p, sc)
	}
	switch s {
	case "BOOLEAN":
		return change.Bool
	case "TINYINT", "SMALLINT":
		return change.Int16
	case "INTEGER":
		return change.Int32
	case "BIGINT":
		return change.Int64
	case "HUGEINT":
		return change.DecimalType(38, 0)
	case "FLOAT":
		return change.Float32
	case "DOUBLE":
		return change.Float64
	case "VARCHAR":
		return change.String
	case "BLOB":
		return change.Bytes
	case "DATE":
		return change.Date
	case "TIME":
		return change.TimeType(change.UnitMicros)
	case "TIME_NS":
		return change.TimeType(change.UnitNanos)
	case "TIME WITH TIME ZONE":
		return change.TimeTZ
	case "TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_S":
		return change.TimestampType(change.UnitMicros)
	case "TIMESTAMP_NS":
		return change.TimestampType(change.UnitNanos)
	case "TIMESTAMP WITH TIME ZONE":
		return change.TimestampTZ
	case "INTERVAL":
		return change.Interval
	case "JSON":
		return change.JSON
	case "UUID":
		return change.UUID
	}
	return change.Type{}
}

// specialValue is a value the appender cannot write (±infinity, 24:00:00):
// its row is inserted with a statement instead, as text DuckDB casts.
type specialValue string

// bind converts a change value to what DuckDB's appender takes for a
// column of type t (sql is its DuckDB type).
func bind(v any, t change.Type, sql string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if inf, ok := v.(change.Infinity); ok {
		switch t.Kind {
		case change.KindDate, change.KindTimestamp, change.KindTimestampTZ:
			return specialValue(inf.String()), nil
		}
		return nil, fmt.Errorf("%v does not fit %s", v, sql)
	}
	if val, ok, err := sqlapply.BindScalar(v, t, sql); ok {
		return val, err
	}
	switch t.Kind {
	case change.KindDecimal:
		d, ok := change.AsDecimal(v)
		if !ok {
			break
		}
		if sql == "VARCHAR" {
			return d.String(), nil
		}
		d, err := d.Fit(t.Precision, t.Scale)
		if err != nil {
			return nil, err
		}
		return duckdb.Decimal{Width: uint8(t.Precision), Scale: uint8(t.Scale), Value: d.Unscaled}, nil
	case change.KindString:
		switch x := v.(type) {
		case string:
			return x, nil
		case change.Decimal:
			return x.String(), nil
		}
	case change.KindJSON, change.KindGeometry:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case change.KindBytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case change.KindDate, change.KindTimestamp, change.KindTimestampTZ:
		if ts, ok := v.(time.Time); ok {
			if t.Kind == change.KindTimestamp && t.Unit == change.UnitNanos && (ts.Year() < 1678 || ts.Year() > 2261) {
				return nil, fmt.Errorf("%s is outside %s's range (1678-2261)", ts.Format(time.RFC3339Nano), sql)
			}
			if ts.Year() < -290307 || ts.Year() > 294246 {
				return nil, fmt.Errorf("%s is outside %s's range", ts.Format(time.RFC3339Nano), sql)
			}
			return ts, nil
		}
	case change.KindTime:
		if tod, ok := v.(change.TimeOfDay); ok {
			if t.Unit == change.UnitNanos {
				return formatTimeOfDay(tod, 9), nil
			}
			if tod >= 86400e9 {
				return specialValue("24:00:00"), nil
			}
			return time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Add(tod.Duration()), nil
		}
	case change.KindTimeTZ:
		if s, ok := v.(string); ok {
			return parseTimeTZ(s)
		}
	case change.KindInterval:
		if iv, ok := v.(change.IntervalValue); ok {
			return duckdb.Interval{Months: iv.Months, Days: iv.Days, Micros: iv.Micros}, nil
		}
	case change.KindUUID:
		if s, ok := v.(string); ok {
			return parseUUID(s)
		}
	case change.KindList:
		if l, ok := v.([]any); ok && t.Elem != nil {
			out := make([]any, len(l))
			esql := strings.TrimSuffix(sql, "[]")
			for i, e := range l {
				b, err := bind(e, *t.Elem, esql)
				if err != nil {
					return nil, fmt.Errorf("list element %d: %w", i, err)
				}
				if _, ok := b.(specialValue); ok {
					return nil, fmt.Errorf("list element %d: %v is not supported in lists", i, b)
				}
				out[i] = b
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("a %s value does not fit %s", describe(v), sql)
}

// asText converts an appender value for the INSERT path of rows with
// special values: parameters DuckDB casts to the column type.
func asText(v any) (any, error) {
	switch x := v.(type) {
	case specialValue:
		return string(x), nil
	case duckdb.Decimal:
		return change.Decimal{Unscaled: x.Value, Scale: int(x.Scale)}.String(), nil
	case duckdb.UUID:
		return x.String(), nil
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d microseconds", x.Months, x.Days, x.Micros), nil
	case []any:
		return nil, errors.New("lists cannot be staged next to special values")
	}
	return v, nil
}

func describe(v any) string {
	switch v.(type) {
	case int64:
		return "integer"
	case float64:
		return "double"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []byte:
		return "bytes"
	case change.Decimal:
		return "decimal"
	case time.Time:
		return "timestamp"
	case change.TimeOfDay:
		return "time"
	case change.IntervalValue:
		return "interval"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// parseTimeTZ reads Debezium's ZonedTime ("11:51:30.123789Z") into the
// time the appender writes as TIMETZ.
func parseTimeTZ(s string) (time.Time, error) {
	for _, layout := range []string{"15:04:05.999999999Z07:00", "15:04:05Z07:00", "15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location()), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time with zone", s)
}

func parseUUID(s string) (duckdb.UUID, error) {
	var u duckdb.UUID
	h := strings.ReplaceAll(s, "-", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	copy(u[:], b)
	return u, nil
}

func formatTimeOfDay(t change.TimeOfDay, digits int) string {
	ns := int64(t)
	h, ns := ns/3600e9, ns%3600e9
	m, ns := ns/60e9, ns%60e9
	s, ns := ns/1e9, ns%1e9
	frac := fmt.Sprintf("%09d", ns)[:digits]
	return fmt.Sprintf("%02d:%02d:%02d.%s", h, m, s, frac)
}

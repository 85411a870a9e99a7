package change

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var decimalDecl = regexp.MustCompile(`^(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$`)

// ParseType reads a declared column type, as the config file writes it:
//
//	boolean  smallint  int  bigint  float  double  decimal(p,s)  decimal
//	string  bytes  json  uuid  interval  date  timetz  timestamptz
//	time  time_ms  time_us  time_ns
//	timestamp  timestamp_ms  timestamp_us  timestamp_ns
//
// The unit suffixes say how numbers encode the value (epoch or day
// milliseconds, microseconds, nanoseconds); ISO-8601 strings are read
// whatever the unit. Common SQL spellings (integer, varchar, text, …) are
// accepted too.
func ParseType(s string) (Type, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if m := decimalDecl.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		sc := 0
		if m[2] != "" {
			sc, _ = strconv.Atoi(m[2])
		}
		if p < 1 || sc > p {
			return Type{}, fmt.Errorf("type %q: precision must be at least 1 and at least the scale", s)
		}
		return DecimalType(p, sc), nil
	}
	switch t {
	case "boolean", "bool":
		return Bool, nil
	case "smallint", "int16", "tinyint", "int8":
		return Int16, nil
	case "int", "integer", "int32":
		return Int32, nil
	case "bigint", "int64", "long":
		return Int64, nil
	case "float", "real", "float32":
		return Float32, nil
	case "double", "float64", "double precision":
		return Float64, nil
	case "decimal", "numeric":
		return DecimalType(0, 0), nil
	case "string", "varchar", "text":
		return String, nil
	case "bytes", "blob", "bytea", "binary":
		return Bytes, nil
	case "json", "jsonb":
		return JSON, nil
	case "uuid":
		return UUID, nil
	case "interval":
		return Interval, nil
	case "date":
		return Date, nil
	case "timetz":
		return TimeTZ, nil
	case "timestamptz":
		return TimestampTZ, nil
	case "time", "time_us":
		return TimeType(UnitMicros), nil
	case "time_ms":
		return TimeType(UnitMillis), nil
	case "time_ns":
		return TimeType(UnitNanos), nil
	case "timestamp", "timestamp_us", "datetime":
		return TimestampType(UnitMicros), nil
	case "timestamp_ms":
		return TimestampType(UnitMillis), nil
	case "timestamp_ns":
		return TimestampType(UnitNanos), nil
	}
	return Type{}, fmt.Errorf("unknown column type %q (want boolean, smallint, int, bigint, float, double, decimal(p,s), string, bytes, json, uuid, interval, date, time[_ms|_us|_ns], timetz, timestamp[_ms|_us|_ns] or timestamptz)", s)
}

package debezium

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
)

// A table's declared column type overrides the type an event's schema
// carries. For the plain Connect types (boolean, integers, floats, string,
// bytes, and JSON text or structs) the literal means what it says, and the
// declared type reads it, as it reads the literals of events without
// schemas: an int64 of epoch milliseconds declared timestamp_ms is a
// timestamp. A logical type's literal, though, is only meaningful with its
// schema (a Decimal's base64 bytes at the schema's scale, a
// MicroTimestamp's unit, …): reading "bg==" (1.10 at scale 2) or
// 1478267490123456 (µs) with a declared decimal(12,4) or timestamp_ms would
// misread it. Those values are read with the schema's type and then coerced
// to the declared type, exactly or not at all.

// decodeAs reads a literal of a column whose schema type is src (literal
// encoding enc) and whose declared type is target.
func decodeAs(v *fastjson.Value, src change.Type, enc encoding, target change.Type) (any, error) {
	if target.Equal(src) {
		return convert(v, src, enc)
	}
	if selfDescribing(src, enc) {
		te := declaredEncoding(target)
		if src.Kind == change.KindString && target.Kind == change.KindDecimal {
			te = encDecimalString // a string schema means decimal.handling.mode=string
		}
		return convert(v, target, te)
	}
	val, err := convert(v, src, enc)
	if err != nil || val == nil {
		return val, err
	}
	return coerce(val, src, target)
}

// selfDescribing reports whether a schema type's literals mean what they
// say without the schema.
func selfDescribing(t change.Type, enc encoding) bool {
	if enc != encAuto {
		return false
	}
	switch t.Kind {
	case change.KindBool, change.KindInt16, change.KindInt32, change.KindInt64,
		change.KindFloat32, change.KindFloat64, change.KindString, change.KindBytes,
		change.KindJSON, change.KindUUID:
		return true
	}
	return false
}

// coerce converts a normalised value of type from to the normalised value
// of type to, exactly, or fails.
func coerce(v any, from, to change.Type) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("the event's %s value does not convert to the declared type %s", from, to)
	}
	if inf, ok := v.(change.Infinity); ok {
		switch to.Kind {
		case change.KindDate, change.KindTimestamp, change.KindTimestampTZ:
			return inf, nil
		}
		return bad()
	}
	switch to.Kind {
	case change.KindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		}
	case change.KindInt16, change.KindInt32, change.KindInt64:
		lo, hi := intRange(to.Kind)
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case bool:
			if x {
				n = 1
			}
		case change.Decimal:
			q, r := new(big.Int).QuoRem(x.Unscaled, pow10(max(x.Scale, 0)), new(big.Int))
			if x.Scale < 0 {
				q = new(big.Int).Mul(x.Unscaled, pow10(-x.Scale))
			}
			if r.Sign() != 0 || !q.IsInt64() {
				return bad()
			}
			n = q.Int64()
		default:
			return bad()
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("integer: %d out of range [%d, %d] of the declared type %s", n, lo, hi, to)
		}
		return n, nil
	case change.KindFloat32, change.KindFloat64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case change.Decimal:
			var err error
			f, err = strconv.ParseFloat(x.String(), 64)
			if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
				return nil, fmt.Errorf("float: %s is out of range for float64", x)
			}
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return bad()
			}
		default:
			return bad()
		}
		return f, checkFloat(f, to)
	case change.KindDecimal:
		var d change.Decimal
		switch x := v.(type) {
		case change.Decimal:
			d = x
		case int64:
			d = change.Decimal{Unscaled: big.NewInt(x), Scale: 0}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("decimal: %v has no decimal value", x)
			}
			var ok bool
			if d, ok = parseDecimalText(strconv.FormatFloat(x, 'g', -1, 64)); !ok {
				return bad()
			}
		case string:
			var ok bool
			if d, ok = parseDecimalText(x); !ok {
				return nil, fmt.Errorf("decimal: %q is not decimal text", x)
			}
		default:
			return bad()
		}
		return fitDecimal(d, to)
	case change.KindString:
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		case change.Decimal:
			return x.String(), nil
		case time.Time:
			return x.Format(time.RFC3339Nano), nil
		case change.TimeOfDay:
			return formatTimeOfDay(x), nil
		}
	case change.KindJSON:
		switch x := v.(type) {
		case string:
			if from.Kind == change.KindJSON || from.Kind == change.KindGeometry || fastjson.Validate(x) == nil {
				return x, nil
			}
			return nil, fmt.Errorf("json: the event's %s value is not JSON text", from)
		case int64, float64, bool, change.Decimal:
			s, err := coerce(v, from, change.String)
			return s, err
		}
	case change.KindUUID:
		if x, ok := v.(string); ok && isUUID([]byte(x)) {
			return x, nil
		}
	case change.KindBytes:
		if x, ok := v.([]byte); ok {
			return x, nil
		}
	case change.KindDate:
		if x, ok := v.(time.Time); ok {
			if x.Hour() != 0 || x.Minute() != 0 || x.Second() != 0 || x.Nanosecond() != 0 {
				return nil, fmt.Errorf("date: %s has a time of day", x.Format(time.RFC3339Nano))
			}
			return x, nil
		}
	case change.KindTimestamp, change.KindTimestampTZ:
		if x, ok := v.(time.Time); ok {
			return x, nil
		}
	case change.KindTime:
		if x, ok := v.(change.TimeOfDay); ok {
			return x, nil
		}
	case change.KindTimeTZ, change.KindGeometry:
		if x, ok := v.(string); ok && from.Kind == to.Kind {
			return x, nil
		}
	case change.KindInterval:
		if x, ok := v.(change.IntervalValue); ok {
			return x, nil
		}
	case change.KindList:
		l, ok := v.([]any)
		if !ok || from.Kind != change.KindList || from.Elem == nil || to.Elem == nil {
			return bad()
		}
		out := make([]any, len(l))
		for i, e := range l {
			if e == nil {
				continue
			}
			c, err := coerce(e, *from.Elem, *to.Elem)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	}
	return bad()
}

func intRange(k change.Kind) (lo, hi int64) {
	switch k {
	case change.KindInt16:
		return math.MinInt16, math.MaxInt16
	case change.KindInt32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// formatTimeOfDay renders a time of day as hh:mm:ss[.fraction].
func formatTimeOfDay(t change.TimeOfDay) string {
	ns := int64(t)
	s := fmt.Sprintf("%02d:%02d:%02d", ns/3600e9, ns/60e9%60, ns/1e9%60)
	if f := ns % 1e9; f != 0 {
		frac := fmt.Sprintf("%09d", f)
		for frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		s += "." + frac
	}
	return s
}

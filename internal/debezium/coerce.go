package debezium

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
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
// of type to, exactly, or fails. Each declared kind has its converter in
// coercers.
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
	conv := coercers[to.Kind]
	if conv == nil {
		return bad()
	}
	out, err := conv(v, from, to)
	if errors.Is(err, errNoCoercion) {
		return bad()
	}
	return out, err
}

// A coercer converts a normalised value to the normalised value of one
// declared kind (to.Kind), exactly; it returns errNoCoercion when the
// value's type has no conversion, and coerce says which.
type coercer func(v any, from, to change.Type) (any, error)

// errNoCoercion is a coercer's "this value does not convert"; coerce
// replaces it with an error naming both types.
var errNoCoercion = errors.New("no coercion")

// coercers holds one converter per declared kind, as Artie Transfer's
// lib/debezium/converters does. A kind without one converts nothing.
var coercers map[change.Kind]coercer

func init() { // a map literal would form an initialization cycle: lists coerce their elements
	coercers = map[change.Kind]coercer{
		change.KindBool:        coerceBool,
		change.KindInt16:       coerceInt,
		change.KindInt32:       coerceInt,
		change.KindInt64:       coerceInt,
		change.KindFloat32:     coerceFloat,
		change.KindFloat64:     coerceFloat,
		change.KindDecimal:     coerceDecimal,
		change.KindString:      coerceString,
		change.KindJSON:        coerceJSON,
		change.KindUUID:        coerceUUID,
		change.KindBytes:       coerceBytes,
		change.KindDate:        coerceDate,
		change.KindTimestamp:   coerceTimestamp,
		change.KindTimestampTZ: coerceTimestamp,
		change.KindTime:        coerceTime,
		change.KindTimeTZ:      coerceSameText,
		change.KindGeometry:    coerceSameText,
		change.KindInterval:    coerceInterval,
		change.KindList:        coerceList,
	}
}

// coerceBool takes booleans, and the integers 0 and 1.
func coerceBool(v any, _, _ change.Type) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	}
	return nil, errNoCoercion
}

// coerceInt takes integers, booleans (0, 1) and integral decimals within
// the declared type's range.
func coerceInt(v any, _, to change.Type) (any, error) {
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
			return nil, errNoCoercion
		}
		n = q.Int64()
	default:
		return nil, errNoCoercion
	}
	if n < lo || n > hi {
		return nil, fmt.Errorf("integer: %d out of range [%d, %d] of the declared type %s", n, lo, hi, to)
	}
	return n, nil
}

// coerceFloat takes floats, integers and decimals a float64 can hold.
func coerceFloat(v any, _, to change.Type) (any, error) {
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
			return nil, errNoCoercion
		}
	default:
		return nil, errNoCoercion
	}
	return f, checkFloat(f, to)
}

// coerceDecimal takes decimals, integers, finite floats and decimal text
// that fit the declared precision and scale.
func coerceDecimal(v any, _, to change.Type) (any, error) {
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
			return nil, errNoCoercion
		}
	case string:
		var ok bool
		if d, ok = parseDecimalText(x); !ok {
			return nil, fmt.Errorf("decimal: %q is not decimal text", x)
		}
	default:
		return nil, errNoCoercion
	}
	return fitDecimal(d, to)
}

// coerceString renders text, numbers, booleans, timestamps and times of
// day.
func coerceString(v any, _, _ change.Type) (any, error) {
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
	return nil, errNoCoercion
}

// coerceJSON takes JSON text (any text of a JSON or geometry schema, else
// valid JSON) and renders numbers and booleans as JSON.
func coerceJSON(v any, from, _ change.Type) (any, error) {
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
	return nil, errNoCoercion
}

// coerceUUID takes text in UUID form.
func coerceUUID(v any, _, _ change.Type) (any, error) {
	if x, ok := v.(string); ok && isUUID([]byte(x)) {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceBytes takes bytes.
func coerceBytes(v any, _, _ change.Type) (any, error) {
	if x, ok := v.([]byte); ok {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceDate takes timestamps at midnight.
func coerceDate(v any, _, _ change.Type) (any, error) {
	if x, ok := v.(time.Time); ok {
		if x.Hour() != 0 || x.Minute() != 0 || x.Second() != 0 || x.Nanosecond() != 0 {
			return nil, fmt.Errorf("date: %s has a time of day", x.Format(time.RFC3339Nano))
		}
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceTimestamp takes timestamps, with or without a zone.
func coerceTimestamp(v any, _, _ change.Type) (any, error) {
	if x, ok := v.(time.Time); ok {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceTime takes times of day.
func coerceTime(v any, _, _ change.Type) (any, error) {
	if x, ok := v.(change.TimeOfDay); ok {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceSameText takes the text of a kind kept as text (time with time
// zone, geometry) only from a schema of the same kind.
func coerceSameText(v any, from, to change.Type) (any, error) {
	if x, ok := v.(string); ok && from.Kind == to.Kind {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceInterval takes intervals.
func coerceInterval(v any, _, _ change.Type) (any, error) {
	if x, ok := v.(change.IntervalValue); ok {
		return x, nil
	}
	return nil, errNoCoercion
}

// coerceList coerces a list's elements one by one; NULL elements stay.
func coerceList(v any, from, to change.Type) (any, error) {
	l, ok := v.([]any)
	if !ok || from.Kind != change.KindList || from.Elem == nil || to.Elem == nil {
		return nil, errNoCoercion
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

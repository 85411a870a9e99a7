package debezium

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
)

// PostgreSQL's ±infinity timestamps as Debezium encodes them: as
// MicroTimestamp (PgStatement.DATE_POSITIVE_INFINITY/NEGATIVE) and as
// NanoTimestamp (Long.MAX_VALUE/MIN_VALUE).
const (
	pgPosInfinityMicros = 9223372036825200000
	pgNegInfinityMicros = -9223372036832400000
)

// maxDecimalScale bounds decimal scales and precisions: PostgreSQL's
// NUMERIC display scale goes up to 16383 digits, and nothing writes more.
// An unbounded scale from a malformed event would make rendering or
// rescaling the value allocate without limit.
const maxDecimalScale = 16383

// convert turns a JSON literal into the normalised Go value of its column
// type (see package change). A JSON null is nil.
func convert(v *fastjson.Value, t change.Type, enc encoding) (any, error) {
	if v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	switch t.Kind {
	case change.KindBool:
		return toBool(v)
	case change.KindInt16:
		return toInt(v, math.MinInt16, math.MaxInt16)
	case change.KindInt32:
		return toInt(v, math.MinInt32, math.MaxInt32)
	case change.KindInt64:
		return toInt(v, math.MinInt64, math.MaxInt64)
	case change.KindFloat32, change.KindFloat64:
		f, err := toFloat(v)
		if err != nil {
			return nil, err
		}
		return f, checkFloat(f, t)
	case change.KindDecimal:
		return toDecimal(v, t, enc)
	case change.KindString:
		return toText(v), nil
	case change.KindBytes:
		s, err := v.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("bytes: want a base64 string, got %s", v.Type())
		}
		b, err := base64.StdEncoding.DecodeString(string(s))
		if err != nil {
			return nil, fmt.Errorf("bytes: invalid base64: %w", err)
		}
		return b, nil
	case change.KindDate:
		return checkTime(change.KindDate)(toDate(v))
	case change.KindTime:
		return toTime(v, t.Unit)
	case change.KindTimeTZ:
		s, err := v.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("time with zone: want an ISO-8601 string, got %s", v.Type())
		}
		if _, _, err := parseTimeOfDay(string(s), true); err != nil {
			return nil, err
		}
		return string(s), nil
	case change.KindTimestamp:
		return checkTime(t.Kind)(toTimestamp(v, t.Unit, false))
	case change.KindTimestampTZ:
		return checkTime(t.Kind)(toTimestamp(v, change.UnitMillis, true))
	case change.KindInterval:
		return toInterval(v, t.Unit)
	case change.KindJSON, change.KindGeometry:
		if v.Type() == fastjson.TypeString {
			s, _ := v.StringBytes()
			if err := fastjson.ValidateBytes(s); err != nil {
				return nil, fmt.Errorf("json: invalid JSON text: %w", err)
			}
			return string(s), nil
		}
		return string(v.MarshalTo(nil)), nil
	case change.KindUUID:
		s, err := v.StringBytes()
		if err != nil || !isUUID(s) {
			return nil, fmt.Errorf("uuid: %s is not a UUID", v)
		}
		return string(s), nil
	case change.KindList:
		arr, err := v.Array()
		if err != nil {
			return nil, fmt.Errorf("list: want an array, got %s", v.Type())
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			if out[i], err = convert(e, *t.Elem, encAuto); err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no conversion for type %s", t)
}

func toBool(v *fastjson.Value) (any, error) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	case fastjson.TypeNumber:
		// MySQL TINYINT(1) and BIT(1) declared as boolean.
		n, err := v.Int64()
		if err == nil && (n == 0 || n == 1) {
			return n == 1, nil
		}
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if b, err := strconv.ParseBool(string(s)); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("boolean: %s is not a boolean", v)
}

func toInt(v *fastjson.Value, lo, hi int64) (any, error) {
	var raw string
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			// The common case, without copying the literal.
			if n < lo || n > hi {
				return nil, fmt.Errorf("integer: %d out of range [%d, %d]", n, lo, hi)
			}
			return n, nil
		}
		raw = string(v.MarshalTo(nil))
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		raw = string(s)
	default:
		return nil, fmt.Errorf("integer: %s is not a number", v)
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("integer: %q is not an integer in range", raw)
	}
	if n < lo || n > hi {
		return nil, fmt.Errorf("integer: %d out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// checkFloat checks that a finite value is within a float column's range:
// a number too large for it would become an infinity, which is not the
// number. (Debezium writes real infinities and NaN as strings.)
func checkFloat(f float64, t change.Type) error {
	if t.Kind == change.KindFloat32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
		return fmt.Errorf("float: %v is out of range for float32", f)
	}
	return nil
}

func toFloat(v *fastjson.Value) (float64, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		lit := v.MarshalTo(nil)
		f, err := strconv.ParseFloat(string(lit), 64)
		if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
			return 0, fmt.Errorf("float: %s is out of range for float64", lit)
		}
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("float: %s: %w", v, err)
		}
		return f, nil
	case fastjson.TypeString:
		// Jackson quotes non-finite doubles.
		s, _ := v.StringBytes()
		switch string(s) {
		case "NaN", "NAN":
			return math.NaN(), nil
		case "Infinity", "POSITIVE_INFINITY":
			return math.Inf(1), nil
		case "-Infinity", "NEGATIVE_INFINITY":
			return math.Inf(-1), nil
		}
		f, err := strconv.ParseFloat(string(s), 64)
		if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
			return 0, fmt.Errorf("float: %q is out of range for float64", s)
		}
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("float: %q is not a number", s)
		}
		return f, nil
	}
	return 0, fmt.Errorf("float: %s is not a number", v)
}

// toText renders any literal as text: strings as themselves, everything
// else as its JSON.
func toText(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeString {
		s, _ := v.StringBytes()
		return string(s)
	}
	return string(v.MarshalTo(nil))
}

func toDecimal(v *fastjson.Value, t change.Type, enc encoding) (any, error) {
	var d change.Decimal
	var err error
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		d, err = decimalFromString(string(s), t, enc)
		if err != nil {
			return nil, err
		}
	case fastjson.TypeNumber:
		dd, ok := parseDecimalText(string(v.MarshalTo(nil)))
		if !ok {
			return nil, fmt.Errorf("decimal: %s is not a decimal", v)
		}
		d = dd
	case fastjson.TypeObject:
		// io.debezium.data.VariableScaleDecimal: {"scale":…,"value":…}
		scale := v.Get("scale")
		val := v.GetStringBytes("value")
		if scale == nil || val == nil {
			return nil, errors.New("decimal: variable-scale struct needs scale and value")
		}
		sc, err2 := scale.Int()
		if err2 != nil {
			return nil, fmt.Errorf("decimal: scale: %w", err2)
		}
		if sc < -maxDecimalScale || sc > maxDecimalScale {
			return nil, fmt.Errorf("decimal: scale %d is out of range [%d, %d]", sc, -maxDecimalScale, maxDecimalScale)
		}
		d, err = decimalFromBytes(string(val), sc)
	default:
		return nil, fmt.Errorf("decimal: %s is not a decimal", v)
	}
	if err != nil {
		return nil, err
	}
	return fitDecimal(d, t)
}

// decimalFromString reads a decimal carried as a string. With a schema the
// encoding is known: base64 bytes (precise mode) or text (string mode).
// Without one (declared or inferred types) the literal decides where it can:
// Debezium's string mode writes plain text (BigDecimal.toPlainString: an
// optional '-', digits, a point when the scale is above zero), and base64
// never has '.' or '-' but mostly has letters, '+', '/' or '='. Digits
// alone are both: text only at scale zero in string mode (encDecimalString);
// otherwise base64, Debezium's default.
func decimalFromString(s string, t change.Type, enc encoding) (change.Decimal, error) {
	if enc == encDecimalBytes {
		return decimalFromBytes(s, t.Scale)
	}
	if special := decimalSpecial(s); special != "" {
		return change.Decimal{}, fmt.Errorf("decimal: %s has no decimal value", special)
	}
	text, isText := parseDecimalText(s)
	if enc == encDecimalString || strings.ContainsAny(s, ".-") {
		if !isText {
			return change.Decimal{}, fmt.Errorf("decimal: %q is not decimal text", s)
		}
		return text, nil
	}
	d, err := decimalFromBytes(s, t.Scale)
	if err == nil {
		return d, nil
	}
	if isText {
		return text, nil // not base64 (e.g. "10"): the text it reads as
	}
	return change.Decimal{}, fmt.Errorf("decimal: %q is neither decimal text nor base64", s)
}

func decimalSpecial(s string) string {
	switch s {
	case "NAN", "NaN":
		return "NaN"
	case "POSITIVE_INFINITY", "Infinity":
		return "+infinity"
	case "NEGATIVE_INFINITY", "-Infinity":
		return "-infinity"
	}
	return ""
}

// fitDecimal rescales d to the column's scale without losing digits and
// checks it against the column's precision.
func fitDecimal(d change.Decimal, t change.Type) (change.Decimal, error) {
	if t.Precision == 0 {
		return d, nil // variable scale: keep the value as it came
	}
	if d.Scale < t.Scale {
		d.Unscaled = new(big.Int).Mul(d.Unscaled, pow10(t.Scale-d.Scale))
		d.Scale = t.Scale
	} else if d.Scale > t.Scale {
		q, r := new(big.Int).QuoRem(d.Unscaled, pow10(d.Scale-t.Scale), new(big.Int))
		if r.Sign() != 0 {
			return change.Decimal{}, fmt.Errorf("decimal: %s has more than %d digits after the point", d, t.Scale)
		}
		d = change.Decimal{Unscaled: q, Scale: t.Scale}
	}
	if d.Unscaled.Sign() != 0 && d.Digits() > t.Precision {
		return change.Decimal{}, fmt.Errorf("decimal: %s does not fit DECIMAL(%d,%d)", d, t.Precision, t.Scale)
	}
	return d, nil
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// decimalFromBytes decodes Connect's Decimal: base64 of the big-endian
// two's-complement unscaled value.
func decimalFromBytes(s string, scale int) (change.Decimal, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return change.Decimal{}, fmt.Errorf("decimal: %q is neither decimal text nor base64: %w", s, err)
	}
	if len(b) == 0 {
		return change.Decimal{}, errors.New("decimal: empty unscaled value")
	}
	n := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return change.Decimal{Unscaled: n, Scale: scale}, nil
}

// parseDecimalText parses decimal text exactly: [-+]digits[.digits][e±n].
func parseDecimalText(s string) (change.Decimal, bool) {
	if s == "" {
		return change.Decimal{}, false
	}
	mant, exp := s, 0
	if i := indexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return change.Decimal{}, false
		}
		mant, exp = s[:i], e
	}
	digits := make([]byte, 0, len(mant))
	scale, seenPoint, seenDigit := 0, false, false
	for i := 0; i < len(mant); i++ {
		c := mant[i]
		switch {
		case (c == '-' || c == '+') && i == 0:
			if c == '-' {
				digits = append(digits, '-')
			}
		case c == '.' && !seenPoint:
			seenPoint = true
		case c >= '0' && c <= '9':
			seenDigit = true
			digits = append(digits, c)
			if seenPoint {
				scale++
			}
		default:
			return change.Decimal{}, false
		}
	}
	if !seenDigit {
		return change.Decimal{}, false
	}
	n, ok := new(big.Int).SetString(string(digits), 10)
	if !ok {
		return change.Decimal{}, false
	}
	scale -= exp
	if scale < 0 {
		n.Mul(n, pow10(-scale))
		scale = 0
	}
	return change.Decimal{Unscaled: n, Scale: scale}, true
}

func indexAny(s, chars string) int {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return i
			}
		}
	}
	return -1
}

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

func toDate(v *fastjson.Value) (any, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		days, err := v.Int64()
		if err != nil || days > 1<<31 || days < -(1<<31) {
			return nil, fmt.Errorf("date: %s is not a day number", v)
		}
		return epoch.AddDate(0, 0, int(days)), nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if inf, ok := infinity(string(s)); ok {
			return inf, nil
		}
		t, err := parseISO(string(s))
		if err != nil {
			return nil, fmt.Errorf("date: %w", err)
		}
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			return nil, fmt.Errorf("date: %q has a time of day", s)
		}
		return t, nil
	}
	return nil, fmt.Errorf("date: %s is not a date", v)
}

func toTime(v *fastjson.Value, u change.Unit) (any, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			return nil, fmt.Errorf("time: %s is not an integer", v)
		}
		ns, ok := scaleToNanos(n, u)
		if !ok || ns < 0 || ns > 86400e9 {
			return nil, fmt.Errorf("time: %s is not a time of day", v)
		}
		return change.TimeOfDay(ns), nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		ns, _, err := parseTimeOfDay(string(s), false)
		if err != nil {
			return nil, err
		}
		return change.TimeOfDay(ns), nil
	}
	return nil, fmt.Errorf("time: %s is not a time of day", v)
}

func scaleToNanos(n int64, u change.Unit) (int64, bool) {
	var m int64
	switch u {
	case change.UnitMillis:
		m = 1e6
	case change.UnitMicros:
		m = 1e3
	default:
		return n, true
	}
	if n > math.MaxInt64/m || n < math.MinInt64/m {
		return 0, false
	}
	return n * m, true
}

// toTimestamp decodes epoch numbers in unit u, and ISO-8601 strings.
// zoned strings must carry an offset; zoneless ones are wall-clock time.
func toTimestamp(v *fastjson.Value, u change.Unit, zoned bool) (any, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			return nil, fmt.Errorf("timestamp: %s is not an integer", v)
		}
		switch n {
		case pgPosInfinityMicros, math.MaxInt64:
			return change.PosInfinity, nil
		case pgNegInfinityMicros, math.MinInt64:
			return change.NegInfinity, nil
		}
		switch u {
		case change.UnitMillis:
			return time.UnixMilli(n).UTC(), nil
		case change.UnitMicros:
			return time.UnixMicro(n).UTC(), nil
		}
		return time.Unix(0, n).UTC(), nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if inf, ok := infinity(string(s)); ok {
			return inf, nil
		}
		t, hasOffset, err := parseISOOffset(string(s))
		if err != nil {
			return nil, fmt.Errorf("timestamp: %w", err)
		}
		if zoned && !hasOffset {
			return nil, fmt.Errorf("timestamp with time zone: %q has no offset", s)
		}
		return t, nil
	}
	return nil, fmt.Errorf("timestamp: %s is not a timestamp", v)
}

// checkTime refuses dates and timestamps of kind k that not every
// warehouse holds: binding them would fail in one warehouse and overflow
// silently in another.
func checkTime(k change.Kind) func(any, error) (any, error) {
	return func(v any, err error) (any, error) {
		if t, ok := v.(time.Time); ok && err == nil {
			if err := change.CheckTime(t, k); err != nil {
				return nil, fmt.Errorf("timestamp: %w", err)
			}
		}
		return v, err
	}
}

func infinity(s string) (change.Infinity, bool) {
	switch s {
	case "infinity", "+infinity", "Infinity":
		return change.PosInfinity, true
	case "-infinity", "-Infinity":
		return change.NegInfinity, true
	}
	return 0, false
}

// toInterval decodes MicroDuration (µs), MySQL TIME as a duration (in the
// unit of its time type), and Interval (ISO-8601 duration).
func toInterval(v *fastjson.Value, u change.Unit) (any, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			return nil, fmt.Errorf("interval: %s is not an integer", v)
		}
		switch u {
		case change.UnitMillis:
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				return nil, fmt.Errorf("interval: %d ms is out of range", n)
			}
			n *= 1000
		case change.UnitNanos:
			n /= 1000 // intervals keep microseconds
		}
		return change.IntervalValue{Micros: n}, nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		iv, err := parseISODuration(string(s))
		if err != nil {
			return nil, err
		}
		return iv, nil
	}
	return nil, fmt.Errorf("interval: %s is not an interval", v)
}

func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

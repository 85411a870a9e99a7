package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is how a pair of columns (source family, target family) is
// compared: both sides' values are canonicalised for the kind, and equal
// canonical strings mean equal values.
type kind uint8

const (
	kText     kind = iota // text renderings
	kInt                  // integers; booleans as 0/1
	kDecimal              // exact rationals
	kFloat32              // float equality at 6 significant digits (FLT_DIG)
	kFloat64              // float equality
	kBytes                // bytes
	kBitsInt              // MySQL BIT vs Debezium's little-endian bytes: the unsigned integer
	kDate                 // calendar dates
	kTime                 // microseconds of day
	kInstant              // UTC instants at microsecond precision
	kJSON                 // JSON documents, semantically
	kUUID                 // UUIDs, case-insensitively
	kInterval             // microseconds, months of 30.4375 days (Debezium's MicroDuration)
)

// compareKind decides how a source column of family a compares with a
// target column of family b, following the mapping cdcsync applies to
// Debezium's types.
func compareKind(a, b Family) kind {
	in := func(f Family, set ...Family) bool { return slices.Contains(set, f) }
	both := func(set ...Family) bool { return in(a, set...) && in(b, set...) }
	has := func(f Family) bool { return a == f || b == f }
	numeric := []Family{FBool, FInt, FDecimal, FFloat32, FFloat64}
	switch {
	case has(FJSON) || has(FList):
		return kJSON
	case has(FBits):
		if both(FBits, FBytes, FBool, FInt, FDecimal) {
			return kBitsInt
		}
	case has(FFloat32) && both(numeric...):
		return kFloat32
	case has(FFloat64) && both(numeric...):
		return kFloat64
	case both(FBool, FInt):
		return kInt
	case both(FBool, FInt, FDecimal), has(FDecimal) && both(FDecimal, FString, FOther):
		return kDecimal
	case both(FDate):
		return kDate
	case both(FDate, FTimestamp, FTimestampTZ):
		return kInstant
	case both(FTime):
		return kTime
	case has(FTime) && both(FTime, FInterval):
		// MySQL/MariaDB TIME is a duration: cdcsync stores it as an interval.
		return kInterval
	case has(FUUID) && both(FUUID, FString, FOther):
		return kUUID
	case both(FInterval):
		return kInterval
	case has(FInt) && (has(FInterval) || has(FTime)) && both(FInt, FInterval, FTime):
		// DuckLake stores intervals as BIGINT microseconds.
		return kInterval
	case both(FBytes):
		return kBytes
	}
	return kText
}

// canonical renders a value (normal form of family f) for comparison of
// kind k. NULL is "", every value starts with '='. A value the kind cannot
// read is rendered so that it equals nothing but the same unreadable value.
func canonical(v any, f Family, k kind) string {
	if v == nil {
		return ""
	}
	s, err := canon(v, f, k)
	if err != nil {
		return "!" + text(v)
	}
	return "=" + s
}

func canon(v any, f Family, k kind) (string, error) {
	if u, ok := v.(unreadable); ok {
		return "", fmt.Errorf("unreadable value %q", string(u))
	}
	switch k {
	case kInt:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case bool:
			return strconv.FormatInt(b2i(x), 10), nil
		}
	case kDecimal:
		r, err := rat(v)
		if err != nil {
			return "", err
		}
		return r.RatString(), nil
	case kFloat32, kFloat64:
		g, err := float(v)
		if err != nil {
			return "", err
		}
		switch {
		case math.IsNaN(g):
			return "NaN", nil
		case g == 0:
			return "0", nil // -0 == 0
		case k == kFloat32:
			// Single precision holds 6 significant decimal digits for
			// sure (FLT_DIG), and no more survive every path: Debezium's
			// MySQL/MariaDB snapshot reads FLOAT through the server's
			// 6-digit text rendering, its binlog events carry the exact
			// float.
			return strconv.FormatFloat(float64(float32(g)), 'g', 6, 32), nil
		}
		return strconv.FormatFloat(g, 'g', -1, 64), nil
	case kBytes:
		if b, ok := v.([]byte); ok {
			return hex.EncodeToString(b), nil
		}
	case kBitsInt:
		switch x := v.(type) {
		case []byte:
			b := x
			if f != FBits { // Debezium's io.debezium.data.Bits is little-endian
				b = slices.Clone(b)
				slices.Reverse(b)
			}
			return new(big.Int).SetBytes(b).String(), nil
		case bool:
			return strconv.FormatInt(b2i(x), 10), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case string:
			r, err := rat(x)
			if err != nil {
				return "", err
			}
			return r.RatString(), nil
		}
	case kDate:
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02"), nil
		}
	case kTime:
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
	case kInstant:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"), nil
		}
	case kJSON:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("not JSON text")
		}
		return canonicalJSON(s)
	case kUUID:
		if s, ok := v.(string); ok {
			return strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}")), nil
		}
	case kInterval:
		if n, ok := v.(int64); ok && (f == FTime || f == FInt) {
			return strconv.FormatInt(n, 10), nil
		}
		if iv, ok := v.(Interval); ok {
			// Debezium's MicroDuration: a month is 365.25/12 = 30.4375 days.
			return strconv.FormatInt(iv.Months*2_629_800_000_000+iv.Days*86_400_000_000+iv.Micros, 10), nil
		}
	case kText:
		return text(v), nil
	}
	return "", fmt.Errorf("a %T value is not comparable as %d", v, k)
}

// unreadable is a value a database returned that its column's family
// cannot read (e.g. PostgreSQL's infinity timestamps): it is kept as text.
type unreadable string

// text renders a normal-form value as text.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case unreadable:
		return string(x)
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case Interval:
		return fmt.Sprintf("%d months %d days %d microseconds", x.Months, x.Days, x.Micros)
	}
	return fmt.Sprint(v)
}

func rat(v any) (*big.Rat, error) {
	switch x := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(x), nil
	case bool:
		return new(big.Rat).SetInt64(b2i(x)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("not finite")
		}
		return new(big.Rat).SetFloat64(x), nil
	case string:
		s := strings.TrimSpace(x)
		if strings.ContainsAny(s, "/xXpP") || s == "" { // SetString reads fractions and hex too
			return nil, fmt.Errorf("%q is not a decimal", s)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, fmt.Errorf("%q is not a decimal", s)
		}
		return r, nil
	}
	return nil, fmt.Errorf("a %T is not a decimal", v)
}

func float(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case bool:
		return float64(b2i(x)), nil
	case string:
		return strconv.ParseFloat(strings.TrimSpace(x), 64)
	}
	return 0, fmt.Errorf("a %T is not a number", v)
}

// canonicalJSON renders a JSON document with object keys sorted, no
// insignificant space and numbers as exact rationals, so that documents
// that mean the same compare equal: {"b": 1.0, "a": [1]} = {"a":[1],"b":1}.
func canonicalJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("trailing data after the JSON document")
	}
	var b bytes.Buffer
	writeJSON(&b, doc)
	return b.String(), nil
}

func writeJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			b.WriteString(r.RatString())
		} else {
			b.WriteString(string(x))
		}
	case string:
		writeJSONString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("null")
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// maxDisplay bounds how much of a value a report shows.
const maxDisplay = 60

// display renders a normal-form value for a report.
func display(v any, f Family) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case unreadable:
		return string(x)
	case string:
		switch f {
		case FDecimal, FUUID:
			return x
		}
		return quoteTruncated(x)
	case []byte:
		h := hex.EncodeToString(x)
		if len(h) > maxDisplay {
			h = h[:maxDisplay] + fmt.Sprintf("…(%d bytes)", len(x))
		}
		return `\x` + h
	case time.Time:
		switch f {
		case FDate:
			return x.Format("2006-01-02")
		case FTimestamp:
			return x.Format("2006-01-02 15:04:05.999999")
		}
		return x.Format("2006-01-02 15:04:05.999999Z07:00")
	case int64:
		if f == FTime {
			neg := ""
			if x < 0 {
				neg, x = "-", -x
			}
			return fmt.Sprintf("%s%02d:%02d:%02d.%06d", neg, x/3600e6, x/60e6%60, x/1e6%60, x%1e6)
		}
		return strconv.FormatInt(x, 10)
	}
	return text(v)
}

// quoteTruncated quotes s, cut to maxDisplay characters.
func quoteTruncated(s string) string {
	if utf8.RuneCountInString(s) <= maxDisplay {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:maxDisplay])) + fmt.Sprintf("…(%d chars)", len(r))
}

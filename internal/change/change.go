package change

import (
	"fmt"
	"math"
	"math/big"
	"time"
)

// Op is what a change does to its key.
type Op uint8

// The operations a change can carry.
const (
	OpUpsert   Op = iota + 1 // Debezium c, u, r: the row becomes After
	OpDelete                 // Debezium d, or a tombstone: the key is gone
	OpTruncate               // Debezium t: the table empties at this point
)

func (o Op) String() string {
	switch o {
	case OpUpsert:
		return "upsert"
	case OpDelete:
		return "delete"
	case OpTruncate:
		return "truncate"
	}
	return "unknown"
}

// Position is a Debezium source position encoded so that byte order is
// source order: for one source, a < b means a happened before b. The empty
// Position means unknown; unknown positions never decide an ordering.
type Position string

// Known reports whether the position carries a source position.
func (p Position) Known() bool { return p != "" }

// Change is one decoded change event.
type Change struct {
	Topic     string
	Table     string // target table name
	Partition int32
	Offset    int64
	Seq       uint64 // arrival order within the process, for tie-breaks

	Op       Op
	SourceOp byte // 'c', 'u', 'r', 'd', 't'; 0 for a tombstone

	Schema *Schema
	Key    []any  // aligned with Schema.Key
	KeyID  string // canonical encoding of Key: equal keys have equal IDs
	Row    []any  // upserts: the after image, aligned with Schema.Columns
	// Unchanged marks Row columns that carried Debezium's unavailable-value
	// placeholder (PostgreSQL TOAST): the warehouse keeps its current value.
	// Nil when no column is unchanged.
	Unchanged []bool
	// OldKey is, for the create that ends a primary-key change, the key the
	// row had before (aligned with Schema.Key): its unchanged values are
	// that row's as the old key's delete left it.
	OldKey   []any
	OldKeyID string
	// NewKey is, for the delete that starts a primary-key change, the key
	// the row moves to (aligned with Schema.Key).
	NewKey   []any
	NewKeyID string

	Pos      Position
	SourceTs int64 // source.ts_ms; informational, never an ordering key
}

// HasUnchanged reports whether any column keeps the warehouse's value.
func (c *Change) HasUnchanged() bool {
	for _, u := range c.Unchanged {
		if u {
			return true
		}
	}
	return false
}

// Decimal is an exact decimal number: Unscaled × 10^-Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    int
}

// String renders the decimal exactly, e.g. "-12.30".
func (d Decimal) String() string {
	s := d.Unscaled.String()
	if d.Scale <= 0 {
		if d.Scale < 0 {
			return s + zeros(-d.Scale)
		}
		return s
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) <= d.Scale {
		s = zeros(d.Scale-len(s)+1) + s
	}
	s = s[:len(s)-d.Scale] + "." + s[len(s)-d.Scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// Digits returns the number of digits of the unscaled value.
func (d Decimal) Digits() int {
	s := d.Unscaled.String()
	if s[0] == '-' {
		s = s[1:]
	}
	return len(s)
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

// TimeOfDay is a time of day in nanoseconds since midnight; 24:00 is
// 86400e9.
type TimeOfDay int64

// Duration returns the time of day as a duration since midnight.
func (t TimeOfDay) Duration() time.Duration { return time.Duration(t) }

// IntervalValue is a calendar interval, as SQL intervals are stored.
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// Infinity is a temporal ±infinity (PostgreSQL 'infinity').
type Infinity int8

// Positive and negative infinity.
const (
	NegInfinity Infinity = -1
	PosInfinity Infinity = 1
)

func (i Infinity) String() string {
	if i < 0 {
		return "-infinity"
	}
	return "infinity"
}

// Fit brings d to scale exactly and checks that it has at most precision
// digits (precision 0: no limit). Digits would be lost otherwise; the
// error says so.
func (d Decimal) Fit(precision, scale int) (Decimal, error) {
	if d.Scale < scale {
		d = Decimal{Unscaled: new(big.Int).Mul(d.Unscaled, pow10(scale-d.Scale)), Scale: scale}
	} else if d.Scale > scale {
		q, r := new(big.Int).QuoRem(d.Unscaled, pow10(d.Scale-scale), new(big.Int))
		if r.Sign() != 0 {
			return Decimal{}, fmt.Errorf("%s has more than %d digits after the point for DECIMAL(%d,%d)", d, scale, precision, scale)
		}
		d = Decimal{Unscaled: q, Scale: scale}
	}
	if precision > 0 && d.Unscaled.Sign() != 0 && d.Digits() > precision {
		return Decimal{}, fmt.Errorf("%s does not fit DECIMAL(%d,%d)", d, precision, scale)
	}
	return d, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// AsDecimal returns an integer or decimal value as a decimal.
func AsDecimal(v any) (Decimal, bool) {
	switch x := v.(type) {
	case Decimal:
		return x, true
	case int64:
		return Decimal{Unscaled: big.NewInt(x)}, true
	}
	return Decimal{}, false
}

// IntRange returns the range of an integer kind.
func IntRange(k Kind) (lo, hi int64) {
	switch k {
	case KindInt16:
		return math.MinInt16, math.MaxInt16
	case KindInt32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// The dates and timestamps cdcsync takes, the ones both PostgreSQL and
// DuckDB hold: from 4714-11-24 BC (ISO year -4713), PostgreSQL's first day;
// timestamps to the end of 294246 (DuckDB's end), dates to the end of
// 5874897 (PostgreSQL's end). A value outside does not fit a column
// exactly, so the decoder refuses it, and warehouses check their own range
// again before binding.
var (
	MinTime     = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC)
	MaxTime     = time.Date(294246, 12, 31, 23, 59, 59, 999999999, time.UTC)
	MaxDateTime = time.Date(5874897, 12, 31, 0, 0, 0, 0, time.UTC)
)

// CheckTime returns an error when a value of kind k (KindDate, or a
// timestamp kind) is outside the range cdcsync takes.
func CheckTime(t time.Time, k Kind) error {
	hi := MaxTime
	if k == KindDate {
		hi = MaxDateTime
	}
	if t.Before(MinTime) || t.After(hi) {
		return fmt.Errorf("%s is outside the range cdcsync takes (%s to %s)", t.Format(time.RFC3339Nano),
			MinTime.Format(time.DateOnly), hi.Format(time.DateOnly))
	}
	return nil
}

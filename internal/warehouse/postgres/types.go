package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// bind converts a change value to what pgx's COPY encodes into a column of
// type t.
func bind(v any, t change.Type, sqlType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if inf, ok := v.(change.Infinity); ok {
		mod := pgtype.Infinity
		if inf < 0 {
			mod = pgtype.NegativeInfinity
		}
		switch t.Kind {
		case change.KindDate:
			return pgtype.Date{InfinityModifier: mod, Valid: true}, nil
		case change.KindTimestamp:
			return pgtype.Timestamp{InfinityModifier: mod, Valid: true}, nil
		case change.KindTimestampTZ:
			return pgtype.Timestamptz{InfinityModifier: mod, Valid: true}, nil
		}
		return nil, fmt.Errorf("%v does not fit %s", inf, sqlType)
	}
	if val, ok, err := sqlapply.BindScalar(v, t, sqlType); ok {
		return val, err
	}
	switch t.Kind {
	case change.KindDecimal:
		d, ok := change.AsDecimal(v)
		if !ok {
			break
		}
		if t.Precision > 0 {
			var err error
			if d, err = d.Fit(t.Precision, t.Scale); err != nil {
				return nil, err
			}
		}
		return pgtype.Numeric{Int: d.Unscaled, Exp: int32(-d.Scale), Valid: true}, nil
	case change.KindString:
		switch x := v.(type) {
		case string:
			return x, noNUL(x, sqlType)
		case change.Decimal:
			return x.String(), nil
		}
	case change.KindJSON, change.KindGeometry:
		if s, ok := v.(string); ok {
			if hasEscapedNUL(s) {
				return nil, fmt.Errorf(`JSON text with \u0000 does not fit %s (PostgreSQL text cannot hold NUL)`, sqlType)
			}
			return s, noNUL(s, sqlType)
		}
	case change.KindTimeTZ, change.KindUUID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case change.KindBytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case change.KindDate:
		if ts, ok := v.(time.Time); ok {
			if err := change.CheckTime(ts, t.Kind); err != nil {
				return nil, err
			}
			return pgtype.Date{Time: ts, Valid: true}, nil
		}
	case change.KindTimestamp:
		if ts, ok := v.(time.Time); ok {
			if err := change.CheckTime(ts, t.Kind); err != nil {
				return nil, err
			}
			return pgtype.Timestamp{Time: ts, Valid: true}, nil
		}
	case change.KindTimestampTZ:
		if ts, ok := v.(time.Time); ok {
			if err := change.CheckTime(ts, t.Kind); err != nil {
				return nil, err
			}
			return pgtype.Timestamptz{Time: ts, Valid: true}, nil
		}
	case change.KindTime:
		if tod, ok := v.(change.TimeOfDay); ok {
			// PostgreSQL keeps microseconds; nanosecond digits are dropped.
			return pgtype.Time{Microseconds: int64(tod) / 1000, Valid: true}, nil
		}
	case change.KindInterval:
		if iv, ok := v.(change.IntervalValue); ok {
			return pgtype.Interval{Months: iv.Months, Days: iv.Days, Microseconds: iv.Micros, Valid: true}, nil
		}
	case change.KindList:
		if l, ok := v.([]any); ok && t.Elem != nil {
			out := make([]any, len(l))
			for i, e := range l {
				b, err := bind(e, *t.Elem, sqlType)
				if err != nil {
					return nil, fmt.Errorf("list element %d: %w", i, err)
				}
				out[i] = b
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("a %T value does not fit %s", v, sqlType)
}

// noNUL refuses text with a NUL character, which PostgreSQL's text types
// cannot hold: refused here, the value is a dead letter with a reason,
// instead of a COPY failure the whole batch is retried and bisected for.
func noNUL(s, sqlType string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("text with a NUL character (at byte %d) does not fit %s: PostgreSQL text cannot hold NUL", i, sqlType)
	}
	return nil
}

// hasEscapedNUL reports whether JSON text holds the escape \u0000, which
// jsonb refuses (an escaped backslash before "u0000" is not one).
func hasEscapedNUL(s string) bool {
	for i := strings.Index(s, `\u0000`); i >= 0; {
		backslashes := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return true
		}
		next := strings.Index(s[i+1:], `\u0000`)
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

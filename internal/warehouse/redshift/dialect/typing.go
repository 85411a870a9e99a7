package dialect

import (
	"fmt"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
)

// Redshift's limits.
const (
	// MaxVarcharBytes is the longest VARCHAR, in bytes.
	MaxVarcharBytes = 65535
	// MaxPrecision is the largest DECIMAL precision.
	MaxPrecision = 38
	// MaxIdentifierBytes is the longest identifier.
	MaxIdentifierBytes = 127
)

// MaxVarchar is the widest VARCHAR.
var MaxVarchar = fmt.Sprintf("VARCHAR(%d)", MaxVarcharBytes)

// Bytes types: the warehouse declares VARBYTE's maximum; the generator's
// VARBYTE keeps the default length (64000 bytes), more than the base64 of
// a VARCHAR(65535) decodes to.
const (
	MaxVarbyte = "VARBYTE(1024000)"
	Varbyte    = "VARBYTE"
)

// Varbyte types on PostgreSQL.
const pgBytes = "BYTEA"

// BytesType is t's type for bytes: typ (MaxVarbyte or Varbyte) on
// Redshift, BYTEA on PostgreSQL.
func (t Target) BytesType(typ string) string {
	if t == PostgreSQL {
		return pgBytes
	}
	return typ
}

// InexactDecimal is the type of a decimal without a fixed scale or wider
// than DECIMAL's 38 digits: its exact digits as text. As wide as a VARCHAR
// gets, because the values such a column receives have no bound below
// that (PostgreSQL's unconstrained numeric has up to 131072 digits, a
// numeric(1000) a thousand), and a narrower column would refuse them —
// the warehouse would dead-letter the row, the generator's procedure would
// fail the whole CALL on every run. A VARCHAR's declared length costs
// nothing on disk (only query memory, for these rare columns); just a
// value longer than any VARCHAR is refused.
var InexactDecimal = MaxVarchar

// ExactDecimal reports whether a decimal type fits DECIMAL(p,s).
func ExactDecimal(t change.Type) bool {
	return t.Precision > 0 && t.Precision <= MaxPrecision && t.Scale >= 0 && t.Scale <= t.Precision
}

// ScalarType renders the types whose mapping has no choice in it: the
// kinds Redshift has a type of its own for, and exact decimals. ok is
// false for the others (strings, inexact decimals, bytes, intervals,
// semi-structured values), whose type depends on how the caller stores
// them.
func ScalarType(t change.Type) (typ string, ok bool) {
	switch t.Kind {
	case change.KindBool:
		return "BOOLEAN", true
	case change.KindInt16:
		return "SMALLINT", true
	case change.KindInt32:
		return "INTEGER", true
	case change.KindInt64:
		return "BIGINT", true
	case change.KindFloat32:
		return "REAL", true
	case change.KindFloat64:
		return "DOUBLE PRECISION", true
	case change.KindDecimal:
		if ExactDecimal(t) {
			return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale), true
		}
	case change.KindDate:
		return "DATE", true
	case change.KindTime:
		return "TIME", true
	case change.KindTimeTZ:
		return "TIMETZ", true
	case change.KindTimestamp:
		return "TIMESTAMP", true
	case change.KindTimestampTZ:
		return "TIMESTAMPTZ", true
	case change.KindUUID:
		return "VARCHAR(36)", true
	}
	return "", false
}

// Encoding picks a column's compression encoding from its SQL type, as
// Redshift documents which encodings each type takes ("Compression
// encodings"): RAW for sort key columns; AZ64 for integers, DECIMAL, DATE,
// TIMESTAMP and TIMESTAMPTZ; ZSTD for VARCHAR; LZO for SUPER; BYTEDICT for
// columns declared low-cardinality (an error for types it does not take);
// RAW for the rest (BOOLEAN, REAL, DOUBLE PRECISION, TIME, TIMETZ,
// VARBYTE), which neither AZ64 nor ZSTD is documented for.
func Encoding(sqlType string, sortKey, lowCardinality bool) (string, error) {
	if sortKey {
		return "raw", nil
	}
	switch {
	case isAZ64(sqlType):
		if lowCardinality {
			return "bytedict", nil
		}
		return "az64", nil
	case strings.HasPrefix(sqlType, "VARCHAR"):
		if lowCardinality {
			return "bytedict", nil
		}
		return "zstd", nil
	case lowCardinality && (sqlType == "REAL" || sqlType == "DOUBLE PRECISION"):
		return "bytedict", nil
	case lowCardinality:
		return "", fmt.Errorf("BYTEDICT does not support %s", sqlType)
	case sqlType == "SUPER":
		return "lzo", nil
	}
	return "raw", nil
}

func isAZ64(typ string) bool {
	switch typ {
	case "SMALLINT", "INTEGER", "BIGINT", "DATE", "TIMESTAMP", "TIMESTAMPTZ":
		return true
	}
	return strings.HasPrefix(typ, "DECIMAL(")
}

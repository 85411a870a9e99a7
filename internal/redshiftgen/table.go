package redshiftgen

import (
	"fmt"

	"github.com/cdcsync/cdcsync/internal/change"
)

// Source is the family of connector that wrote a topic: it decides how the
// source position is read from the envelope's source block.
type Source uint8

// The connector families.
const (
	SourceUnknown   Source = iota // no position: changes are ordered by Kafka offset only
	SourceBinlog                  // MySQL, MariaDB: source.file, source.pos, source.row
	SourcePostgres                // PostgreSQL: source.sequence (last commit LSN), source.lsn
	SourceSQLServer               // SQL Server: source.commit_lsn, change_lsn, event_serial_no
)

func (s Source) String() string {
	switch s {
	case SourceBinlog:
		return "binlog (file, pos, row)"
	case SourcePostgres:
		return "PostgreSQL LSN (last commit, lsn)"
	case SourceSQLServer:
		return "SQL Server LSN (commit_lsn, change_lsn, event_serial_no)"
	}
	return "unknown"
}

// Encoding is how a column's values are written in the JSON of the events,
// which the column type alone leaves open (a timestamp may be a number of
// milliseconds or an ISO string, a decimal a string or a number).
type Encoding uint8

// The encodings.
const (
	EncUnknown       Encoding = iota
	EncNumber                 // JSON number
	EncString                 // JSON string
	EncBool                   // JSON true/false
	EncStruct                 // JSON object or array
	EncDecimalBase64          // Connect Decimal in precise mode: base64 two's-complement bytes
)

// Column is one column of a table.
type Column struct {
	Name     string // the source field name
	Type     change.Type
	Key      bool
	Encoding Encoding
	// MaxBytes is the VARCHAR length in bytes, when the source declares
	// one (Debezium's column.propagate.source.type parameters, enum
	// values); 0 means unknown.
	MaxBytes int
}

// Table is what the generator knows of one source table: learned from the
// latest records of its topic by Inspect.
type Table struct {
	Name      string // target table name
	Topic     string
	Connector string // source.connector, e.g. mysql
	Source    Source
	// ValueSchemas and KeySchemas say whether values and keys carry the
	// JsonConverter's {"schema":…,"payload":…} wrapper.
	ValueSchemas bool
	KeySchemas   bool
	Columns      []Column
	// Key names the primary key columns, in key order.
	Key []string
	// Warnings describe what the generated SQL cannot do for this table
	// (e.g. decimals in precise mode).
	Warnings []string
}

// KeyColumns returns the primary key columns, in key order.
func (t *Table) KeyColumns() []Column {
	var out []Column
	for _, k := range t.Key {
		for _, c := range t.Columns {
			if c.Name == k {
				out = append(out, c)
			}
		}
	}
	return out
}

// maxVarchar is Redshift's longest VARCHAR, in bytes.
const maxVarchar = 65535

// maxPrecision is Redshift's largest DECIMAL precision.
const maxPrecision = 38

// columnType renders a column's SQL type.
func (d Dialect) columnType(c Column) string {
	t := c.Type
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
		return "REAL"
	case change.KindFloat64:
		return "DOUBLE PRECISION"
	case change.KindDecimal:
		if exactDecimal(t) {
			return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
		}
		if c.Encoding == EncStruct {
			return d.superType()
		}
		return "VARCHAR(128)" // the exact digits; declare decimal(p,s) for a DECIMAL
	case change.KindString:
		return fmt.Sprintf("VARCHAR(%d)", varcharBytes(c))
	case change.KindUUID:
		return "VARCHAR(36)"
	case change.KindBytes:
		return d.varbyteType()
	case change.KindDate:
		return "DATE"
	case change.KindTime:
		return "TIME"
	case change.KindTimeTZ:
		return "TIMETZ"
	case change.KindTimestamp:
		return "TIMESTAMP"
	case change.KindTimestampTZ:
		return "TIMESTAMPTZ"
	case change.KindInterval:
		if c.Encoding == EncString {
			return "VARCHAR(64)" // ISO-8601 duration
		}
		return "BIGINT" // microseconds
	}
	return d.superType() // JSON, geometry, lists, unknown
}

// exactDecimal reports whether a decimal type fits Redshift's DECIMAL.
func exactDecimal(t change.Type) bool {
	return t.Precision > 0 && t.Precision <= maxPrecision && t.Scale >= 0 && t.Scale <= t.Precision
}

func varcharBytes(c Column) int {
	if c.MaxBytes > 0 && c.MaxBytes < maxVarchar {
		return c.MaxBytes
	}
	return maxVarchar
}

// compression picks a column's Redshift encoding, as the recipe does: AZ64
// for numbers, dates and timestamps, ZSTD for text, BYTEDICT for columns
// declared low-cardinality, RAW for sort key columns and for the types
// neither AZ64 nor ZSTD is documented for.
func (d Dialect) compression(c Column, lowCardinality, sortKey bool) (string, error) {
	if sortKey {
		return "raw", nil
	}
	typ := d.columnType(c)
	switch {
	case isAZ64(typ):
		if lowCardinality {
			return "bytedict", nil
		}
		return "az64", nil
	case len(typ) > 7 && typ[:7] == "VARCHAR":
		if lowCardinality {
			return "bytedict", nil
		}
		return "zstd", nil
	case lowCardinality && (typ == "REAL" || typ == "DOUBLE PRECISION"):
		return "bytedict", nil
	case lowCardinality:
		return "", fmt.Errorf("column %s: BYTEDICT does not support %s", c.Name, typ)
	case typ == d.superType():
		return "lzo", nil
	}
	return "raw", nil // BOOLEAN, REAL, DOUBLE PRECISION, TIME, TIMETZ, VARBYTE
}

func isAZ64(typ string) bool {
	switch typ {
	case "SMALLINT", "INTEGER", "BIGINT", "DATE", "TIMESTAMP", "TIMESTAMPTZ":
		return true
	}
	return len(typ) > 8 && typ[:8] == "DECIMAL("
}

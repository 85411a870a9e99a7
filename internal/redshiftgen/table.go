package redshiftgen

import (
	"fmt"

	"github.com/cdcsync/cdcsync/internal/change"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
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

// columnType renders a column's SQL type.
func (d Dialect) columnType(c Column) string {
	t := c.Type
	if typ, ok := rs.ScalarType(t); ok {
		return typ
	}
	switch t.Kind {
	case change.KindDecimal:
		if c.Encoding == EncStruct {
			return d.superType()
		}
		return rs.InexactDecimal // the exact digits; declare decimal(p,s) for a DECIMAL
	case change.KindString:
		return fmt.Sprintf("VARCHAR(%d)", varcharBytes(c))
	case change.KindBytes:
		return d.varbyteType()
	case change.KindInterval:
		if c.Encoding == EncString {
			return "VARCHAR(64)" // ISO-8601 duration
		}
		return "BIGINT" // microseconds
	}
	return d.superType() // JSON, geometry, lists, unknown
}

func varcharBytes(c Column) int {
	if c.MaxBytes > 0 && c.MaxBytes < rs.MaxVarcharBytes {
		return c.MaxBytes
	}
	return rs.MaxVarcharBytes
}

// compression picks a column's Redshift encoding (rs.Encoding): RAW for
// sort key columns, BYTEDICT for columns declared low-cardinality, else by
// type.
func compression(c Column, lowCardinality, sortKey bool) (string, error) {
	enc, err := rs.Encoding(Redshift.columnType(c), sortKey, lowCardinality)
	if err != nil {
		return "", fmt.Errorf("column %s: %w", c.Name, err)
	}
	return enc, nil
}

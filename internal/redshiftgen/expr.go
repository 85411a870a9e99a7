package redshiftgen

import (
	"fmt"
	"strconv"

	"github.com/cdcsync/cdcsync/internal/change"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// This file turns Debezium's JSON encodings into typed SQL expressions,
// built from the dialect's few primitives (json, scalar, parseJSON, …).

// envelope returns the path of the Debezium envelope in the view's parsed
// value: payload.payload with JsonConverter schemas, payload without.
func envelope(t *Table) jpath {
	p := jpath{base: "m.payload"}
	if t.ValueSchemas {
		p = p.child("payload")
	}
	return p
}

// recordKey returns the path of the record key's fields.
func recordKey(t *Table) jpath {
	p := jpath{base: "m.key_payload"}
	if t.KeySchemas {
		p = p.child("payload")
	}
	return p
}

// columnExpr reads a column: key columns from the record key (a tombstone
// has nothing else), the others from the after image.
func (d Dialect) columnExpr(t *Table, c Column) string {
	if c.Key {
		return d.valueExpr(recordKey(t).field(c.Name), c)
	}
	return d.valueExpr(envelope(t).child("after").field(c.Name), c)
}

// valueExpr converts the JSON value at p to the column's SQL type.
func (d Dialect) valueExpr(p jpath, c Column) string {
	typ := d.columnType(c)
	t := c.Type
	switch t.Kind {
	case change.KindBool:
		switch c.Encoding {
		case EncNumber: // MySQL TINYINT(1) declared boolean
			return "(" + d.scalar(p, "SMALLINT") + " <> 0)"
		case EncString:
			return d.scalar(p, "VARCHAR(5)") + "::BOOLEAN"
		}
		return d.scalar(p, "BOOLEAN")
	case change.KindInt16, change.KindInt32, change.KindInt64, change.KindFloat32, change.KindFloat64:
		if c.Encoding == EncString {
			return d.scalar(p, "VARCHAR(64)") + "::" + typ
		}
		return d.scalar(p, typ)
	case change.KindDecimal:
		return d.decimalExpr(p, c, typ)
	case change.KindString:
		if c.Encoding == EncString || c.Encoding == EncUnknown {
			return d.scalar(p, typ)
		}
		return d.serializeJSON(d.json(p)) + "::" + typ
	case change.KindUUID:
		return d.scalar(p, typ)
	case change.KindBytes:
		return d.fromBase64(d.scalar(p, "VARCHAR(65535)"))
	case change.KindDate:
		if c.Encoding == EncString {
			return d.scalar(p, "VARCHAR(32)") + "::DATE"
		}
		return "(TIMESTAMP 'epoch' + " + d.scalar(p, "INTEGER") + " * INTERVAL '1 day')::DATE"
	case change.KindTimestamp:
		if c.Encoding == EncString {
			return d.scalar(p, "VARCHAR(64)") + "::TIMESTAMP"
		}
		return epoch(d.scalar(p, "BIGINT"), t.Unit)
	case change.KindTimestampTZ:
		if c.Encoding == EncNumber {
			return "(" + epoch(d.scalar(p, "BIGINT"), change.UnitMillis) + " AT TIME ZONE 'UTC')"
		}
		return d.scalar(p, "VARCHAR(64)") + "::TIMESTAMPTZ"
	case change.KindTime:
		if c.Encoding == EncString {
			return d.scalar(p, "VARCHAR(32)") + "::TIME"
		}
		return epoch(d.scalar(p, "BIGINT"), t.Unit) + "::TIME"
	case change.KindTimeTZ:
		return d.scalar(p, "VARCHAR(32)") + "::TIMETZ"
	case change.KindInterval:
		return d.scalar(p, typ)
	case change.KindJSON:
		if c.Encoding == EncString { // io.debezium.data.Json: JSON text in a string
			return d.parseJSON(d.scalar(p, "VARCHAR(65535)"))
		}
	}
	return d.json(p)
}

// decimalExpr reads a decimal. The string form (decimal.handling.mode
// =string) and numbers (=double, or schemaless) cast directly. Precise mode
// (base64 two's-complement bytes) has no reasonable Redshift SQL decoding:
// the generator warns, and the cast below fails on such values instead of
// writing wrong ones.
func (d Dialect) decimalExpr(p jpath, c Column, typ string) string {
	switch {
	case c.Encoding == EncStruct: // VariableScaleDecimal {"scale":…,"value":…}, kept as is
		return d.json(p)
	case c.Encoding == EncNumber && rs.ExactDecimal(c.Type):
		return d.scalar(p, typ)
	case c.Encoding == EncNumber:
		return d.serializeJSON(d.json(p)) + "::" + typ
	case rs.ExactDecimal(c.Type):
		return d.scalar(p, "VARCHAR(128)") + "::" + typ
	}
	return d.scalar(p, typ)
}

// epoch converts an integer count of units since the epoch (or since
// midnight, for times) into a TIMESTAMP, exactly: whole seconds and the
// remainder separately, since Redshift's DATEADD takes a 32-bit interval.
// Integer division truncates toward zero in both dialects, so negative
// values come out right.
func epoch(n string, u change.Unit) string {
	switch u {
	case change.UnitMillis:
		return fmt.Sprintf("(TIMESTAMP 'epoch' + (%[1]s / 1000) * INTERVAL '1 second' + (%[1]s %% 1000) * INTERVAL '1 millisecond')", n)
	case change.UnitNanos:
		return fmt.Sprintf("(TIMESTAMP 'epoch' + (%[1]s / 1000000000) * INTERVAL '1 second' + ((%[1]s %% 1000000000) / 1000) * INTERVAL '1 microsecond')", n)
	}
	return fmt.Sprintf("(TIMESTAMP 'epoch' + (%[1]s / 1000000) * INTERVAL '1 second' + (%[1]s %% 1000000) * INTERVAL '1 microsecond')", n)
}

// opExpr reads the envelope's op; a NULL value is a tombstone, a delete.
func (d Dialect) opExpr(t *Table) string {
	return "CASE WHEN m.kafka_value IS NULL THEN 'd' ELSE " + d.scalar(envelope(t).field("op"), "VARCHAR(16)") + " END"
}

// sourceTsExpr reads source.ts_ms as a TIMESTAMP.
func (d Dialect) sourceTsExpr(t *Table) string {
	return epoch(d.scalar(envelope(t).child("source").field("ts_ms"), "BIGINT"), change.UnitMillis)
}

// positionWidth is the length of the position strings positionExpr builds.
const positionWidth = 64

// positionExpr renders the event's source position as a string whose
// order is the source's order: fixed-width zero-padded numbers, compared as
// text, in the order the source compares them.
//
//	binlog      file number (mysql-bin.000003 → 3) / pos / row
//	PostgreSQL  last committed LSN (source.sequence[0], else lsn) / lsn
//	SQL Server  commit_lsn / change_lsn / event_serial_no (fixed-width hex already)
func (d Dialect) positionExpr(t *Table) string {
	src := envelope(t).child("source")
	number := func(field string) string { return d.scalar(src.field(field), "BIGINT") + "::VARCHAR(20)" }
	pad := func(text string, width int) string { return "LPAD(" + text + ", " + strconv.Itoa(width) + ", '0')" }
	switch t.Source {
	case SourceBinlog:
		file := "COALESCE(" + d.trailingDigits(d.scalar(src.field("file"), "VARCHAR(255)")) + ", '0')"
		row := "COALESCE(" + d.scalar(src.field("row"), "BIGINT") + ", 0)::VARCHAR(20)"
		return pad(file, 10) + " || '/' || " + pad(number("pos"), 20) + " || '/' || " + pad(row, 10)
	case SourcePostgres:
		lastCommit := d.firstArrayElement(d.scalar(src.field("sequence"), "VARCHAR(256)"))
		commit := "COALESCE(NULLIF(NULLIF(" + lastCommit + ", ''), 'null'), " + number("lsn") + ")"
		return pad(commit, 20) + " || '/' || " + pad(number("lsn"), 20)
	case SourceSQLServer:
		commit := d.scalar(src.field("commit_lsn"), "VARCHAR(32)")
		change := "COALESCE(" + d.scalar(src.field("change_lsn"), "VARCHAR(32)") + ", '')"
		serial := "COALESCE(" + d.scalar(src.field("event_serial_no"), "BIGINT") + ", 0)::VARCHAR(20)"
		return commit + " || '/' || " + change + " || '/' || " + pad(serial, 10)
	}
	return "CAST(NULL AS VARCHAR(" + strconv.Itoa(positionWidth) + "))"
}

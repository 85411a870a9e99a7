package redshift

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Dialect is Redshift's dialect for sqlapply. Its Redshift knowledge —
// types, encodings, distribution and sort keys — is the shared one in
// warehouse/redshift/dialect; with the target rs.PostgreSQL (compatibility
// mode) it renders the few Redshift-only constructs as PostgreSQL's, for the
// conformance suite.
type Dialect struct {
	schema string
	sql    rs.Target
}

// compat reports compatibility mode (PostgreSQL standing in for Redshift).
func (d *Dialect) compat() bool { return d.sql == rs.PostgreSQL }

var (
	_ sqlapply.Dialect        = (*Dialect)(nil)
	_ sqlapply.TableOptioner  = (*Dialect)(nil)
	_ sqlapply.ColumnOptioner = (*Dialect)(nil)
)

// Name names the warehouse.
func (d *Dialect) Name() string {
	if d.compat() {
		return "Redshift (PostgreSQL compatibility mode)"
	}
	return "Redshift"
}

// Schema is the target schema.
func (d *Dialect) Schema() string { return d.schema }

// Identifiers says how Redshift takes names: it lowercases them (quoted too, unless
// enable_case_sensitive_identifier is set) and takes at most 127 bytes.
// Compatibility mode lowercases too, within PostgreSQL's 63 bytes.
func (d *Dialect) Identifiers() warehouse.Identifiers {
	ids := warehouse.Identifiers{Warehouse: "Redshift", MaxBytes: rs.MaxIdentifierBytes, CaseInsensitive: true, Lowercase: true}
	if d.compat() {
		ids.MaxBytes = 63
	}
	return ids
}

// Now is the transaction's start time (SYSDATE in Redshift).
func (d *Dialect) Now() string { return d.sql.Now() }

// SQLType renders a type in Redshift's dialect.
func (d *Dialect) SQLType(t change.Type) string {
	if typ, ok := rs.ScalarType(t); ok {
		return typ
	}
	switch t.Kind {
	case change.KindDecimal:
		return rs.InexactDecimal // no fixed scale, or wider than Redshift's 38 digits: exact text
	case change.KindBytes:
		return d.sql.BytesType(rs.MaxVarbyte)
	case change.KindJSON, change.KindGeometry, change.KindList:
		return d.sql.Super()
	case change.KindInterval:
		return "VARCHAR(100)"
	}
	return rs.MaxVarchar
}

// Columns reads a table's columns from information_schema.
func (d *Dialect) Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, d.schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		var typ string
		var length, prec, scale sql.NullInt64
		if err := rows.Scan(&c.Name, &typ, &length, &prec, &scale); err != nil {
			return nil, err
		}
		c.Type = d.parseType(typ, prec.Int64, scale.Int64)
		switch {
		case c.Type.Kind == change.KindUnknown:
			c.SQL = typ
		case c.Type.Kind == change.KindString && length.Valid:
			// Our own UUID and interval columns are VARCHARs of their own
			// lengths: keep the length, so they compare equal.
			c.SQL = fmt.Sprintf("VARCHAR(%d)", length.Int64)
		default:
			c.SQL = d.SQLType(c.Type)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func (d *Dialect) parseType(typ string, prec, scale int64) change.Type {
	switch strings.ToLower(typ) {
	case "boolean":
		return change.Bool
	case "smallint":
		return change.Int16
	case "integer":
		return change.Int32
	case "bigint":
		return change.Int64
	case "real":
		return change.Float32
	case "double precision":
		return change.Float64
	case "numeric":
		if prec == 0 {
			return change.DecimalType(0, 0)
		}
		return change.DecimalType(int(prec), int(scale))
	case "character varying", "character", "text":
		return change.String
	case "binary varying", "varbyte", "bytea":
		return change.Bytes
	case "date":
		return change.Date
	case "time without time zone":
		return change.TimeType(change.UnitMicros)
	case "time with time zone":
		return change.TimeTZ
	case "timestamp without time zone":
		return change.TimestampType(change.UnitMicros)
	case "timestamp with time zone":
		return change.TimestampTZ
	case "super", "jsonb", "json":
		return change.JSON
	}
	return change.Type{}
}

// PrimaryKey reads a table's primary key from information_schema.
func (d *Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT k.column_name FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name
			AND k.table_schema = c.table_schema AND k.table_name = c.table_name
		WHERE c.table_schema = $1 AND c.table_name = $2 AND c.constraint_type = 'PRIMARY KEY'
		ORDER BY k.ordinal_position`, d.schema, table)
}

// AddColumn adds a column (Redshift has no IF NOT EXISTS; the catalog was
// read just before).
func (d *Dialect) AddColumn(table string, c warehouse.Column) string {
	return "ALTER TABLE " + table + " ADD COLUMN " + sqltext.Ident(c.Name) + " " + c.SQL
}

// AlterColumn widens a column. Redshift alters no column type but VARCHAR
// lengths, so other widenings copy the column: add a column of the new
// type, copy, drop the old one, rename — in one implicit transaction (the
// statements go as one simple-protocol query). The column moves to the end
// of the table; key columns (distribution and sort keys) cannot be dropped,
// so widening them fails and their events become dead letters.
func (d *Dialect) AlterColumn(table string, c warehouse.Column) (string, bool) {
	col := sqltext.Ident(c.Name)
	if strings.HasPrefix(c.SQL, "VARCHAR(") && !d.compat() {
		return "ALTER TABLE " + table + " ALTER COLUMN " + col + " TYPE " + c.SQL, true
	}
	tmp := sqltext.Ident(c.Name + "__cdc_widen")
	return "ALTER TABLE " + table + " ADD COLUMN " + tmp + " " + c.SQL + "; " +
		"UPDATE " + table + " SET " + tmp + " = " + col + "; " +
		"ALTER TABLE " + table + " DROP COLUMN " + col + "; " +
		"ALTER TABLE " + table + " RENAME COLUMN " + tmp + " TO " + col, true
}

// TableOptions distributes on the first key column and sorts on the key.
func (d *Dialect) TableOptions(key []string) string {
	q := make([]string, len(key))
	for i, k := range key {
		q[i] = sqltext.Ident(k)
	}
	return d.sql.KeyDistribution(" ", q)
}

// ColumnOptions picks a column's encoding (rs.Encoding): raw for the sort
// key's first column, else by type.
func (d *Dialect) ColumnOptions(key []string, name string, t change.Type) string {
	if d.compat() {
		return ""
	}
	enc, err := rs.Encoding(d.SQLType(t), len(key) > 0 && key[0] == name, false)
	if err != nil { // only low-cardinality columns can fail
		return ""
	}
	return d.sql.Encode(enc)
}

// Staging stages SUPER as text parsed with JSON_PARSE and VARBYTE as hex
// decoded with FROM_HEX.
func (d *Dialect) Staging(sqlType string) (string, string) {
	text := rs.MaxVarchar
	if d.compat() {
		text = "TEXT"
	}
	switch sqlType {
	case d.sql.Super():
		return text, d.sql.JSONParse("%s")
	case d.sql.BytesType(rs.MaxVarbyte):
		return text, d.sql.FromHex("%s")
	}
	return sqlType, "%s"
}

// Bind renders values the simple protocol quotes as literals Redshift
// casts to the column type.
func (d *Dialect) Bind(v any, t change.Type, sqlType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if inf, ok := v.(change.Infinity); ok {
		return nil, fmt.Errorf("%v: Redshift has no infinite dates or timestamps", inf)
	}
	if val, ok, err := sqlapply.BindScalar(v, t, sqlType); ok {
		return val, err
	}
	switch t.Kind {
	case change.KindDecimal:
		dec, ok := change.AsDecimal(v)
		if !ok {
			break
		}
		if t.Precision > 0 {
			var err error
			if dec, err = dec.Fit(t.Precision, t.Scale); err != nil {
				return nil, err
			}
		}
		return dec.String(), nil
	case change.KindString, change.KindUUID, change.KindTimeTZ, change.KindJSON, change.KindGeometry:
		switch x := v.(type) {
		case string:
			// Redshift's (and PostgreSQL's) text cannot hold NUL: refused
			// here, it is a dead letter with a reason rather than a batch
			// the warehouse fails and cdcsync bisects.
			if i := strings.IndexByte(x, 0); i >= 0 {
				return nil, fmt.Errorf("text with a NUL character (at byte %d) does not fit %s: Redshift text cannot hold NUL", i, sqlType)
			}
			if (t.Kind == change.KindJSON || t.Kind == change.KindGeometry) && strings.Contains(x, `\u0000`) {
				return nil, fmt.Errorf(`JSON text with \u0000 does not fit %s`, sqlType)
			}
			return x, nil
		case change.Decimal:
			return x.String(), nil
		}
	case change.KindBytes:
		if b, ok := v.([]byte); ok {
			return hex.EncodeToString(b), nil
		}
	case change.KindDate:
		if ts, ok := v.(time.Time); ok {
			return ts.Format("2006-01-02"), nil
		}
	case change.KindTimestamp:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC().Format("2006-01-02 15:04:05.999999"), nil
		}
	case change.KindTimestampTZ:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC().Format("2006-01-02 15:04:05.999999+00"), nil
		}
	case change.KindTime:
		if tod, ok := v.(change.TimeOfDay); ok {
			ns := int64(tod)
			return fmt.Sprintf("%02d:%02d:%02d.%06d", ns/3600e9, ns/60e9%60, ns/1e9%60, ns/1e3%1e6), nil
		}
	case change.KindInterval:
		if iv, ok := v.(change.IntervalValue); ok {
			return fmt.Sprintf("%d months %d days %d microseconds", iv.Months, iv.Days, iv.Micros), nil
		}
	case change.KindList:
		if l, ok := v.([]any); ok {
			b, err := json.Marshal(l)
			if err != nil {
				return nil, err
			}
			return string(b), nil
		}
	}
	return nil, fmt.Errorf("a %T value does not fit %s", v, sqlType)
}

// maxParams bounds the parameters of one INSERT (the protocol's limit is
// 32767), and maxStatement its approximate size in bytes.
const (
	maxParams    = 30000
	maxStatement = 8 << 20
)

// BulkLoad inserts rows with multi-row INSERTs, in statements of bounded
// size, inside the transaction open on conn.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = sqltext.Ident(c)
	}
	head := "INSERT INTO " + sqltext.Ident(table) + " (" + strings.Join(q, ", ") + ") VALUES "
	for len(rows) > 0 {
		var b strings.Builder
		b.WriteString(head)
		var args []any
		size, n := 0, 0
		for n < len(rows) && (n+1)*len(cols) <= maxParams && size < maxStatement {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for i, v := range rows[n] {
				if i > 0 {
					b.WriteString(", ")
				}
				args = append(args, v)
				b.WriteString("$" + strconv.Itoa(len(args)))
				size += valueSize(v)
			}
			b.WriteByte(')')
			n++
		}
		if _, err := conn.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func valueSize(v any) int {
	if s, ok := v.(string); ok {
		return len(s) + 4
	}
	return 16
}

// Transient adds Redshift's serializable isolation violation (error 1023)
// to PostgreSQL's transient errors.
func (d *Dialect) Transient(err error) bool {
	return postgres.Transient(err) || (err != nil && strings.Contains(err.Error(), "Serializable isolation violation"))
}

// Rejected reports Redshift refusing a value; its SQLSTATEs follow
// PostgreSQL's.
func (d *Dialect) Rejected(err error) bool { return postgres.Rejected(err) }

// UniqueViolation reports a unique violation; its SQLSTATE follows
// PostgreSQL's (23505).
func (d *Dialect) UniqueViolation(err error) bool { return postgres.UniqueViolation(err) }

// Unsupported reports Redshift refusing a schema change, as PostgreSQL's
// SQLSTATEs say it (a distribution or sort key column cannot be dropped:
// 0A000).
func (d *Dialect) Unsupported(err error) bool { return postgres.Unsupported(err) }

// NewDialect returns the dialect for a schema (for tests and tools).
func NewDialect(schema string) *Dialect { return &Dialect{schema: schema, sql: rs.Redshift} }

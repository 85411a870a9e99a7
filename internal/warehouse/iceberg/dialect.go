package iceberg

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// KeysTable records each target table's key columns: Iceberg tables take
// no PRIMARY KEY, and DuckDB cannot set their identifier fields.
const KeysTable = warehouse.Prefix + "keys"

// Dialect is DuckDB's dialect on an Iceberg REST catalog: DuckDB's binding,
// appender and error classes, Iceberg's types, without key constraints.
// It does not embed duckdb.Dialect, whose landing tables need views.
type Dialect struct {
	Namespace string // the namespace (schema) cdcsync's tables live in
	duck      duckdb.Dialect
}

// What Iceberg implements.
var (
	_ sqlapply.Dialect           = Dialect{}
	_ sqlapply.Unkeyed           = Dialect{}
	_ sqlapply.DDLLocker         = Dialect{}
	_ sqlapply.StagingRecreating = Dialect{}
	_ sqlapply.LandingAhead      = Dialect{}
)

// Name names the warehouse.
func (Dialect) Name() string { return "Iceberg" }

// Schema is the catalog namespace.
func (d Dialect) Schema() string { return d.Namespace }

// Identifiers are DuckDB's.
func (d Dialect) Identifiers() warehouse.Identifiers {
	ids := d.duck.Identifiers()
	ids.Warehouse = "Iceberg"
	return ids
}

// SQLType renders a type as DuckDB's name of an Iceberg type. Iceberg
// (format version 2) has no 16-bit integers, which become INTEGER; no
// JSON, INTERVAL, TIME WITH TIME ZONE or nanosecond times and timestamps,
// which are kept exactly as text.
func (d Dialect) SQLType(t change.Type) string {
	switch t.Kind {
	case change.KindInt16:
		return "INTEGER"
	case change.KindJSON, change.KindGeometry, change.KindInterval, change.KindTimeTZ:
		return "VARCHAR"
	case change.KindTime, change.KindTimestamp:
		if t.Unit == change.UnitNanos {
			return "VARCHAR"
		}
	case change.KindList:
		if t.Elem == nil {
			return "VARCHAR"
		}
		return d.SQLType(*t.Elem) + "[]"
	}
	return d.duck.SQLType(t)
}

// Bind converts a value as DuckDB does for the DuckDB type, and values of
// types Iceberg lacks to their text.
func (d Dialect) Bind(v any, t change.Type, sqlType string) (any, error) {
	if sqlType == "VARCHAR" {
		switch t.Kind {
		case change.KindInterval:
			if iv, ok := v.(change.IntervalValue); ok {
				return fmt.Sprintf("%d months %d days %d microseconds", iv.Months, iv.Days, iv.Micros), nil
			}
		case change.KindTimeTZ:
			if s, ok := v.(string); ok {
				return s, nil
			}
		case change.KindTimestamp:
			if ts, ok := v.(time.Time); ok {
				return ts.UTC().Format("2006-01-02 15:04:05.999999999"), nil
			}
			if inf, ok := v.(change.Infinity); ok {
				return inf.String(), nil
			}
		}
	}
	return d.duck.Bind(v, t, d.duck.SQLType(t))
}

// Staging is DuckDB's.
func (d Dialect) Staging(sqlType string) (string, string) { return d.duck.Staging(sqlType) }

// Now is the transaction's timestamp.
func (d Dialect) Now() string { return d.duck.Now() }

// RecreatesStaging says staging tables are DuckDB temporary tables (see
// sqlapply.StagingRecreating).
func (Dialect) RecreatesStaging() {}

// CreatesLandingAhead says landing tables are created before the batch's
// transaction: DuckDB's iceberg extension cannot commit a table created and
// written in one transaction (see sqlapply.LandingAhead).
func (Dialect) CreatesLandingAhead() {}

// Columns reads a table's columns from the catalog. DuckDB lists a table
// it has not loaded yet with a placeholder column: pragma_table_info loads
// it.
func (d Dialect) Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error) {
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2`, d.Namespace, table).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	qualified := sqltext.Ident(d.Namespace) + "." + sqltext.Ident(table)
	rows, err := conn.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(`+sqltext.Literal(qualified)+`) ORDER BY cid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		if err := rows.Scan(&c.Name, &c.SQL); err != nil {
			return nil, err
		}
		c.Type = duckdb.ParseType(c.SQL)
		if c.Type.Kind != change.KindUnknown {
			c.SQL = d.SQLType(c.Type)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// keysTable is the qualified keys table.
func (d Dialect) keysTable() string {
	return sqltext.Ident(d.Namespace) + "." + sqltext.Ident(KeysTable)
}

// RecordKey records a new table's key columns in the keys table, in the
// transaction creating the table (see DDLLock).
func (d Dialect) RecordKey(table string, key []string) []string {
	name := unqualify(table)
	stmts := []string{"DELETE FROM " + d.keysTable() + " WHERE table_name = " + sqltext.Literal(name)}
	if len(key) == 0 {
		return stmts
	}
	vals := make([]string, len(key))
	for i, k := range key {
		vals[i] = fmt.Sprintf("(%s, %d, %s)", sqltext.Literal(name), i+1, sqltext.Literal(k))
	}
	return append(stmts, "INSERT INTO "+d.keysTable()+" (table_name, key_position, column_name) VALUES "+strings.Join(vals, ", "))
}

// unqualify returns the table name of a quoted "schema"."table".
func unqualify(q string) string {
	i := strings.LastIndex(q, `."`)
	if i < 0 {
		return strings.ReplaceAll(strings.Trim(q, `"`), `""`, `"`)
	}
	return strings.ReplaceAll(strings.TrimSuffix(q[i+2:], `"`), `""`, `"`)
}

// PrimaryKey reads a table's key from the keys table, in key order.
func (d Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT column_name FROM `+d.keysTable()+`
		WHERE table_name = $1 ORDER BY key_position`, table)
}

// DDLLock makes cdcsync's DDL one Iceberg transaction: a table and its key
// (RecordKey) are committed together, never a table without its key. No
// lock statement is needed: a concurrent conflicting commit fails and is
// retried.
func (Dialect) DDLLock() string { return "SELECT 1" }

// AddColumn adds a column.
func (d Dialect) AddColumn(table string, c warehouse.Column) string {
	return d.duck.AddColumn(table, c)
}

// AlterColumn widens a column (Iceberg promotes int to long, float to
// double and widens a decimal's precision).
func (d Dialect) AlterColumn(table string, c warehouse.Column) (string, bool) {
	return d.duck.AlterColumn(table, c)
}

// BulkLoad appends rows to a staging table with DuckDB's appender.
func (d Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	return d.duck.BulkLoad(ctx, conn, table, cols, rows)
}

// Transient reports DuckDB's transient errors (among them a commit the
// catalog refused because a table changed meanwhile) and the REST catalog
// failing or unreachable.
func (d Dialect) Transient(err error) bool {
	if err == nil {
		return false
	}
	if d.duck.Transient(err) {
		return true
	}
	s := err.Error()
	for _, m := range []string{"Conflict_409", "status code (Internal", "status code (Service", "status code (Bad_Gateway",
		"status code (Gateway", "Too_Many_Requests", "Could not establish connection", "Connection refused", "Timeout was reached"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// Rejected reports DuckDB refusing a value.
func (d Dialect) Rejected(err error) bool { return d.duck.Rejected(err) }

// UniqueViolation never happens: Iceberg has no unique constraints.
func (d Dialect) UniqueViolation(err error) bool { return d.duck.UniqueViolation(err) }

// Unsupported reports Iceberg or DuckDB refusing a schema change.
func (d Dialect) Unsupported(err error) bool {
	if d.duck.Unsupported(err) {
		return true
	}
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "Cannot change type") || strings.Contains(s, "can't be altered to type") || strings.Contains(s, "not a valid Iceberg Type") ||
		strings.Contains(s, "Cannot change column type")
}

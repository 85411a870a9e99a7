// Package duckdb is the embedded warehouse: one DuckDB file.
//
// It is a sqlapply.Dialect: batches are bulk-loaded with DuckDB's appender
// into temporary staging tables and applied set-based in one transaction
// (see package sqlapply). DuckDB allows one writing process per file; the
// offsets' fencing still runs, so the contract is the same as on server
// warehouses.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Open opens (creating if needed) the DuckDB file at path and cdcsync's own
// tables in it.
//
// DuckDB settings can follow the path as a query (file.duckdb?threads=2).
// Unless the query sets memory_limit, it is opts.MemoryLimit (cdcsync's
// memory_limit gives DuckDB a share), else DefaultMemoryLimit: DuckDB's own
// default (80% of RAM) lets its buffer pool grow with the file, and
// cdcsync's memory should be bounded by its batches, not by the warehouse.
// Beyond its limit DuckDB spills to its temp_directory (by default
// PATH.tmp beside the file).
func Open(ctx context.Context, path string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	db, err := ConnectLimit(ctx, path, opts.MemoryLimit)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, Dialect{}, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("DuckDB file %s: %w", path, err)
	}
	return w, nil
}

// Connect opens (creating if needed) the DuckDB file at path, with the
// settings Open describes. Open is Connect and sqlapply.New with Dialect;
// a caller that needs the database too (the demo, tests) does the same.
func Connect(ctx context.Context, path string) (*sql.DB, error) {
	return ConnectLimit(ctx, path, 0)
}

// ConnectLimit is Connect with DuckDB's memory_limit set to limit bytes
// (0: DefaultMemoryLimit) and its threads to DefaultThreads, unless path's
// query sets them.
func ConnectLimit(ctx context.Context, path string, limit int64) (*sql.DB, error) {
	setting := DefaultMemoryLimit
	if limit > 0 {
		setting = fmt.Sprintf("%dKiB", max(limit>>10, 1))
	}
	dsn := withDefault(path, "memory_limit", setting)
	dsn = withDefault(dsn, "threads", strconv.Itoa(DefaultThreads()))
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("open DuckDB file %s: %w", path, sqltext.FirstLine(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open DuckDB file %s: %w", path, sqltext.FirstLine(err))
	}
	return db, nil
}

// DefaultThreads is DuckDB's thread count in cdcsync's process: half the
// cores. The other half decode the next batch while DuckDB applies this
// one, and a batch's statements are many and small, so DuckDB's own
// parallelism buys less than its scheduling costs: on 2 cores one thread
// applied the bench workload with ~30% less CPU than two, and each thread
// holds buffers beyond DuckDB's memory_limit.
func DefaultThreads() int { return max(1, runtime.NumCPU()/2) }

// withDefault adds key=value to a DuckDB path's query unless it sets key.
func withDefault(path, key, value string) string {
	if strings.Contains(path, key+"=") {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + key + "=" + value
}

// DefaultMemoryLimit bounds DuckDB's buffer pool in cdcsync's process.
const DefaultMemoryLimit = "1GB"

// Dialect is DuckDB's dialect.
type Dialect struct{}

// Name names the warehouse.
func (Dialect) Name() string { return "DuckDB" }

// Schema is DuckDB's default schema.
func (Dialect) Schema() string { return "main" }

// Identifiers says how DuckDB takes names: it keeps names of any length and their case, but
// compares them case-insensitively, quoted or not.
func (Dialect) Identifiers() warehouse.Identifiers {
	return warehouse.Identifiers{Warehouse: "DuckDB", CaseInsensitive: true}
}

// SQLType renders a type.
func (Dialect) SQLType(t change.Type) string { return sqlType(t) }

// BytesLiteral renders a string as a BLOB literal (DuckDB keeps landing
// schemas once: see sqlapply.SchemaEliding).
func (Dialect) BytesLiteral(s string) string { return "CAST(" + sqltext.Literal(s) + " AS BLOB)" }

// PayloadBytes renders a JSON column's text as BLOB: DuckDB keeps JSON
// text as given, so landing rows keep the payload once (see
// sqlapply.PayloadKeeping).
func (Dialect) PayloadBytes(expr string) string { return "encode(CAST(" + expr + " AS VARCHAR))" }

// TextJSON is JSON, which keeps its text.
func (Dialect) TextJSON() string { return "JSON" }

// KeepsPayload reports true: DuckDB landing stores keep the payload as JSON.
func (Dialect) KeepsPayload(context.Context, *sql.Conn, string) (bool, error) { return true, nil }

// RecreatesStaging says DuckDB keeps a temporary table's deleted rows, so
// staging tables are created afresh for each batch (see
// sqlapply.StagingRecreating).
func (Dialect) RecreatesStaging() {}

// Now is the transaction's timestamp.
func (Dialect) Now() string { return "now()" }

// Staging stages JSON and TIME_NS as text the appender can write.
func (Dialect) Staging(sqlType string) (string, string) {
	switch sqlType {
	case "JSON":
		return "VARCHAR", "CAST(%s AS JSON)"
	case "TIME_NS":
		return "VARCHAR", "CAST(%s AS TIME_NS)"
	}
	return sqlType, "%s"
}

// Columns reads a table's columns.
func (Dialect) Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		var raw string
		if err := rows.Scan(&c.Name, &raw); err != nil {
			return nil, err
		}
		c.Type = parseType(raw)
		c.SQL = raw
		if c.Type.Kind != change.KindUnknown {
			c.SQL = sqlType(c.Type)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// PrimaryKey reads a table's primary key.
func (Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT unnest(constraint_column_names) FROM duckdb_constraints()
		WHERE schema_name = 'main' AND table_name = $1 AND constraint_type = 'PRIMARY KEY'`, table)
}

// AddColumn adds a column.
func (Dialect) AddColumn(table string, c warehouse.Column) string {
	return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + sqltext.Ident(c.Name) + " " + c.SQL
}

// AlterColumn widens a column.
func (Dialect) AlterColumn(table string, c warehouse.Column) (string, bool) {
	return "ALTER TABLE " + table + " ALTER COLUMN " + sqltext.Ident(c.Name) + " SET DATA TYPE " + c.SQL, true
}

// Transient reports the file system failing under DuckDB — disk full, a
// read-only or unwritable directory, an I/O error — and transaction
// conflicts: DuckDB rolls the transaction back and stays usable, so the
// batch is retried until the fault clears. A database DuckDB invalidated
// after a fatal error is not transient: the process must stop.
func (Dialect) Transient(err error) bool {
	if err == nil {
		return false
	}
	if errorIs(err, duckdb.ErrorTypeFatal) {
		return false
	}
	if errorIs(err, duckdb.ErrorTypeIO, duckdb.ErrorTypePermission, duckdb.ErrorTypeInterrupt) {
		return true
	}
	s := err.Error()
	for _, m := range []string{"IO Error", "No space left on device", "Read-only file system", "Permission denied", "Failed to commit", "Conflict on"} {
		if strings.Contains(s, m) {
			return !strings.Contains(s, "database has been invalidated")
		}
	}
	return false
}

// Rejected reports DuckDB refusing a value: a conversion, invalid input,
// a value out of range, a constraint.
func (Dialect) Rejected(err error) bool {
	return errorIs(err, duckdb.ErrorTypeConversion, duckdb.ErrorTypeInvalidInput, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeConstraint)
}

// UniqueViolation reports a duplicate key: a constraint error about a
// primary key or unique constraint (DuckDB has no finer error code).
func (Dialect) UniqueViolation(err error) bool {
	var de *duckdb.Error
	if !errors.As(err, &de) || de.Type != duckdb.ErrorTypeConstraint {
		return false
	}
	return strings.Contains(de.Msg, "Duplicate key") || strings.Contains(de.Msg, "violates primary key") ||
		strings.Contains(de.Msg, "violates unique constraint")
}

// Unsupported reports DuckDB refusing a schema change (the type of a
// primary-key column cannot change).
func (Dialect) Unsupported(err error) bool {
	return errorIs(err, duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypeDependency) ||
		(errorIs(err, duckdb.ErrorTypeBinder) && strings.Contains(err.Error(), "Cannot change the type"))
}

// errorIs reports whether err is a DuckDB error of one of the types.
func errorIs(err error, types ...duckdb.ErrorType) bool {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return false
	}
	return slices.Contains(types, de.Type)
}

// Bind converts a value for the appender.
func (Dialect) Bind(v any, t change.Type, sqlType string) (any, error) { return bind(v, t, sqlType) }

// BulkLoad appends rows with DuckDB's appender, inside the transaction open
// on conn. Rows holding values the appender cannot write (±infinity,
// 24:00:00) are inserted as text DuckDB casts.
func (Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	var special [][]any
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		a, err := duckdb.NewAppender(c, "temp", "main", table)
		if err != nil {
			return err
		}
		args := make([]driver.Value, len(cols))
	rows:
		for _, r := range rows {
			for i, v := range r {
				if _, ok := v.(specialValue); ok {
					special = append(special, r)
					continue rows
				}
				args[i] = v
			}
			if err := a.AppendRow(args...); err != nil {
				a.Close()
				return err
			}
		}
		return a.Close()
	})
	if err != nil {
		return sqltext.FirstLine(err)
	}
	if len(special) == 0 {
		return nil
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	ins := "INSERT INTO " + sqltext.Ident(table) + " VALUES (" + strings.Join(ph, ", ") + ")"
	for _, r := range special {
		args := make([]any, len(r))
		for i, v := range r {
			if args[i], err = asText(v); err != nil {
				return err
			}
		}
		if _, err := conn.ExecContext(ctx, ins, args...); err != nil {
			return sqltext.FirstLine(err)
		}
	}
	return nil
}

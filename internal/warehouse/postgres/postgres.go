// Package postgres is the PostgreSQL warehouse (and the base of the
// Redshift one).
//
// It is a sqlapply.Dialect over pgx: each batch is bulk-loaded with COPY
// (binary) into temporary staging tables and applied set-based — DELETE …
// USING the staged keys, INSERT … SELECT the upserts — with the offsets in
// the same transaction. The target schema comes from the DSN's `schema`
// parameter (default public) and is created if missing. Lost connections,
// serialization failures and server restarts are transient: the pipeline
// retries the whole batch on a new connection.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Open connects to the PostgreSQL database a postgres:// DSN names. The
// DSN's `schema` parameter selects the target schema (default public).
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ *sqlapply.Warehouse, err error) {
	// Drivers echo the DSN in their errors.
	defer func() { err = redact.Error(err, dsn) }()
	db, d, err := Connect(ctx, dsn, opts.Schema)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, d, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), cause(err))
	}
	return w, nil
}

// Connect connects to the database a postgres:// DSN names and creates the
// target schema: schema if not empty, else the DSN's. Open is Connect and
// sqlapply.New; a caller that needs the database too (tests) does the
// same.
func Connect(ctx context.Context, dsn, schema string) (_ *sql.DB, _ *Dialect, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	connStr, dsnSchema, err := SplitSchema(dsn)
	if err != nil {
		return nil, nil, err
	}
	if schema == "" {
		schema = dsnSchema
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	// Describe every statement instead of caching descriptions: cdcsync
	// alters and recreates tables as schemas evolve, and a cached
	// description (COPY's column types among them) would go stale.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), cause(err))
	}
	if err := createSchema(ctx, db, schema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("target %s: create schema %s: %w", redact.DSN(dsn), schema, cause(err))
	}
	return db, &Dialect{schema: schema}, nil
}

// SplitSchema removes cdcsync's `schema` parameter from a DSN and returns
// it (default public).
func SplitSchema(dsn string) (string, string, error) {
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return "", "", fmt.Errorf("target: %w", err)
	}
	q := u.Query()
	schema := q.Get("schema")
	if schema == "" {
		schema = "public"
	}
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// cause shortens pgconn's connect errors to their cause.
func cause(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.Unwrap(ce)
	}
	return err
}

// Dialect is PostgreSQL's dialect.
type Dialect struct {
	schema string
}

// createSchema creates the schema under the DDL lock: CREATE SCHEMA IF NOT
// EXISTS fails in one of two sessions running it at once.
func createSchema(ctx context.Context, db *sql.DB, schema string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, ddlLock(schema)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqltext.Ident(schema)); err != nil {
		return err
	}
	return tx.Commit()
}

// ddlLock takes the transaction-scoped advisory lock that serializes
// cdcsync's DDL in one schema across sessions.
func ddlLock(schema string) string {
	return "SELECT pg_advisory_xact_lock(hashtext(" + sqltext.Literal("cdcsync ddl "+schema) + "))"
}

// DDLLock implements sqlapply.DDLLocker.
func (d *Dialect) DDLLock() string { return ddlLock(d.schema) }

// BeginSnapshot begins a REPEATABLE READ transaction (sqlapply.SnapshotBeginner).
func (d *Dialect) BeginSnapshot() string { return "BEGIN ISOLATION LEVEL REPEATABLE READ" }

// Name names the warehouse.
func (d *Dialect) Name() string { return "PostgreSQL" }

// Schema is the target schema.
func (d *Dialect) Schema() string { return d.schema }

// Identifiers says how PostgreSQL takes names: quoted names keep their case and are compared exactly;
// names over 63 bytes (NAMEDATALEN-1) would be silently truncated.
func (d *Dialect) Identifiers() warehouse.Identifiers {
	return warehouse.Identifiers{Warehouse: "PostgreSQL", MaxBytes: 63}
}

// BytesLiteral renders a string as a bytea literal (PostgreSQL keeps
// landing schemas once: see sqlapply.SchemaEliding).
func (d *Dialect) BytesLiteral(s string) string {
	return "convert_to(" + sqltext.Literal(s) + ", 'UTF8')"
}

// PayloadBytes renders a json column's text as bytea (sqlapply.PayloadKeeping).
func (d *Dialect) PayloadBytes(expr string) string {
	return "convert_to(CAST(" + expr + " AS text), 'UTF8')"
}

// TextJSON is json: landing stores keep the payload and headers as json,
// which keeps the text as given and only checks it, where jsonb parses it
// into a tree (several times the server's time per row) and would make the
// store keep the value's bytes beside it.
func (d *Dialect) TextJSON() string { return "json" }

// KeepsPayload reports whether a landing store's payload column is json;
// stores created before it was are jsonb.
func (d *Dialect) KeepsPayload(ctx context.Context, conn *sql.Conn, store string) (bool, error) {
	var typ string
	err := conn.QueryRowContext(ctx, `SELECT format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid JOIN pg_namespace n ON c.relnamespace = n.oid
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = 'payload' AND NOT a.attisdropped`, d.schema, store).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return typ == "json", err
}

// Now is the transaction's timestamp.
func (d *Dialect) Now() string { return "now()" }

// SQLType renders a type.
func (d *Dialect) SQLType(t change.Type) string { return sqlType(t) }

// Staging stages JSONB and TIMETZ as text (COPY writes them as text, cast
// on apply).
func (d *Dialect) Staging(sqlType string) (string, string) {
	switch sqlType {
	case "jsonb":
		return "text", "CAST(%s AS jsonb)"
	case "time with time zone":
		return "text", "CAST(%s AS time with time zone)"
	}
	return sqlType, "%s"
}

// Columns reads a table's columns from pg_attribute.
func (d *Dialect) Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid JOIN pg_namespace n ON c.relnamespace = n.oid
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, d.schema, table)
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

// PrimaryKey reads a table's primary key, in key order.
func (d *Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT a.attname
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, d.schema, table)
}

// AddColumn adds a column.
func (d *Dialect) AddColumn(table string, c warehouse.Column) string {
	return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + sqltext.Ident(c.Name) + " " + c.SQL
}

// AlterColumn widens a column.
func (d *Dialect) AlterColumn(table string, c warehouse.Column) (string, bool) {
	return "ALTER TABLE " + table + " ALTER COLUMN " + sqltext.Ident(c.Name) + " TYPE " + c.SQL, true
}

// Bind converts a value for COPY.
func (d *Dialect) Bind(v any, t change.Type, sqlType string) (any, error) { return bind(v, t, sqlType) }

// BulkLoad copies rows into a staging table with COPY, inside the
// transaction open on conn.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	return copyRows(ctx, conn, pgx.Identifier{table}, cols, rows)
}

func copyRows(ctx context.Context, conn *sql.Conn, table pgx.Identifier, cols []string, rows [][]any) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("not a pgx connection")
		}
		n, err := c.Conn().CopyFrom(ctx, table, cols, pgx.CopyFromRows(rows))
		if err != nil {
			return err
		}
		if int(n) != len(rows) {
			return fmt.Errorf("COPY wrote %d of %d rows", n, len(rows))
		}
		return nil
	})
}

// CreateIndex indexes the key ids of staging and moves tables
// (sqlapply.Indexer).
func (d *Dialect) CreateIndex(name, table, column string) string {
	if name == "" {
		return "CREATE INDEX ON " + table + " (" + column + ")"
	}
	return "CREATE INDEX IF NOT EXISTS " + name + " ON " + table + " (" + column + ")"
}

// BulkLoadTable copies rows straight into a table of the schema, inside
// the transaction open on conn (sqlapply.DirectLoader).
func (d *Dialect) BulkLoadTable(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error {
	return copyRows(ctx, conn, pgx.Identifier{schema, table}, cols, rows)
}

// Transient reports errors worth retrying: lost connections, server
// shutdowns and restarts, serialization failures and deadlocks.
func (d *Dialect) Transient(err error) bool { return Transient(err) }

// Transient is Dialect.Transient, shared with the Redshift dialect.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "40001",               // serialization_failure
			pe.Code == "40P01",               // deadlock_detected
			pe.Code == "57P01",               // admin_shutdown
			pe.Code == "57P02",               // crash_shutdown
			pe.Code == "57P03",               // cannot_connect_now
			pe.Code == "57014",               // query_canceled (statement_timeout)
			pe.Code == "55P03",               // lock_not_available (lock_timeout)
			strings.HasPrefix(pe.Code, "53"), // insufficient resources: disk full, out of memory, too many connections
			strings.HasPrefix(pe.Code, "58"): // system error: I/O
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "broken pipe") || strings.Contains(s, "driver: bad connection")
}

// Rejected reports PostgreSQL refusing a value: a data exception (class
// 22: invalid text, out of range, bad datetime), an integrity constraint
// (class 23) or a program limit (class 54: a key too large to index).
func (d *Dialect) Rejected(err error) bool { return Rejected(err) }

// Rejected is Dialect.Rejected, shared with the Redshift dialect.
func Rejected(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") || strings.HasPrefix(pe.Code, "54")
}

// UniqueViolation reports a unique or primary-key violation (23505).
func (d *Dialect) UniqueViolation(err error) bool { return UniqueViolation(err) }

// UniqueViolation is Dialect.UniqueViolation, shared with the Redshift
// dialect.
func UniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Unsupported reports PostgreSQL refusing a schema change: a feature it
// does not support (0A000), a type it cannot convert (42804), a
// definition it refuses (42P16) or a dependent object (2BP01).
func (d *Dialect) Unsupported(err error) bool { return Unsupported(err) }

// Unsupported is Dialect.Unsupported, shared with the Redshift dialect.
func Unsupported(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "0A000", "42804", "42P16", "2BP01":
		return true
	}
	return false
}

var (
	numericRE = regexp.MustCompile(`^numeric\((\d+),(\d+)\)$`)
	varcharRE = regexp.MustCompile(`^character varying\(\d+\)$|^character varying$|^character\(\d+\)$`)
	timeRE    = regexp.MustCompile(`^(time|timestamp)(\(\d\))? (with|without) time zone$`)
)

// sqlType renders a column type in PostgreSQL's dialect, exactly as
// format_type prints it, so that catalog types compare as strings.
func sqlType(t change.Type) string {
	switch t.Kind {
	case change.KindBool:
		return "boolean"
	case change.KindInt16:
		return "smallint"
	case change.KindInt32:
		return "integer"
	case change.KindInt64:
		return "bigint"
	case change.KindFloat32:
		return "real"
	case change.KindFloat64:
		return "double precision"
	case change.KindDecimal:
		if t.Precision == 0 || t.Precision > 1000 {
			return "numeric"
		}
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case change.KindString:
		return "text"
	case change.KindBytes:
		return "bytea"
	case change.KindDate:
		return "date"
	case change.KindTime:
		return "time without time zone"
	case change.KindTimeTZ:
		return "time with time zone"
	case change.KindTimestamp:
		return "timestamp without time zone"
	case change.KindTimestampTZ:
		return "timestamp with time zone"
	case change.KindInterval:
		return "interval"
	case change.KindJSON, change.KindGeometry:
		return "jsonb"
	case change.KindUUID:
		return "uuid"
	case change.KindList:
		if t.Elem == nil || t.Elem.Kind == change.KindList {
			return "jsonb"
		}
		return sqlType(*t.Elem) + "[]"
	}
	return "text"
}

// parseType reads a format_type rendering back.
func parseType(s string) change.Type {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "[]") {
		return change.ListType(parseType(strings.TrimSuffix(s, "[]")))
	}
	if m := numericRE.FindStringSubmatch(s); m != nil {
		p, _ := strconv.Atoi(m[1])
		sc, _ := strconv.Atoi(m[2])
		return change.DecimalType(p, sc)
	}
	if varcharRE.MatchString(s) {
		return change.String
	}
	if m := timeRE.FindStringSubmatch(s); m != nil {
		switch {
		case m[1] == "time" && m[3] == "without":
			return change.TimeType(change.UnitMicros)
		case m[1] == "time":
			return change.TimeTZ
		case m[3] == "without":
			return change.TimestampType(change.UnitMicros)
		default:
			return change.TimestampTZ
		}
	}
	switch s {
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
		return change.DecimalType(0, 0)
	case "text":
		return change.String
	case "bytea":
		return change.Bytes
	case "date":
		return change.Date
	case "interval":
		return change.Interval
	case "jsonb", "json":
		return change.JSON
	case "uuid":
		return change.UUID
	}
	return change.Type{}
}

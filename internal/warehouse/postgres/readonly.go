package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// OpenReadOnly connects to the PostgreSQL database a postgres:// DSN names
// for running untrusted statements with QueryReadOnly, and returns the
// DSN's schema. Sessions default to read-only transactions too; settings
// are further runtime parameters every session gets.
func OpenReadOnly(ctx context.Context, dsn string, settings map[string]string) (_ *sql.DB, schema string, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	connStr, schema, err := SplitSchema(dsn)
	if err != nil {
		return nil, "", err
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, "", fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	for k, v := range settings {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	db, err := ReadOnlyDB(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("target %s: %w", redact.DSN(dsn), cause(err))
	}
	return db, schema, nil
}

// ReadOnlyDB opens a pool for QueryReadOnly over a pgx configuration
// (Redshift's too). Statements go through the extended protocol, which
// takes exactly one statement: "SELECT 1; COMMIT; DROP TABLE t" is an
// error, not three statements, so nothing can end the read-only
// transaction QueryReadOnly runs them in.
func ReadOnlyDB(ctx context.Context, cfg *pgx.ConnConfig, opts ...stdlib.OptionOpenDB) (*sql.DB, error) {
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	db := stdlib.OpenDB(*cfg, opts...)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// QueryReadOnly runs one statement in a READ ONLY transaction, with the
// schema first on the search path, and calls fn with its rows. The
// transaction is rolled back, never committed.
func QueryReadOnly(ctx context.Context, db *sql.DB, schema, query string, fn func(*sql.Rows) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return cause(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return cause(err)
	}
	defer tx.Rollback() //nolint:errcheck // nothing to keep
	if _, err := tx.ExecContext(ctx, "SET LOCAL search_path TO "+sqltext.Ident(schema)); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		return err
	}
	return rows.Err()
}

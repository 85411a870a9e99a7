// Package redshift is the Amazon Redshift warehouse.
//
// Redshift speaks PostgreSQL's wire protocol but not all of its SQL: no
// ON CONFLICT, no COPY FROM STDIN, SUPER instead of jsonb, VARBYTE instead
// of bytea, VARCHAR lengths in bytes, no type changes but VARCHAR growth,
// and distribution and sort keys. This dialect keeps sqlapply's portable
// path — stage, DELETE … USING, INSERT … SELECT, fenced offsets — and loads
// staging tables with multi-row INSERTs over the simple query protocol.
// Target tables get DISTKEY on the first primary-key column, SORTKEY on the
// primary key, and az64/zstd column encodings as Redshift recommends.
//
// Authentication: a password in the DSN, or IAM (`?iam=true`): temporary
// credentials from GetClusterCredentials (provisioned clusters) or
// Redshift Serverless GetCredentials, fetched before every connection with
// the AWS SDK's default credential chain.
//
// Redshift's SQL — types, encodings, DISTKEY/SORTKEY, reserved words —
// lives in warehouse/redshift/dialect, shared with the SQL generator
// (redshiftgen); this package holds the sqlapply Dialect built on it
// (dialect.go), the connection (this file) and the DSN and IAM
// authentication (iam.go).
//
// The conformance suite runs this dialect against PostgreSQL (OpenCompat)
// with the few Redshift-only constructs mapped to PostgreSQL's by the
// shared dialect's PostgreSQL target, the same mapping the generator's
// tests use; what only a real cluster can check — distribution styles,
// encodings, IAM — is covered by tests of the generated statements.
package redshift

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Open connects to the Redshift database a redshift:// DSN names:
//
//	redshift://USER:PASSWORD@HOST:5439/DB?schema=S
//	redshift://USER@HOST:5439/DB?iam=true[&cluster_id=ID][&region=R]          provisioned, IAM
//	redshift://HOST:5439/DB?iam=true&workgroup=WG[&region=R]                  Serverless, IAM
//
// sslmode defaults to require.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ *sqlapply.Warehouse, err error) {
	// Drivers echo the DSN in their errors.
	defer func() { err = redact.Error(err, dsn) }()
	cfg, schema, before, err := parseDSN(ctx, dsn, false)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg, before, &Dialect{schema: schemaOr(opts.Schema, schema), sql: rs.Redshift}, dsn, opts, log)
}

// OpenCompat opens a PostgreSQL database (postgres:// DSN) with the
// Redshift dialect in compatibility mode: the conformance suite's way of
// running Redshift's SQL where a cluster is not available.
func OpenCompat(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	db, d, err := ConnectCompat(ctx, dsn, opts.Schema)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, d, db, opts, log)
	if err != nil {
		return nil, redact.Error(fmt.Errorf("target %s: %w", redact.DSN(dsn), err), dsn)
	}
	return w, nil
}

// ConnectCompat is OpenCompat's connection and dialect, for a caller that
// needs the database too (tests): schema if not empty, else the DSN's.
func ConnectCompat(ctx context.Context, dsn, schema string) (_ *sql.DB, _ *Dialect, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	connStr, dsnSchema, err := postgres.SplitSchema(dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	d := &Dialect{schema: schemaOr(schema, dsnSchema), sql: rs.PostgreSQL}
	db, err := connect(ctx, cfg, nil, d, dsn)
	return db, d, err
}

func schemaOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func open(ctx context.Context, cfg *pgx.ConnConfig, before beforeConnect, d *Dialect, dsn string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	db, err := connect(ctx, cfg, before, d, dsn)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, d, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	return w, nil
}

// connect opens the database and creates the dialect's schema.
func connect(ctx context.Context, cfg *pgx.ConnConfig, before beforeConnect, d *Dialect, dsn string) (*sql.DB, error) {
	var dbOpts []stdlib.OptionOpenDB
	if before != nil {
		dbOpts = append(dbOpts, stdlib.OptionBeforeConnect(before))
	}
	db := stdlib.OpenDB(*cfg, dbOpts...)
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqltext.Ident(d.schema)); err != nil {
		db.Close()
		return nil, fmt.Errorf("target %s: create schema %s: %w", redact.DSN(dsn), d.schema, err)
	}
	return db, nil
}

// OpenReadOnly connects to the cluster a redshift:// DSN names for running
// untrusted statements with postgres.QueryReadOnly (one statement, in a
// READ ONLY transaction), and returns the DSN's schema.
func OpenReadOnly(ctx context.Context, dsn string) (_ *sql.DB, schema string, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	cfg, schema, before, err := parseDSN(ctx, dsn, false)
	if err != nil {
		return nil, "", err
	}
	var opts []stdlib.OptionOpenDB
	if before != nil {
		opts = append(opts, stdlib.OptionBeforeConnect(before))
	}
	db, err := postgres.ReadOnlyDB(ctx, cfg, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	return db, schema, nil
}

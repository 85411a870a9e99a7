package warehouse

import (
	"context"
	"database/sql"
	"log/slog"
)

// Kind describes one kind of warehouse: which DSNs name it and how to open
// one. Each warehouse package exports exactly one Kind (duckdb.Kind,
// postgres.Kind, …) and package target lists them; run, query and verify
// find a DSN's warehouse there and nowhere else, so adding a warehouse is
// one package plus one line in that list.
type Kind struct {
	// Name is the kind's short name: "duckdb", "postgres", "redshift".
	Name string

	// Embedded says the warehouse runs inside cdcsync's process (DuckDB),
	// and so takes a share of its memory (Options.MemoryLimit).
	Embedded bool

	// DSNs describes the DSNs the kind claims, for help and errors ("a
	// path ending in .duckdb").
	DSNs string

	// Claims reports whether dsn names a warehouse of this kind. The
	// kinds of the registry claim disjoint sets of DSNs.
	Claims func(dsn string) bool

	// Open opens the warehouse for writing, creating cdcsync's own
	// tables. Its errors never show the DSN's password.
	Open func(ctx context.Context, dsn string, opts Options, log *slog.Logger) (Warehouse, error)

	// OpenReadOnly opens the warehouse for reading its tables and running
	// untrusted statements (cdcsync query, verify): nothing done through
	// the handle can write. settings are session settings every
	// connection gets where the warehouse has sessions (PostgreSQL's
	// runtime parameters, such as timezone); others ignore them. Nil when
	// the warehouse cannot be read that way.
	OpenReadOnly func(ctx context.Context, dsn string, settings map[string]string) (*ReadOnly, error)

	// Redact returns dsn with its secrets masked, for messages.
	Redact func(dsn string) string

	// InstanceID returns the static consumer-group member ID a DSN
	// implies, or "" for none. A warehouse with one writer per DSN (a
	// DuckDB file) derives one, so that a restarted writer gets its
	// partitions back at once. Nil means none.
	InstanceID func(dsn string) string
}

// ReadOnly is a read-only handle on a warehouse's database.
type ReadOnly struct {
	// DB is the database, locked down so that nothing can write through
	// it.
	DB *sql.DB
	// Schema is the schema of cdcsync's tables, "" where the warehouse has
	// a single default one.
	Schema string
	// Query runs one untrusted statement read-only and calls fn with its
	// rows.
	Query func(ctx context.Context, db *sql.DB, schema, stmt string, fn func(*sql.Rows) error) error
}

// Run runs one untrusted statement through the handle and calls fn with
// its rows.
func (r *ReadOnly) Run(ctx context.Context, stmt string, fn func(*sql.Rows) error) error {
	if r.Query != nil {
		return r.Query(ctx, r.DB, r.Schema, stmt, fn)
	}
	rows, err := r.DB.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		return err
	}
	return rows.Err()
}

// Close closes the handle's database.
func (r *ReadOnly) Close() error { return r.DB.Close() }

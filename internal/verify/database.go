package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// ErrNoTable means a table does not exist.
var ErrNoTable = errors.New("no such table")

// Database is one side of a comparison: a source database, or a target
// cdcsync writes. A table is the set of its rows keyed by primary key.
//
// Implementations serve one goroutine and run one query at a time: Rows
// returns before the next call starts. Every method honours ctx.
type Database interface {
	// Tables lists the base tables of the database (or schema), sorted;
	// a target leaves cdcsync's own tables (_cdc_*) out.
	Tables(ctx context.Context) ([]string, error)

	// Describe returns a table's columns (a target's _cdc_* columns left
	// out) and primary key. A missing table is an error wrapping
	// ErrNoTable.
	Describe(ctx context.Context, table string) (*Table, error)

	// Count returns the table's number of rows.
	Count(ctx context.Context, t *Table) (int64, error)

	// Rows calls fn with each row of t whose key lies in r, in key order
	// (text keys ordered by their bytes), stopping after limit rows when
	// limit > 0. A row holds the values of the columns cols (indexes into
	// t.Columns) in their families' normal form; fn must not keep row
	// beyond the call. An error from fn stops the scan and is returned.
	//
	// r's bounds hold key values in the normal form of keyFams, the
	// families of the side they were read from, aligned with t.Key; the
	// database converts them to its own key columns' types.
	Rows(ctx context.Context, t *Table, cols []int, r Range, keyFams []Family, limit int, fn func(row []any) error) error

	// Close releases the connection.
	Close() error
}

// Range is a range of primary keys: After < key <= UpTo, compared as
// tuples in key order. A nil bound is unbounded.
type Range struct {
	After, UpTo []any
}

// Open opens the source database a DSN names:
//
//	mysql://USER:PASS@HOST:PORT/DB                 MySQL or MariaDB (also mariadb://)
//	postgres://USER:PASS@HOST:PORT/DB[?schema=S]   PostgreSQL, schema S (default public)
//
// Errors never show the DSN's password, even when a driver echoes it.
func Open(ctx context.Context, dsn string) (_ Database, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	switch {
	case strings.HasPrefix(dsn, "mysql://"), strings.HasPrefix(dsn, "mariadb://"):
		return openMySQL(ctx, dsn)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	}
	return nil, fmt.Errorf("%q is not a mysql:// or postgres:// DSN", redact.DSN(dsn))
}

// OpenTarget opens the target a DSN names, as the registry (package
// target) opens it read-only: a DuckDB file, or a PostgreSQL schema
// (postgres://…[?schema=S]). Only the opening is shared with cdcsync: the
// target's tables are read with verify's own catalog queries and type
// mapping (targetReaders), so that a mistake in cdcsync's mapping shows up
// as a difference instead of being repeated here.
//
// Errors never show the DSN's password, even when a driver echoes it.
func OpenTarget(ctx context.Context, dsn string) (_ Database, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	k, ok := target.Lookup(dsn)
	if !ok {
		return nil, target.Check(dsn)
	}
	reader, ok := targetReaders[k.Name]
	if !ok {
		return nil, fmt.Errorf("%q: verify cannot read %s targets", target.Redact(dsn), k.Name)
	}
	h, err := target.OpenReadOnly(ctx, dsn, pgSettings)
	if err != nil {
		return nil, sqltext.FirstLine(err)
	}
	d, err := reader(ctx, h)
	if err != nil {
		h.Close()
		return nil, err
	}
	return &sqlDatabase{db: h.DB, d: d}, nil
}

// targetReaders are verify's own readers of each kind of target
// (warehouse.Kind.Name), independent of the warehouse's package on purpose:
// verify checks cdcsync's type mapping rather than reusing it. A kind
// missing here cannot be verified.
var targetReaders = map[string]func(ctx context.Context, h *warehouse.ReadOnly) (dialect, error){
	"duckdb":   func(context.Context, *warehouse.ReadOnly) (dialect, error) { return duckDialect{}, nil },
	"ducklake": func(context.Context, *warehouse.ReadOnly) (dialect, error) { return duckDialect{lake: true}, nil },
	"postgres": func(ctx context.Context, h *warehouse.ReadOnly) (dialect, error) {
		if err := pgSchemaExists(ctx, h.DB, h.Schema); err != nil {
			return nil, fmt.Errorf("PostgreSQL: %w", err)
		}
		return pgDialect{schema: h.Schema}, nil
	},
}

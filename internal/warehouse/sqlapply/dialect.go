// Package sqlapply applies batches to SQL warehouses. It holds everything
// the warehouses share — the catalog of target tables, schema evolution, the
// staging and set-based apply of each batch, landing rows, dead letters,
// truncate marks and fenced offsets, all in one transaction — and asks a
// Dialect for what differs: type names, value binding, bulk loading, a few
// statements, and which errors are transient.
//
// The SQL it writes is portable across DuckDB, PostgreSQL and Redshift:
// `$n` parameters, DELETE … USING, UPDATE … FROM, INSERT … SELECT,
// INSERT … WHERE NOT EXISTS, DROP TABLE IF EXISTS, CREATE TEMP TABLE. A new
// warehouse is added by implementing Dialect in a package of its own and
// passing the conformance suite in warehouse/warehousetest.
package sqlapply

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Dialect is what one SQL warehouse supplies.
type Dialect interface {
	// Name names the warehouse in errors ("DuckDB", "PostgreSQL").
	Name() string
	// Schema is the schema (namespace) target and cdcsync tables live in.
	Schema() string
	// SQLType renders a column type.
	SQLType(t change.Type) string
	// Columns reads a table's columns from the catalog, in order, each with
	// its type read back as cdcsync's (change.KindUnknown for types cdcsync
	// never creates) and SQL equal to SQLType of that type when known. No
	// columns means no table.
	Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error)
	// Bind converts a change value for the bulk loader, for a column of
	// type t whose SQL type is sqlType. An error means the value does not
	// fit the column; its text is the dead-letter reason.
	Bind(v any, t change.Type, sqlType string) (any, error)
	// Staging returns the type a column of sqlType has in staging tables
	// and the expression turning a staging column (%s) into the target
	// type; "%s" when the types are the same.
	Staging(sqlType string) (stagingType, convert string)
	// Now is the expression of the transaction's timestamp.
	Now() string
	// PrimaryKey reads a table's primary-key columns, in key order.
	PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error)
	// AddColumn and AlterColumn return the DDL adding a column and
	// widening one to c.SQL; ok is false when the warehouse cannot widen.
	// The DDL may be several statements separated by semicolons when the
	// dialect's driver runs them as one (simple query protocol).
	AddColumn(table string, c warehouse.Column) string
	AlterColumn(table string, c warehouse.Column) (stmt string, ok bool)
	// BulkLoad appends rows (values from Bind) to a staging table inside the
	// open transaction.
	BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error
	// Transient reports whether an error is the infrastructure failing in
	// a way worth retrying with the same batch: connection lost, server
	// restart, serialization failure or deadlock, lock timeout, disk full,
	// I/O error.
	Transient(err error) bool
	// Rejected reports whether an error is the warehouse refusing a value
	// (a data exception: invalid text, a number or date out of range, a
	// constraint). Only such an error may be blamed on a record; every
	// other non-transient error stops the pipeline.
	Rejected(err error) bool
	// UniqueViolation reports whether an error is a unique or primary-key
	// violation: a concurrent session inserted the same offsets row first
	// (the offsets are fenced), or created the same catalog entry (the DDL
	// is retried).
	UniqueViolation(err error) bool
	// Unsupported reports whether an error is the warehouse refusing a
	// schema change it cannot make (a type change of a key column, say):
	// the events needing it become dead letters.
	Unsupported(err error) bool
	// Identifiers says how the warehouse treats identifiers: their length
	// limit and whether it folds case. Every table and column name cdcsync
	// writes goes through it.
	Identifiers() warehouse.Identifiers
}

// TableOptioner is implemented by dialects that append options to CREATE
// TABLE of target and landing tables (Redshift: DISTKEY, SORTKEY).
type TableOptioner interface {
	TableOptions(key []string) string
}

// Unkeyed is implemented by dialects whose tables take no PRIMARY KEY or
// UNIQUE constraint (DuckLake). cdcsync's tables are created without them
// (the offsets stay fenced: see writeOffsets), and a new target table's key
// is recorded by the statements RecordKey returns, run right after its
// CREATE TABLE, where the dialect's PrimaryKey reads it back.
type Unkeyed interface {
	RecordKey(table string, key []string) []string
}

// DDLLocker is implemented by dialects that serialize cdcsync's DDL across
// sessions (PostgreSQL: a transaction-scoped advisory lock), because
// CREATE … IF NOT EXISTS is not safe against a concurrent session creating
// the same table. DDLLock returns the statement taking the lock inside the
// open transaction; the lock is released when it ends. Dialects without it
// retry a DDL collision instead.
type DDLLocker interface {
	DDLLock() string
}

// SnapshotBeginner is implemented by dialects whose default transaction
// isolation does not read one snapshot (PostgreSQL's READ COMMITTED).
// BeginSnapshot returns the statement beginning a transaction that does,
// and fails on a write conflict with a concurrent transaction: a dead-letter
// replay checks a row's source position and replaces the row in one such
// transaction, so that a change committed meanwhile is never overwritten.
// DuckDB (snapshot isolation) and Redshift (serializable) need none.
type SnapshotBeginner interface {
	BeginSnapshot() string
}

// Indexer is implemented by dialects whose planner needs indexes on the
// key ids that join the staging tables with the moves table (PostgreSQL:
// temporary tables are never analyzed and the moves table is often young,
// so without them the planner picks nested loops that scan a whole table
// once per pending move). CreateIndex returns the statement creating an
// index on table (quoted) over column (quoted): unnamed when name is "",
// else named name (quoted) unless it exists.
type Indexer interface {
	CreateIndex(name, table, column string) string
}

// ColumnOptioner is implemented by dialects that append options to column
// definitions of new target tables (Redshift: ENCODE).
type ColumnOptioner interface {
	ColumnOptions(key []string, name string, t change.Type) string
}

// BindScalar binds the values every dialect binds alike — booleans,
// integers (range-checked against the column's integer type), floats — and
// reports whether t is one of those kinds; other kinds are the dialect's.
func BindScalar(v any, t change.Type, sqlType string) (val any, ok bool, err error) {
	switch t.Kind {
	case change.KindBool:
		if b, isBool := v.(bool); isBool {
			return b, true, nil
		}
	case change.KindInt16, change.KindInt32, change.KindInt64:
		if n, isInt := v.(int64); isInt {
			lo, hi := change.IntRange(t.Kind)
			if n < lo || n > hi {
				return nil, true, fmt.Errorf("%d does not fit %s", n, sqlType)
			}
			return n, true, nil
		}
	case change.KindFloat32, change.KindFloat64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			// An integer lands in a float column only when the float is
			// that integer (|n| ≤ 2^53 for double, 2^24 for float, or a
			// multiple of a power of two).
			f = float64(x)
			if t.Kind == change.KindFloat32 {
				f = float64(float32(f))
			}
			if f == math.Exp2(63) || int64(f) != x {
				return nil, true, fmt.Errorf("%d is not exact as %s", x, sqlType)
			}
		default:
			return nil, true, fmt.Errorf("a %T value does not fit %s", v, sqlType)
		}
		if t.Kind == change.KindFloat32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
			return nil, true, fmt.Errorf("%v is out of range for %s", f, sqlType)
		}
		return f, true, nil
	default:
		return nil, false, nil
	}
	return nil, true, fmt.Errorf("a %T value does not fit %s", v, sqlType)
}

// QueryStrings runs a query whose rows are one string each (catalog
// queries: key columns, names) and returns them in order.
func QueryStrings(ctx context.Context, conn *sql.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// StagingRecreating is a Dialect whose staging tables are dropped and
// created again for each batch instead of emptied with DELETE: DuckDB keeps
// a temporary table's deleted rows, so a staging table emptied that way
// grew with every batch (memory, spilled blocks, and the time to scan it).
type StagingRecreating interface {
	RecreatesStaging()
}

// LandingAhead is a Dialect that cannot write a table in the transaction
// creating it (DuckDB's iceberg extension): a missing landing table is
// created in a DDL transaction of its own before the batch's transaction
// instead of inside it.
type LandingAhead interface {
	CreatesLandingAhead()
}

package sqlapplytest

import (
	"context"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// DuckDB opens (creating if needed) a DuckDB file as duckdb.Open does,
// and its Inspector. The warehouse is closed when the test ends.
func DuckDB(t testing.TB, path string, opts warehouse.Options) (*sqlapply.Warehouse, *Inspector) {
	t.Helper()
	db, err := duckdb.ConnectLimit(context.Background(), path, opts.MemoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	return Open(t, db, duckdb.Dialect{}, opts)
}

// Postgres opens the PostgreSQL database a postgres:// DSN names as
// postgres.Open does (opts.Schema, else the DSN's), and its Inspector. The
// warehouse is closed when the test ends.
func Postgres(t testing.TB, dsn string, opts warehouse.Options) (*sqlapply.Warehouse, *Inspector) {
	t.Helper()
	db, d, err := postgres.Connect(context.Background(), dsn, opts.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return Open(t, db, d, opts)
}

// Inspected is a warehouse and its Inspector in one value, for tests that
// pass the warehouse to the pipeline and then read what it stored.
type Inspected struct {
	*sqlapply.Warehouse
	*Inspector
}

// OpenDuckDB is DuckDB as one value.
func OpenDuckDB(t testing.TB, path string, opts warehouse.Options) Inspected {
	t.Helper()
	wh, ins := DuckDB(t, path, opts)
	return Inspected{wh, ins}
}

// OpenPostgres is Postgres as one value.
func OpenPostgres(t testing.TB, dsn string, opts warehouse.Options) Inspected {
	t.Helper()
	wh, ins := Postgres(t, dsn, opts)
	return Inspected{wh, ins}
}

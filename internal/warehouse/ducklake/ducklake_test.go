package ducklake_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// extensions returns the directory of DuckDB's extensions the tests load
// offline (`svc.sh fetch duckdb-extensions`), or skips the test when there
// is none (fails it when CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS is set).
func extensions(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS")
	if dir == "" {
		if os.Getenv("CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS") != "" {
			t.Fatal("CDCSYNC_DUCKDB_EXTENSIONS is not set but CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS is")
		}
		t.Skip("CDCSYNC_DUCKDB_EXTENSIONS is not set; eval \"$(scripts/services/svc.sh env duckdb-extensions)\" after `svc.sh fetch duckdb-extensions`")
	}
	return dir
}

// fileDSN is the DSN of a DuckLake with its catalog in a DuckDB file under
// dir, its data in dir/data.
func fileDSN(t testing.TB, dir string, extra url.Values) string {
	q := url.Values{"data_path": {filepath.Join(dir, "data") + "/"}, "extension_directory": {extensions(t)}}
	for k, v := range extra {
		q[k] = v
	}
	return "ducklake:" + filepath.Join(dir, "catalog.duckdb") + "?" + q.Encode()
}

// open opens a DuckLake as ducklake.Open does, and its Inspector.
func open(t testing.TB, dsn string, opts warehouse.Options) (*sqlapply.Warehouse, *sqlapplytest.Inspector) {
	t.Helper()
	c, err := ducklake.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := ducklake.Connect(context.Background(), c, false)
	if err != nil {
		t.Fatal(err)
	}
	return sqlapplytest.Open(t, db, ducklake.Dialect{}, opts)
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		return open(t, fileDSN(t, filepath.Join(dir, name), nil), opts)
	})
}

// postgresCatalog returns a DSN-maker for DuckLakes whose catalogs live in
// the test PostgreSQL server, in database cdcsync_ducklake, each in a
// schema of its own (METADATA_SCHEMA), with data under dir.
func postgresCatalog(t *testing.T, dir string) func(name string) string {
	t.Helper()
	ext := extensions(t)
	base := pgtest.DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE cdcsync_ducklake"); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	libpq := fmt.Sprintf("postgres:dbname=cdcsync_ducklake host=%s port=%s user=%s password=%s", u.Hostname(), u.Port(), u.User.Username(), pw)
	run := time.Now().UnixNano() % 1_000_000_000
	return func(name string) string {
		q := url.Values{
			"data_path":           {filepath.Join(dir, name, "data") + "/"},
			"metadata_schema":     {fmt.Sprintf("lake_%s_%d", strings.ToLower(name), run)},
			"extension_directory": {ext},
		}
		return "ducklake:" + libpq + "?" + q.Encode()
	}
}

// TestConformancePostgresCatalog runs the suite on DuckLakes whose catalog
// is in PostgreSQL: the batch's snapshot is one PostgreSQL transaction.
func TestConformancePostgresCatalog(t *testing.T) {
	dsn := postgresCatalog(t, t.TempDir())
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		return open(t, dsn(name), opts)
	})
}

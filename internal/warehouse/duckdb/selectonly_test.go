package duckdb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
)

// TestSelectOnly_RefusesAllButQueries: the read-only Query of DuckLake and
// Iceberg runs a SELECT or an EXPLAIN and refuses anything else — a write,
// DDL, COPY … TO a file — before it runs, naming what is read-only.
func TestSelectOnly_RefusesAllButQueries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := duckdb.Connect(ctx, filepath.Join(dir, "s.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t AS SELECT 1 AS a`); err != nil {
		t.Fatal(err)
	}
	query := duckdb.SelectOnly("a DuckLake")
	for _, stmt := range []string{`SELECT a FROM t`, `EXPLAIN SELECT a FROM t`} {
		var n int
		err := query(ctx, db, "", stmt, func(rows *sql.Rows) error {
			for rows.Next() {
				n++
			}
			return nil
		})
		if err != nil || n == 0 {
			t.Errorf("%s: %d rows, %v; want it run", stmt, n, err)
		}
	}
	out := filepath.Join(dir, "out.csv")
	for _, stmt := range []string{`DELETE FROM t`, `CREATE TABLE u (b INT)`, `COPY t TO '` + out + `'`, `ATTACH '` + filepath.Join(dir, "x.duckdb") + `' AS x`} {
		err := query(ctx, db, "", stmt, func(*sql.Rows) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "a DuckLake is queried read-only") {
			t.Errorf("%s: %v; want it refused", stmt, err)
		}
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("t holds %d rows (%v) after the refused statements; want 1", rows, err)
	}
	if m, _ := filepath.Glob(out); len(m) != 0 {
		t.Fatalf("COPY … TO wrote %s", out)
	}
}

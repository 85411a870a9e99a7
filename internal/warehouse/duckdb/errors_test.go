package duckdb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
)

// TestDialect_UniqueViolationIsTyped: a duplicate key is recognised from
// DuckDB's typed constraint error — also through FirstLine and wrapping —
// and a text that merely mentions a duplicate key is not one (shared code
// used to match strings of both DuckDB and PostgreSQL).
func TestDialect_UniqueViolationIsTyped(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER CHECK (v > 0))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 1)`); err != nil {
		t.Fatal(err)
	}
	_, dup := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 2)`)
	_, check := db.ExecContext(ctx, `INSERT INTO t VALUES (2, -1)`)
	if dup == nil || check == nil {
		t.Fatalf("expected errors, got %v and %v", dup, check)
	}
	d := duckdb.Dialect{}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"duplicate key", dup, true},
		{"duplicate key, one line and wrapped", fmt.Errorf("write offsets: %w", sqltext.FirstLine(dup)), true},
		{"check constraint", check, false},
		{"text only", errors.New(`Constraint Error: Duplicate key "id: 1" violates primary key constraint`), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := d.UniqueViolation(c.err); got != c.want {
			t.Errorf("%s: UniqueViolation(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

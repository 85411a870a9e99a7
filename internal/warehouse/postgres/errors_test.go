package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/redshift"
)

// TestDialect_UniqueViolationIsTyped: a unique violation is recognised by
// its SQLSTATE (23505) in PostgreSQL's typed error — also through
// FirstLine and wrapping, and by the Redshift dialect — and a text that
// merely mentions the SQLSTATE is not one (shared code used to match
// strings of both DuckDB and PostgreSQL).
func TestDialect_UniqueViolationIsTyped(t *testing.T) {
	dsn := pgtest.DSN(t)
	connStr, _, err := postgres.SplitSchema(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", connStr)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // one session: the temporary table lives in it
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE uv (id INTEGER PRIMARY KEY, v INTEGER CHECK (v > 0))`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO uv VALUES (1, 1)`); err != nil {
		t.Fatal(err)
	}
	_, dup := conn.ExecContext(ctx, `INSERT INTO uv VALUES (1, 2)`)
	_, check := conn.ExecContext(ctx, `INSERT INTO uv VALUES (2, -1)`)
	if dup == nil || check == nil {
		t.Fatalf("expected errors, got %v and %v", dup, check)
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"duplicate key", dup, true},
		{"duplicate key, one line and wrapped", fmt.Errorf("write offsets: %w", sqltext.FirstLine(dup)), true},
		{"check constraint (23514)", check, false},
		{"text only", errors.New(`duplicate key value violates unique constraint "uv_pkey" (SQLSTATE 23505)`), false},
		{"nil", nil, false},
	}
	pg, rs := &postgres.Dialect{}, redshift.NewDialect("public")
	for _, c := range cases {
		if got := pg.UniqueViolation(c.err); got != c.want {
			t.Errorf("PostgreSQL %s: UniqueViolation(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
		if got := rs.UniqueViolation(c.err); got != c.want {
			t.Errorf("Redshift %s: UniqueViolation(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

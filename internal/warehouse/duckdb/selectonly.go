package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
)

// SelectOnly returns a warehouse.ReadOnly Query for a DuckDB that attaches
// another database read-only (a DuckLake, an Iceberg catalog; what names
// it in the refusal): it runs one untrusted statement (cdcsync query) only
// if it is a SELECT or an EXPLAIN. READ_ONLY and limited file access are
// not enough on their own: DuckDB lets COPY … TO write where it may read.
func SelectOnly(what string) func(ctx context.Context, db *sql.DB, schema, stmt string, fn func(*sql.Rows) error) error {
	return func(ctx context.Context, db *sql.DB, _ string, stmt string, fn func(*sql.Rows) error) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			pc, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return errors.New("not a DuckDB connection")
			}
			ps, err := pc.PrepareContext(ctx, stmt)
			if err != nil {
				return err
			}
			defer ps.Close()
			s, ok := ps.(*duckdbdrv.Stmt)
			if !ok {
				return errors.New("not a DuckDB statement")
			}
			typ, err := s.StatementType()
			if err != nil {
				return err
			}
			if typ != duckdbdrv.STATEMENT_TYPE_SELECT && typ != duckdbdrv.STATEMENT_TYPE_EXPLAIN {
				return fmt.Errorf("%s is queried read-only: only SELECT and EXPLAIN run", what)
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows, err := conn.QueryContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := fn(rows); err != nil {
			return err
		}
		return rows.Err()
	}
}

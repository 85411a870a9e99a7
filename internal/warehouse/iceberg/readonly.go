package iceberg

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
)

// QueryReadOnly runs one untrusted statement on an Iceberg catalog
// (cdcsync query, verify): only a SELECT or an EXPLAIN, on a catalog
// attached READ_ONLY. (The embedded DuckDB keeps its file access: the
// catalog's data files are read through it.)
func QueryReadOnly(ctx context.Context, db *sql.DB, _ string, stmt string, fn func(*sql.Rows) error) error {
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
			return fmt.Errorf("an Iceberg catalog is queried read-only: only SELECT and EXPLAIN run")
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

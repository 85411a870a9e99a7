package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Dump reads a table's columns as canonical text: timestamps as
// microseconds since the epoch, everything else as DuckDB's text, NULL as
// nil. Tests and verification compare warehouse contents with it.
func Dump(ctx context.Context, db *sql.DB, table string, cols []string, timestamps map[string]bool) ([][]*string, error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		if timestamps[c] {
			sel[i] = "epoch_us(" + q(c) + ")::VARCHAR"
		} else {
			sel[i] = q(c) + "::VARCHAR"
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+q(table))
	if err != nil {
		return nil, fmt.Errorf("dump %s: %w", table, err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

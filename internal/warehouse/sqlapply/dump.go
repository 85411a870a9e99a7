package sqlapply

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// Dump reads a table's columns as canonical text: timestamps as
// microseconds since the epoch, everything else as the warehouse's text
// cast, NULL as nil. A column the table does not have reads as NULL (no
// applied event ever carried it). Table and column names are the source's,
// mapped as Apply maps them. Tests compare warehouse contents with it.
func (w *Warehouse) Dump(ctx context.Context, table string, cols []string, timestamps map[string]bool) ([][]*string, error) {
	ids := w.d.Identifiers()
	table = ids.Table(table)
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	have, err := w.d.Columns(ctx, conn, table)
	conn.Close()
	if err != nil {
		return nil, err
	}
	exists := map[string]string{}
	for _, c := range have {
		exists[ids.Fold(c.Name)] = c.Name
	}
	text := w.d.SQLType(change.String)
	sel := make([]string, len(cols))
	for i, c := range cols {
		name, ok := exists[ids.Fold(ids.Column(c))]
		if !ok {
			sel[i] = "CAST(NULL AS " + text + ")"
		} else if timestamps[c] {
			sel[i] = "CAST(" + w.d.EpochMicros(sqltext.Ident(name)) + " AS " + text + ")"
		} else {
			sel[i] = "CAST(" + sqltext.Ident(name) + " AS " + text + ")"
		}
	}
	rows, err := w.db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+w.qualify(table))
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

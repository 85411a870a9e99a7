// Package sqlapplytest reads back what a SQL warehouse (sqlapply) stored:
// the warehousetest.Inspector of DuckDB, PostgreSQL and Redshift, and
// direct SQL access for tests that need more. Production types carry no
// test-only methods; tests keep the *sql.DB they built the warehouse on.
package sqlapplytest

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// Inspector reads a SQL warehouse's tables through its database.
type Inspector struct {
	DB      *sql.DB
	Dialect sqlapply.Dialect
}

var (
	_ warehousetest.Inspector        = (*Inspector)(nil)
	_ warehousetest.CatalogInspector = (*Inspector)(nil)
	_ warehousetest.MovesInspector   = (*Inspector)(nil)
)

// Open builds a warehouse on db with dialect d, closed when the test ends,
// and its Inspector.
func Open(t testing.TB, db *sql.DB, d sqlapply.Dialect, opts warehouse.Options) (*sqlapply.Warehouse, *Inspector) {
	t.Helper()
	wh, err := sqlapply.New(context.Background(), d, db, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return wh, &Inspector{DB: db, Dialect: d}
}

// Qualified is the quoted name of one of the warehouse's tables, as
// stored (not mapped).
func (i *Inspector) Qualified(table string) string {
	return sqltext.Ident(i.Dialect.Schema()) + "." + sqltext.Ident(table)
}

// Count runs a count query on the table (as stored) with an optional
// WHERE clause.
func (i *Inspector) Count(ctx context.Context, table, where string) (int, error) {
	q := "SELECT count(*) FROM " + i.Qualified(table)
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := i.DB.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return n, nil
}

// Identifiers is the dialect's.
func (i *Inspector) Identifiers() warehouse.Identifiers { return i.Dialect.Identifiers() }

// Rows reads a table's columns as text (see warehousetest.Inspector):
// timestamps are read as time values and rendered as microseconds since
// the epoch, everything else through the warehouse's text cast.
func (i *Inspector) Rows(ctx context.Context, table string, cols []string, timestamps map[string]bool) ([][]*string, error) {
	ids := i.Dialect.Identifiers()
	table = ids.Table(table)
	conn, err := i.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	have, err := i.Dialect.Columns(ctx, conn, table)
	conn.Close()
	if err != nil {
		return nil, err
	}
	exists := map[string]string{}
	for _, c := range have {
		exists[ids.Fold(c.Name)] = c.Name
	}
	text := i.Dialect.SQLType(change.String)
	sel := make([]string, len(cols))
	for n, c := range cols {
		name, ok := exists[ids.Fold(ids.Column(c))]
		switch {
		case !ok:
			sel[n] = "CAST(NULL AS " + text + ")"
		case timestamps[c]:
			sel[n] = sqltext.Ident(name)
		default:
			sel[n] = "CAST(" + sqltext.Ident(name) + " AS " + text + ")"
		}
	}
	rows, err := i.DB.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+i.Qualified(table))
	if err != nil {
		return nil, fmt.Errorf("rows of %s: %w", table, err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for n := range vals {
			ptrs[n] = &vals[n]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(cols))
		for n, v := range vals {
			var s string
			switch v := v.(type) {
			case nil:
				continue
			case time.Time:
				s = strconv.FormatInt(v.UnixMicro(), 10)
			case []byte:
				s = string(v)
			case string:
				s = v
			default:
				s = fmt.Sprint(v)
			}
			row[n] = &s
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// Ops reads cdcsync's op column by id.
func (i *Inspector) Ops(ctx context.Context, table string) (map[string]string, error) {
	ids := i.Dialect.Identifiers()
	text := i.Dialect.SQLType(change.String)
	rows, err := i.DB.QueryContext(ctx, "SELECT CAST("+sqltext.Ident(ids.Column("id"))+" AS "+text+"), "+sqltext.Ident(warehouse.ColOp)+
		" FROM "+i.Qualified(ids.Table(table)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, op string
		if err := rows.Scan(&id, &op); err != nil {
			return nil, err
		}
		out[id] = op
	}
	return out, rows.Err()
}

// DeadLetters reads the dead-letter table.
func (i *Inspector) DeadLetters(ctx context.Context) ([]warehousetest.DeadLetter, error) {
	rows, err := i.DB.QueryContext(ctx, "SELECT topic, kafka_partition, kafka_offset, reason FROM "+i.Qualified(warehouse.DeadLettersTable))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []warehousetest.DeadLetter
	for rows.Next() {
		var topic, reason sql.NullString
		var part sql.NullInt32
		var off sql.NullInt64
		if err := rows.Scan(&topic, &part, &off, &reason); err != nil {
			return nil, err
		}
		d := warehousetest.DeadLetter{Topic: topic.String, Partition: part.Int32, Reason: reason.String}
		if off.Valid {
			d.Offset = &off.Int64
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Landing reads a table's landing table.
func (i *Inspector) Landing(ctx context.Context, table string) ([]warehousetest.Landed, error) {
	ids := i.Dialect.Identifiers()
	landing := ids.Landing(ids.Table(table))
	rows, err := i.DB.QueryContext(ctx, "SELECT kafka_partition, kafka_offset, kafka_value FROM "+i.Qualified(landing))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []warehousetest.Landed
	for rows.Next() {
		var l warehousetest.Landed
		if err := rows.Scan(&l.Partition, &l.Offset, &l.Value); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// TableOf reads the target and landing table recorded for a topic.
func (i *Inspector) TableOf(ctx context.Context, topic string) (table, landing string, err error) {
	err = i.DB.QueryRowContext(ctx, `SELECT table_name, landing_table FROM `+i.Qualified(warehouse.TablesTable)+` WHERE topic = $1`, topic).Scan(&table, &landing)
	return table, landing, err
}

// PendingMoves counts the rows of the moves table.
func (i *Inspector) PendingMoves(ctx context.Context) (int, error) {
	return i.Count(ctx, sqlapply.MovesTable, "")
}

package ducklake

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Dialect is DuckDB's dialect on a DuckLake catalog: DuckDB's types,
// binding, appender and error classes, without key constraints.
type Dialect struct{ duckdb.Dialect }

// What DuckLake implements.
var (
	_ sqlapply.Dialect        = Dialect{}
	_ sqlapply.Unkeyed        = Dialect{}
	_ sqlapply.DDLLocker      = Dialect{}
	_ sqlapply.SchemaEliding  = Dialect{}
	_ sqlapply.PayloadKeeping = Dialect{}
)

// Name names the warehouse.
func (Dialect) Name() string { return "DuckLake" }

// Identifiers are DuckDB's.
func (d Dialect) Identifiers() warehouse.Identifiers {
	ids := d.Dialect.Identifiers()
	ids.Warehouse = "DuckLake"
	return ids
}

// SQLType is DuckDB's, but for intervals: BIGINT microseconds, a month
// 30.4375 days (Debezium's MicroDuration). DuckLake writes Parquet, whose
// INTERVAL has no sign and keeps milliseconds in 32 bits: DuckDB's writer
// refuses a negative interval, loses microseconds and silently wraps the
// milliseconds of an interval of more than 49 days. In DuckDB,
// to_microseconds(column) is the interval again.
func (d Dialect) SQLType(t change.Type) string {
	if t.Kind == change.KindInterval {
		return "BIGINT"
	}
	return d.Dialect.SQLType(t)
}

// Bind is DuckDB's, but an interval bound to a BIGINT column (SQLType) is
// its microseconds. The column's recorded type is BIGINT's once the table
// is read back, so the value decides.
func (d Dialect) Bind(v any, t change.Type, sqlType string) (any, error) {
	if iv, ok := v.(change.IntervalValue); ok && sqlType == "BIGINT" {
		return intervalMicros(iv)
	}
	return d.Dialect.Bind(v, t, sqlType)
}

// Microseconds per month (365.25/12 days) and per day.
const monthMicros, dayMicros = 2_629_800_000_000, 86_400_000_000

// intervalMicros is an interval's length in microseconds.
func intervalMicros(iv change.IntervalValue) (int64, error) {
	m, d := int64(iv.Months), int64(iv.Days)
	if m > math.MaxInt64/monthMicros/2 || m < math.MinInt64/monthMicros/2 || d > math.MaxInt64/dayMicros/2 || d < math.MinInt64/dayMicros/2 {
		return 0, fmt.Errorf("interval of %d months %d days does not fit in 64-bit microseconds", iv.Months, iv.Days)
	}
	base := m*monthMicros + d*dayMicros // within ±MaxInt64/2 each
	if (iv.Micros > 0 && base > math.MaxInt64-iv.Micros) || (iv.Micros < 0 && base < math.MinInt64-iv.Micros) {
		return 0, fmt.Errorf("interval of %d months %d days %d microseconds does not fit in 64-bit microseconds", iv.Months, iv.Days, iv.Micros)
	}
	return base + iv.Micros, nil
}

// keyComment is the comment marking the i-th (1-based) of n key columns.
func keyComment(i, n int) string { return fmt.Sprintf("cdcsync key %d of %d", i, n) }

// RecordKey marks a new table's key columns with comments (DuckLake keeps
// column comments in its catalog), where PrimaryKey reads them back.
func (Dialect) RecordKey(table string, key []string) []string {
	stmts := make([]string, len(key))
	for i, k := range key {
		stmts[i] = "COMMENT ON COLUMN " + table + "." + sqltext.Ident(k) + " IS " + sqltext.Literal(keyComment(i+1, len(key)))
	}
	return stmts
}

// PrimaryKey reads a table's key from its columns' comments, in key order.
func (Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1
		AND comment LIKE 'cdcsync key % of %'
		ORDER BY CAST(split_part(comment, ' ', 3) AS INTEGER)`, table)
}

// DDLLock makes cdcsync's DDL one DuckLake transaction: a table and its
// key comments (RecordKey) are committed as one snapshot, never a table
// without its key. DuckLake needs no lock statement: a concurrent
// conflicting commit fails and is retried.
func (Dialect) DDLLock() string { return "SELECT 1" }

// Unsupported reports DuckLake refusing a schema change (a type change it
// cannot promote) as well as DuckDB's.
func (d Dialect) Unsupported(err error) bool {
	if d.Dialect.Unsupported(err) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "Cannot change type of column")
}

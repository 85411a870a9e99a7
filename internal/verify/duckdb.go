package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// duckDialect reads the tables cdcsync keeps in schema main of a DuckDB
// file, or with lake of a DuckLake (attached as the default database),
// whose tables have no key constraints: cdcsync marks their key columns
// with comments "cdcsync key I of N".
type duckDialect struct{ lake bool }

func (d duckDialect) name() string {
	if d.lake {
		return "DuckLake"
	}
	return "DuckDB"
}

func (duckDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT table_name FROM information_schema.tables
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_type = 'BASE TABLE' AND NOT starts_with(table_name, '_cdc_')
		ORDER BY table_name`)
}

func (d duckDialect) describe(ctx context.Context, db *sql.DB, table string) (*Table, error) {
	t := &Table{Name: table}
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, err
		}
		if strings.HasPrefix(c.Name, warehouse.Prefix) {
			continue
		}
		c.Family = duckFamily(c.Type)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keysQuery := `SELECT unnest(constraint_column_names) FROM duckdb_constraints()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'`
	if d.lake {
		keysQuery = `SELECT column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? AND comment LIKE 'cdcsync key % of %'
		ORDER BY CAST(split_part(comment, ' ', 3) AS INTEGER)`
	}
	keys, err := queryStrings(ctx, db, keysQuery, table)
	if err != nil {
		return nil, err
	}
	return t, t.setKey(keys)
}

func duckFamily(typ string) Family {
	s := strings.ToUpper(strings.TrimSpace(typ))
	switch {
	case strings.HasSuffix(s, "]"):
		return FList
	case strings.HasPrefix(s, "DECIMAL"), strings.HasPrefix(s, "NUMERIC"):
		return FDecimal
	}
	switch s {
	case "BOOLEAN":
		return FBool
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER":
		return FInt
	case "UBIGINT", "HUGEINT", "UHUGEINT":
		return FDecimal
	case "FLOAT", "REAL":
		return FFloat32
	case "DOUBLE":
		return FFloat64
	case "VARCHAR":
		return FString
	case "BLOB":
		return FBytes
	case "DATE":
		return FDate
	case "TIME", "TIME_NS":
		return FTime
	case "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S":
		return FTimestamp
	case "TIMESTAMP WITH TIME ZONE":
		return FTimestampTZ
	case "INTERVAL":
		return FInterval
	case "JSON":
		return FJSON
	case "UUID":
		return FUUID
	}
	return FOther
}

func (duckDialect) tableRef(table string) string { return "main." + sqltext.Ident(table) }
func (duckDialect) quote(ident string) string    { return sqltext.Ident(ident) }

func (duckDialect) selectExpr(c Column) string {
	q := sqltext.Ident(c.Name)
	switch c.Family {
	case FDecimal, FUUID, FJSON, FTime, FOther:
		return "CAST(" + q + " AS VARCHAR)"
	case FList:
		return "CAST(to_json(" + q + ") AS VARCHAR)"
	}
	return q
}

func (duckDialect) keyExpr(c Column) string { return sqltext.Ident(c.Name) } // VARCHAR orders by bytes

func (duckDialect) param(c Column, _ int) string { return "CAST(? AS " + c.Type + ")" }

func (duckDialect) bind(v any, c Column) any {
	if b, ok := v.([]byte); ok {
		return b
	}
	return keyText(v, c)
}

// queryStrings runs a query of one text column.
func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// setKey sets the table's key from column names.
func (t *Table) setKey(names []string) error {
	t.Key = t.Key[:0]
	for _, n := range names {
		i := t.Column(n)
		if i < 0 {
			return fmt.Errorf("primary-key column %s is not a column", n)
		}
		t.Key = append(t.Key, i)
	}
	return nil
}

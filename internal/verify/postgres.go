package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// openPostgres opens postgres://USER:PASS@HOST:PORT/DB[?schema=S]: the
// base tables of schema S (default public). Other query parameters are
// pgx's.
func openPostgres(ctx context.Context, dsn string) (Database, error) {
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad PostgreSQL DSN: %w", err)
	}
	q := u.Query()
	schema := q.Get("schema")
	if schema == "" {
		schema = "public"
	}
	q.Del("schema")
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("bad PostgreSQL DSN %q: %w", redact.DSN(dsn), sqltext.FirstLine(err))
	}
	for k, v := range pgSettings {
		cfg.RuntimeParams[k] = v
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, sqltext.FirstLine(err))
	}
	if err := pgSchemaExists(ctx, db, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	return &sqlDatabase{db: db, d: pgDialect{schema: schema}}, nil
}

// pgSettings make PostgreSQL sessions read timestamps with time zone in
// UTC and intervals as ISO-8601, as normalize expects.
var pgSettings = map[string]string{"timezone": "UTC", "intervalstyle": "iso_8601", "datestyle": "ISO, YMD"}

// pgSchemaExists returns an error unless the schema exists.
func pgSchemaExists(ctx context.Context, db *sql.DB, schema string) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil {
		return sqltext.FirstLine(err)
	}
	if n == 0 {
		return fmt.Errorf("no schema %q", schema)
	}
	return nil
}

// pgDialect reads the base tables of one PostgreSQL schema, as a source
// or as a target cdcsync writes.
type pgDialect struct{ schema string }

func (pgDialect) name() string { return "PostgreSQL" }

func (d pgDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT LIKE '\_cdc\_%'
		ORDER BY c.relname COLLATE "C"`, d.schema)
}

func (d pgDialect) describe(ctx context.Context, db *sql.DB, table string) (*Table, error) {
	t := &Table{Name: table}
	rows, err := db.QueryContext(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), ty.typname::text, ty.typcategory::text
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_type ty ON ty.oid = a.atttypid
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, d.schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Column
		var typname, category string
		if err := rows.Scan(&c.Name, &c.Type, &typname, &category); err != nil {
			return nil, err
		}
		if strings.HasPrefix(c.Name, warehouse.Prefix) {
			continue
		}
		c.Family = pgFamily(typname, category)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys, err := queryStrings(ctx, db, `SELECT a.attname::text
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, d.schema, table)
	if err != nil {
		return nil, err
	}
	return t, t.setKey(keys)
}

// pgFamily maps a PostgreSQL type the way Debezium's connector does.
func pgFamily(typname, category string) Family {
	switch typname {
	case "bool":
		return FBool
	case "int2", "int4", "int8", "oid":
		return FInt
	case "numeric", "money":
		return FDecimal
	case "float4":
		return FFloat32
	case "float8":
		return FFloat64
	case "varchar", "bpchar", "text", "name", "citext", "xml", "ltree":
		return FString
	case "bytea":
		return FBytes
	case "date":
		return FDate
	case "time":
		return FTime
	case "timestamp":
		return FTimestamp
	case "timestamptz":
		return FTimestampTZ
	case "json", "jsonb":
		return FJSON
	case "uuid":
		return FUUID
	case "interval":
		return FInterval
	}
	switch category {
	case "A":
		return FList
	case "E":
		return FString // enum labels
	}
	return FOther
}

func (d pgDialect) tableRef(table string) string {
	return sqltext.Ident(d.schema) + "." + sqltext.Ident(table)
}
func (pgDialect) quote(ident string) string { return sqltext.Ident(ident) }

func (pgDialect) selectExpr(c Column) string {
	q := sqltext.Ident(c.Name)
	switch c.Family {
	case FDecimal, FUUID, FJSON, FInterval, FTime, FOther:
		return q + "::text"
	case FDate, FTimestamp, FTimestampTZ:
		return q + "::text" // infinity stays readable as text
	case FList:
		return "array_to_json(" + q + ")::text"
	}
	return q
}

func (pgDialect) keyExpr(c Column) string {
	if c.Family == FString {
		return sqltext.Ident(c.Name) + ` COLLATE "C"` // bytes, not the collation
	}
	return sqltext.Ident(c.Name)
}

func (pgDialect) param(c Column, n int) string {
	if c.Family == FString {
		return fmt.Sprintf("$%d::text", n)
	}
	return fmt.Sprintf("$%d::text::%s", n, c.Type)
}

func (pgDialect) bind(v any, c Column) any { return keyText(v, c) }

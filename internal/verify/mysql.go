package verify

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
)

type nopLogger struct{}

func (nopLogger) Print(...any) {}

func init() {
	// The driver logs connection trouble on its own; errors are returned
	// and reported on one line instead.
	_ = mysql.SetLogger(nopLogger{})
}

// openMySQL opens mysql://USER:PASS@HOST:PORT/DB (MySQL or MariaDB).
// Other query parameters are session variables, except tls.
func openMySQL(ctx context.Context, dsn string) (Database, error) {
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL DSN: %w", err)
	}
	db := strings.Trim(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("bad MySQL DSN %q: want mysql://USER:PASS@HOST:PORT/DATABASE", redact.DSN(dsn))
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.DBName = "tcp", db
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.ParseTime, cfg.Loc = true, time.UTC
	cfg.InterpolateParams = true
	cfg.Timeout = 10 * time.Second
	// TIMESTAMP columns render in the session zone: read them in UTC.
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	for k, vs := range u.Query() {
		if k == "tls" {
			cfg.TLSConfig = vs[0]
			continue
		}
		cfg.Params[k] = vs[0]
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL DSN %q: %w", redact.DSN(dsn), err)
	}
	sdb := sql.OpenDB(connector)
	sdb.SetMaxOpenConns(2)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("MySQL %s/%s: %w", cfg.Addr, db, sqltext.FirstLine(err))
	}
	return &sqlDatabase{db: sdb, d: mysqlDialect{db: db}}, nil
}

// mysqlDialect reads the base tables of one MySQL/MariaDB database.
type mysqlDialect struct{ db string }

func (mysqlDialect) name() string { return "MySQL" }

func (d mysqlDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name`, d.db)
}

func (d mysqlDialect) describe(ctx context.Context, db *sql.DB, table string) (*Table, error) {
	t := &Table{Name: table}
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type, column_type FROM information_schema.columns
		WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`, d.db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Column
		var dataType string
		if err := rows.Scan(&c.Name, &dataType, &c.Type); err != nil {
			return nil, err
		}
		c.Family = mysqlFamily(dataType, c.Type)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys, err := queryStrings(ctx, db, `SELECT column_name FROM information_schema.key_column_usage
		WHERE table_schema = ? AND table_name = ? AND constraint_name = 'PRIMARY' ORDER BY ordinal_position`, d.db, table)
	if err != nil {
		return nil, err
	}
	return t, t.setKey(keys)
}

// mysqlFamily maps a MySQL/MariaDB column type the way Debezium's
// binlog connectors do.
func mysqlFamily(dataType, columnType string) Family {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "year":
		return FInt
	case "bigint":
		if strings.Contains(strings.ToLower(columnType), "unsigned") {
			return FDecimal
		}
		return FInt
	case "decimal", "numeric", "dec", "fixed":
		return FDecimal
	case "float":
		return FFloat32
	case "double", "real", "double precision":
		return FFloat64
	case "bit":
		return FBits
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return FString
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return FBytes
	case "date":
		return FDate
	case "time":
		return FTime
	case "datetime":
		return FTimestamp
	case "timestamp":
		return FTimestampTZ
	case "json":
		return FJSON
	}
	return FOther
}

func (d mysqlDialect) tableRef(table string) string {
	return sqltext.BacktickIdent(d.db) + "." + sqltext.BacktickIdent(table)
}
func (mysqlDialect) quote(ident string) string { return sqltext.BacktickIdent(ident) }

func (mysqlDialect) selectExpr(c Column) string {
	q := sqltext.BacktickIdent(c.Name)
	switch c.Family {
	case FTime:
		return "CAST(" + q + " AS CHAR)"
	case FOther:
		return "CAST(" + q + " AS CHAR)"
	case FFloat32:
		// The text protocol renders FLOAT with 6 digits; as a double it is
		// the stored float exactly.
		return "CAST(" + q + " AS DOUBLE)"
	}
	return q
}

func (mysqlDialect) keyExpr(c Column) string {
	if c.Family == FString {
		return "BINARY " + sqltext.BacktickIdent(c.Name) // bytes, not the collation
	}
	return sqltext.BacktickIdent(c.Name)
}

func (mysqlDialect) param(c Column, _ int) string {
	switch c.Family {
	case FDecimal:
		return "CAST(? AS DECIMAL(65,30))" // a string would compare as a double
	case FTime:
		return "CAST(? AS TIME(6))"
	}
	return "?"
}

func (mysqlDialect) bind(v any, c Column) any {
	if n, ok := v.(int64); ok && c.Family == FTime {
		return display(n, FTime)
	}
	return v
}

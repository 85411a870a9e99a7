package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// ReadOnlySettings lock a DuckDB database down for running untrusted
// statements on it (cdcsync query, verify): the file is opened read-only,
// nothing outside it can be read or written (no ATTACH of another file or
// of itself read-write, no COPY … TO, EXPORT DATABASE or read_csv), no
// extension is installed or loaded, and the configuration is locked so no
// statement can undo any of this.
var ReadOnlySettings = map[string]string{
	"access_mode":                  "READ_ONLY",
	"enable_external_access":       "false",
	"autoinstall_known_extensions": "false",
	"autoload_known_extensions":    "false",
	"lock_configuration":           "true",
}

// OpenReadOnly opens an existing DuckDB file with ReadOnlySettings. DuckDB
// settings may follow the path as a query (file.duckdb?threads=2); they
// cannot override ReadOnlySettings.
func OpenReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	file, rawQuery, _ := strings.Cut(path, "?")
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("DuckDB file %s: %w", file, err)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("DuckDB file %s: settings %q: %w", file, rawQuery, err)
	}
	for k := range q {
		if _, locked := ReadOnlySettings[strings.ToLower(k)]; locked {
			q.Del(k)
		}
	}
	for k, v := range ReadOnlySettings {
		q.Set(k, v)
	}
	if q.Get("memory_limit") == "" {
		q.Set("memory_limit", DefaultMemoryLimit)
	}
	connector, err := duckdb.NewConnector(file+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("open DuckDB file %s: %w", file, sqltext.FirstLine(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open DuckDB file %s: %w", file, sqltext.FirstLine(err))
	}
	return db, nil
}

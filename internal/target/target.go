// Package target opens the warehouse a DSN names.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/redshift"
)

// Kind returns the kind of warehouse a DSN names: "duckdb", "postgres",
// "redshift", or "" when the DSN names none cdcsync knows.
func Kind(dsn string) string {
	switch {
	case strings.HasPrefix(dsn, "duckdb://"), strings.HasSuffix(dsn, ".duckdb"):
		return "duckdb"
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres"
	case strings.HasPrefix(dsn, "redshift://"):
		return "redshift"
	}
	return ""
}

// Supported describes the DSNs Open accepts, for error messages.
const Supported = "a DuckDB file path ending in .duckdb, a postgres:// URL or a redshift:// URL"

// Open opens the warehouse a DSN names. Its errors never show the DSN's
// password.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ warehouse.Warehouse, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	switch Kind(dsn) {
	case "duckdb":
		return duckdb.Open(ctx, strings.TrimPrefix(dsn, "duckdb://"), opts, log)
	case "postgres":
		return postgres.Open(ctx, dsn, opts, log)
	case "redshift":
		return redshift.Open(ctx, dsn, opts, log)
	}
	return nil, fmt.Errorf("target %q: not %s", redact.DSN(dsn), Supported)
}

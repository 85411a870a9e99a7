// Package target opens the warehouse a DSN names.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
)

// Kind returns the kind of warehouse a DSN names: "duckdb", or "" when the
// DSN names none cdcsync knows.
func Kind(dsn string) string {
	switch {
	case strings.HasPrefix(dsn, "duckdb://"), strings.HasSuffix(dsn, ".duckdb"):
		return "duckdb"
	}
	return ""
}

// Open opens the warehouse a DSN names.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (warehouse.Warehouse, error) {
	switch Kind(dsn) {
	case "duckdb":
		return duckdb.Open(ctx, strings.TrimPrefix(dsn, "duckdb://"), opts, log)
	}
	return nil, fmt.Errorf("target %q: not a DuckDB file path ending in .duckdb", dsn)
}

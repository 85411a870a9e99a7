package duckdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Kind describes DuckDB to the registry (package target): a path ending in
// .duckdb, or duckdb://PATH, either followed by DuckDB settings as a query
// (file.duckdb?threads=2).
var Kind = warehouse.Kind{
	Name:     "duckdb",
	Embedded: true,
	DSNs:     "a DuckDB file path ending in .duckdb",
	Claims: func(dsn string) bool {
		return strings.HasPrefix(dsn, "duckdb://") || (strings.HasSuffix(file(dsn), ".duckdb") && !strings.HasPrefix(dsn, "ducklake:") && !strings.HasPrefix(dsn, "iceberg:"))
	},
	Open: func(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (warehouse.Warehouse, error) {
		return Open(ctx, path(dsn), opts, log)
	},
	OpenReadOnly: func(ctx context.Context, dsn string, _ map[string]string) (*warehouse.ReadOnly, error) {
		db, err := OpenReadOnly(ctx, path(dsn))
		if err != nil {
			return nil, err
		}
		return &warehouse.ReadOnly{DB: db}, nil
	},
	Redact: redact.DSN,
	// One file has one writer: a restarted writer should get its
	// partitions back at once.
	InstanceID: func(dsn string) string {
		abs, err := filepath.Abs(file(path(dsn)))
		if err != nil {
			return ""
		}
		sum := sha256.Sum256([]byte(abs))
		return "cdcsync-" + hex.EncodeToString(sum[:6])
	},
}

// path is the file (and settings) a DSN names.
func path(dsn string) string { return strings.TrimPrefix(dsn, "duckdb://") }

// file is a DSN or path without its settings.
func file(dsn string) string {
	f, _, _ := strings.Cut(dsn, "?")
	return f
}

// What DuckDB implements.
var (
	_ warehouse.Warehouse        = (*sqlapply.Warehouse)(nil)
	_ sqlapply.Dialect           = Dialect{}
	_ sqlapply.SchemaEliding     = Dialect{}
	_ sqlapply.PayloadKeeping    = Dialect{}
	_ sqlapply.StagingRecreating = Dialect{}
)

// Display renders the values only DuckDB's driver scans into — DECIMAL
// (with its scale kept) and UUID — as text; ok is false for other values.
func Display(v any) (s string, ok bool) {
	switch x := v.(type) {
	case duckdb.Decimal:
		return change.Decimal{Unscaled: x.Value, Scale: int(x.Scale)}.String(), true
	case duckdb.UUID:
		return x.String(), true
	}
	return "", false
}

package postgres

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Kind describes PostgreSQL to the registry (package target): a
// postgres:// or postgresql:// URL, its `schema` parameter the target
// schema.
var Kind = warehouse.Kind{
	Name: "postgres",
	DSNs: "a postgres:// URL",
	Claims: func(dsn string) bool {
		return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
	},
	Open: func(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (warehouse.Warehouse, error) {
		return Open(ctx, dsn, opts, log)
	},
	OpenReadOnly: func(ctx context.Context, dsn string, settings map[string]string) (*warehouse.ReadOnly, error) {
		db, schema, err := OpenReadOnly(ctx, dsn, settings)
		if err != nil {
			return nil, err
		}
		return &warehouse.ReadOnly{DB: db, Schema: schema, Query: QueryReadOnly}, nil
	},
	Redact: redact.DSN,
}

// What PostgreSQL implements.
var (
	_ warehouse.Warehouse       = (*sqlapply.Warehouse)(nil)
	_ sqlapply.Dialect          = (*Dialect)(nil)
	_ sqlapply.SchemaEliding    = (*Dialect)(nil)
	_ sqlapply.PayloadKeeping   = (*Dialect)(nil)
	_ sqlapply.DirectLoader     = (*Dialect)(nil)
	_ sqlapply.Indexer          = (*Dialect)(nil)
	_ sqlapply.DDLLocker        = (*Dialect)(nil)
	_ sqlapply.SnapshotBeginner = (*Dialect)(nil)
)

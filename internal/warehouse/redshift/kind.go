package redshift

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Kind describes Redshift to the registry (package target): a redshift://
// URL. What its Dialect implements is listed next to the Dialect type.
var Kind = warehouse.Kind{
	Name:   "redshift",
	DSNs:   "a redshift:// URL",
	Claims: func(dsn string) bool { return strings.HasPrefix(dsn, "redshift://") },
	Open: func(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (warehouse.Warehouse, error) {
		return Open(ctx, dsn, opts, log)
	},
	// Session settings are not applied: nothing reads Redshift with
	// settings of its own yet (verify does not read Redshift targets).
	OpenReadOnly: func(ctx context.Context, dsn string, _ map[string]string) (*warehouse.ReadOnly, error) {
		db, schema, err := OpenReadOnly(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return &warehouse.ReadOnly{DB: db, Schema: schema, Query: postgres.QueryReadOnly}, nil
	},
	Redact: redact.DSN,
}

var _ warehouse.Warehouse = (*sqlapply.Warehouse)(nil)

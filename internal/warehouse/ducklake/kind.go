package ducklake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
)

// Kind describes DuckLake to the registry (package target): a DSN
// starting with "ducklake:" (see Config).
var Kind = warehouse.Kind{
	Name: "ducklake",
	DSNs: "a ducklake:CATALOG DSN",
	Claims: func(dsn string) bool {
		return strings.HasPrefix(dsn, Prefix)
	},
	Open: func(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (warehouse.Warehouse, error) {
		return Open(ctx, dsn, opts, log)
	},
	OpenReadOnly: func(ctx context.Context, dsn string, _ map[string]string) (*warehouse.ReadOnly, error) {
		c, err := Parse(dsn)
		if err != nil {
			return nil, err
		}
		db, err := Connect(ctx, c, true)
		if err != nil {
			return nil, err
		}
		return &warehouse.ReadOnly{DB: db, Query: duckdb.SelectOnly("a DuckLake")}, nil
	},
	Redact: Redact,
	// One DuckLake has one writer (offsets are fenced, but concurrent
	// writers of one lake conflict on every commit): a restarted writer
	// should get its partitions back at once.
	InstanceID: func(dsn string) string {
		c, err := Parse(dsn)
		if err != nil {
			return ""
		}
		id := c.Catalog
		if !c.postgresCatalog() {
			if abs, err := filepath.Abs(id); err == nil {
				id = abs
			}
		}
		sum := sha256.Sum256([]byte(Prefix + id))
		return "cdcsync-" + hex.EncodeToString(sum[:6])
	},
}

// Redact masks the passwords of a DuckLake DSN: a PostgreSQL catalog's
// (libpq's password=) and S3 secrets given as DuckDB settings.
func Redact(dsn string) string {
	out := redact.DSN(dsn)
	for _, k := range []string{"s3_secret_access_key=", "s3_session_token="} {
		if i := strings.Index(strings.ToLower(out), k); i >= 0 {
			j := i + len(k)
			end := strings.IndexByte(out[j:], '&')
			if end < 0 {
				end = len(out) - j
			}
			out = out[:j] + redact.Mask + out[j+end:]
		}
	}
	return out
}

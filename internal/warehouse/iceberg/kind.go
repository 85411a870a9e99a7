package iceberg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"regexp"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
)

// Kind describes Iceberg to the registry (package target): a DSN starting
// with "iceberg:" (see Config).
var Kind = warehouse.Kind{
	Name:     "iceberg",
	Embedded: true,
	DSNs:     "an iceberg:REST-ENDPOINT DSN",
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
		return &warehouse.ReadOnly{DB: db, Query: duckdb.SelectOnly("an Iceberg catalog")}, nil
	},
	Redact: Redact,
	// One namespace has one writer (offsets are fenced, but concurrent
	// writers of one namespace conflict on every commit): a restarted
	// writer should get its partitions back at once.
	InstanceID: func(dsn string) string {
		c, err := Parse(dsn)
		if err != nil {
			return ""
		}
		sum := sha256.Sum256([]byte(Prefix + c.Endpoint + "|" + c.EndpointType + "|" + c.Warehouse + "|" + c.Namespace))
		return "cdcsync-" + hex.EncodeToString(sum[:6])
	},
}

// inlineSecret is a secret given inline in a DSN's parameters.
var inlineSecret = regexp.MustCompile(`(?i)([?&](?:client_secret|token)=)([^&]*)`)

// Redact masks the secrets of an Iceberg DSN: a client secret or token
// given inline, S3 secrets given as DuckDB settings, and any password.
// Secrets read from the environment or a file are not in the DSN; package
// redact remembers them when they are read (see Parse).
func Redact(dsn string) string {
	out := redact.DSN(dsn)
	out = inlineSecret.ReplaceAllString(out, "${1}"+redact.Mask)
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

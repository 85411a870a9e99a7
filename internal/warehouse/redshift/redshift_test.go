package redshift_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/redshift"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// TestConformanceOnPostgres runs the conformance suite with Redshift's
// dialect — its catalog queries, multi-row INSERT loading over the simple
// protocol, value rendering, DELETE … USING apply — on PostgreSQL, with
// only SUPER, VARBYTE, JSON_PARSE, FROM_HEX, SYSDATE and the distribution
// clauses mapped to PostgreSQL's.
func TestConformanceOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	run := fmt.Sprintf("rs%d", time.Now().UnixNano()%1_000_000_000)
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		opts.Schema = run + "_" + name
		db, d, err := redshift.ConnectCompat(context.Background(), dsn, opts.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return sqlapplytest.Open(t, db, d, opts)
	})
}

func TestTableAndColumnOptions(t *testing.T) {
	d := redshift.NewDialect("analytics")
	key := []string{"order_id", "setting_key"}
	if got, want := d.TableOptions(key), ` DISTSTYLE KEY DISTKEY ("order_id") COMPOUND SORTKEY ("order_id", "setting_key")`; got != want {
		t.Errorf("TableOptions = %q, want %q", got, want)
	}
	cases := []struct {
		name string
		typ  change.Type
		want string
	}{
		{"order_id", change.Int64, " ENCODE raw"},
		{"setting_key", change.String, " ENCODE zstd"},
		{"total_amount", change.DecimalType(10, 2), " ENCODE az64"},
		{"created_at", change.TimestampTZ, " ENCODE az64"},
		{"payload", change.JSON, " ENCODE lzo"},                         // was zstd, which Redshift does not document for SUPER
		{"opens_at", change.TimeType(change.UnitMicros), " ENCODE raw"}, // was az64, which TIME does not take
		{"closes_at", change.TimeTZ, " ENCODE raw"},                     // was az64, which TIMETZ does not take
		{"amount_text", change.DecimalType(0, 0), " ENCODE zstd"},       // a VARCHAR; was az64, which VARCHAR does not take
		{"avatar", change.Bytes, " ENCODE raw"},                         // was zstd, which Redshift does not document for VARBYTE
		{"is_active", change.Bool, " ENCODE raw"},
	}
	for _, c := range cases {
		if got := d.ColumnOptions(key, c.name, c.typ); got != c.want {
			t.Errorf("ColumnOptions(%s) = %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		typ  change.Type
		want string
	}{
		{change.String, "VARCHAR(65535)"}, {change.JSON, "SUPER"}, {change.Bytes, "VARBYTE(1024000)"},
		{change.DecimalType(0, 0), "VARCHAR(65535)"}, {change.DecimalType(50, 2), "VARCHAR(65535)"},
		{change.TimestampTZ, "TIMESTAMPTZ"}, {change.UUID, "VARCHAR(36)"},
	} {
		if got := d.SQLType(c.typ); got != c.want {
			t.Errorf("SQLType(%s) = %q, want %q", c.typ, got, c.want)
		}
	}
	if st, conv := d.Staging("SUPER"); !strings.HasPrefix(st, "VARCHAR") || conv != "JSON_PARSE(%s)" {
		t.Errorf("Staging(SUPER) = %q, %q", st, conv)
	}
}

func TestDSN(t *testing.T) {
	cfg, schema, err := redshift.ParseDSN(context.Background(), "redshift://admin:secret@wg.123456789012.us-east-1.redshift-serverless.amazonaws.com/dev?schema=cdc", true)
	if err != nil {
		t.Fatal(err)
	}
	if schema != "cdc" || cfg.Port != 5439 || cfg.Database != "dev" || cfg.User != "admin" || cfg.TLSConfig == nil {
		t.Errorf("cfg = port %d db %s user %s tls %v schema %s", cfg.Port, cfg.Database, cfg.User, cfg.TLSConfig != nil, schema)
	}
	if _, _, err := redshift.ParseDSN(context.Background(), "postgres://x/y", true); err == nil {
		t.Error("a postgres:// DSN must be rejected")
	}
}

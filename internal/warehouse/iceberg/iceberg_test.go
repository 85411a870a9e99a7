package iceberg_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// extensions returns the directory of DuckDB's extensions the tests load
// offline (`svc.sh fetch duckdb-extensions`), or skips the test when there
// is none (fails it when CDCSYNC_REQUIRE_ICEBERG is set).
func extensions(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS")
	if dir == "" {
		if os.Getenv("CDCSYNC_REQUIRE_ICEBERG") != "" || os.Getenv("CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS") != "" {
			t.Fatal("CDCSYNC_DUCKDB_EXTENSIONS is not set but CDCSYNC_REQUIRE_ICEBERG is")
		}
		t.Skip("CDCSYNC_DUCKDB_EXTENSIONS is not set; eval \"$(scripts/services/svc.sh env duckdb-extensions)\" after `svc.sh fetch duckdb-extensions`")
	}
	return dir
}

// endpoint returns the test REST catalog's URL (`svc.sh start iceberg`), or
// skips the test when there is none (fails it when CDCSYNC_REQUIRE_ICEBERG
// is set).
func endpoint(t testing.TB) string {
	t.Helper()
	e := os.Getenv("CDCSYNC_ICEBERG_ENDPOINT")
	if e == "" {
		if os.Getenv("CDCSYNC_REQUIRE_ICEBERG") != "" {
			t.Fatal("CDCSYNC_ICEBERG_ENDPOINT is not set but CDCSYNC_REQUIRE_ICEBERG is")
		}
		t.Skip("CDCSYNC_ICEBERG_ENDPOINT is not set; scripts/services/svc.sh start iceberg, then eval \"$(scripts/services/svc.sh env iceberg)\"")
	}
	return e
}

// runID tells this run's namespaces from earlier runs' (the catalog
// outlives the tests).
var runID = time.Now().UnixNano() % 1_000_000_000

// DSN is the DSN of the namespace name of this run in the test catalog:
// the same name opens the same namespace.
func DSN(t testing.TB, name string, extra url.Values) string {
	q := url.Values{"namespace": {fmt.Sprintf("t%d_%s", runID, strings.ToLower(name))}, "extension_directory": {extensions(t)}}
	for k, v := range extra {
		q[k] = v
	}
	return iceberg.Prefix + endpoint(t) + "?" + q.Encode()
}

// open opens an Iceberg namespace as iceberg.Open does, and its Inspector.
func open(t testing.TB, dsn string, opts warehouse.Options) (*sqlapply.Warehouse, *sqlapplytest.Inspector) {
	t.Helper()
	c, err := iceberg.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := iceberg.Connect(context.Background(), c, false)
	if err != nil {
		t.Fatal(err)
	}
	return sqlapplytest.Open(t, db, iceberg.Dialect{Namespace: c.Namespace}, opts)
}

// inspector is the conformance suite's Inspector of an Iceberg namespace:
// Iceberg promotes int to long, float to double and a decimal's precision,
// nothing else (warehousetest.Promoter).
type inspector struct{ *sqlapplytest.Inspector }

func (inspector) Widens(from, to change.Type) bool {
	switch {
	case from.Kind == change.KindInt32 && to.Kind == change.KindInt64,
		from.Kind == change.KindFloat32 && to.Kind == change.KindFloat64:
		return true
	case from.Kind == change.KindDecimal && to.Kind == change.KindDecimal:
		return from.Scale == to.Scale && to.Precision >= from.Precision
	}
	return false
}

func TestConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		wh, ins := open(t, DSN(t, name, nil), opts)
		return wh, inspector{ins}
	})
}

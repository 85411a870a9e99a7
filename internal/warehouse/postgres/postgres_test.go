package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// testDSN returns the test server's DSN. `make test` starts a throwaway
// PostgreSQL and sets CDCSYNC_TEST_PG_DSN and CDCSYNC_REQUIRE_PG, so there
// these tests can only pass by running.
func testDSN(t *testing.T) string {
	dsn := os.Getenv("CDCSYNC_TEST_PG_DSN")
	if dsn == "" {
		if os.Getenv("CDCSYNC_REQUIRE_PG") != "" {
			t.Fatal("CDCSYNC_TEST_PG_DSN is not set but CDCSYNC_REQUIRE_PG is")
		}
		t.Skip("CDCSYNC_TEST_PG_DSN is not set; `make test` starts PostgreSQL and sets it")
	}
	return dsn
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	run := fmt.Sprintf("t%d", time.Now().UnixNano()%1_000_000_000)
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) *sqlapply.Warehouse {
		opts.Schema = run + "_" + name
		wh, err := postgres.Open(context.Background(), dsn, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { wh.Close() })
		return wh
	})
}

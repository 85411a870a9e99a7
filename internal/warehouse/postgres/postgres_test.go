package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

func TestConformance(t *testing.T) {
	dsn := pgtest.DSN(t)
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

package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

func TestConformance(t *testing.T) {
	dsn := pgtest.DSN(t)
	run := fmt.Sprintf("t%d", time.Now().UnixNano()%1_000_000_000)
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		opts.Schema = run + "_" + name
		return sqlapplytest.Postgres(t, dsn, opts)
	})
}

// TestConcurrentStartsOnFreshSchema: processes starting at once on a fresh
// schema create it and cdcsync's tables concurrently, then create the same
// new target table. CREATE … IF NOT EXISTS alone races in PostgreSQL
// (duplicate key value violates unique constraint "pg_type_typname_nsp_index");
// under the DDL lock every start succeeds.
func TestConcurrentStartsOnFreshSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := fmt.Sprintf("race_%d", time.Now().UnixNano()%1_000_000_000)
	const n = 8
	whs := make([]*sqlapply.Warehouse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			whs[i], errs[i] = postgres.Open(context.Background(), dsn, warehouse.Options{Group: "race", Landing: true, Schema: schema}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		t.Cleanup(func() { whs[i].Close() })
	}
	// Every process creates the same new table (and its landing table),
	// each from its own partition.
	batches := make([]*batch.Batch, n)
	for i := range n {
		batches[i] = warehousetest.PersonBatch(int32(i), 0, int64(i))
	}
	for i := range n {
		wg.Go(func() {
			_, errs[i] = whs[i].Apply(context.Background(), batches[i], nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	_, ins := sqlapplytest.Postgres(t, dsn, warehouse.Options{Group: "race", Schema: schema})
	rows, err := ins.Count(context.Background(), "people", "")
	if err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Fatalf("%d rows, want %d", rows, n)
	}
}

package duckdb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) *sqlapply.Warehouse {
		wh, err := duckdb.Open(context.Background(), filepath.Join(dir, name+".duckdb"), opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { wh.Close() })
		return wh
	})
}

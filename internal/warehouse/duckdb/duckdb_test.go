package duckdb_test

import (
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	warehousetest.Run(t, func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, warehousetest.Inspector) {
		return sqlapplytest.DuckDB(t, filepath.Join(dir, name+".duckdb"), opts)
	})
}

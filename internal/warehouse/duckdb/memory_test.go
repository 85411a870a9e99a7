package duckdb_test

import (
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
)

// TestMemory_DuckDBLimitApplied: the warehouse's share of memory_limit
// (warehouse.Options.MemoryLimit) becomes DuckDB's own memory_limit, read
// back from DuckDB, and DuckDB has a temporary directory to spill to
// beyond it. A limit in the target's path wins.
func TestMemory_DuckDBLimitApplied(t *testing.T) {
	dir := t.TempDir()
	read := func(path string, limit int64) (memLimit, tempDir string) {
		t.Helper()
		wh := sqlapplytest.OpenDuckDB(t, path, warehouse.Options{Group: "m", MemoryLimit: limit})
		defer wh.Close()
		if err := wh.DB.QueryRow(`SELECT current_setting('memory_limit'), current_setting('temp_directory')`).Scan(&memLimit, &tempDir); err != nil {
			t.Fatal(err)
		}
		return memLimit, tempDir
	}
	if got, tmp := read(filepath.Join(dir, "a.duckdb"), 48<<20); got != "48.0 MiB" || tmp == "" {
		t.Errorf("memory_limit %q, temp_directory %q; want 48.0 MiB and a directory", got, tmp)
	}
	if got, _ := read(filepath.Join(dir, "b.duckdb")+"?memory_limit=100MiB", 48<<20); got != "100.0 MiB" {
		t.Errorf("memory_limit %q; want the path's 100.0 MiB", got)
	}
}

package ducklake_test

import (
	"strconv"
	"testing"

	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
)

// TestMemory_DuckLakeGetsTheShare: a DuckLake runs DuckDB in the process,
// so it is an embedded target (memory_limit gives it a share) and its
// DuckDB gets that share and DuckDB's default threads, as a DuckDB file
// does, unless the DSN sets them.
func TestMemory_DuckLakeGetsTheShare(t *testing.T) {
	if k, ok := target.Lookup("ducklake:/data/c.duckdb?data_path=/data/"); !ok || !k.Embedded {
		t.Fatalf("DuckLake kind %+v: want an embedded target", k)
	}
	opts := warehouse.Options{Group: "m", MemoryLimit: 48 << 20}
	c, err := ducklake.OpenConfig("ducklake:/data/c.duckdb?data_path=/data/", opts)
	if err != nil {
		t.Fatal(err)
	}
	if m, th := c.Settings.Get("memory_limit"), c.Settings.Get("threads"); m != "49152KiB" || th != strconv.Itoa(duckdb.DefaultThreads()) {
		t.Errorf("memory_limit %q, threads %q; want 49152KiB and %d", m, th, duckdb.DefaultThreads())
	}
	c, err = ducklake.OpenConfig("ducklake:/data/c.duckdb?data_path=/data/&memory_limit=100MiB&threads=2", opts)
	if err != nil {
		t.Fatal(err)
	}
	if m, th := c.Settings.Get("memory_limit"), c.Settings.Get("threads"); m != "100MiB" || th != "2" {
		t.Errorf("memory_limit %q, threads %q; want the DSN's 100MiB and 2", m, th)
	}
}

package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestMemory_BatchClosesOnBytes: with batch.max_bytes and
// kafka.fetch_max_bytes unset, memory_limit bounds both, and batches close
// on bytes long before max_events. DuckDB runs at its share of the limit
// (128MiB) with primary-key changes in the batches, which once needed more.
func TestMemory_BatchClosesOnBytes(t *testing.T) {
	w := workload.New(workload.Options{Seed: 3, Partitions: 2, Schemas: true, SnapshotRows: 100, Ops: 24000,
		PKChanges: true, Tombstones: true})
	var size int64
	for _, e := range w.Events {
		size += int64(len(e.Key) + len(e.Value))
	}
	c := startWorkload(t, w)
	cfg := testConfig(c.Addr(), w.TopicRegex())
	cfg.MemoryLimit = config.DefaultMemoryLimit
	cfg.Batch.MaxBytes, cfg.Kafka.FetchMaxBytes = 0, 0
	cfg.Batch.MaxEvents = 1 << 20
	pcfg := fromConfig(t, cfg, true)
	if pcfg.MaxBytes != 32<<20 || pcfg.FetchMaxBytes != 8<<20 || pcfg.FetchConcurrency != 2 {
		t.Fatalf("256MiB gives batches of %d bytes, fetches of %d × %d; want 32MiB, 8MiB × 2", pcfg.MaxBytes, pcfg.FetchMaxBytes, pcfg.FetchConcurrency)
	}
	mem := cfg.Memory(true)
	wh := sqlapplytest.OpenDuckDB(t, filepath.Join(t.TempDir(), "m.duckdb"), warehouse.Options{Group: "test", Landing: true, MemoryLimit: mem.Warehouse})
	defer wh.Close()
	sum, err := pipeline.New(pcfg, wh, testLogger(t), nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A batch closes when it reaches the bound, taking no more records
	// than fit at their average size: as many batches as the bytes need.
	if min := size / int64(pcfg.MaxBytes); sum.Batches < min {
		t.Errorf("%d batches for %d bytes; batches of at most %d bytes need at least %d", sum.Batches, size, pcfg.MaxBytes, min)
	}
	assertConverged(t, wh, w)
}

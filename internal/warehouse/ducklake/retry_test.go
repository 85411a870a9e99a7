package ducklake_test

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestDuckLake_RetriesAfterAFailedWrite: a Parquet file that cannot be
// written (an I/O error in the middle of the batch's transaction) is
// retried until it can — on a connection that is not left in the failed
// transaction: the connection dropped after a transient error used to go
// back to the pool with it, and the retry met "Current transaction is
// aborted" and stopped the process.
func TestDuckLake_RetriesAfterAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	dsn := fileDSN(t, dir, url.Values{"data_inlining_row_limit": {"0"}})
	w := workload.New(workload.Options{Seed: 11, Partitions: 1, Schemas: true, SnapshotRows: 5, Ops: 20})
	// A file where the first table's Parquet directory goes: DuckLake's
	// write of its first data file fails with an I/O error.
	blocker := filepath.Join(dir, "data", "main", w.Tables[0].Name)
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	retries := 0
	defer failpoint.Inject("retry", func() {
		retries++
		os.Remove(blocker) //nolint:errcheck // the write succeeds or the test fails
	})()
	wh, ins := open(t, dsn, warehouse.Options{Group: "g"})
	defer wh.Close()
	warehousetest.Converge(t, wh, ins, w)
	if retries == 0 {
		t.Errorf("no batch was retried: the blocked write did not fail")
	}
}

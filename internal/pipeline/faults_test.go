package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// The fault-injection suite: a real failure of the warehouse's
// infrastructure — its connection cut, its disk full — at each step of
// applying a batch, to a table the batch creates and to one that exists.
// The failure is cleared when the pipeline is about to retry. The pipeline
// must retry until it succeeds, and the target must then equal the source
// with no dead letter: an infrastructure failure is never a record's fault.

// faultSteps are the failpoints of a batch's apply, in order (see package
// failpoint).
var faultSteps = []string{"ddl", "before-begin", "landing", "staged", "offsets", "before-commit", "after-commit"}

// warehouseFault is a warehouse under test and a real fault of it.
type warehouseFault struct {
	name string
	// open opens the warehouse; each call of one setup opens the same one.
	setup func(t *testing.T) (open func() sqlapplytest.Inspected, inject, clear func())
}

func TestFaultsNeverLoseOrDeadLetter(t *testing.T) {
	faults := []warehouseFault{
		{"postgres-connection-cut", postgresConnectionCut},
		{"duckdb-disk-full", duckdbDiskFull},
	}
	// Schema changes mid-stream: the part applied under the fault widens a
	// column of an existing table (DDL) and creates the others' tables.
	changes := workload.Options{Seed: 42, Partitions: 2, Schemas: true, SnapshotRows: 20, Ops: 400,
		PKChanges: true, Tombstones: true, Truncates: true, SchemaChanges: true}
	for _, f := range faults {
		for _, existing := range []bool{false, true} {
			table := "new-table"
			if existing {
				table = "existing-table"
			}
			for _, step := range faultSteps {
				t.Run(f.name+"/"+table+"/"+step, func(t *testing.T) {
					testFault(t, f, changes, 40, existing, step, 1)
				})
			}
		}
	}
	// PostgreSQL's unchanged TOAST values across primary-key changes, the
	// delete and the create in different partitions and batches (7 events
	// a batch, 3 partitions): the fault falls mid-stream (the 30th time a
	// step is reached; DDL only happens at the start), while values are in
	// flight between the two halves of key changes, and they survive it.
	toast := workload.Options{Seed: 17, Partitions: 3, Schemas: true, SnapshotRows: 20, Ops: 400,
		PKChanges: true, Tombstones: true, Toast: true}
	for _, step := range faultSteps {
		at := 30
		if step == "ddl" {
			at = 1
		}
		t.Run("postgres-connection-cut/toast-key-change/"+step, func(t *testing.T) {
			testFault(t, faults[0], toast, 7, false, step, at)
		})
	}
}

// testFault drains a workload with the fault injected the at-th time a
// batch reaches step, and cleared when the pipeline is about to retry.
func testFault(t *testing.T, f warehouseFault, opts workload.Options, batchEvents int, existing bool, step string, at int) {
	open, inject, clear := f.setup(t)
	w := workload.New(opts)
	c := startCluster(t, w)
	ctx := context.Background()
	cfg := pipelineConfig(t, w, c.Addr(), true)
	cfg.MaxEvents = batchEvents // many batches: the fault falls mid-stream

	split := 0
	if existing {
		// Past the added column (a quarter of the operations), before the
		// widening (half): the faulted run alters an existing table.
		split = len(w.Events) * 2 / 5
		if err := kafkatest.Produce(ctx, c.Addr(), w.Events[:split]); err != nil {
			t.Fatal(err)
		}
		wh := open()
		if _, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx); err != nil {
			t.Fatalf("the run before the fault: %v", err)
		}
		wh.Close()
	}
	if err := kafkatest.Produce(ctx, c.Addr(), w.Events[split:]); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	injected, cleared, hits := false, false, 0
	defer failpoint.Inject(step, func() {
		mu.Lock()
		defer mu.Unlock()
		if hits++; hits == at {
			injected = true
			inject()
		}
	})()
	defer failpoint.Inject("retry", func() {
		mu.Lock()
		defer mu.Unlock()
		if injected && !cleared {
			cleared = true
			clear()
		}
	})()
	wh := open()
	defer wh.Close()
	sum, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx)
	mu.Lock()
	wasInjected, retried := injected, cleared
	if !cleared {
		cleared = true
		clear() // a fault after the last commit fails nothing
	}
	mu.Unlock()
	if !wasInjected {
		t.Fatalf("the fault was never injected: no batch reached %q", step)
	}
	if step != "after-commit" && !retried {
		t.Fatalf("the fault at %q failed nothing: the test proves nothing", step)
	}
	if err != nil {
		t.Fatalf("an infrastructure failure at %q stopped the pipeline instead of being retried: %v", step, err)
	}
	if sum.DeadLetters != 0 {
		t.Errorf("%d events dead-lettered for an infrastructure failure at %q", sum.DeadLetters, step)
	}
	assertConverged(t, wh, w)
	if n := countDeadLettersIn(t, wh); n != 0 {
		t.Errorf("%d dead letters in the warehouse after a fault at %q", n, step)
	}
}

// countDeadLettersIn counts the dead letters in the warehouse's schema.
func countDeadLettersIn(t *testing.T, wh sqlapplytest.Inspected) int {
	t.Helper()
	var n int
	q := `SELECT count(*) FROM ` + sqltext.Ident(wh.Inspector.Dialect.Schema()) + `.` + sqltext.Ident(warehouse.DeadLettersTable)
	if err := wh.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// postgresConnectionCut: the server ends the warehouse's connection
// (pg_terminate_backend, waiting until the backend is gone), as a restart
// or a network failure would. The fault is over at once: the next
// connection works.
func postgresConnectionCut(t *testing.T) (open func() sqlapplytest.Inspected, inject, clear func()) {
	dsn := pgtest.DSN(t)
	app := fmt.Sprintf("cdcsync_fault_%d_%d", os.Getpid(), faultSeq.Add(1))
	schema := app
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`) //nolint:errcheck // best effort
		admin.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	whDSN := dsn + sep + "application_name=" + app
	open = func() sqlapplytest.Inspected {
		return sqlapplytest.OpenPostgres(t, whDSN, warehouse.Options{Group: "test", Landing: true, Schema: schema})
	}
	inject = func() {
		var pids []int64
		rows, err := admin.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
		if err == nil {
			for rows.Next() {
				var pid int64
				if err = rows.Scan(&pid); err != nil {
					break
				}
				pids = append(pids, pid)
			}
			rows.Close()
		}
		if err != nil || len(pids) == 0 {
			t.Errorf("find the warehouse's connection: %v (%d found)", err, len(pids))
			return
		}
		// A pooled connection may close by itself meanwhile: at least one
		// must have been cut.
		cut := 0
		for _, pid := range pids {
			var ok bool
			if err := admin.QueryRow(`SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&ok); err != nil {
				t.Errorf("cut the warehouse's connection %d: %v", pid, err)
			}
			if ok {
				cut++
			}
		}
		if cut == 0 {
			t.Errorf("none of the warehouse's connections %v could be cut", pids)
		}
	}
	return open, inject, func() {}
}

// duckdbDiskFull: the DuckDB file lives on a small filesystem of its own,
// which the fault fills to the last byte; clearing it frees the space.
func duckdbDiskFull(t *testing.T) (open func() sqlapplytest.Inspected, inject, clear func()) {
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("mount a small filesystem for the disk-full test: %v: %s", err, out)
		}
		t.Skipf("mounting a small filesystem needs root: %s", out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	path := filepath.Join(dir, "t.duckdb")
	filler := filepath.Join(dir, "filler")
	open = func() sqlapplytest.Inspected {
		return sqlapplytest.OpenDuckDB(t, path, warehouse.Options{Group: "test", Landing: true})
	}
	inject = func() {
		f, err := os.Create(filler)
		if err != nil {
			t.Errorf("fill the disk: %v", err)
			return
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("fill the disk: %v", err)
				}
				break
			}
		}
		// The last bytes: smaller writes until not one more fits.
		for _, n := range []int{4096, 512, 1} {
			for {
				if _, err := f.Write(buf[:n]); err != nil {
					break
				}
			}
		}
	}
	clear = func() {
		if err := os.Remove(filler); err != nil {
			t.Errorf("free the disk: %v", err)
		}
	}
	return open, inject, clear
}

// faultSeq numbers the fault tests' schemas and connections.
var faultSeq atomic.Int64

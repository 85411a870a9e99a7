package bench

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestProfile runs the pipeline in-process over the benchmark workload and
// writes a CPU profile to /tmp/cpu.prof, for `go tool pprof`. It runs only
// when asked: CDCSYNC_PROFILE=landing or CDCSYNC_PROFILE=nolanding.
func TestProfile(t *testing.T) {
	if os.Getenv("CDCSYNC_PROFILE") == "" {
		t.Skip("set CDCSYNC_PROFILE=landing|nolanding to profile")
	}
	n := events()
	w := workload.New(workload.Options{Seed: 1, Partitions: 4, Schemas: true, SnapshotRows: n / 30, Ops: n - n/10, PKChanges: true, Tombstones: true})
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	c, err := kafkatest.Start(4, topics...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	wh, err := duckdb.Open(context.Background(), profPath(t), warehouse.Options{Group: "p", Landing: os.Getenv("CDCSYNC_PROFILE") == "landing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default() // the settings BenchmarkPipeline's binary runs with
	cfg.Brokers, cfg.Topics, cfg.Group = []string{c.Addr()}, `shop\..*`, "p"
	if b := os.Getenv("CDCSYNC_PROFILE_BATCH_MIB"); b != "" { // batch.max_bytes
		n, err := strconv.Atoi(b)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Batch.MaxBytes = config.ByteSize(n << 20)
	}
	pcfg, err := pipeline.ConfigFrom(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create("/tmp/cpu.prof")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	var ru0 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p := pipeline.New(pcfg, wh, slog.New(slog.NewTextHandler(os.Stderr, nil)), nil)
	sum, err := p.Run(context.Background())
	pprof.StopCPUProfile()
	var ru1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		t.Fatal(err)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	t.Logf("%d events in %s: %.0f/s err=%v cpu=%.2fs", sum.Events, time.Since(t0), float64(sum.Events)/time.Since(t0).Seconds(), err, cpu.Seconds())
}

// profPath is the profiled DuckDB file: CDCSYNC_PROFILE_DB names one to
// keep for a look afterwards; CDCSYNC_PROFILE_SETTINGS adds DuckDB
// settings (threads=2).
func profPath(t *testing.T) string {
	if p := os.Getenv("CDCSYNC_PROFILE_DB"); p != "" {
		return p
	}
	p := filepath.Join(t.TempDir(), "p.duckdb")
	if q := os.Getenv("CDCSYNC_PROFILE_SETTINGS"); q != "" {
		p += "?" + q
	}
	return p
}

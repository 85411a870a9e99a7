package pipeline_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/progress"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// records is a slog handler that sends every record to a channel.
type records chan slog.Record

func (h records) Enabled(context.Context, slog.Level) bool { return true }
func (h records) Handle(_ context.Context, r slog.Record) error {
	h <- r.Clone()
	return nil
}
func (h records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h records) WithGroup(string) slog.Handler      { return h }

func attrs(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value
		return true
	})
	return m
}

// TestProgress_CatchUpUntilCaughtUp runs continuous mode over a backlog on
// three partitions per topic, in batches of 50 records, with progress
// logged at every poll: it reports records done and behind, the total
// never below what was produced, until nothing is behind; then it says
// "caught up" once, having read every record, and reports no more.
func TestProgress_CatchUpUntilCaughtUp(t *testing.T) {
	w := workload.New(workload.Options{Seed: 12, Partitions: 3, Schemas: true, SnapshotRows: 30, Ops: 800})
	c := startWorkload(t, w)
	wh := openDuck(t, filepath.Join(t.TempDir(), "catchup.duckdb"))
	cfg := pipelineConfig(t, w, c.Addr(), false)
	cfg.MaxEvents = 50
	logs := make(records, 100000)
	log := slog.New(logs)
	cfg.Progress = progress.Options{Log: log, Every: time.Nanosecond}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.New(cfg, wh, log, nil).Run(ctx)
		done <- err
	}()

	produced := int64(len(w.Events))
	var reports int
	var lastDone, lastBehind int64 = -1, -1
	timeout := time.After(60 * time.Second)
wait:
	for {
		select {
		case r := <-logs:
			a := attrs(r)
			switch r.Message {
			case "catching up":
				reports++
				d, behind, total := a["done"].Int64(), a["behind"].Int64(), a["total"].Int64()
				if d < lastDone || d+behind != total {
					t.Errorf("catching up: done %d (after %d), behind %d, total %d; produced %d", d, lastDone, behind, total, produced)
				}
				lastDone, lastBehind = d, behind
			case "caught up: every partition owned is at its end":
				if n := a["records"].Int64(); n != produced {
					t.Errorf("caught up after %d records, want all %d", n, produced)
				}
				break wait
			}
		case err := <-done:
			t.Fatalf("the pipeline stopped before catching up: %v", err)
		case <-timeout:
			t.Fatal("no 'caught up' within 60s")
		}
	}
	if reports < 3 || lastBehind != 0 {
		t.Errorf("%d catch-up reports, the last %d behind; want several, ending at 0", reports, lastBehind)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for len(logs) > 0 {
		if r := <-logs; r.Message == "catching up" {
			t.Errorf("a catch-up report after catching up: %v", attrs(r))
		}
	}
	assertConverged(t, wh, w)
}

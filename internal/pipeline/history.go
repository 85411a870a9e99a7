package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Run history: every run leaves one row in warehouse.RunsTable, written
// "running" before the run starts and rewritten when it ends, "ok" (a
// cancelled context is a clean stop) or "failed" with the error's first
// line, free of the process's known secrets.

// recordEndTimeout bounds writing the end of a run.
const recordEndTimeout = 10 * time.Second

// recordStart writes the run's "running" row; the run does not start
// without it.
func (p *Pipeline) recordStart(ctx context.Context) (warehouse.Run, error) {
	mode := "continuous"
	if p.cfg.Once {
		mode = "once"
	}
	r := warehouse.Run{ID: fmt.Sprintf("%d-%d", time.Now().UnixNano(), os.Getpid()), Group: p.cfg.Group, Mode: mode,
		Version: p.cfg.Version, StartedAt: time.Now(), Status: "running"}
	p.whMu.Lock()
	defer p.whMu.Unlock()
	return r, p.wh.RecordRun(ctx, r)
}

// recordEnd rewrites the run's row with its outcome, on a context of its
// own: the run's may be what ended it. Failing to record is logged, not
// returned: the run's own outcome is what the caller needs.
func (p *Pipeline) recordEnd(ctx context.Context, r warehouse.Run, sum Summary, runErr error) {
	r.FinishedAt, r.Events, r.Batches, r.Status = time.Now(), sum.Events, sum.Batches, "ok"
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		r.Status, r.Error = "failed", redact.Known(runError(runErr))
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordEndTimeout)
	defer cancel()
	p.whMu.Lock()
	defer p.whMu.Unlock()
	if err := p.wh.RecordRun(rctx, r); err != nil {
		p.log.Error("could not record the end of the run in "+warehouse.RunsTable, "run_id", r.ID, "status", r.Status, "err", err)
	}
}

// runError is the error a failed run records: its first line, bounded.
func runError(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

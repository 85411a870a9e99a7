package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/progress"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// drainLine is a progress log line of `run --once` (slog text format).
var drainLine = regexp.MustCompile(`msg=draining done=(\d+) total=(\d+) percent=(\d+) unit=records per_sec=\d+`)

// TestProgress_OnceLogsDoneOfTotal runs `cdcsync run --once` with stderr
// a pipe (not a terminal) over a workload that takes many polls (batches
// of 150 records), with progress logged at every poll: the lines say how
// many of the records known at start were read, never go back, and the
// last one says all of them.
func TestProgress_OnceLogsDoneOfTotal(t *testing.T) {
	w := workload.New(workload.Options{Seed: 11, Partitions: 2, Schemas: true, SnapshotRows: 50, Ops: 2000})
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "once.duckdb")
	// The interval is the smallest there is: every poll reports, so the
	// number of lines depends on the polls, not on the clock.
	p := start(t, []string{progress.EveryEnv + "=1ns"}, "run", "--config", writeConfig(t, w, ""),
		"--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", dst, "--once")
	if err := p.wait(t, 60*time.Second); err != nil {
		t.Fatalf("--once: %v", err)
	}
	p.mu.Lock()
	lines := append([]string(nil), p.all...)
	p.mu.Unlock()

	want := int64(len(w.Events)) // one offset per event: nothing was read before
	var reports int
	var last int64 = -1
	for _, l := range lines {
		m := drainLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		reports++
		done, _ := strconv.ParseInt(m[1], 10, 64)
		total, _ := strconv.ParseInt(m[2], 10, 64)
		pct, _ := strconv.ParseInt(m[3], 10, 64)
		if total != want {
			t.Errorf("total = %d, want %d (the records to read, known at start): %s", total, want, l)
		}
		if done < last || done > total {
			t.Errorf("done = %d after %d, of %d: %s", done, last, total, l)
		}
		if pct != done*100/total && !(pct == 99 && done < total) {
			t.Errorf("percent %d for %d of %d: %s", pct, done, total, l)
		}
		last = done
	}
	if reports < 3 {
		t.Fatalf("%d progress lines, want several (one per poll of at most 150 of %d records); stderr:\n%v", reports, want, lines)
	}
	if last != want {
		t.Errorf("last progress line says %d done, want all %d", last, want)
	}
	assertTables(t, dst, w)
}

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// lastRun reads the newest run-history row.
func lastRun(t *testing.T, dsn string) (status, errText string) {
	t.Helper()
	wh := openTarget(t, dsn)
	defer wh.Close()
	var e *string
	if err := wh.DB.QueryRow(`SELECT status, error FROM _cdc_runs ORDER BY started_at DESC LIMIT 1`).Scan(&status, &e); err != nil {
		t.Fatal(err)
	}
	if e != nil {
		errText = *e
	}
	return status, errText
}

// TestRunHistory_FailedRunIsRecorded: a run that ends with an error leaves
// its _cdc_runs row "failed" with the one-line error, not "running". Here
// the brokers stop serving records while --once reads: it gives up after
// kafka.unreachable_timeout, saying so on one line.
func TestRunHistory_FailedRunIsRecorded(t *testing.T) {
	const topic = "db.app.people"
	c, err := kafkatest.Start(2, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), workload.People(topic, 1, 20)); err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("broker down"), true
	})
	cfg := filepath.Join(t.TempDir(), "cdcsync.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  unreachable_timeout: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "t.duckdb")
	p := start(t, nil, "run", "--config", cfg, "--brokers", c.Addr(), "--topics", `db\.app\..*`, "--target", dst, "--once")
	if err := p.wait(t, 60*time.Second); err == nil {
		t.Fatal("--once succeeded with the brokers down")
	}
	if !p.logged("waiting for records from Kafka") || !p.logged("cdcsync: no records from Kafka brokers") {
		t.Fatalf("--once did not say what it waited for and why it gave up:\n%s", strings.Join(p.all, "\n"))
	}
	status, e := lastRun(t, dst)
	if status != "failed" || !strings.Contains(e, "kafka.unreachable_timeout") || strings.Contains(e, "\n") {
		t.Fatalf("run history: %s %q, want failed with the one-line error", status, e)
	}
}

// TestRecreatedTopicBinary: with the real binary, a recreated topic stops
// --once with one line naming the topic and --reset-topic; the run is
// recorded as failed; with --reset-topic the new topic is read whole.
func TestRecreatedTopicBinary(t *testing.T) {
	const topic = "db.app.people"
	c, err := kafkatest.Start(2, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 1, 20)); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "t.duckdb")
	args := []string{"run", "--brokers", c.Addr(), "--topics", `db\.app\..*`, "--target", dst, "--once"}
	if err := start(t, nil, args...).wait(t, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.Recreate(ctx, c.Addr(), topic, 2); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 101, 40)); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, args...)
	if err := p.wait(t, 60*time.Second); err == nil {
		t.Fatal("--once succeeded on a recreated topic")
	}
	if !p.logged("cdcsync: topic recreated: "+topic) || !p.logged("--reset-topic "+topic) {
		t.Fatalf("no one-line error naming the topic and --reset-topic:\n%s", strings.Join(p.all, "\n"))
	}
	if status, e := lastRun(t, dst); status != "failed" || !strings.Contains(e, "--reset-topic") {
		t.Fatalf("run history: %s %q, want failed", status, e)
	}
	if err := start(t, nil, append(args, "--reset-topic", topic)...).wait(t, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	wh := openTarget(t, dst)
	defer wh.Close()
	var n int
	if err := wh.DB.QueryRow(`SELECT count(*) FROM people WHERE id > 100`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("%d rows of the recreated topic, want 40", n)
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cdcsync-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build cdcsync: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running cdcsync process with its stderr lines on a channel.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan error

	mu  sync.Mutex
	all []string // every stderr line, for assertions after exit
}

// logged reports whether any stderr line so far contains substr.
func (p *proc) logged(substr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.all {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 10000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is reading; keep the process unblocked
			}
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // it may have exited meanwhile
			<-p.done               //nolint:errcheck // killed: the exit status says only that
		}
	})
	return p
}

// wait waits for the process to exit, at most d.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	for {
		select {
		case _, ok := <-p.lines:
			if !ok {
				select {
				case err := <-p.done:
					return err
				case <-time.After(d):
					t.Fatal("cdcsync did not exit")
				}
			}
		case <-time.After(d):
			t.Fatal("cdcsync did not exit")
		}
	}
}

// waitLines waits until n stderr lines contain substr.
func (p *proc) waitLines(t *testing.T, substr string, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for seen := 0; seen < n; {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("cdcsync exited before logging %q %d times", substr, n)
			}
			if strings.Contains(l, substr) {
				seen++
			}
		case <-deadline:
			t.Fatalf("cdcsync did not log %q %d times in %s", substr, n, d)
		}
	}
}

func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// writeConfig writes a config file for a workload. The process is a static
// group member, so a restart after SIGKILL gets its partitions back at once
// (as DuckDB targets do by default) instead of after the session timeout.
func writeConfig(t *testing.T, w *workload.Workload, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "batch:\n  max_events: 150\n  interval: 50ms\nkafka:\n  metadata_refresh: 1s\n  instance_id: %s\nlog:\n  level: debug\n",
		strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	if !w.Opts.Schemas {
		b.WriteString("tables:\n")
		for _, tb := range w.Tables {
			fmt.Fprintf(&b, "  %s:\n    columns:\n", tb.Name)
			for col, typ := range tb.DeclaredTypes() {
				fmt.Fprintf(&b, "      %s: %q\n", col, typ)
			}
		}
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "cdcsync.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// caughtUp waits until the group's committed offsets (written after each
// warehouse commit) reach the end of every partition.
func caughtUp(t *testing.T, addr, group string, topics []string, d time.Duration) {
	t.Helper()
	if !caughtUpBy(addr, group, topics, d) {
		t.Fatalf("cdcsync did not catch up within %s", d)
	}
}

// caughtUpBy reports whether the group caught up within d.
func caughtUpBy(addr, group string, topics []string, d time.Duration) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return false
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			behind := false
			ends.Each(func(e kadm.ListedOffset) {
				c, ok := committed.Lookup(e.Topic, e.Partition)
				if e.Offset > 0 && (!ok || c.At < e.Offset) {
					behind = true
				}
			})
			if !behind {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		// Polling a condition another process reaches; the interval only
		// bounds how often we ask.
		time.Sleep(100 * time.Millisecond)
	}
}

// testTarget is a warehouse the binary tests run against.
type testTarget struct {
	name string
	dsn  func(t *testing.T, name string) string
}

// catchUp bounds the wait for a target to drain a backlog: DuckLake's
// commits cost more CPU, which a loaded machine may not have.
func (tt testTarget) catchUp() time.Duration {
	if tt.name == "ducklake" || tt.name == "iceberg" {
		return 10 * time.Minute
	}
	return 60 * time.Second
}

// testTargets returns DuckDB, and PostgreSQL when a test server is
// configured (make test starts one and requires it).
func testTargets(t *testing.T) []testTarget {
	out := []testTarget{{"duckdb", func(t *testing.T, name string) string {
		return filepath.Join(t.TempDir(), name+".duckdb")
	}}}
	if ext := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS"); ext != "" {
		out = append(out, testTarget{"ducklake", func(t *testing.T, name string) string {
			dir := t.TempDir()
			return "ducklake:" + filepath.Join(dir, name+".ducklake") + "?data_path=" + url.QueryEscape(dir+"/data/") +
				"&extension_directory=" + url.QueryEscape(ext)
		}})
	}
	if ext, ep := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS"), os.Getenv("CDCSYNC_ICEBERG_ENDPOINT"); ext != "" && ep != "" {
		run := time.Now().UnixNano() % 1_000_000_000
		out = append(out, testTarget{"iceberg", func(t *testing.T, name string) string {
			return iceberg.Prefix + ep + fmt.Sprintf("?namespace=%s_%d", strings.ToLower(name), run) +
				"&extension_directory=" + url.QueryEscape(ext)
		}})
	}
	base, ok := pgtest.Lookup(t)
	if !ok {
		t.Log("PostgreSQL target skipped: CDCSYNC_TEST_PG_DSN is not set (make test sets it)")
		return out
	}
	run := time.Now().UnixNano() % 1_000_000_000
	return append(out, testTarget{"postgres", func(t *testing.T, name string) string {
		return base + fmt.Sprintf("&schema=%s_%d", strings.ToLower(name), run)
	}})
}

// openTarget opens the test target a DSN names (a DuckDB file or a
// PostgreSQL schema, the two testTargets) with its Inspector.
func openTarget(t *testing.T, dsn string) sqlapplytest.Inspected {
	t.Helper()
	if k, ok := target.Lookup(dsn); ok && k.Name == "duckdb" {
		return sqlapplytest.OpenDuckDB(t, strings.TrimPrefix(dsn, "duckdb://"), warehouse.Options{Group: "x"})
	}
	if strings.HasPrefix(dsn, ducklake.Prefix) {
		c, err := ducklake.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		db, err := ducklake.Connect(context.Background(), c, false)
		if err != nil {
			t.Fatal(err)
		}
		wh, ins := sqlapplytest.Open(t, db, ducklake.Dialect{}, warehouse.Options{Group: "x"})
		return sqlapplytest.Inspected{Warehouse: wh, Inspector: ins}
	}
	if strings.HasPrefix(dsn, iceberg.Prefix) {
		c, err := iceberg.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		db, err := iceberg.Connect(context.Background(), c, false)
		if err != nil {
			t.Fatal(err)
		}
		wh, ins := sqlapplytest.Open(t, db, iceberg.Dialect{Namespace: c.Namespace}, warehouse.Options{Group: "x"})
		return sqlapplytest.Inspected{Warehouse: wh, Inspector: ins}
	}
	return sqlapplytest.OpenPostgres(t, dsn, warehouse.Options{Group: "x"})
}

func assertTables(t *testing.T, dsn string, w *workload.Workload) {
	t.Helper()
	wh := openTarget(t, dsn)
	defer wh.Close()
	warehousetest.AssertTables(t, wh, w)
	for _, tb := range w.Tables {
		// Exactly once, landing included: every decoded record of the
		// topic landed once.
		var n, distinct int
		err := wh.DB.QueryRow(`SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM `+qualified(wh, warehouse.LandingTable(tb.Name))).Scan(&n, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if n != distinct {
			t.Errorf("%s: landing table holds %d rows for %d distinct records: a batch was applied twice", tb.Name, n, distinct)
		}
	}
	var dead, deadDistinct int
	if err := wh.DB.QueryRow(`SELECT count(*), count(DISTINCT (topic, kafka_partition, kafka_offset)) FROM `+qualified(wh, warehouse.DeadLettersTable)).Scan(&dead, &deadDistinct); err != nil {
		t.Fatal(err)
	}
	if dead != w.Poisoned || deadDistinct != dead {
		t.Errorf("dead letters: %d rows (%d distinct), want %d", dead, deadDistinct, w.Poisoned)
	}
}

func qualified(wh sqlapplytest.Inspected, table string) string { return wh.Qualified(table) }

// TestContinuousSurvivesKill9 runs the real binary in continuous mode over
// a seeded workload produced in chunks, and kills it with SIGKILL at the
// moments of the commit path that matter — before the transaction, after
// staging, just before COMMIT, just after COMMIT — and once from outside
// between batches. After a final clean run the tables equal the source, and
// the landing and dead-letter tables hold every record exactly once.
func TestContinuousSurvivesKill9(t *testing.T) {
	for _, tt := range testTargets(t) {
		for _, schemas := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/schemas=%v", tt.name, schemas), func(t *testing.T) {
				w := workload.New(workload.Options{Seed: 42, Partitions: 3, Schemas: schemas, SnapshotRows: 30, Ops: 3000,
					Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
				var topics []string
				for _, tb := range w.Tables {
					topics = append(topics, w.Topic(tb))
				}
				c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				target := tt.dsn(t, fmt.Sprintf("crash_%v", schemas))
				cfg := writeConfig(t, w, "")
				args := []string{"run", "--config", cfg, "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", target, "--group", "crash"}

				killAtEachStep(t, c.Addr(), w.Events, "crash", topics, tt.catchUp(), args)
				assertTables(t, target, w)
			})
		}
	}
}

// killAtEachStep produces events in parts and runs continuous mode
// (args) over each part, killed by SIGKILL at a step of the commit path
// (failpoints) or from outside after a few batches; then it produces the
// rest, runs it until the group caught up and stops it cleanly.
func killAtEachStep(t *testing.T, addr string, events []workload.Event, group string, topics []string, catchUp time.Duration, args []string) {
	t.Helper()
	kills := []string{"before-begin:2", "staged:3", "before-commit:2", "after-commit:3", "external"}
	chunk := len(events) / (len(kills) + 1)
	for i, kill := range kills {
		if err := kafkatest.Produce(context.Background(), addr, events[i*chunk:(i+1)*chunk]); err != nil {
			t.Fatal(err)
		}
		if kill == "external" {
			p := start(t, nil, args...)
			p.waitLines(t, "batch applied", 3, 60*time.Second)
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := p.wait(t, 30*time.Second); !killedBySignal(err) {
				t.Fatalf("expected a SIGKILL exit, got %v", err)
			}
			continue
		}
		p := start(t, []string{"CDCSYNC_FAILPOINT=" + kill}, args...)
		if err := p.wait(t, 60*time.Second); !killedBySignal(err) {
			t.Fatalf("failpoint %s: expected the process to die by SIGKILL, got %v", kill, err)
		}
	}
	if err := kafkatest.Produce(context.Background(), addr, events[len(kills)*chunk:]); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, args...)
	caughtUp(t, addr, group, topics, catchUp)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
}

// ownPostgres starts a throwaway PostgreSQL server for one test with the
// project's service script and returns its DSN and the command that
// restarts it (keeping its data). It is stopped when the test ends.
func ownPostgres(t *testing.T) (dsn, restart string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	run, err := os.MkdirTemp("/tmp", "cdcsync-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o755); err != nil { // the postgres OS user must reach its data dir
		t.Fatal(err)
	}
	svc, err := filepath.Abs("../../scripts/services/svc.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf("CDCSYNC_RUN_DIR=%s CDCSYNC_PG_PORT=%d", run, port)
	sh := func(args string) error {
		out, err := exec.Command("sh", "-c", "env "+env+" "+svc+" "+args).CombinedOutput()
		if err != nil {
			return fmt.Errorf("svc.sh %s: %v\n%s", args, err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		if err := sh("stop postgres"); err != nil {
			t.Error(err)
		}
		os.RemoveAll(run)
	})
	if err := sh("start postgres"); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", port), "env " + env + " " + svc + " restart postgres"
}

// TestPostgresRestartMidStream restarts the PostgreSQL server under a
// running continuous pipeline: the batch in flight fails, is retried on a
// new connection once the server is back, and nothing is lost or doubled.
func TestPostgresRestartMidStream(t *testing.T) {
	if len(testTargets(t)) < 2 {
		t.Skip("needs PostgreSQL (make test)")
	}
	// A server of its own: restarting the shared one would fail the other
	// packages' tests running in parallel.
	base, restart := ownPostgres(t)
	w := workload.New(workload.Options{Seed: 77, Partitions: 3, Schemas: true, SnapshotRows: 30, Ops: 3000,
		Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dsn := base + "&schema=restart"
	args := []string{"run", "--config", writeConfig(t, w, ""), "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", dsn, "--group", "restart"}
	half := len(w.Events) / 2
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events[:half]); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, args...)
	p.waitLines(t, "batch applied", 2, 60*time.Second)
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		t.Fatalf("restart PostgreSQL: %v\n%s", err, out)
	}
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events[half:]); err != nil {
		t.Fatal(err)
	}
	if !caughtUpBy(c.Addr(), "restart", topics, 90*time.Second) {
		p.mu.Lock()
		tail := p.all[max(0, len(p.all)-15):]
		p.mu.Unlock()
		t.Fatalf("cdcsync did not catch up within 90s; its last lines:\n%s", strings.Join(tail, "\n"))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	if !p.logged("warehouse error, retrying the batch") {
		t.Error("the restart never hit a batch: no retry was logged")
	}
	assertTables(t, dsn, w)
}

// TestOnceBinaryConverges drains a workload with `cdcsync run --once`.
func TestOnceBinaryConverges(t *testing.T) {
	w := workload.New(workload.Options{Seed: 5, Partitions: 2, Schemas: true, SnapshotRows: 20, Ops: 1500,
		Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
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
	p := start(t, nil, "run", "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", dst, "--once")
	if err := p.wait(t, 60*time.Second); err != nil {
		t.Fatalf("--once: %v", err)
	}
	assertTables(t, dst, w)
	// A second pass finds nothing new and changes nothing.
	p = start(t, nil, "run", "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", dst, "--once")
	if err := p.wait(t, 60*time.Second); err != nil {
		t.Fatalf("second --once: %v", err)
	}
	assertTables(t, dst, w)
}

// TestErrorsAreOneLine checks that bad input fails with one line naming
// the problem.
func TestErrorsAreOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	c, err := kafkatest.Start(1, "a.b.c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("batch:\n  max_evnts: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	invalidCfg := filepath.Join(dir, "invalid.yaml")
	// Gives up on the brokers before the first "waiting for" warning.
	quickCfg := filepath.Join(dir, "quick.yaml")
	if err := os.WriteFile(quickCfg, []byte("kafka:\n  unreachable_timeout: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(invalidCfg, []byte("batch:\n  max_events: 0\n  interval: -1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unreachable broker", []string{"run", "--config", quickCfg, "--brokers", closedAddr, "--topics", "x", "--target", filepath.Join(dir, "a.duckdb"), "--once"}, "cannot reach Kafka"},
		{"bad regex", []string{"run", "--brokers", c.Addr(), "--topics", "(", "--target", filepath.Join(dir, "a.duckdb")}, "topics: invalid regular expression"},
		{"unwritable target", []string{"run", "--brokers", c.Addr(), "--topics", "x", "--target", filepath.Join(notDir, "a.duckdb"), "--once"}, "DuckDB"},
		{"unknown target", []string{"run", "--brokers", c.Addr(), "--topics", "x", "--target", "mysql://x"}, "target"},
		{"unknown config key", []string{"run", "--config", badCfg, "--brokers", c.Addr(), "--topics", "x", "--target", filepath.Join(dir, "a.duckdb")}, "max_evnts"},
		{"invalid config values", []string{"run", "--config", invalidCfg, "--brokers", c.Addr(), "--topics", "x", "--target", filepath.Join(dir, "a.duckdb")}, "batch.max_events"},
		{"unreachable PostgreSQL target", []string{"run", "--brokers", c.Addr(), "--topics", "x", "--target", "postgres://cdc:secret@" + closedAddr + "/db?sslmode=disable", "--once"}, "target postgres://cdc:xxxxx@"},
		{"unreachable Redshift target", []string{"run", "--brokers", c.Addr(), "--topics", "x", "--target", "redshift://cdc:secret@" + closedAddr + "/dev?sslmode=disable", "--once"}, "target redshift://cdc:xxxxx@"},
		{"missing flags", []string{"run"}, "brokers"},
		{"missing config file", []string{"run", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			var errBuf strings.Builder
			cmd.Stdout, cmd.Stderr = io.Discard, &errBuf
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("want a non-zero exit, got %v", err)
			}
			stderr := strings.TrimRight(errBuf.String(), "\n")
			if strings.Count(stderr, "\n") != 0 {
				t.Errorf("stderr has %d lines, want one:\n%s", strings.Count(stderr, "\n")+1, stderr)
			}
			if !strings.HasPrefix(stderr, "cdcsync: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want a cdcsync: line mentioning %q", stderr, tc.want)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace on stderr: %s", stderr)
			}
		})
	}
}

// TestNewTopicsArePickedUp creates a matching topic while the continuous
// pipeline runs: its table appears without a restart.
func TestNewTopicsArePickedUp(t *testing.T) {
	w := workload.New(workload.Options{Seed: 9, Partitions: 2, Schemas: true, SnapshotRows: 5, Ops: 200})
	c, err := kafkatest.Start(2, w.Topic(w.Table("customers")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var first, later []workload.Event
	for _, e := range w.Events {
		if e.Topic == w.Topic(w.Table("customers")) {
			first = append(first, e)
		} else {
			later = append(later, e)
		}
	}
	if err := kafkatest.Produce(context.Background(), c.Addr(), first); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new.duckdb")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := ln.Addr().String()
	ln.Close()
	p := start(t, nil, "run", "--config", writeConfig(t, w, "metrics_listen: "+metrics+"\n"), "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", dst, "--group", "newtopics")
	p.waitLines(t, "batch applied", 1, 60*time.Second)
	// orders and order_settings do not exist yet: producing creates them.
	if err := kafkatest.Produce(context.Background(), c.Addr(), later); err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	caughtUp(t, c.Addr(), "newtopics", topics, 60*time.Second)
	// The Prometheus endpoint counts what was committed.
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Events by table, each table's count of what was produced to it.
	produced := map[string]int{}
	for _, e := range w.Events {
		produced[e.Topic[strings.LastIndexByte(e.Topic, '.')+1:]]++
	}
	for table, n := range produced {
		m := regexp.MustCompile(`(?m)^cdcsync_events_total\{table="` + table + `"\} (\d+)$`).FindSubmatch(body)
		if m == nil || string(m[1]) != strconv.Itoa(n) {
			t.Errorf("cdcsync_events_total{table=%q} = %q, want %d", table, m, n)
		}
	}
	for _, want := range []string{`cdcsync_build_info{goversion="go`, "go_goroutines ", "process_resident_memory_bytes ", "cdcsync_ready 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s = %d %s, want 200 once caught up", path, resp.StatusCode, b)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	assertTables(t, dst, w)
}

// TestTopicsCommand lists the matched topics with their tables, partitions
// and message counts.
func TestTopicsCommand(t *testing.T) {
	c, err := kafkatest.Start(3, "shop.inventory.customers", "shop.inventory.orders", "other.topic")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := []workload.Event{
		{Topic: "shop.inventory.customers", Partition: 0, Key: []byte(`{"id":1}`)},
		{Topic: "shop.inventory.customers", Partition: 2, Key: []byte(`{"id":2}`)},
		{Topic: "shop.inventory.orders", Partition: 1, Key: []byte(`{"id":3}`)},
	}
	if err := kafkatest.Produce(context.Background(), c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "topics", "--brokers", c.Addr(), "--topics", `shop\.inventory\..*`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(string(out)), " ")
	want := "TOPIC TABLE PARTITIONS MESSAGES FORMAT shop.inventory.customers customers 3 2 json shop.inventory.orders orders 3 1 json"
	if got != want {
		t.Errorf("topics printed %q, want %q", got, want)
	}
}

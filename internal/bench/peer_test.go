package bench

// BenchmarkPeer measures cdcsync against the tool users would pick instead:
// the Debezium JDBC sink connector, in the Kafka Connect that
// scripts/services runs. One seeded workload (schema-embedded Debezium
// events: a snapshot, then inserts, updates, primary-key changes and deletes
// with tombstones, over three tables and three partitions) is produced
// into the real broker once; then the sink and `cdcsync run --once`
// (default configuration) apply it alternately, A B A B, each into a fresh
// PostgreSQL database of the same server. Each target must end equal to
// the source (the workload knows its final rows). Per run it prints
// events/s, the process's CPU seconds, its peak RSS and PostgreSQL's CPU
// seconds, then the ratios cdcsync/sink.
//
// The workload has no truncates: the sink applies each partition on its
// own, so it cannot order a truncate (one event on one partition) against
// the other partitions' changes, and its target would not converge.
//
//	make bench-peer                                   # ~980,000 events
//	CDCSYNC_BENCH_EVENTS=50000 make bench-peer        # a quicker look
//
// It runs only with CDCSYNC_BENCH_PEER=1 and the services' environment
// (svc.sh env postgres kafka connect, CDCSYNC_RUN_DIR for their pids);
// make bench-peer sets both. Nothing here asserts a timing.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the targets are read back
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// peerPartitions is the partitions of each topic.
const peerPartitions = 3

// peerRounds is how many times each tool runs (CDCSYNC_PEER_ROUNDS,
// default 2: sink, cdcsync, sink, cdcsync).
func peerRounds() int {
	if n, err := strconv.Atoi(os.Getenv("CDCSYNC_PEER_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// peerWorkload is the shared workload: for the default 1,000,000 it holds
// 982,694 events of 3.4 KB on average and 503,684 rows at the end.
func peerWorkload(n int, prefix string) workload.Options {
	return workload.Options{Seed: 1, Prefix: prefix, Partitions: peerPartitions, Schemas: true,
		SnapshotRows: n / 7, Ops: n / 3, PKChanges: true, Tombstones: true, Truncates: false}
}

// peerRun is one measured run of one tool.
type peerRun struct {
	tool    string
	round   int
	seconds float64
	events  int
	cpu     float64 // the process's user+system seconds
	rssMiB  float64 // its peak resident set
	pgCPU   float64 // PostgreSQL's user+system seconds (server and backends)
}

func (r peerRun) rate() float64 { return float64(r.events) / r.seconds }

// peerEnv is what the benchmark needs from the services.
type peerEnv struct {
	pgDSN, kafka, connect string
	connectPID, pgPID     int
}

func lookupPeerEnv(b *testing.B) peerEnv {
	if os.Getenv("CDCSYNC_BENCH_PEER") != "1" {
		b.Skip("set CDCSYNC_BENCH_PEER=1 (make bench-peer does, with its services)")
	}
	e := peerEnv{pgDSN: os.Getenv("CDCSYNC_TEST_PG_DSN"), kafka: os.Getenv("CDCSYNC_TEST_KAFKA"),
		connect: os.Getenv("CDCSYNC_TEST_CONNECT")}
	if e.pgDSN == "" || e.kafka == "" || e.connect == "" {
		b.Fatal("CDCSYNC_TEST_PG_DSN, CDCSYNC_TEST_KAFKA and CDCSYNC_TEST_CONNECT must be set: eval \"$(svc.sh env)\"")
	}
	run := os.Getenv("CDCSYNC_RUN_DIR")
	if run == "" {
		run = "/tmp/cdcsync-services"
	}
	var err error
	if e.connectPID, err = readPID(filepath.Join(run, "connect", "pid")); err != nil {
		b.Fatalf("Kafka Connect's pid (CDCSYNC_RUN_DIR=%s): %v", run, err)
	}
	if e.pgPID, err = readPID(filepath.Join(run, "postgres", "pid")); err != nil {
		b.Fatalf("PostgreSQL's pid (CDCSYNC_RUN_DIR=%s): %v", run, err)
	}
	return e
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return pid, nil
}

func BenchmarkPeer(b *testing.B) {
	env := lookupPeerEnv(b)
	ctx := context.Background()
	dir := b.TempDir()
	bin := filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cdcsync").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	// One id names this run's topics, databases, connectors and groups.
	id := "peer" + strconv.FormatInt(time.Now().Unix()%1e7, 36)
	prefix := id + ".inventory"

	t0 := time.Now()
	w := workload.New(peerWorkload(events(), prefix))
	var topics []string
	for _, t := range w.Tables {
		topics = append(topics, w.Topic(t))
	}
	var size int64
	for _, e := range w.Events {
		size += int64(len(e.Key) + len(e.Value))
	}
	total := len(w.Events)
	generated := time.Since(t0)
	t0 = time.Now()
	if err := createTopics(ctx, env.kafka, topics); err != nil {
		b.Fatal(err)
	}
	if err := kafkatest.Produce(ctx, env.kafka, w.Events); err != nil {
		b.Fatalf("produce: %v", err)
	}
	w.Events = nil // the tables keep the rows the targets must hold
	runtime.GC()
	want := map[string][][]*string{}
	rows := 0
	for _, t := range w.Tables {
		want[t.Name] = t.Expected()
		rows += len(want[t.Name])
	}
	fmt.Printf("bench-peer: %d events (%.0f MiB, %.0f bytes/event), %d partitions, %d tables, %d rows at the end; generated in %s, produced in %s\n",
		total, float64(size)/(1<<20), float64(size)/float64(total), peerPartitions, len(w.Tables), rows,
		generated.Round(time.Second), time.Since(t0).Round(time.Second))

	admin, err := sql.Open("pgx", env.pgDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()

	var runs []peerRun
	for round := 1; round <= peerRounds(); round++ {
		for _, tool := range []string{"jdbc-sink", "cdcsync"} {
			db := fmt.Sprintf("%s_%d_%s", id, round, strings.ReplaceAll(tool, "-", "_"))
			if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+sqltext.Ident(db)); err != nil {
				b.Fatalf("create database %s: %v", db, err)
			}
			dsn, jdbcURL, err := databaseDSN(env.pgDSN, db)
			if err != nil {
				b.Fatal(err)
			}
			var r peerRun
			if tool == "cdcsync" {
				r, err = runCdcsync(ctx, bin, dir, env, dsn, topics, fmt.Sprintf("%s-%d", id, round))
			} else {
				r, err = runSink(ctx, env, jdbcURL, dsn, prefix, topics, fmt.Sprintf("%s-%d", id, round))
			}
			if err != nil {
				b.Fatalf("%s, round %d: %v", tool, round, err)
			}
			r.tool, r.round, r.events = tool, round, total
			if err := checkTarget(ctx, dsn, w, want); err != nil {
				b.Fatalf("%s, round %d: the target differs from the source: %v", tool, round, err)
			}
			runs = append(runs, r)
			fmt.Printf("bench-peer: %-9s round %d: %8.0f events/s  %6.1f s  process CPU %6.1f s  peak RSS %5.0f MiB  PostgreSQL CPU %6.1f s  (target equals the source)\n",
				r.tool, r.round, r.rate(), r.seconds, r.cpu, r.rssMiB, r.pgCPU)
			if _, err := admin.ExecContext(ctx, "DROP DATABASE "+sqltext.Ident(db)+" WITH (FORCE)"); err != nil {
				b.Logf("drop database %s: %v", db, err)
			}
		}
	}
	fmt.Print(peerSummary(runs))
}

// createTopics creates the workload's topics with peerPartitions each.
func createTopics(ctx context.Context, addr string, topics []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, peerPartitions, 1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	if err := res.Error(); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	return nil
}

// databaseDSN points the server's DSN at another database, in Go's form
// and in JDBC's (without the credentials, which the sink takes apart).
func databaseDSN(dsn, db string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", fmt.Errorf("parse the PostgreSQL DSN: %w", err)
	}
	u.Path = "/" + db
	return u.String(), "jdbc:postgresql://" + u.Host + "/" + db, nil
}

// runCdcsync runs `cdcsync run --once` with the default configuration
// (plus CDCSYNC_PEER_CONFIG, YAML, to try other settings).
func runCdcsync(ctx context.Context, bin, dir string, env peerEnv, dsn string, topics []string, group string) (peerRun, error) {
	cfg := filepath.Join(dir, group+".yaml")
	if err := os.WriteFile(cfg, []byte(os.Getenv("CDCSYNC_PEER_CONFIG")), 0o600); err != nil {
		return peerRun{}, err
	}
	cmd := exec.CommandContext(ctx, bin, "run", "--once", "--config", cfg, "--brokers", env.kafka,
		"--topics", strings.Join(quoteAll(topics), "|"), "--target", dsn, "--group", group)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pg0, err := postgresCPU(env.pgPID)
	if err != nil {
		return peerRun{}, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return peerRun{}, err
	}
	// VmHWM of the child is its own peak; read it until it exits.
	stop := sampleMax(cmd.Process.Pid, "VmHWM")
	err = cmd.Wait()
	took := time.Since(t0)
	hwm := stop()
	if err != nil {
		return peerRun{}, fmt.Errorf("cdcsync: %w\n%s", err, lastLines(stderr.String(), 20))
	}
	pg1, err := postgresCPU(env.pgPID)
	if err != nil {
		return peerRun{}, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := float64(hwm) / 1024
	if m := regexp.MustCompile(`peak_rss_mib=(\d+)`).FindStringSubmatch(stderr.String()); m != nil {
		if v, _ := strconv.ParseFloat(m[1], 64); v > rss {
			rss = v
		}
	}
	return peerRun{seconds: took.Seconds(), cpu: tv(ru.Utime) + tv(ru.Stime), rssMiB: rss, pgCPU: pg1 - pg0}, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = regexp.QuoteMeta(s)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runSink creates a JDBC sink connector for the topics, waits until its
// consumer group has committed every partition's end offset, and deletes
// it. The Connect worker is measured from /proc: its CPU as the delta of
// its utime+stime, its RSS sampled (VmHWM would cover the worker's whole
// life, earlier runs included).
func runSink(ctx context.Context, env peerEnv, jdbcURL, dsn, prefix string, topics []string, name string) (peerRun, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return peerRun{}, err
	}
	pass, _ := u.User.Password()
	cfg := sinkConfig(jdbcURL, u.User.Username(), pass, prefix, topics)
	if extra := os.Getenv("CDCSYNC_PEER_SINK"); extra != "" {
		// CDCSYNC_PEER_SINK=key=value,key=value overrides settings, for tuning
		for _, kv := range strings.Split(extra, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return peerRun{}, fmt.Errorf("CDCSYNC_PEER_SINK: %q is not key=value", kv)
			}
			cfg[k] = v
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.kafka))
	if err != nil {
		return peerRun{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return peerRun{}, fmt.Errorf("end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return peerRun{}, fmt.Errorf("end offsets: %w", err)
	}
	rest := connectClient{base: env.connect}
	group := "connect-" + name // Connect's consumer group of a sink connector

	cpu0, err := procCPU(env.connectPID)
	if err != nil {
		return peerRun{}, err
	}
	pg0, err := postgresCPU(env.pgPID)
	if err != nil {
		return peerRun{}, err
	}
	stop := sampleMax(env.connectPID, "VmRSS")
	t0 := time.Now()
	if err := rest.create(ctx, name, cfg); err != nil {
		stop()
		return peerRun{}, err
	}
	defer func() {
		if err := rest.delete(context.Background(), name); err != nil {
			fmt.Fprintf(os.Stderr, "bench-peer: delete connector %s: %v\n", name, err)
		}
	}()
	var took time.Duration
	progressed, last := time.Now(), int64(-1)
	for polls := 0; ; polls++ {
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil && caughtUp(ends, committed) {
			took = time.Since(t0)
			break
		}
		if n := sumCommitted(committed); n > last {
			progressed, last = time.Now(), n
		} else if time.Since(progressed) > sinkStall {
			stop()
			return peerRun{}, fmt.Errorf("the sink committed nothing for %s (%d of its records committed)", sinkStall, last)
		}
		if polls%20 == 0 { // every 5 s: a failed task never catches up
			if err := rest.healthy(ctx, name); err != nil {
				stop()
				return peerRun{}, err
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	rss := stop()
	cpu1, err := procCPU(env.connectPID)
	if err != nil {
		return peerRun{}, err
	}
	pg1, err := postgresCPU(env.pgPID)
	if err != nil {
		return peerRun{}, err
	}
	return peerRun{seconds: took.Seconds(), cpu: cpu1 - cpu0, rssMiB: float64(rss) / 1024, pgCPU: pg1 - pg0}, nil
}

// sinkConfig is the JDBC sink's configuration: the best settings found on
// the full workload. The sink reads Debezium's envelopes itself (no
// ExtractNewRecordState); a RegexRouter names each table after the last
// part of its topic, <prefix>.<db>.<table> -> <table>, as cdcsync does
// (${source.table} cannot name a tombstone's table); headers are read as
// strings, since under the default converter the task fails on the
// __debezium.oldkey/newkey headers of a primary-key change.
func sinkConfig(jdbcURL, user, password, prefix string, topics []string) map[string]string {
	return map[string]string{
		"connector.class":                     "io.debezium.connector.jdbc.JdbcSinkConnector",
		"topics":                              strings.Join(topics, ","),
		"connection.url":                      jdbcURL,
		"connection.username":                 user,
		"connection.password":                 password,
		"insert.mode":                         "upsert",
		"delete.enabled":                      "true",
		"primary.key.mode":                    "record_key",
		"schema.evolution":                    "basic",
		"collection.name.format":              "${topic}",
		"transforms":                          "route",
		"transforms.route.type":               "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":              regexp.QuoteMeta(prefix) + `\.(.*)`,
		"transforms.route.replacement":        "$1",
		"header.converter":                    "org.apache.kafka.connect.storage.StringConverter",
		"tasks.max":                           "3",
		"batch.size":                          "500",
		"use.reduction.buffer":                "true",
		"consumer.override.auto.offset.reset": "earliest",
	}
}

// sinkStall is how long the sink may commit nothing before the run fails.
const sinkStall = 10 * time.Minute

// sumCommitted is the sum of a group's committed offsets.
func sumCommitted(committed kadm.OffsetResponses) int64 {
	var n int64
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			n += o.At
		}
	})
	return n
}

// caughtUp reports whether the group has committed every partition's end
// offset.
func caughtUp(ends kadm.ListedOffsets, committed kadm.OffsetResponses) bool {
	ok := true
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset == 0 {
			return
		}
		c, found := committed.Lookup(e.Topic, e.Partition)
		if !found || c.Err != nil || c.At < e.Offset {
			ok = false
		}
	})
	return ok
}

// checkTarget compares every table of the target with the rows the
// workload says the source holds, column by column in canonical text.
func checkTarget(ctx context.Context, dsn string, w *workload.Workload, want map[string][][]*string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, t := range w.Tables {
		got, err := readTable(ctx, db, t)
		if err != nil {
			return err
		}
		t.SortRows(got)
		if diff := warehousetest.DiffRows(t.Columns(), want[t.Name], got); diff != "" {
			return fmt.Errorf("table %s (want %d rows, got %d):\n%s", t.Name, len(want[t.Name]), len(got), diff)
		}
	}
	return nil
}

// readTable reads a table's workload columns as the workload's canonical
// text: timestamps as microseconds since the epoch, everything else as
// PostgreSQL's text.
func readTable(ctx context.Context, db *sql.DB, t *workload.Table) ([][]*string, error) {
	cols := t.Columns()
	sel := make([]string, len(cols))
	for i, c := range cols {
		if t.IsTimestamp(c) {
			sel[i] = "CAST(CAST(EXTRACT(EPOCH FROM " + sqltext.Ident(c) + ") * 1000000 AS bigint) AS text)"
		} else {
			sel[i] = "CAST(" + sqltext.Ident(c) + " AS text)"
		}
	}
	rs, err := db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+sqltext.Ident(t.Name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rs.Close()
	var out [][]*string
	for rs.Next() {
		row := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", t.Name, err)
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// peerSummary renders the runs and the ratios cdcsync/sink of the means.
func peerSummary(runs []peerRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| run | events/s | seconds | process CPU s | peak RSS MiB | PostgreSQL CPU s |\n|---|---|---|---|---|---|\n")
	mean := map[string]*peerRun{}
	n := map[string]float64{}
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s %d | %.0f | %.1f | %.1f | %.0f | %.1f |\n", r.tool, r.round, r.rate(), r.seconds, r.cpu, r.rssMiB, r.pgCPU)
		m := mean[r.tool]
		if m == nil {
			m = &peerRun{tool: r.tool}
			mean[r.tool] = m
		}
		m.seconds += r.seconds
		m.cpu += r.cpu
		m.rssMiB += r.rssMiB
		m.pgCPU += r.pgCPU
		m.events += r.events
		n[r.tool]++
	}
	c, s := mean["cdcsync"], mean["jdbc-sink"]
	if c == nil || s == nil {
		return b.String()
	}
	// events summed over runs / seconds summed over runs is the mean rate
	ratio := func(x, y float64) string { return fmt.Sprintf("%.2f×", x/y) }
	fmt.Fprintf(&b, "| cdcsync / sink | %s | %s | %s | %s | %s |\n",
		ratio(c.rate(), s.rate()), ratio(c.seconds/n["cdcsync"], s.seconds/n["jdbc-sink"]),
		ratio(c.cpu/n["cdcsync"], s.cpu/n["jdbc-sink"]), ratio(c.rssMiB/n["cdcsync"], s.rssMiB/n["jdbc-sink"]),
		ratio(c.pgCPU/n["cdcsync"], s.pgCPU/n["jdbc-sink"]))
	return b.String()
}

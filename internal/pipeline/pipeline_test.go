package pipeline_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CDCSYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startWorkload starts an in-process Kafka with the workload's topics and
// produces its events.
func startWorkload(t *testing.T, w *workload.Workload) *kafkatest.Cluster {
	t.Helper()
	c := startCluster(t, w)
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	return c
}

// startKafka starts an in-process Kafka with the topics (two partitions
// each), stopped when the test ends, holding events.
func startKafka(t *testing.T, events []workload.Event, topics ...string) *kafkatest.Cluster {
	t.Helper()
	return startKafkaN(t, 2, events, topics...)
}

// startKafkaN is startKafka with partitions partitions per topic.
func startKafkaN(t *testing.T, partitions int32, events []workload.Event, topics ...string) *kafkatest.Cluster {
	t.Helper()
	c, err := kafkatest.Start(partitions, topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := kafkatest.Produce(context.Background(), c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	return c
}

// startCluster starts an in-process Kafka with the workload's topics, empty.
func startCluster(t *testing.T, w *workload.Workload) *kafkatest.Cluster {
	t.Helper()
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig is the configuration the tests run with: the in-process
// cluster at addr, the topics matching topics, small batches and fetches.
func testConfig(addr, topics string) config.Config {
	cfg := config.Default()
	cfg.Brokers = []string{addr}
	cfg.Topics = topics
	cfg.Group = "test"
	cfg.Batch = config.Batch{MaxEvents: 500, MaxBytes: 8 << 20, Interval: config.Duration(50 * time.Millisecond)}
	cfg.Kafka.MetadataRefresh = config.Duration(time.Second)
	cfg.Kafka.FetchMaxBytes = 4 << 20
	return cfg
}

// fromConfig validates cfg and derives the pipeline's settings from it,
// as `cdcsync run` does.
func fromConfig(t testing.TB, cfg config.Config, once bool) pipeline.Config {
	t.Helper()
	if cfg.Target == "" {
		cfg.Target = "unused.duckdb" // the tests open the warehouse themselves
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pcfg, err := pipeline.ConfigFrom(cfg, once)
	if err != nil {
		t.Fatal(err)
	}
	return pcfg
}

// pipelineConfig reads the workload's topics; events without schemas get
// their tables' declared column types.
func pipelineConfig(t testing.TB, w *workload.Workload, addr string, once bool) pipeline.Config {
	cfg := testConfig(addr, w.TopicRegex())
	if !w.Opts.Schemas {
		cfg.Tables = map[string]config.Table{}
		for _, tb := range w.Tables {
			cfg.Tables[tb.Name] = config.Table{Columns: tb.DeclaredTypes()}
		}
	}
	return fromConfig(t, cfg, once)
}

func openDuck(t *testing.T, path string) sqlapplytest.Inspected {
	t.Helper()
	return sqlapplytest.OpenDuckDB(t, path, warehouse.Options{Group: "test", Landing: true})
}

// assertConverged compares every table of the workload with the warehouse.
func assertConverged(t *testing.T, wh sqlapplytest.Inspected, w *workload.Workload) {
	t.Helper()
	warehousetest.AssertTables(t, wh, w)
}

func countDeadLetters(t *testing.T, wh sqlapplytest.Inspected) int {
	t.Helper()
	var n int
	if err := wh.DB.QueryRow(`SELECT count(*) FROM _cdc_dead_letters`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// seeds returns the workload seeds to run: a fixed few by default, more
// with CDCSYNC_STRESS_SEEDS=n.
func seeds() []int64 {
	n := 3
	if s := os.Getenv("CDCSYNC_STRESS_SEEDS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			panic("CDCSYNC_STRESS_SEEDS: " + err.Error())
		}
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(7 + i*1000)
	}
	return out
}

func TestOnceConvergesToSourceState(t *testing.T) {
	for _, seed := range seeds() {
		for _, schemas := range []bool{true, false} {
			t.Run(fmt.Sprintf("seed=%d/schemas=%v", seed, schemas), func(t *testing.T) {
				w := workload.New(workload.Options{Seed: seed, Partitions: 1 + int(seed%4), Schemas: schemas, SnapshotRows: 40, Ops: 3000,
					Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
				c := startWorkload(t, w)
				wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
				defer wh.Close()
				sum, err := pipeline.New(pipelineConfig(t, w, c.Addr(), true), wh, testLogger(t), nil).Run(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if sum.Events != int64(len(w.Events)) {
					t.Errorf("consumed %d events, produced %d", sum.Events, len(w.Events))
				}
				assertConverged(t, wh, w)
				if got := countDeadLetters(t, wh); got != w.Poisoned {
					t.Errorf("dead letters: got %d, want %d", got, w.Poisoned)
				}
			})
		}
	}
}

// TestRejectedRecordIsIsolated: PostgreSQL cannot store a NUL character in
// text, which the decoder cannot know. The batch holding such a record is
// applied in parts: every other record lands, the one at fault goes to the
// dead-letter table with PostgreSQL's reason, and nothing is stuck.
func TestRejectedRecordIsIsolated(t *testing.T) {
	dsn := pgtest.DSN(t)
	const topic = "db.app.people"
	var events []workload.Event
	for i := 1; i <= 40; i++ {
		name := fmt.Sprintf("person %d", i)
		if i == 17 {
			name = `bad\u0000name`
		}
		events = append(events, workload.Event{Topic: topic, Partition: int32(i % 2),
			Key:   []byte(fmt.Sprintf(`{"id":%d}`, i)),
			Value: []byte(fmt.Sprintf(`{"before":null,"after":{"id":%d,"name":"%s"},"op":"c","source":{"file":"b.000001","pos":%d,"row":0}}`, i, name, 100+i))})
	}
	wh, sum := drainToPostgres(t, dsn, "reject", topic, events)
	schema := sqltext.Ident(wh.Inspector.Dialect.Schema())
	var rows, dead int
	var reason string
	if err := wh.DB.QueryRow(`SELECT count(*) FROM ` + schema + `.people`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := wh.DB.QueryRow(`SELECT count(*), max(reason) FROM `+schema+`._cdc_dead_letters WHERE kafka_offset IS NOT NULL`).Scan(&dead, &reason); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL's text cannot hold NUL: the dialect refuses the value
	// before the warehouse sees it, naming the column.
	if rows != 39 || dead != 1 || !strings.Contains(reason, `column "name"`) || !strings.Contains(reason, "NUL") || sum.Events != 40 {
		t.Fatalf("rows %d, dead letters %d (%q), events %d; want 39, 1 naming the column and NUL, 40", rows, dead, reason, sum.Events)
	}
}

// TestRejectedValueInNewTableIsIsolated: a value only the warehouse can
// refuse — a primary key too large for PostgreSQL's index (SQLSTATE 54000)
// — in the first batch of a new table, with its landing table created in
// that batch's transaction. The failed transaction takes the new landing
// table with it; the parts must not believe it exists. Exactly the record
// at fault is dead-lettered, with PostgreSQL's reason; every other lands.
func TestRejectedValueInNewTableIsIsolated(t *testing.T) {
	dsn := pgtest.DSN(t)
	const topic = "db.app.tags"
	// Incompressible, so PostgreSQL cannot shrink it into the index.
	rng := rand.New(rand.NewSource(5))
	var sb strings.Builder
	for sb.Len() < 12000 {
		fmt.Fprintf(&sb, "%016x", rng.Uint64())
	}
	big := sb.String()
	var events []workload.Event
	for i := 1; i <= 40; i++ {
		key := fmt.Sprintf("tag-%d", i)
		if i == 23 {
			key = big
		}
		events = append(events, workload.Event{Topic: topic, Partition: int32(i % 2),
			Key:   []byte(fmt.Sprintf(`{"name":%q}`, key)),
			Value: []byte(fmt.Sprintf(`{"before":null,"after":{"name":%q,"n":%d},"op":"c","source":{"file":"b.000001","pos":%d,"row":0}}`, key, i, 100+i))})
	}
	wh, sum := drainToPostgres(t, dsn, "rejectnew", topic, events)
	schema := sqltext.Ident(wh.Inspector.Dialect.Schema())
	var rows, landed, dead int
	var reason sql.NullString
	var offset sql.NullInt64
	if err := wh.DB.QueryRow(`SELECT count(*) FROM ` + schema + `.tags`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := wh.DB.QueryRow(`SELECT count(*) FROM ` + schema + `._cdc_landing_tags`).Scan(&landed); err != nil {
		t.Fatal(err)
	}
	if err := wh.DB.QueryRow(`SELECT count(*), max(reason), max(kafka_offset) FROM `+schema+`._cdc_dead_letters`).Scan(&dead, &reason, &offset); err != nil {
		t.Fatal(err)
	}
	if rows != 39 || landed != 39 || dead != 1 || !strings.Contains(reason.String, "index row") || sum.Events != 40 {
		t.Fatalf("rows %d, landed %d, dead letters %d (%q), events %d; want 39, 39, 1 with PostgreSQL's index-size reason, 40",
			rows, landed, dead, reason.String, sum.Events)
	}
}

// drainToPostgres produces events to topic (two partitions) and drains them
// with --once into a fresh schema of the test PostgreSQL.
func drainToPostgres(t *testing.T, dsn, schema, topic string, events []workload.Event) (sqlapplytest.Inspected, pipeline.Summary) {
	t.Helper()
	c := startKafka(t, events, topic)
	wh := sqlapplytest.OpenPostgres(t, dsn, warehouse.Options{Group: "reject", Landing: true,
		Schema: fmt.Sprintf("%s_%d", schema, time.Now().UnixNano()%1_000_000_000)})
	c0 := testConfig(c.Addr(), `db\.app\..*`)
	c0.Group, c0.Batch.MaxEvents, c0.Batch.Interval = "reject", 1000, config.Duration(time.Second)
	cfg := fromConfig(t, c0, true)
	sum, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(context.Background())
	if err != nil {
		t.Fatalf("the pipeline stopped: %v", err)
	}
	return wh, sum
}

// deadlineRecorder counts the batches applied under a context with a
// deadline.
type deadlineRecorder struct {
	warehouse.Warehouse
	applies, deadlines int
}

func (d *deadlineRecorder) Apply(ctx context.Context, b *batch.Batch, from map[batch.TopicPartition]int64) (warehouse.Stats, error) {
	d.applies++
	if _, ok := ctx.Deadline(); ok {
		d.deadlines++
	}
	return d.Warehouse.Apply(ctx, b, from)
}

// TestOnce_LastBatchHasNoDeadline: `run --once` commits its last batch
// however long it takes when nobody asked it to stop — it used to get 30
// seconds (the bound of a commit under way at a stop request), which a
// large batch into a DuckLake with its catalog in PostgreSQL can exceed.
func TestOnce_LastBatchHasNoDeadline(t *testing.T) {
	w := workload.New(workload.Options{Seed: 3, Partitions: 2, Schemas: true, SnapshotRows: 10, Ops: 200})
	c := startWorkload(t, w)
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	rec := &deadlineRecorder{Warehouse: wh}
	cfg := pipelineConfig(t, w, c.Addr(), true)
	if _, err := pipeline.New(cfg, rec, testLogger(t), nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.applies == 0 || rec.deadlines != 0 {
		t.Errorf("%d of %d batches applied under a deadline; want none", rec.deadlines, rec.applies)
	}
	assertConverged(t, wh, w)
}

package pipeline_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

type runRow struct {
	mode, version, status, err string
	events, batches            int64
	finished                   bool
}

func runRows(t *testing.T, wh sqlapplytest.Inspected) []runRow {
	t.Helper()
	rows, err := wh.DB.Query(`SELECT mode, version, status, coalesce(error, ''), events, batches, finished_at IS NOT NULL FROM _cdc_runs ORDER BY started_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []runRow
	for rows.Next() {
		var r runRow
		if err := rows.Scan(&r.mode, &r.version, &r.status, &r.err, &r.events, &r.batches, &r.finished); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunHistory_RecordedByThePipeline: Pipeline.Run itself leaves one
// _cdc_runs row per run, whoever calls it — "ok" with the run's totals and
// the configured version, or "failed" with the one-line error — where
// only `cdcsync run` wrote them before.
func TestRunHistory_RecordedByThePipeline(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	ctx := context.Background()
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	cfg := peopleConfig(t, c.Addr(), true)
	cfg.Version = "v-test"
	sum, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Brokers that hang up at once: the run fails, and says why. (A
	// listener of the test's own, held open, so that nothing else takes
	// its port.)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	dc := testConfig(silent.Addr().String(), `db\.app\.people`)
	dc.Kafka.UnreachableTimeout = config.Duration(time.Second)
	failed := fromConfig(t, dc, true)
	failed.Version = "v-test"
	if _, err := pipeline.New(failed, wh, testLogger(t), nil).Run(ctx); err == nil {
		t.Fatal("the run succeeded with the brokers gone")
	}

	got := runRows(t, wh)
	if len(got) != 2 {
		t.Fatalf("run history: %+v, want two rows", got)
	}
	ok := runRow{mode: "once", version: "v-test", status: "ok", events: sum.Events, batches: sum.Batches, finished: true}
	if got[0] != ok || sum.Events != 20 {
		t.Fatalf("first run: %+v (summary %+v), want %+v", got[0], sum, ok)
	}
	f := got[1]
	if f.status != "failed" || !f.finished || f.version != "v-test" || !strings.Contains(f.err, "kafka.unreachable_timeout") || strings.Contains(f.err, "\n") {
		t.Fatalf("failed run: %+v, want failed with the one-line error", f)
	}
}

// TestConfigFrom_MapsTheConfiguration: the pipeline's settings come from
// the configuration in one place: batch bounds, Kafka settings, and the
// topic → table mapping with declared types and the decimal mode.
func TestConfigFrom_MapsTheConfiguration(t *testing.T) {
	cfg := config.Default()
	cfg.Brokers, cfg.Topics, cfg.Target = []string{"127.0.0.1:9092"}, `db\.app\..*`, "x.duckdb"
	cfg.Batch.MaxEvents = 7
	cfg.Kafka.FetchMaxBytes = 4 << 30 // capped to what franz-go takes
	cfg.Kafka.InstanceID = "me"
	cfg.DecimalHandlingMode = "string"
	cfg.ToastPlaceholder = "__toast"
	cfg.Tables = map[string]config.Table{
		"folks":  {Topic: "db.app.people", Columns: map[string]string{"id": "bigint"}, Flattened: true},
		"orders": {Columns: map[string]string{"total": "decimal(10,2)"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.ConfigFrom(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Once || p.Group != "cdcsync" || p.MaxEvents != 7 || p.FetchMaxBytes != 1<<30 || p.InstanceID != "me" ||
		p.KafkaTimeout != config.DefaultKafkaWait || p.SessionTimeout != config.DefaultSession || len(p.Kafka) == 0 {
		t.Fatalf("settings: %+v", p)
	}
	if !p.Topics.MatchString("db.app.people") || p.Topics.MatchString("xdb.app.people") {
		t.Fatalf("topics %s must match whole names", p.Topics)
	}
	if p.Decoder.Placeholder != "__toast" {
		t.Fatalf("placeholder %q", p.Decoder.Placeholder)
	}
	folks := p.Decoder.Table("db.app.people")
	if folks.Name != "folks" || !folks.Flattened || !folks.DecimalStrings || folks.Columns["id"].String() != "bigint" {
		t.Fatalf("db.app.people: %+v", folks)
	}
	orders := p.Decoder.Table("db.app.orders")
	if orders.Name != "orders" || orders.Columns["total"].String() != "decimal(10,2)" {
		t.Fatalf("db.app.orders: %+v", orders)
	}
	if other := p.Decoder.Table("db.app.other"); other.Name != "other" || other.Columns != nil || !other.DecimalStrings {
		t.Fatalf("db.app.other: %+v", other)
	}
}

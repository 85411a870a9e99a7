package redshiftgen

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// recipeLowCardinality encodes the recipe's low-cardinality columns BYTEDICT.
var recipeLowCardinality = map[string][]string{
	"customers":      {"state", "country", "status"},
	"orders":         {"status"},
	"order_settings": {"setting_value"},
}

// recipeOptions are the recipe's names and ARNs.
var recipeOptions = Options{
	Database:       "dev",
	ExternalSchema: "analytics_platform_schema",
	IAMRole:        "arn:aws:iam::123456789012:role/redshift-streaming-role",
	ClusterARN:     "arn:aws:kafka:us-east-1:123456789012:cluster/streaming-pipeline-msk-cluster/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-1",
	LowCardinality: recipeLowCardinality,
}

// TestGoldenRecipe generates the recipe's three tables from schema-carrying
// events read from Kafka: binlog positions, a composite key, the recipe's
// DATETIME/DATE/DECIMAL/TIMESTAMP encodings (its DECIMAL in precise mode,
// hence a warning).
func TestGoldenRecipe(t *testing.T) {
	w := workload.New(workload.Options{Seed: 1, Partitions: 3, Schemas: true, SnapshotRows: 3, Ops: 20})
	tables := inspectWorkload(t, w, nil)
	checkGolden(t, "recipe", generate(t, recipeOptions, tables))
}

// TestGoldenRecipeSchemaless generates them from events without schemas,
// typed by the declared column types, without ARNs.
func TestGoldenRecipeSchemaless(t *testing.T) {
	w := workload.New(workload.Options{Seed: 1, Partitions: 3, Schemas: false, SnapshotRows: 3, Ops: 20})
	tables := inspectWorkload(t, w, declaredTypes(t, w))
	checkGolden(t, "recipe_schemaless", generate(t, Options{LowCardinality: recipeLowCardinality}, tables))
}

// TestGoldenRecipePostgreSQL renders the recipe's tables as the procedure
// test runs them on PostgreSQL.
func TestGoldenRecipePostgreSQL(t *testing.T) {
	w := workload.New(workload.Options{Seed: 1, Partitions: 3, Schemas: true, SnapshotRows: 3, Ops: 20})
	tables := inspectWorkload(t, w, nil)
	opts := recipeOptions
	opts.Dialect = PostgreSQL
	checkGolden(t, "recipe_postgresql", generate(t, opts, tables))
}

// TestGoldenCaptured generates tables from events Debezium really wrote
// (scripts/services/testdata/captured): PostgreSQL LSNs and MariaDB binlog
// positions, and the types the recipe lacks (bytes, JSON, UUID, time,
// doubles, enums, MariaDB's BOOLEAN as int16), with and without schemas.
func TestGoldenCaptured(t *testing.T) {
	mariadbTypes := map[string]change.Type{}
	for col, s := range map[string]string{"balance": "decimal(10,2)", "active": "boolean", "birth_date": "date",
		"created_at": "timestamp", "updated_at": "timestamptz", "wake_time": "time", "avatar": "bytes"} {
		typ, err := change.ParseType(s)
		if err != nil {
			t.Fatal(err)
		}
		mariadbTypes[col] = typ
	}
	var tables []*Table
	for _, c := range []struct {
		file, topic, table string
		declared           map[string]change.Type
	}{
		{"postgres-schemas.customers.stream.jsonl", "pgshop.public.customers", "pg_customers", nil},
		{"mariadb-schemas.customers.stream.jsonl", "shop.cdcsync.customers", "mariadb_customers", nil},
		{"mariadb-noschemas.customers.stream.jsonl", "shopns.cdcsync.customers", "mariadb_customers_ns", mariadbTypes},
	} {
		opts := debezium.Options{Table: func(string) debezium.TableOptions {
			return debezium.TableOptions{Name: c.table, Columns: c.declared}
		}}
		tab, err := Inspect(c.topic, capturedRecords(t, c.file, c.topic), opts)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tab)
	}
	checkGolden(t, "captured", generate(t, Options{Schema: "analytics"}, tables))
}

func generate(t *testing.T, opts Options, tables []*Table) *Output {
	t.Helper()
	out, err := Generate(opts, tables)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkGolden compares the output's files with testdata/<dir>/<file>.golden,
// or rewrites them with -update.
func checkGolden(t *testing.T, dir string, out *Output) {
	t.Helper()
	dir = filepath.Join("testdata", dir)
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range out.Files() {
		path := filepath.Join(dir, f.Name+".golden")
		want[path] = true
		if *update {
			if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if string(golden) != f.Content {
			t.Errorf("%s differs from the generated SQL (go test -update rewrites it):\n%s", path, firstDiff(string(golden), f.Content))
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
	for _, p := range paths {
		if !want[p] {
			t.Errorf("%s is not generated any more", p)
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  golden: " + a + "\n  got:    " + b
		}
	}
	return ""
}

// inspectWorkload produces the workload into an in-process Kafka, samples
// every topic as the command does, and inspects the tables.
func inspectWorkload(t *testing.T, w *workload.Workload, declared map[string]map[string]change.Type) []*Table {
	t.Helper()
	addr := startKafka(t, w)
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	samples, err := Sample(context.Background(), []kgo.Opt{kgo.SeedBrokers(addr)}, topics, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := decoderOptions(declared)
	var tables []*Table
	for _, topic := range topics {
		tab, err := Inspect(topic, samples[topic], opts)
		if err != nil {
			t.Fatalf("topic %s: %v", topic, err)
		}
		tables = append(tables, tab)
	}
	return tables
}

func startKafka(t *testing.T, w *workload.Workload) string {
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
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	return c.Addr()
}

func decoderOptions(declared map[string]map[string]change.Type) debezium.Options {
	return debezium.Options{Table: func(topic string) debezium.TableOptions {
		name := debezium.TableName(topic)
		return debezium.TableOptions{Name: name, Columns: declared[name]}
	}}
}

// declaredTypes are the column types a configuration declares for the
// workload's schemaless events.
func declaredTypes(t *testing.T, w *workload.Workload) map[string]map[string]change.Type {
	t.Helper()
	out := map[string]map[string]change.Type{}
	for _, tb := range w.Tables {
		m := map[string]change.Type{}
		for col, s := range tb.DeclaredTypes() {
			typ, err := change.ParseType(s)
			if err != nil {
				t.Fatal(err)
			}
			m[col] = typ
		}
		out[tb.Name] = m
	}
	return out
}

// capturedRecords reads a captured topic (one {"key":…,"value":…} per
// line, raw JSON) as the records of one partition.
func capturedRecords(t *testing.T, file, topic string) []debezium.Record {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "scripts", "services", "testdata", "captured", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []debezium.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct{ Key, Value json.RawMessage }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, debezium.Record{Topic: topic, Offset: int64(len(recs)), Key: raw(line.Key), Value: raw(line.Value)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func raw(b json.RawMessage) []byte {
	if string(b) == "null" {
		return nil
	}
	return b
}

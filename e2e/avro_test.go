package e2e

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/avroconv"
)

// The Avro runs: the MariaDB and PostgreSQL workloads through Debezium
// with Apicurio's Avro converter writing the Confluent wire format into a
// real Apicurio Registry (svc.sh start registry), synced into DuckDB and
// PostgreSQL targets with the registry's Confluent-compatible API in
// cdcsync's config, and verified equal to the sources.

// avroConnectorConfig is connectorConfig with Apicurio's Avro converter
// for keys and values: Confluent's wire format (as-confluent, 4-byte
// content ids the ccompat API serves), schemas registered as they come.
func avroConnectorConfig() map[string]string {
	cfg := map[string]string{
		"tasks.max":                   "1",
		"skipped.operations":          "none",
		"schema.name.adjustment.mode": "avro",
		"field.name.adjustment.mode":  "avro",
		"key.converter":               "io.apicurio.registry.utils.converter.AvroConverter",
		"value.converter":             "io.apicurio.registry.utils.converter.AvroConverter",
	}
	for _, side := range []string{"key", "value"} {
		for k, v := range map[string]string{
			"apicurio.registry.url":             env("REGISTRY") + "/apis/registry/v2",
			"apicurio.registry.auto-register":   "true",
			"apicurio.registry.find-latest":     "true",
			"apicurio.registry.as-confluent":    "true",
			"apicurio.registry.use-id":          "contentId",
			"apicurio.registry.headers.enabled": "false",
		} {
			cfg[side+".converter."+k] = v
		}
	}
	return cfg
}

// avroConfig writes a cdcsync config naming the registry's ccompat API.
func avroConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "avro.yaml")
	if err := os.WriteFile(path, []byte("schema_registry:\n  url: "+env("REGISTRY_CCOMPAT")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	keyRegistryOnce sync.Once
	keyRegistry     *avroconv.Registry
)

// avroKeyJSON converts a record key in the wire format into JSON with its
// schema (for markerKey), or returns it unchanged.
func avroKeyJSON(key []byte) []byte {
	if !avroconv.IsWire(key) {
		return key
	}
	keyRegistryOnce.Do(func() {
		keyRegistry, _ = avroconv.New(avroconv.Options{URL: env("REGISTRY_CCOMPAT")})
	})
	if keyRegistry == nil {
		return nil
	}
	j, err := keyRegistry.ToJSON(key)
	if err != nil {
		return nil
	}
	return j
}

func requireRegistry(t *testing.T) {
	t.Helper()
	requireE2E(t)
	if env("REGISTRY") == "" || env("REGISTRY_CCOMPAT") == "" {
		t.Fatal("CDCSYNC_TEST_REGISTRY is not set: start the registry (scripts/services/svc.sh start registry)")
	}
}

// TestMariaDBAvro streams the MariaDB workload (snapshot, updates,
// deletes, key changes, truncate, an added column) through Debezium in
// Avro and requires `cdcsync verify` to find DuckDB and PostgreSQL
// targets equal to the source.
func TestMariaDBAvro(t *testing.T) {
	requireRegistry(t)
	t.Parallel()
	start := time.Now()
	db := runID + "_mavro"
	prefix := runID + "ma"
	root := mariadbOpen(t, "")
	ctx := deadline(t, 5*time.Minute)
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+db+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})
	conn, err := mariadbOpen(t, db).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	execScript(t, conn, "testdata/mariadb_schema.sql")

	cfg := avroConnectorConfig()
	cfg = with(cfg, mariadbSource(prefix, db, 300000+rand.IntN(100000)))
	startConnector(t, prefix+"-mariadb", cfg)
	t.Cleanup(func() { deleteTopics(t, prefix) })
	counts := map[string]int64{}
	for table, n := range mariadbSnapshot {
		counts[prefix+"."+db+"."+table] = n
	}
	waitForRecords(t, counts)
	t.Logf("snapshot read: %s", since(start))
	avroRuns(t, mariadbDSN(db), prefix+"."+db+".", topicsOf(prefix, db), runID+"_matgt", func() {
		execScript(t, conn, "testdata/mariadb_workload.sql")
		execScript(t, conn, "testdata/mariadb_marker.sql")
	})
}

// TestPostgresAvro streams the PostgreSQL workload (TOASTed values left
// out of updates included) through Debezium in Avro and requires `cdcsync
// verify` to find DuckDB and PostgreSQL targets equal to the source.
func TestPostgresAvro(t *testing.T) {
	requireRegistry(t)
	t.Parallel()
	schema := runID + "_pavro"
	prefix := runID + "pa"
	slot, pub := runID+"_aslot", runID+"_apub"
	_, conn, topics := pgSnapshotStreamed(t, avroConnectorConfig(), schema, prefix, slot, pub)
	avroRuns(t, pgDSN(schema), prefix+"."+schema+".", topics, runID+"_patgt", func() {
		execScript(t, conn, "testdata/postgres_workload.sql")
		execScript(t, conn, "testdata/postgres_marker.sql")
	})
}

// avroRuns syncs the snapshot into a DuckDB and a PostgreSQL target and
// verifies both, runs the workload, syncs again and verifies again.
func avroRuns(t *testing.T, source, topicPrefix string, topics []string, pgSchema string, workload func()) {
	t.Helper()
	config := avroConfig(t)
	targets := []string{filepath.Join(t.TempDir(), "avro.duckdb"), pgDSN(pgSchema)}
	t.Cleanup(func() { dropPGSchema(t, pgSchema) })
	topicsRE := regexp.QuoteMeta(topicPrefix) + ".*"
	for _, target := range targets {
		syncOnce(t, target, topicsRE, "--config", config)
		if r := verify(t, source, target); r.code != 0 {
			t.Errorf("verify %s after the snapshot: the target differs from the source:\n%s", target, r)
			deadLetters(t, target)
		}
	}
	workload()
	waitForMarkers(t, topics)
	for _, target := range targets {
		syncOnce(t, target, topicsRE, "--config", config)
		if r := verify(t, source, target, "--page-size", "5"); r.code != 0 {
			t.Errorf("verify %s after the workload: the target differs from the source:\n%s", target, r)
			deadLetters(t, target)
		}
	}
	r := cdcsync(t, time.Minute, "topics", "--brokers", env("KAFKA"), "--topics", topicsRE)
	if r.code != 0 || !regexp.MustCompile(`\savro\n`).MatchString(r.stdout) {
		t.Errorf("cdcsync topics does not show the topics as Avro:\n%s", r)
	}
}

package e2e

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// postgresSnapshot is how many rows of each table the PostgreSQL
// snapshot reads (testdata/postgres_schema.sql).
var postgresSnapshot = map[string]int64{"customers": 22, "orders": 40, "order_settings": 40}

// TestPostgres streams a PostgreSQL workload (pgoutput) through Debezium
// and requires `cdcsync verify` to find the DuckDB target equal to the
// source — TOASTed values kept across updates that leave them out.
func TestPostgres(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	start := time.Now()
	schema := runID + "_pg"
	prefix := runID + "p"
	slot := runID + "_slot"
	pub := runID + "_pub"

	_, conn, topics := pgSnapshotStreamed(t, connectorConfig(true), schema, prefix, slot, pub)

	// Phase 1: the snapshot alone, synced into DuckDB and into another
	// PostgreSQL schema, and verified.
	duck := filepath.Join(t.TempDir(), "target.duckdb")
	pgTarget := pgDSN(runID + "_ptgt")
	t.Cleanup(func() { dropPGSchema(t, runID+"_ptgt") })
	targets := []string{duck, pgTarget}
	topicsRE := regexp.QuoteMeta(prefix+"."+schema+".") + ".*"
	source := pgDSN(schema)
	for _, target := range targets {
		syncOnce(t, target, topicsRE)
		if r := verify(t, source, target); r.code != 0 {
			t.Errorf("verify %s after the snapshot: the target differs from PostgreSQL:\n%s", target, r)
			deadLetters(t, target)
		}
	}

	// Phase 2: the workload, synced on top: the TOAST placeholders of row
	// 100 resolve against the warehouse, those of row 102 within a batch.
	execScript(t, conn, "testdata/postgres_workload.sql")
	execScript(t, conn, "testdata/postgres_marker.sql")
	waitForMarkers(t, topics)
	t.Logf("workload streamed: %s", since(start))
	for _, target := range targets {
		syncOnce(t, target, topicsRE)
		if r := verify(t, source, target, "--page-size", "5"); r.code != 0 {
			t.Errorf("verify %s after the workload: the target differs from PostgreSQL:\n%s", target, r)
			deadLetters(t, target)
		}
	}

	// The TOASTed text survived the updates that left it out.
	q := cdcsync(t, time.Minute, "query", "--target", duck, "SELECT id, length(bio) AS len FROM customers WHERE id IN (102, 1100) ORDER BY id")
	if !regexp.MustCompile(`102\s+19200`).MatchString(q.stdout) || !regexp.MustCompile(`1100\s+19200`).MatchString(q.stdout) {
		t.Errorf("TOASTed bio not kept:\n%s", q)
		ev := cdcsync(t, time.Minute, "query", "--target", duck, `WITH c AS (SELECT max(kafka_offset) AS o FROM _cdc_landing_customers
				WHERE payload->'$.after'->>'$.id' = '1100')
			SELECT kafka_offset, payload->>'$.op' AS op, coalesce(payload->'$.after'->>'$.id', payload->'$.before'->>'$.id') AS id,
				left(payload->'$.after'->>'$.bio', 40) AS after_bio,
				regexp_extract(CAST(kafka_headers AS VARCHAR), '__debezium\.(old|new)key[^}]*') AS key_header
			FROM _cdc_landing_customers, c WHERE kafka_offset BETWEEN c.o - 3 AND c.o ORDER BY kafka_offset`)
		t.Logf("the events of the primary-key change 100 → 1100:\n%s%s", ev.stdout, ev.stderr)
	}

	// verify's PostgreSQL side also serves as a target: a schema compared
	// with itself is equal.
	if r := cdcsync(t, time.Minute, "verify", "--source", source, "--target", source); r.code != 0 {
		t.Errorf("verify PostgreSQL against itself:\n%s", r)
	}
}

// pgSourceSchema creates the source schema of a PostgreSQL test, dropped
// with its replication slot and publication when the test ends, and
// returns the server and a connection whose search_path is the schema.
func pgSourceSchema(t *testing.T, schema, slot, pub string) (*sql.DB, *sql.Conn) {
	t.Helper()
	db := pgOpen(t)
	ctx := deadline(t, 5*time.Minute)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgCleanup(t, db, schema, slot, pub) })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() }) //nolint:errcheck // closing a test connection
	if _, err := conn.ExecContext(ctx, "SET search_path TO "+schema); err != nil {
		t.Fatal(err)
	}
	return db, conn
}

// pgSnapshotStreamed creates the PostgreSQL source schema of a test
// (pgSourceSchema) with testdata/postgres_schema.sql's tables, starts the
// connector with cfg (connectorConfig or avroConnectorConfig) and waits
// until its snapshot is in Kafka: it returns the server, a connection on
// the schema and the data topics. The topics go when the test ends.
func pgSnapshotStreamed(t *testing.T, cfg map[string]string, schema, prefix, slot, pub string) (*sql.DB, *sql.Conn, []string) {
	t.Helper()
	start := time.Now()
	db, conn := pgSourceSchema(t, schema, slot, pub)
	execScript(t, conn, "testdata/postgres_schema.sql")
	startConnector(t, prefix+"-postgres", with(cfg, postgresSource(prefix, schema, slot, pub)))
	t.Cleanup(func() { deleteTopics(t, prefix) })
	counts := map[string]int64{}
	var topics []string
	for table, n := range postgresSnapshot {
		counts[prefix+"."+schema+"."+table] = n
		topics = append(topics, prefix+"."+schema+"."+table)
	}
	waitForRecords(t, counts)
	t.Logf("snapshot read: %s", since(start))
	return db, conn, topics
}

func pgDSN(schema string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(env("PG_USER"), env("PG_PASSWORD")),
		Host: net.JoinHostPort(env("PG_HOST"), env("PG_PORT")), Path: "/" + env("PG_DB")}
	q := url.Values{"sslmode": {"disable"}}
	if schema != "" {
		q.Set("schema", schema)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func pgOpen(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgCleanup drops what the test created: the replication slot once the
// deleted connector has released it, the publication and the schema.
func pgCleanup(t *testing.T, db *sql.DB, schema, slot, pub string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var active sql.NullBool
		err := db.QueryRowContext(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err == nil && !active.Bool {
			if _, err := db.ExecContext(ctx, "SELECT pg_drop_replication_slot($1)", slot); err != nil {
				t.Logf("drop slot %s: %v", slot, err)
			}
			break
		}
		if ctx.Err() != nil {
			t.Logf("slot %s still active: %v", slot, err)
			break
		}
		pause(ctx, 200*time.Millisecond)
	}
	for _, s := range []string{"DROP PUBLICATION IF EXISTS " + pub, "DROP SCHEMA IF EXISTS " + schema + " CASCADE"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Logf("%s: %v", s, err)
		}
	}
}

// dropPGSchema drops a schema a PostgreSQL target was synced into.
func dropPGSchema(t *testing.T, schema string) {
	if _, err := pgOpen(t).Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
		t.Logf("drop schema %s: %v", schema, err)
	}
}

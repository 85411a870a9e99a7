package e2e

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/go-sql-driver/mysql"
)

// mariadbSnapshot is how many rows of each table the MariaDB snapshot reads
// (testdata/mariadb_schema.sql).
var mariadbSnapshot = map[string]int64{"customers": 22, "orders": 40, "order_settings": 40}

// TestMariaDB streams one MariaDB workload through two Debezium
// connectors — JSON with schemas, and without (the recipe's setup, types
// declared in cdcsync's config) — and requires `cdcsync verify` to find
// each DuckDB target equal to the source.
func TestMariaDB(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	start := time.Now()
	db := runID + "_maria"
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
	src := mariadbOpen(t, db)
	conn, err := src.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	execScript(t, conn, "testdata/mariadb_schema.sql")

	// One workload, three connectors: JSON with schemas; without schemas
	// (the recipe's setup, types declared in cdcsync's config); and with
	// schemas on topics of three partitions, synced in batches of 7.
	type mode struct {
		name, prefix, config string
		schemas              bool
		partitions           int
	}
	modes := []mode{
		{name: "schemas", prefix: runID + "ms", schemas: true},
		{name: "noschemas", prefix: runID + "mn", config: "testdata/mariadb_noschemas.yaml"},
		{name: "partitioned", prefix: runID + "mp", schemas: true, partitions: 3, config: "testdata/small_batches.yaml"},
	}
	for i, m := range modes {
		cfg := connectorConfig(m.schemas)
		cfg = with(cfg, mariadbSource(m.prefix, db, 200000+rand.IntN(100000)*4+i))
		if m.partitions > 0 {
			cfg["topic.creation.default.partitions"] = fmt.Sprint(m.partitions)
			cfg["topic.creation.default.replication.factor"] = "1"
		}
		startConnector(t, m.prefix+"-mariadb", cfg)
		t.Cleanup(func() { deleteTopics(t, m.prefix) })
		t.Logf("connector %s running: %s", m.name, since(start))
	}
	for _, m := range modes {
		counts := map[string]int64{}
		for table, n := range mariadbSnapshot {
			counts[m.prefix+"."+db+"."+table] = n
		}
		waitForRecords(t, counts)
	}
	t.Logf("snapshots read: %s", since(start))

	// Each connector's topics go to a DuckDB file; the schemas connector's
	// also to a PostgreSQL schema.
	type target struct {
		name, dsn string
		m         mode
	}
	dir := t.TempDir()
	var targets []target
	for _, m := range modes {
		targets = append(targets, target{m.name, filepath.Join(dir, m.name+".duckdb"), m})
	}
	pgSchema := runID + "_mtgt"
	targets = append(targets, target{"schemas-postgres", pgDSN(pgSchema), modes[0]})
	t.Cleanup(func() { dropPGSchema(t, pgSchema) })

	// Phase 1: the snapshot alone, synced and verified.
	source := mariadbDSN(db)
	sync := func(t *testing.T, tg target) {
		var extra []string
		if tg.m.config != "" {
			extra = []string{"--config", tg.m.config}
		}
		syncOnce(t, tg.dsn, regexp.QuoteMeta(tg.m.prefix+"."+db+".")+".*", extra...)
	}
	for _, tg := range targets {
		t.Run("snapshot/"+tg.name, func(t *testing.T) {
			sync(t, tg)
			if r := verify(t, source, tg.dsn); r.code != 0 {
				t.Errorf("verify after the snapshot: the target differs from MariaDB:\n%s", r)
				deadLetters(t, tg.dsn)
			}
		})
	}

	// Continuous mode over the same topics, running through the workload.
	contDuck := filepath.Join(dir, "continuous.duckdb")
	cont := startContinuous(t, "--brokers", env("KAFKA"), "--topics", regexp.QuoteMeta(modes[0].prefix+"."+db+".")+".*",
		"--target", contDuck, "--group", runID+"-continuous")

	// Phase 2: the workload, synced on top (cdcsync resumes from the
	// offsets it stored) and verified.
	execScript(t, conn, "testdata/mariadb_workload.sql")
	execScript(t, conn, "testdata/mariadb_marker.sql")
	for _, m := range modes {
		waitForMarkers(t, topicsOf(m.prefix, db))
	}
	t.Logf("workload streamed: %s", since(start))
	t.Run("workload/continuous", func(t *testing.T) {
		cont.caughtUp(t, runID+"-continuous", topicsOf(modes[0].prefix, db))
		cont.stop(t)
		if r := verify(t, source, contDuck); r.code != 0 {
			t.Errorf("verify after the workload, continuous mode: the target differs from MariaDB:\n%s", r)
			deadLetters(t, contDuck)
		}
	})
	for _, tg := range targets {
		t.Run("workload/"+tg.name, func(t *testing.T) {
			sync(t, tg)
			// Small pages: keyset pagination and narrowing over several
			// ranges of the real databases (composite keys included).
			r := verify(t, source, tg.dsn, "--page-size", "7")
			if r.code != 0 {
				t.Errorf("verify after the workload: the target differs from MariaDB:\n%s", r)
				deadLetters(t, tg.dsn)
			}
			if tg.name == "schemas" {
				corruptAndVerify(t, source, tg.dsn, r.code == 0)
			}
		})
	}
}

func topicsOf(prefix, db string) []string {
	var out []string
	for table := range mariadbSnapshot {
		out = append(out, prefix+"."+db+"."+table)
	}
	return out
}

func mariadbOpen(t *testing.T, db string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(env("MARIADB_HOST"), env("MARIADB_PORT"))
	cfg.User, cfg.Passwd, cfg.DBName = env("MARIADB_USER"), env("MARIADB_PASSWORD"), db
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(conn)
	t.Cleanup(func() { sdb.Close() })
	return sdb
}

func mariadbDSN(db string) string {
	return fmt.Sprintf("mysql://%s:%s@%s/%s", env("MARIADB_USER"), env("MARIADB_PASSWORD"),
		net.JoinHostPort(env("MARIADB_HOST"), env("MARIADB_PORT")), db)
}

// corruptAndVerify changes the synced target behind cdcsync's back — one
// row corrupted, one deleted, one added — and requires verify to exit 1
// naming each key.
func corruptAndVerify(t *testing.T, source, duck string, wasEqual bool) {
	t.Helper()
	db, err := sql.Open("duckdb", duck)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`UPDATE customers SET email = 'corrupted@example.com' WHERE id = 2`,
		`DELETE FROM orders WHERE order_id = 3`,
		`INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at) VALUES (4, 'bogus', 'x', 1, TIMESTAMP '2024-01-01 00:00:00')`,
	} {
		res, err := db.Exec(s)
		if err != nil {
			db.Close()
			t.Fatalf("%s: %v", s, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			db.Close()
			t.Fatalf("%s: %d rows affected, want 1", s, n)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r := verify(t, source, duck)
	if r.code != 1 {
		t.Fatalf("verify of a corrupted target: want exit 1\n%s", r)
	}
	wants := []string{
		`different  id=2: email source "user2@example.com" target "corrupted@example.com"`,
		"missing    order_id=3\n",
		`extra      order_id=4 setting_key="bogus"`,
	}
	if wasEqual {
		wants = append(wants, "cdcsync: verify: 3 of 3 tables differ: 1 missing, 1 extra, 1 different row\n")
	}
	for _, want := range wants {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r)
		}
	}
}

// deadLetters logs what cdcsync could not apply, to explain a failed
// verification.
func deadLetters(t *testing.T, target string) {
	t.Helper()
	const q = "SELECT topic, kafka_offset, reason, left(CAST(kafka_value AS VARCHAR), 300) AS value FROM %s_cdc_dead_letters ORDER BY topic, kafka_offset"
	if strings.HasSuffix(target, ".duckdb") {
		r := cdcsync(t, time.Minute, "query", "--target", target, fmt.Sprintf(q, ""))
		t.Logf("dead letters:\n%s%s", r.stdout, r.stderr)
		return
	}
	u, _ := url.Parse(target)
	rows, err := pgOpen(t).Query(fmt.Sprintf(q, `"`+u.Query().Get("schema")+`".`))
	if err != nil {
		t.Logf("dead letters: %v", err)
		return
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var topic, reason, value string
		var off int64
		if rows.Scan(&topic, &off, &reason, &value) == nil {
			fmt.Fprintf(&b, "%s@%d: %s: %s\n", topic, off, reason, value)
		}
	}
	t.Logf("dead letters:\n%s", b.String())
}

package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifyErrors checks that bad input to `cdcsync verify` is one line
// on stderr and a non-zero exit, and that --tables restricts the tables.
func TestVerifyErrors(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	db := runID + "_verr"
	root := mariadbOpen(t, "")
	ctx := deadline(t, 2*time.Minute)
	for _, s := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".t (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE " + db + ".u (id INT PRIMARY KEY)",
		"INSERT INTO " + db + ".t VALUES (1, 'a'), (2, 'b')",
	} {
		if _, err := root.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})

	duck := filepath.Join(t.TempDir(), "t.duckdb")
	ddb, err := sql.Open("duckdb", duck)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR, _cdc_op VARCHAR)",
		"INSERT INTO t VALUES (1, 'a', 'r'), (2, 'b', 'r')",
		"CREATE TABLE u (id INTEGER PRIMARY KEY, _cdc_op VARCHAR)",
		"INSERT INTO u VALUES (7, 'r')", // extra: u differs
		"CREATE TABLE _cdc_offsets (x INTEGER)",
	} {
		if _, err := ddb.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	ddb.Close()
	source := mariadbDSN(db)

	if r := verify(t, source, duck, "--tables", "t"); r.code != 0 || !strings.Contains(r.stdout, "verify: 1 table equal (2 source rows)") {
		t.Errorf("verify --tables t:\n%s", r)
	}
	if r := verify(t, source, duck); r.code != 1 || !strings.Contains(r.stdout, "extra      id=7") {
		t.Errorf("verify of every table:\n%s", r)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown table", []string{"verify", "--source", source, "--target", duck, "--tables", "nope"},
			`cdcsync: verify: table "nope" is not a table of the source`},
		{"unreachable source", []string{"verify", "--source", "mysql://root:secret@127.0.0.1:1/db", "--target", duck},
			"cdcsync: source: MySQL 127.0.0.1:1/db: dial tcp 127.0.0.1:1"},
		{"unreachable PostgreSQL", []string{"verify", "--source", "postgres://u:secret@127.0.0.1:1/db", "--target", duck},
			"cdcsync: source: PostgreSQL 127.0.0.1:1/db:"},
		{"bad source DSN", []string{"verify", "--source", "oracle://x", "--target", duck},
			`cdcsync: source: "oracle://x" is not a mysql:// or postgres:// DSN`},
		{"missing target file", []string{"verify", "--source", source, "--target", "/nonexistent/x.duckdb"},
			"cdcsync: target: DuckDB file /nonexistent/x.duckdb: stat /nonexistent/x.duckdb: no such file or directory"},
		{"no flags", []string{"verify"}, "cdcsync: verify: --source and --target are required"},
	} {
		r := cdcsync(t, time.Minute, tc.args...)
		errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code == 0 || len(errLines) != 1 || !strings.HasPrefix(errLines[0], tc.want) || strings.Contains(r.stderr, "secret") {
			t.Errorf("%s: want a non-zero exit and one line starting %q, without the password:\n%s", tc.name, tc.want, r)
		}
	}
}

// TestVerifyLargeTable compares 300,000 rows of MariaDB with a DuckDB
// copy holding three planted differences: verify must page through the
// source, find exactly those and stay within bounded memory.
func TestVerifyLargeTable(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	const n = 300000
	db := runID + "_vbig"
	root := mariadbOpen(t, "")
	ctx := deadline(t, 5*time.Minute)
	for _, s := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".events (id BIGINT PRIMARY KEY, kind VARCHAR(20) NOT NULL, amount DECIMAL(12,2), happened DATETIME(6), payload JSON)",
		"INSERT INTO " + db + ".events SELECT seq, CONCAT('kind-', seq % 13), seq * 1.25, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, " +
			"JSON_OBJECT('n', seq, 'tag', 'x') FROM " + db + ".seq_1_to_" + fmt.Sprint(n),
	} {
		if _, err := root.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})

	duck := filepath.Join(t.TempDir(), "big.duckdb")
	ddb, err := sql.Open("duckdb", duck)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE TABLE events (id BIGINT PRIMARY KEY, kind VARCHAR, amount DECIMAL(12,2), happened TIMESTAMP, payload JSON, _cdc_op VARCHAR)",
		fmt.Sprintf(`INSERT INTO events SELECT i, 'kind-' || (i %% 13), i * 1.25, TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i),
			'{"tag": "x", "n": ' || i || '}', 'r' FROM range(1, %d) t(i)`, n+1),
		"UPDATE events SET amount = amount + 0.01 WHERE id = 123457",
		"DELETE FROM events WHERE id = 250001",
		"INSERT INTO events (id, kind) VALUES (300001, 'extra')",
	} {
		if _, err := ddb.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	ddb.Close()

	start := time.Now()
	r := verify(t, mariadbDSN(db), duck)
	t.Logf("verify of %d rows: %s, max RSS %d MiB", n, since(start), r.maxRSS>>20)
	for _, want := range []string{
		"different  id=123457: amount source 154321.25 target 154321.26",
		"missing    id=250001",
		"extra      id=300001",
		"cdcsync: verify: 1 of 1 table differ: 1 missing, 1 extra, 1 different row",
	} {
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r)
		}
	}
}

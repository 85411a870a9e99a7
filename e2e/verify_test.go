package e2e

import (
	"database/sql"
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
	t.Cleanup(func() { root.Exec("DROP DATABASE IF EXISTS " + db) })

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
			`cdcsync: source: "oracle://x" is not a mysql://, postgres:// or .duckdb DSN`},
		{"missing target file", []string{"verify", "--source", source, "--target", "/nonexistent/x.duckdb"},
			"cdcsync: target: DuckDB /nonexistent/x.duckdb: stat /nonexistent/x.duckdb: no such file or directory"},
		{"no flags", []string{"verify"}, "cdcsync: verify: --source and --target are required"},
	} {
		r := cdcsync(t, time.Minute, tc.args...)
		errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code == 0 || len(errLines) != 1 || !strings.HasPrefix(errLines[0], tc.want) || strings.Contains(r.stderr, "secret") {
			t.Errorf("%s: want a non-zero exit and one line starting %q, without the password:\n%s", tc.name, tc.want, r)
		}
	}
}

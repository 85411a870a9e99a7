package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// secret is a password no URL parser accepts raw ('#', a bad escape,
// '/', '?', a space); every form of it is looked for in the output.
const secret = "s3cr#t%zz/?x y"

// leaks returns the form of the secret s shows, if any.
func leaks(s string) string {
	for _, f := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), "s3cr", "%zz/?x"} {
		if strings.Contains(s, f) {
			return f
		}
	}
	return ""
}

// runBinary runs cdcsync and returns its stdout and stderr; it must fail.
func runBinary(t *testing.T, env []string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want a non-zero exit, got %v; stderr %s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestSecurity_NoPasswordInAnyError runs every command against targets
// whose DSN holds the secret — unparseable, percent-encoded, in the query,
// in key=value form — at a closed port, and checks each fails with one
// line that shows no form of the secret.
func TestSecurity_NoPasswordInAnyError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c, err := kafkatest.Start(1, "a.b.c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, port, _ := net.SplitHostPort(closed)
	dsns := map[string]string{
		"raw postgres":     "postgres://cdc:" + secret + "@" + closed + "/db?sslmode=disable",
		"raw postgresql":   "postgresql://cdc:" + secret + "@" + closed + "/db?sslmode=disable",
		"raw redshift":     "redshift://cdc:" + secret + "@" + closed + "/dev?sslmode=disable",
		"encoded postgres": "postgres://cdc:" + url.QueryEscape(secret) + "@" + closed + "/db?sslmode=disable",
		"encoded redshift": "redshift://cdc:" + url.PathEscape(secret) + "@" + closed + "/dev?sslmode=disable",
		"query password":   "postgres://cdc@" + closed + "/db?sslmode=disable&password=" + secret,
		"key=value":        fmt.Sprintf("host=%s port=%s password='%s'", host, port, secret),
	}
	dir := t.TempDir()
	for name, dsn := range dsns {
		cfg := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("target: %q\nkafka:\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: %q\n", dsn, secret)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmds := map[string][]string{
			"run":           {"run", "--brokers", c.Addr(), "--topics", "a\\..*", "--target", dsn, "--once"},
			"run config":    {"run", "--config", cfg, "--brokers", closed, "--topics", "x", "--once"},
			"verify target": {"verify", "--source", "postgres://u@" + closed + "/db?sslmode=disable", "--target", dsn},
			"verify source": {"verify", "--source", dsn, "--target", filepath.Join(dir, "none.duckdb")},
			"query":         {"query", "--target", dsn, "SELECT 1"},
			"topics config": {"topics", "--config", cfg, "--brokers", closed, "--topics", "x"},
		}
		for cname, args := range cmds {
			t.Run(name+"/"+cname, func(t *testing.T) {
				stdout, stderr := runBinary(t, nil, args...)
				if f := leaks(stdout + stderr); f != "" {
					t.Fatalf("output shows %q:\nstdout: %s\nstderr: %s", f, stdout, stderr)
				}
				line := strings.TrimRight(stderr, "\n")
				if strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "cdcsync: ") {
					t.Fatalf("stderr is not one cdcsync: line: %q", stderr)
				}
			})
		}
	}
}

// TestSecurity_PasswordFromFileAndEnv runs with the target's password in
// a file and the SASL password in the environment: a config file without
// secrets, and the run fails on the closed target without showing them.
func TestSecurity_PasswordFromFileAndEnv(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c, err := kafkatest.Start(1, "a.b.c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pg.pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o644); err != nil { // readable by others: a warning
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("target: postgres://cdc@"+closed+"/db?sslmode=disable\ntarget_password_file: "+pwFile+
		"\ngroup: ${CDC_TEST_GROUP}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := runBinary(t, []string{"CDC_TEST_GROUP=g1"}, "run", "--config", cfg, "--brokers", c.Addr(), "--topics", "x", "--once")
	if f := leaks(stderr); f != "" {
		t.Fatalf("stderr shows %q: %s", f, stderr)
	}
	if !strings.Contains(stderr, "readable by its group or others") || !strings.Contains(stderr, pwFile) {
		t.Errorf("no warning naming the readable password file: %s", stderr)
	}
	if !strings.Contains(stderr, "target postgres://cdc:xxxxx@"+closed) {
		t.Errorf("want the failing target named with its password hidden: %s", stderr)
	}
	_, stderr = runBinary(t, nil, "run", "--config", cfg, "--brokers", c.Addr(), "--topics", "x", "--once")
	if !strings.Contains(stderr, "CDC_TEST_GROUP") || !strings.Contains(stderr, "group") {
		t.Errorf("an unset variable must be an error naming it and its key: %s", stderr)
	}
}

// duckdbFromRun makes a DuckDB file with a run of the binary.
func duckdbFromRun(t *testing.T) (path string, tables []string) {
	t.Helper()
	w := workload.New(workload.Options{Seed: 8, Partitions: 1, Schemas: true, SnapshotRows: 20, Ops: 100})
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
		tables = append(tables, tb.Name)
	}
	c, err := kafkatest.Start(1, topics...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "q.duckdb")
	p := start(t, nil, "run", "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", path, "--once")
	if err := p.wait(t, 60*time.Second); err != nil {
		t.Fatalf("--once: %v", err)
	}
	return path, tables
}

func query(target, sql string) (string, error) {
	out, err := exec.Command(binary, "query", "--target", target, sql).CombinedOutput()
	return string(out), err
}

// TestQuery_DuckDBIsReadOnly runs each attack on a DuckDB file a run
// made: each fails with a clear error, and the file and the files around
// it are unchanged.
func TestQuery_DuckDBIsReadOnly(t *testing.T) {
	path, tables := duckdbFromRun(t)
	dir := filepath.Dir(path)
	table := tables[0]
	other := filepath.Join(t.TempDir(), "other.duckdb")
	if b, err := os.ReadFile(path); err != nil || os.WriteFile(other, b, 0o644) != nil {
		t.Fatal("copy the file", err)
	}
	before, _ := os.ReadFile(path)
	count := func() string {
		out, err := query(path, "SELECT count(*) AS n FROM "+table)
		if err != nil {
			t.Fatalf("a plain SELECT must work: %v: %s", err, out)
		}
		return out
	}
	n := count()
	attacks := []struct{ name, sql, want string }{
		{"drop", "DROP TABLE " + table, "read-only"},
		{"attach itself read-write", fmt.Sprintf("ATTACH '%s' AS rw (READ_WRITE); DROP TABLE rw.%s", path, table), ""},
		{"attach another file", fmt.Sprintf("ATTACH '%s' AS o; DROP TABLE o.%s", other, table), "disabled by configuration"},
		{"copy to", fmt.Sprintf("COPY %s TO '%s'", table, filepath.Join(dir, "out.csv")), "disabled by configuration"},
		{"export database", fmt.Sprintf("EXPORT DATABASE '%s'", filepath.Join(dir, "export")), "disabled by configuration"},
		{"read_csv", "SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"},
		{"install", "INSTALL httpfs", "disabled by configuration"},
		{"load", "LOAD httpfs", "disabled through configuration"},
		{"unlock", "SET lock_configuration = false", "locked"},
		{"external access back on", "SET enable_external_access = true", "locked"},
		{"read-write back on", "SET access_mode = 'read_write'", "locked"},
		{"select then drop", "SELECT 1; DROP TABLE " + table, "read-only"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			out, err := query(path, a.sql)
			if err == nil {
				t.Fatalf("%s succeeded: %s", a.sql, out)
			}
			line := strings.TrimRight(out, "\n")
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "cdcsync: query: ") || !strings.Contains(line, a.want) {
				t.Errorf("want one cdcsync: query: line mentioning %q, got %q", a.want, out)
			}
		})
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the DuckDB file changed")
	}
	if got := count(); got != n {
		t.Errorf("count %q, was %q", got, n)
	}
	for _, f := range []string{"out.csv", "export"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was written", f)
		}
	}
}

// TestQuery_PostgresIsReadOnly runs the attacks on a PostgreSQL target: a
// second statement cannot escape the READ ONLY transaction, and the table
// is unchanged.
func TestQuery_PostgresIsReadOnly(t *testing.T) {
	base := pgtest.DSN(t)
	schema := fmt.Sprintf("secq_%d", time.Now().UnixNano()%1_000_000_000)
	dsn := base + "&schema=" + schema
	wh := openTarget(t, dsn) // creates the schema and cdcsync's tables
	defer wh.Close()
	if _, err := wh.DB.Exec(fmt.Sprintf(`CREATE TABLE %q.t (id int PRIMARY KEY); INSERT INTO %q.t VALUES (1), (2)`, schema, schema)); err != nil {
		t.Fatal(err)
	}
	defer wh.DB.Exec(fmt.Sprintf(`DROP SCHEMA %q CASCADE`, schema)) //nolint:errcheck
	if out, err := query(dsn, "SELECT count(*) AS n FROM t"); err != nil || !strings.Contains(out, "2") {
		t.Fatalf("a plain SELECT on the DSN's schema must work: %v: %s", err, out)
	}
	attacks := []struct{ name, sql, want string }{
		{"drop", "DROP TABLE t", "read-only transaction"},
		{"commit then drop", "COMMIT; DROP TABLE t", "multiple commands"},
		{"select then delete", "SELECT 1; DELETE FROM t", "multiple commands"},
		{"delete", "DELETE FROM t", "read-only transaction"},
		{"read write again", "SELECT set_config('transaction_read_only', 'off', false); DELETE FROM t", "multiple commands"},
		{"do block", "DO $$ BEGIN DELETE FROM t; END $$", "read-only transaction"},
		{"truncate the offsets", "TRUNCATE _cdc_offsets", "read-only transaction"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			out, err := query(dsn, a.sql)
			if err == nil {
				t.Fatalf("%s succeeded: %s", a.sql, out)
			}
			line := strings.TrimRight(out, "\n")
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "cdcsync: query: ") || !strings.Contains(line, a.want) {
				t.Errorf("want one cdcsync: query: line mentioning %q, got %q", a.want, out)
			}
		})
	}
	var n int
	if err := wh.DB.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q.t`, schema)).Scan(&n); err != nil || n != 2 {
		t.Fatalf("table t: %d rows, %v; want 2", n, err)
	}
}

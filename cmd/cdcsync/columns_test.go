package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
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

// TestColumns_CLIRunVerifyGenerate drives the real binary with column
// rules from a config file and a key file: run --once keeps no excluded
// or hashed value in clear anywhere in the DuckDB file (its bytes are
// searched) and prints no key; verify --config finds the target equal to
// a PostgreSQL source (and different without the rules); generate
// redshift refuses the masked table, whose raw records it would land.
func TestColumns_CLIRunVerifyGenerate(t *testing.T) {
	ctx := context.Background()
	cluster, err := kafkatest.Start(1, "srv.shop.items")
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	const (
		key    = "cli-masking-key-0123456789abcdef"
		ssn    = "SSN-CLI-SECRET-42"
		email1 = "alice-cli@example.com"
		email2 = "bob-cli@example.com"
	)
	row := func(id int, email, name string) string {
		return fmt.Sprintf(`{"id":%d,"email":%q,"ssn":%q,"name":%q}`, id, email, ssn, name)
	}
	events := []workload.Event{
		itemEvent(1, "c", row(1, email1, "a"), 10),
		itemEvent(2, "c", row(2, email2, "b"), 20),
		itemEvent(1, "u", row(1, email1, "a2"), 30),
	}
	if err := kafkatest.Produce(ctx, cluster.Addr(), events); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "mask.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "c.yaml", "masking:\n  key_file: "+keyFile+"\ntables:\n  items:\n    columns_exclude: [ssn]\n    columns_hash: [email]\n")
	duck := filepath.Join(dir, "t.duckdb")
	run := exec.Command(binary, "run", "--config", cfg, "--brokers", cluster.Addr(), "--topics", `srv\.shop\..*`, "--target", duck, "--once")
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), key) {
		t.Fatalf("the key is in run's output:\n%s", out.String())
	}
	files, _ := filepath.Glob(duck + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{ssn, email1, email2, key} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", f, s)
			}
		}
	}
	if got := runCLI(t, "query", "--target", duck, "SELECT count(*) AS n FROM items WHERE length(email) = 64"); !strings.Contains(got, "2") {
		t.Errorf("hashed emails: %s", got)
	}

	// verify against a PostgreSQL source holding the same rows.
	base := pgtest.DSN(t)
	schema := fmt.Sprintf("columns_src_%d", time.Now().UnixNano()%1_000_000_000)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{`CREATE SCHEMA ` + schema,
		`CREATE TABLE ` + schema + `.items (id integer PRIMARY KEY, email text, ssn text, name text)`,
		fmt.Sprintf(`INSERT INTO %s.items VALUES (1, '%s', '%s', 'a2'), (2, '%s', '%s', 'b')`, schema, email1, ssn, email2, ssn)} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	src := base + "&schema=" + schema
	if !strings.Contains(base, "?") {
		src = base + "?schema=" + schema
	}
	if got := runCLI(t, "verify", "--source", src, "--target", duck, "--config", cfg); !strings.Contains(got, "1 table equal") {
		t.Errorf("verify --config: %s", got)
	}
	v := exec.Command(binary, "verify", "--source", src, "--target", duck)
	out.Reset()
	v.Stdout, v.Stderr = &out, &out
	if err := v.Run(); err == nil || !strings.Contains(out.String(), "DIFFERENT") {
		t.Errorf("verify without the rules: %v\n%s", err, out.String())
	}

	gen := exec.Command(binary, "generate", "redshift", "--config", cfg, "--brokers", cluster.Addr(), "--topics", `srv\.shop\..*`)
	out.Reset()
	gen.Stdout, gen.Stderr = &out, &out
	if err := gen.Run(); err == nil || !strings.Contains(out.String(), "table items has column rules") || strings.Contains(out.String(), email1) {
		t.Errorf("generate redshift: %v\n%s", err, out.String())
	}
}

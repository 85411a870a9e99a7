package bench

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

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// BenchmarkPipelinePostgres is BenchmarkPipeline into PostgreSQL: the real
// binary drains the same backlog into a fresh database per run, landing on
// and off, and reports events/s and the server's time per statement when
// the server has pg_stat_statements loaded. It runs against the server
// CDCSYNC_BENCH_PG_DSN names (else CDCSYNC_TEST_PG_DSN) and is skipped
// without one. CDCSYNC_BENCH_BASE_BIN names another cdcsync binary (an
// earlier version) to run alternately with this one on the same backlog.
//
//	CDCSYNC_BENCH_EVENTS=200000 go test -run - -bench PipelinePostgres ./internal/bench/
func BenchmarkPipelinePostgres(b *testing.B) {
	dsn := os.Getenv("CDCSYNC_BENCH_PG_DSN")
	if dsn == "" {
		dsn = os.Getenv("CDCSYNC_TEST_PG_DSN")
	}
	if dsn == "" {
		b.Skip("set CDCSYNC_BENCH_PG_DSN (or CDCSYNC_TEST_PG_DSN) to a PostgreSQL server")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(redact.Error(err, dsn))
	}
	defer admin.Close()
	n := events()
	dir := b.TempDir()
	bin := filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cdcsync").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	w := workload.New(workload.Options{Seed: 1, Partitions: 4, Schemas: true, SnapshotRows: n / 30,
		Ops: n - n/10, PKChanges: true, Tombstones: true, Truncates: false})
	var topics []string
	for _, t := range w.Tables {
		topics = append(topics, w.Topic(t))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		b.Fatal(err)
	}
	total := len(w.Events)
	w = nil

	bins := []struct{ name, path string }{{"head", bin}}
	if base := os.Getenv("CDCSYNC_BENCH_BASE_BIN"); base != "" {
		bins = append([]struct{ name, path string }{{"base", base}}, bins...)
	}
	run := 0
	for _, landing := range []bool{true, false} {
		for _, bn := range bins {
			bin := bn.path
			name := fmt.Sprintf("landing=%v", landing)
			if len(bins) > 1 {
				name = bn.name + "/" + name
			}
			benchPostgresRun(b, name, bin, dsn, admin, dir, c.Addr(), landing, total, &run)
		}
	}
}

func benchPostgresRun(b *testing.B, name, bin, dsn string, admin *sql.DB, dir, brokers string, landing bool, total int, run *int) {
	b.Run(name, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			*run++
			db := fmt.Sprintf("cdcsync_bench_%d_%d", os.Getpid(), *run)
			if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
				b.Fatal(redact.Error(err, dsn))
			}
			target, err := withDatabase(dsn, db)
			if err != nil {
				b.Fatal(err)
			}
			cfg := filepath.Join(dir, fmt.Sprintf("bench-pg-%v.yaml", landing))
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf("landing:\n  enabled: %v\n%s", landing, os.Getenv("CDCSYNC_BENCH_CONFIG"))), 0o644); err != nil {
				b.Fatal(err)
			}
			pgss := resetStatements(admin)
			cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--brokers", brokers,
				"--topics", `shop\.inventory\..*`, "--target", target)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if prof := os.Getenv("CDCSYNC_BENCH_PROFILE"); prof != "" {
				cmd.Env = append(os.Environ(), "CDCSYNC_CPU_PROFILE="+prof+fmt.Sprintf("-pg-%v.prof", landing))
			}
			t0 := time.Now()
			err = cmd.Run()
			took := time.Since(t0)
			if err != nil {
				b.Fatalf("cdcsync: %v\n%s", err, redact.Text(stderr.String(), dsn))
			}
			b.ReportMetric(float64(total)/took.Seconds(), "events/s")
			b.ReportMetric(took.Seconds(), "seconds")
			if pgss {
				logStatements(b, admin, db)
			}
			if os.Getenv("CDCSYNC_BENCH_KEEP") == "" {
				if _, err := admin.Exec("DROP DATABASE " + db); err != nil {
					b.Logf("drop %s: %v", db, redact.Error(err, dsn))
				}
			}
		}
	})
}

// withDatabase returns dsn naming database db instead.
func withDatabase(dsn, db string) (string, error) {
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + db
	return u.String(), nil
}

// resetStatements resets pg_stat_statements and reports whether the
// server has it.
func resetStatements(admin *sql.DB) bool {
	_, err := admin.Exec("SELECT pg_stat_statements_reset()")
	return err == nil
}

// logStatements logs the statements that took the server's time in db.
func logStatements(b *testing.B, admin *sql.DB, db string) {
	rows, err := admin.Query(`SELECT s.total_exec_time, s.calls, s.rows, s.query FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 ORDER BY s.total_exec_time DESC LIMIT 12`, db)
	if err != nil {
		b.Logf("pg_stat_statements: %v", err)
		return
	}
	defer rows.Close()
	var out strings.Builder
	var sum float64
	for rows.Next() {
		var ms float64
		var calls, nrows int64
		var q string
		if err := rows.Scan(&ms, &calls, &nrows, &q); err != nil {
			b.Logf("pg_stat_statements: %v", err)
			return
		}
		sum += ms
		q = strings.Join(strings.Fields(q), " ")
		if len(q) > 160 {
			q = q[:160] + "…"
		}
		fmt.Fprintf(&out, "%9.0f ms %7d calls %9d rows  %s\n", ms, calls, nrows, q)
	}
	b.Logf("server time by statement (top 12, %.0f ms):\n%s", sum, out.String())
}

package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDuckLake_PostgresCatalog streams the PostgreSQL workload (pgoutput)
// through Debezium into a DuckLake whose catalog is a fresh database of
// the test PostgreSQL and whose Parquet files go to a temporary directory:
// `cdcsync verify` must find the lake equal to the source after the
// snapshot and after the workload, and another engine — Python's duckdb,
// attaching the lake read-only on its own — must read the source's rows.
func TestDuckLake_PostgresCatalog(t *testing.T) {
	requireE2E(t)
	ext, py := duckdbExtensions(t)
	t.Parallel()
	start := time.Now()
	schema := runID + "_lk"
	prefix := runID + "k"
	slot := runID + "_lkslot"
	pub := runID + "_lkpub"

	db, conn, topics := pgSnapshotStreamed(t, connectorConfig(true), schema, prefix, slot, pub)

	// The catalog: a database of its own on the test server.
	catalogDB := runID + "_lake"
	ctx := deadline(t, 5*time.Minute)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+catalogDB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pgOpen(t).Exec("DROP DATABASE IF EXISTS " + catalogDB + " WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", catalogDB, err)
		}
	})
	catalog := fmt.Sprintf("postgres:dbname=%s host=%s port=%s user=%s password=%s",
		catalogDB, env("PG_HOST"), env("PG_PORT"), env("PG_USER"), env("PG_PASSWORD"))
	data := filepath.Join(t.TempDir(), "data") + "/"
	lake := "ducklake:" + catalog + "?data_path=" + url.QueryEscape(data) + "&extension_directory=" + url.QueryEscape(ext)
	topicsRE := regexp.QuoteMeta(prefix+"."+schema+".") + ".*"
	source := pgDSN(schema)

	// Phase 1: the snapshot alone.
	syncOnce(t, lake, topicsRE)
	if r := verify(t, source, lake); r.code != 0 || !strings.Contains(r.stdout, "verify: 3 tables equal") {
		t.Errorf("verify the lake after the snapshot: want 3 tables equal:\n%s", r)
	}

	// Phase 2: the workload on top — updates leaving TOASTed values out,
	// key changes, deletes, a truncate, added columns — resumed from the
	// offsets stored in the catalog.
	execScript(t, conn, "testdata/postgres_workload.sql")
	execScript(t, conn, "testdata/postgres_marker.sql")
	waitForMarkers(t, topics)
	t.Logf("workload streamed: %s", since(start))
	syncOnce(t, lake, topicsRE)
	if r := verify(t, source, lake, "--page-size", "5"); r.code != 0 || !strings.Contains(r.stdout, "verify: 3 tables equal") {
		t.Errorf("verify the lake after the workload: want 3 tables equal:\n%s", r)
	}
	if files, _ := filepath.Glob(filepath.Join(data, "*", "*", "*.parquet")); len(files) == 0 {
		t.Errorf("no Parquet file under the data path %s", data)
	}

	// Another engine reads the lake: Python's duckdb attaches the catalog
	// read-only and reads every table, compared with the source's rows.
	for _, tb := range lakeTables {
		want := pgRows(t, conn, tb)
		got := pythonRows(t, py, ext, "ducklake:"+catalog, tb)
		if !slices.Equal(want, got) {
			t.Errorf("%s: Python duckdb read %d rows from the lake, the source has %d; first difference:\n%s",
				tb.name, len(got), len(want), firstDifference(want, got))
		}
	}
	t.Logf("done: %s", since(start))
}

// lakeTable is a source table compared row by row with what Python's
// duckdb reads from the lake: each column as text, both sides.
type lakeTable struct {
	name string
	cols []lakeColumn
}

// lakeColumn is a column and how both engines print it: "" as text,
// "epoch" as microseconds since the epoch, "md5" as its MD5 (long text).
type lakeColumn struct{ name, as string }

var lakeTables = []lakeTable{
	{"customers", []lakeColumn{{"id", ""}, {"email", ""}, {"full_name", ""}, {"bio", "md5"}, {"registration_date", "epoch"},
		{"updated_at", "epoch"}, {"birth_date", ""}, {"balance", ""}, {"is_vip", ""}, {"status", ""}, {"external_id", ""},
		{"lifetime_events", ""}, {"loyalty_points", ""}}},
	{"orders", []lakeColumn{{"order_id", ""}, {"customer_id", ""}, {"order_date", ""}, {"total_amount", ""}, {"status", ""},
		{"notes", ""}, {"created_at", "epoch"}, {"shipped_at", "epoch"}, {"discount", ""}}},
	{"order_settings", []lakeColumn{{"order_id", ""}, {"setting_key", ""}, {"setting_value", ""}, {"is_enabled", ""},
		{"updated_at", "epoch"}}},
}

// pgRows reads a source table as sorted lines of JSON, one per row.
func pgRows(t *testing.T, conn *sql.Conn, tb lakeTable) []string {
	t.Helper()
	sel := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		switch c.as {
		case "epoch":
			sel[i] = "(extract(epoch FROM " + c.name + ") * 1000000)::bigint::text"
		case "md5":
			sel[i] = "md5(" + c.name + ")"
		default:
			sel[i] = c.name + "::text"
		}
	}
	rows, err := conn.QueryContext(deadline(t, time.Minute), "SELECT "+strings.Join(sel, ", ")+" FROM "+tb.name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		row := make([]*string, len(tb.cols))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// readLake is the Python program reading one table of a DuckLake with
// Python's duckdb: argv is the extension directory, the ATTACH path and
// the query (on the lake attached as "lake"); it prints one line of JSON
// per row.
const readLake = `
import duckdb, json, sys
ext, lake, query = sys.argv[1], sys.argv[2], sys.argv[3]
c = duckdb.connect(config={"extension_directory": ext, "autoinstall_known_extensions": False, "autoload_known_extensions": False})
for e in ("ducklake", "postgres"):
    c.execute("LOAD " + e)
c.execute("ATTACH '%s' AS lake (READ_ONLY)" % lake.replace("'", "''"))
for row in c.execute(query).fetchall():
    print(json.dumps(list(row), separators=(",", ":"), ensure_ascii=False))
`

// pythonRows reads a lake table with Python's duckdb as sorted lines of
// JSON, one per row, printed as pgRows prints the source's.
func pythonRows(t *testing.T, py, ext, lake string, tb lakeTable) []string {
	t.Helper()
	sel := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		switch c.as {
		case "epoch":
			sel[i] = "CAST(epoch_us(" + c.name + ") AS VARCHAR)"
		case "md5":
			sel[i] = "md5(" + c.name + ")"
		default:
			sel[i] = "CAST(" + c.name + " AS VARCHAR)"
		}
	}
	query := "SELECT " + strings.Join(sel, ", ") + " FROM lake.main." + tb.name
	out, err := exec.CommandContext(deadline(t, 2*time.Minute), py, "-c", readLake, ext, lake, query).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python duckdb: %s: %v\n%s", query, err, stderr)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			rows = append(rows, l)
		}
	}
	slices.Sort(rows)
	return rows
}

// firstDifference shows the first row where two sorted row lists differ.
func firstDifference(want, got []string) string {
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("source: %s\nlake:   %s", w, g)
		}
	}
	return ""
}

// duckdbExtensions returns DuckDB's extension directory and Python's
// duckdb interpreter (svc.sh env duckdb-extensions), or skips the test —
// fails it when CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS is set (make e2e).
func duckdbExtensions(t *testing.T) (ext, py string) {
	t.Helper()
	ext, py = os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS"), os.Getenv("CDCSYNC_DUCKDB_PYTHON")
	if _, err := os.Stat(py); ext == "" || py == "" || err != nil {
		msg := "DuckLake: CDCSYNC_DUCKDB_EXTENSIONS and CDCSYNC_DUCKDB_PYTHON are not set (scripts/services/svc.sh fetch duckdb-extensions; eval \"$(scripts/services/svc.sh env duckdb-extensions)\")"
		if os.Getenv("CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ext, py
}

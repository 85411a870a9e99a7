package ducklake_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// TestDuckLake_DSN: ATTACH options and DuckDB settings are told apart, an
// extension directory turns automatic installs off, and secrets never show.
func TestDuckLake_DSN(t *testing.T) {
	c, err := ducklake.Parse("ducklake:postgres:dbname=lake host=db password=hunter2?data_path=s3://b/p/&DATA_INLINING_ROW_LIMIT=0&threads=2&extension_directory=/opt/ext")
	if err != nil {
		t.Fatal(err)
	}
	if c.Catalog != "postgres:dbname=lake host=db password=hunter2" {
		t.Errorf("catalog %q", c.Catalog)
	}
	if c.Attach["data_path"] != "s3://b/p/" || c.Attach["data_inlining_row_limit"] != "0" {
		t.Errorf("attach options %v", c.Attach)
	}
	if c.Settings.Get("threads") != "2" || c.Settings.Get("autoinstall_known_extensions") != "false" ||
		c.Settings.Get("autoload_known_extensions") != "false" || c.Settings.Get("data_path") != "" {
		t.Errorf("settings %v", c.Settings)
	}
	for _, bad := range []string{"ducklake:", "ducklake:?data_path=x", "ducklake:x.ducklake?data_inlining_row_limit=lots", "lake.duckdb"} {
		if _, err := ducklake.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
	for _, dsn := range []string{
		"ducklake:postgres:dbname=lake host=db password=hunter2?data_path=/d/",
		"ducklake:/l.ducklake?data_path=s3://b/&s3_secret_access_key=hunter2&s3_region=x",
	} {
		if r := ducklake.Redact(dsn); strings.Contains(r, "hunter2") {
			t.Errorf("Redact(%q) = %q", dsn, r)
		}
	}
}

// TestDuckLake_QueryIsReadOnly: the read-only handle (cdcsync query,
// verify) reads a lake's Parquet files, but writes nothing — not to the
// lake, not with COPY … TO into its data path — and reads no other file.
func TestDuckLake_QueryIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	dsn := fileDSN(t, dir, url.Values{"data_inlining_row_limit": {"0"}})
	wh, _ := open(t, dsn, warehouse.Options{Group: "g"})
	if _, err := wh.Apply(context.Background(), warehousetest.PersonBatch(0, 0, 1), map[batch.TopicPartition]int64{}); err != nil {
		t.Fatal(err)
	}
	wh.Close()

	ro, err := ducklake.Kind.OpenReadOnly(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	run := func(stmt string) (string, error) {
		var out []string
		err := ro.Run(context.Background(), stmt, func(rows *sql.Rows) error {
			for rows.Next() {
				var s sql.NullString
				if err := rows.Scan(&s); err != nil {
					return err
				}
				out = append(out, s.String)
			}
			return nil
		})
		return strings.Join(out, ","), err
	}
	if got, err := run("SELECT CAST(id AS VARCHAR) FROM people"); err != nil || got != "1" {
		t.Fatalf("reading the table: %q, %v", got, err)
	}
	copied := filepath.Join(dir, "data", "copy.csv")
	for _, stmt := range []string{
		"INSERT INTO people (id) VALUES (2)",
		"COPY people TO '" + copied + "'",
		"SELECT count(*) FROM read_csv('/etc/passwd')",
		"SET enable_external_access = true",
	} {
		if _, err := run(stmt); err == nil {
			t.Errorf("%s: ran on a read-only DuckLake", stmt)
		}
	}
	if _, err := os.Stat(copied); err == nil {
		t.Errorf("COPY wrote %s", copied)
	}
}

package verify

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// duckFile creates a DuckDB file with the given statements.
func duckFile(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// cdcCols are the metadata columns cdcsync adds; verify ignores them.
const cdcCols = `, _cdc_op VARCHAR, _cdc_position VARCHAR, _cdc_kafka_partition INTEGER, _cdc_kafka_offset BIGINT,
	_cdc_source_ts TIMESTAMPTZ, _cdc_refreshed_at TIMESTAMPTZ`

func TestDuckDBTarget(t *testing.T) {
	path := duckFile(t,
		`CREATE TABLE settings (order_id INTEGER, setting_key VARCHAR, v DECIMAL(10,2), "at" TIMESTAMPTZ, doc JSON, u UUID, d DATE,
			tags VARCHAR[], iv INTERVAL, b BLOB, ok BOOLEAN`+cdcCols+`, PRIMARY KEY (order_id, setting_key))`,
		`CREATE TABLE _cdc_offsets (x INTEGER)`,
		`CREATE TABLE _cdc_landing_settings (x INTEGER)`,
	)
	// Keys whose byte order differs from a case-insensitive collation.
	keys := []string{"B", "Z", "a", "b", "é", "ö"}
	var src [][]any
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for o := 1; o <= 40; o++ {
		for i, k := range keys {
			at := time.Date(2024, 1, 2, 3, 4, o, i*1000, time.UTC)
			src = append(src, []any{int64(o), k, "12.30", at, `{"b": 1, "a": [true]}`,
				"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A1" + string(rune('0'+i)), time.Date(2020, 1, o, 0, 0, 0, 0, time.UTC),
				`["x", "y"]`, Interval{Months: 1}, []byte{byte(i)}, int64(i % 2)})
			if _, err := db.Exec(`INSERT INTO settings (order_id, setting_key, v, "at", doc, u, d, tags, iv, b, ok, _cdc_op)
				VALUES (?, ?, 12.3, ?, '{"a":[true],"b":1.0}', ?, ?, ['x','y'], INTERVAL 2629800 SECONDS, ?, ?, 'c')`,
				o, k, at, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"+string(rune('0'+i)),
				time.Date(2020, 1, o, 0, 0, 0, 0, time.UTC), []byte{byte(i)}, i%2 == 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One different, one missing, one extra, placed between keys.
	for _, s := range []string{
		`UPDATE settings SET v = 12.31 WHERE order_id = 17 AND setting_key = 'a'`,
		`DELETE FROM settings WHERE order_id = 23 AND setting_key = 'é'`,
		`INSERT INTO settings (order_id, setting_key) VALUES (30, 'Zz')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	srcT := &Table{Name: "settings", Key: []int{0, 1}, Columns: []Column{
		{Name: "order_id", Family: FInt}, {Name: "setting_key", Family: FString}, {Name: "v", Family: FDecimal},
		{Name: "at", Family: FTimestampTZ}, {Name: "doc", Family: FJSON}, {Name: "u", Family: FUUID},
		{Name: "d", Family: FDate}, {Name: "tags", Family: FList}, {Name: "iv", Family: FInterval},
		{Name: "b", Family: FBytes}, {Name: "ok", Family: FInt},
	}}
	mem := newMem()
	mem.add(srcT, src...)

	ctx := context.Background()
	tgt, err := OpenTarget(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	names, err := tgt.Tables(ctx)
	if err != nil || strings.Join(names, ",") != "settings" {
		t.Fatalf("tables %v, %v", names, err)
	}
	desc, err := tgt.Describe(ctx, "settings")
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Columns) != 11 || len(desc.Key) != 2 || desc.Columns[3].Family != FTimestampTZ || desc.Columns[7].Family != FList {
		t.Fatalf("describe: %+v", desc)
	}
	for _, page := range []int{7, 10000} {
		var out strings.Builder
		res, err := Compare(ctx, mem, tgt, Options{PageSize: page, Leaf: 3, Fanout: 2, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		tr := res.Tables[0]
		if tr.Missing != 1 || tr.Extra != 1 || tr.Different != 1 {
			t.Fatalf("page %d:\n%s", page, out.String())
		}
		for _, want := range []string{
			`different  order_id=17 setting_key="a": v source 12.30 target 12.31`,
			`missing    order_id=23 setting_key="é"`,
			`extra      order_id=30 setting_key="Zz"`,
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("page %d: report lacks %q:\n%s", page, want, out.String())
			}
		}
	}
	if _, err := tgt.Describe(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("describe nope: %v", err)
	}
}

func TestDuckDBKeyTypes(t *testing.T) {
	// Range bounds come from the source and are cast to the target's key
	// types: decimals, timestamps with time zone, UUIDs, dates.
	path := duckFile(t,
		`CREATE TABLE k (d DECIMAL(10,2), ts TIMESTAMPTZ, u UUID, dt DATE, v INTEGER`+cdcCols+`, PRIMARY KEY (d, ts, u, dt))`,
		`INSERT INTO k (d, ts, u, dt, v) SELECT (i % 5) / 4, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i % 3),
			('00000000-0000-0000-0000-' || lpad(CAST(i AS VARCHAR), 12, '0'))::UUID, DATE '2024-01-01' + CAST(i % 2 AS INTEGER), i FROM range(200) t(i)`,
	)
	ctx := context.Background()
	tgt, err := OpenTarget(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	tt, err := tgt.Describe(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Read it back in pages through the keyset query; every row once, in order.
	fams := make([]Family, len(tt.Key))
	for i, ki := range tt.Key {
		fams[i] = tt.Columns[ki].Family
	}
	seen := map[int64]bool{}
	var after []any
	for pages := 0; ; pages++ {
		var last []any
		n := 0
		err := tgt.Rows(ctx, tt, []int{0, 1, 2, 3, 4}, Range{After: after}, fams, 13, func(row []any) error {
			last = append([]any(nil), row[:4]...)
			if seen[row[4].(int64)] {
				t.Fatalf("row %v read twice", row)
			}
			seen[row[4].(int64)] = true
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n < 13 {
			break
		}
		after = last
	}
	if len(seen) != 200 {
		t.Fatalf("read %d rows, want 200", len(seen))
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for dsn, want := range map[string]string{
		"sqlserver://a":                         `"sqlserver://a" is not a mysql:// or postgres:// DSN`,
		"mysql://root:secret@127.0.0.1:1/":      `bad MySQL DSN "mysql://root:xxxxx@127.0.0.1:1/"`,
		"mysql://root:secret@127.0.0.1:1/db":    "MySQL 127.0.0.1:1/db: dial tcp 127.0.0.1:1",
		"postgres://u:secret@127.0.0.1:1/db":    "PostgreSQL 127.0.0.1:1/db:",
		"postgres://u:secret@127.0.0.1:port/db": "bad PostgreSQL DSN",
	} {
		db, err := Open(ctx, dsn)
		if err == nil {
			db.Close()
			t.Errorf("%s: no error", dsn)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q on one line without the password", dsn, err, want)
		}
	}
	for dsn, want := range map[string]string{
		"/nonexistent/x.duckdb":                "DuckDB file /nonexistent/x.duckdb: stat",
		"sqlserver://a":                        `"sqlserver://a" is not a DuckDB file path ending in .duckdb, a postgres:// URL, a redshift:// URL, a ducklake:CATALOG DSN or an iceberg:REST-ENDPOINT DSN`,
		"redshift://u:secret@127.0.0.1:1/db":   "verify cannot read redshift targets",
		"postgres://u:secret@127.0.0.1:1/db":   "127.0.0.1",
		"postgres://u:secret@127.0.0.1:port/x": "postgres://u:xxxxx@127.0.0.1:port/x",
	} {
		db, err := OpenTarget(ctx, dsn)
		if err == nil {
			db.Close()
			t.Errorf("target %s: no error", dsn)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("target %s: %v, want %q on one line without the password", dsn, err, want)
		}
	}
}

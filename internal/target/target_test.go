package target

import (
	"strings"
	"testing"
)

// TestRegistry_EachDSNHasOneKind: every DSN cdcsync accepts is claimed by
// exactly one kind of the registry, and Supported lists them all.
func TestRegistry_EachDSNHasOneKind(t *testing.T) {
	for dsn, want := range map[string]string{
		"wh.duckdb":                         "duckdb",
		"wh.duckdb?threads=1":               "duckdb",
		"duckdb:///tmp/wh.duckdb?threads=2": "duckdb",
		"postgres://u:p@h/db":               "postgres",
		"postgresql://u:p@h/db?schema=s":    "postgres",
		"redshift://u:p@h:5439/db":          "redshift",
		"ducklake:/data/cat.duckdb":         "ducklake",
		"ducklake:postgres:dbname=lake host=db?data_path=s3://b/p/": "ducklake",
		"iceberg:http://127.0.0.1:8181?namespace=n":                 "iceberg",
		"iceberg:?endpoint_type=glue&warehouse=1234&x=y.duckdb":     "iceberg",
		"mysql://u:p@h/db": "",
		"wh.sqlite":        "",
	} {
		var claimed []string
		for _, k := range kinds {
			if k.Claims(dsn) {
				claimed = append(claimed, k.Name)
			}
		}
		if want == "" && len(claimed) != 0 || want != "" && (len(claimed) != 1 || claimed[0] != want) {
			t.Errorf("%s is claimed by %v, want %q", dsn, claimed, want)
		}
		if err := Check(dsn); (err == nil) != (want != "") {
			t.Errorf("Check(%s) = %v", dsn, err)
		}
	}
	if got, want := Supported(), "a DuckDB file path ending in .duckdb, a postgres:// URL, a redshift:// URL, a ducklake:CATALOG DSN or an iceberg:REST-ENDPOINT DSN"; got != want {
		t.Errorf("Supported() = %q, want %q", got, want)
	}
	err := Check("sqlserver://sa:hunter2@h/db")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), Supported()) {
		t.Errorf("Check(sqlserver://…) = %v, want the supported DSNs without the password", err)
	}
}

// TestRegistry_InstanceID: a DuckDB file implies a static member ID derived
// from its absolute path (the same for duckdb:// and a bare path); server
// warehouses imply none.
func TestRegistry_InstanceID(t *testing.T) {
	a, b, c := InstanceID("/data/wh.duckdb"), InstanceID("duckdb:///data/wh.duckdb"), InstanceID("/data/wh.duckdb?threads=1")
	if a == "" || a != b || a != c || !strings.HasPrefix(a, "cdcsync-") {
		t.Errorf("DuckDB instance IDs %q, %q and %q, want one cdcsync-… ID", a, b, c)
	}
	if id := InstanceID("/data/other.duckdb"); id == a {
		t.Errorf("two files share instance ID %q", id)
	}
	if id := InstanceID("postgres://u:p@h/db"); id != "" {
		t.Errorf("PostgreSQL instance ID %q, want none", id)
	}
}

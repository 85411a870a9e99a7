package iceberg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// readRows is the Python program reading an Iceberg table with Python's
// duckdb package — another engine than cdcsync's own connection, attaching
// the REST catalog afresh — as the Inspector's text: argv is the extension
// directory, the endpoint, the namespace, the table and a JSON list of
// [column or null, is-timestamp].
const readRows = `
import duckdb, json, sys
ext, endpoint, ns, table, cols = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
c = duckdb.connect(config={"extension_directory": ext, "autoinstall_known_extensions": False, "autoload_known_extensions": False})
for e in ("avro", "httpfs", "iceberg"):
    c.execute("LOAD " + e)
c.execute("ATTACH '' AS ice (TYPE iceberg, ENDPOINT '%s', AUTHORIZATION_TYPE 'none')" % endpoint.replace("'", "''"))
sel = []
for name, ts in cols:
    if name is None:
        sel.append("CAST(NULL AS VARCHAR)")
    elif ts:
        sel.append('CAST(epoch_us("%s") AS VARCHAR)' % name.replace('"', '""'))
    else:
        sel.append('CAST("%s" AS VARCHAR)' % name.replace('"', '""'))
q = 'SELECT %s FROM ice."%s"."%s"' % (", ".join(sel), ns.replace('"', '""'), table.replace('"', '""'))
json.dump([list(r) for r in c.execute(q).fetchall()], sys.stdout)
`

// python returns Python's duckdb 1.5.5 interpreter (`svc.sh env
// duckdb-extensions`), or skips the test (fails it when
// CDCSYNC_REQUIRE_ICEBERG is set).
func python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("CDCSYNC_DUCKDB_PYTHON")
	if py == "" {
		if os.Getenv("CDCSYNC_REQUIRE_ICEBERG") != "" {
			t.Fatal("CDCSYNC_DUCKDB_PYTHON is not set but CDCSYNC_REQUIRE_ICEBERG is")
		}
		t.Skip("CDCSYNC_DUCKDB_PYTHON is not set; eval \"$(scripts/services/svc.sh env duckdb-extensions)\"")
	}
	return py
}

// pyInspector reads target tables with Python's duckdb; the rest of the
// Inspector is cdcsync's (unused by AssertTables).
type pyInspector struct {
	*sqlapplytest.Inspector
	py, ext, endpoint, ns string
	columns               map[string][]string // table -> columns, as stored
}

func (p *pyInspector) Rows(ctx context.Context, table string, cols []string, timestamps map[string]bool) ([][]*string, error) {
	ids := p.Identifiers()
	table = ids.Table(table)
	have := map[string]string{}
	for _, c := range p.columns[table] {
		have[ids.Fold(c)] = c
	}
	spec := make([][2]any, len(cols))
	for i, c := range cols {
		if name, ok := have[ids.Fold(ids.Column(c))]; ok {
			spec[i] = [2]any{name, timestamps[c]}
		} else {
			spec[i] = [2]any{nil, false}
		}
	}
	arg, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, p.py, "-c", readRows, p.ext, p.endpoint, p.ns, table, string(arg)).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return nil, fmt.Errorf("python duckdb: %w: %s", err, stderr)
	}
	var rows [][]*string
	if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("python duckdb output: %w", err)
	}
	return rows, nil
}

// TestIceberg_ReadBackByPythonDuckDB: a seeded workload (truncates, key
// changes, poison, tombstones, schema changes) applied by cdcsync is read
// back row by row by another engine — Python's duckdb, attaching the same
// REST catalog after cdcsync closed its connection — and equals the source.
func TestIceberg_ReadBackByPythonDuckDB(t *testing.T) {
	py := python(t)
	dsn := DSN(t, "readback", nil)
	w := workload.New(workload.Options{Seed: 7, Partitions: 3, Schemas: true, SnapshotRows: 30, Ops: 1500,
		Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
	wh, ins := open(t, dsn, warehouse.Options{Group: "g", Landing: true})
	warehousetest.Converge(t, wh, ins, w)

	// The stored columns of each table, before cdcsync lets the catalog go.
	columns := map[string][]string{}
	conn, err := ins.DB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range w.Tables {
		name := ins.Identifiers().Table(tb.Name)
		cols, err := ins.Dialect.Columns(context.Background(), conn, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			columns[name] = append(columns[name], c.Name)
		}
	}
	conn.Close()
	if err := wh.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := iceberg.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	warehousetest.AssertTables(t, &pyInspector{Inspector: ins, py: py, ext: extensions(t), endpoint: c.Endpoint, ns: c.Namespace, columns: columns}, w)
}

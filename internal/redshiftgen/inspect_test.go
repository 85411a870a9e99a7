package redshiftgen

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
)

func rec(offset int64, key, value string) debezium.Record {
	r := debezium.Record{Topic: "db.inv.items", Offset: offset}
	if key != "" {
		r.Key = []byte(key)
	}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

const mysqlSource = `"source":{"connector":"mysql","file":"mysql-bin.000003","pos":%d,"row":0,"ts_ms":1}`

func event(op, after string, pos int) string {
	return `{"before":null,"after":` + after + `,` + strings.Replace(mysqlSource, "%d", strconv.Itoa(pos), 1) + `,"op":"` + op + `"}`
}

func TestInspectNeedsARowEvent(t *testing.T) {
	for name, recs := range map[string][]debezium.Record{
		"empty": nil,
		"deletes, tombstones and truncates": {
			rec(0, `{"id":1}`, event("d", "null", 10)),
			rec(1, `{"id":1}`, ""),
			rec(2, "", event("t", "null", 20)),
			rec(3, `{"id":2}`, "not json"),
		},
	} {
		_, err := Inspect("db.inv.items", recs, debezium.Options{})
		if !errors.Is(err, ErrNoRowEvent) {
			t.Errorf("%s: got %v, want ErrNoRowEvent", name, err)
		}
	}
}

func TestInspectRejectsFlattenedRows(t *testing.T) {
	recs := []debezium.Record{rec(0, `{"id":1}`, `{"id":1,"name":"a","__op":"c","__deleted":"false"}`)}
	if _, err := Inspect("db.inv.items", recs, debezium.Options{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("got %v, want ErrUnsupported", err)
	}
}

// Without schemas a NULL value says nothing of a type: the latest event
// decides the columns and their order, older events type the columns it
// has NULL, declared types win, and declared columns no event had are
// added.
func TestInspectSchemalessColumns(t *testing.T) {
	recs := []debezium.Record{
		rec(0, `{"id":1}`, event("c", `{"id":1,"name":"a","price":"1.50","seen":1700000000000,"note":"x"}`, 10)),
		rec(1, `{"id":2}`, event("u", `{"id":2,"name":"b","price":null,"seen":null,"note":null}`, 20)),
		rec(2, `{"id":1}`, event("d", "null", 30)),
		rec(3, `{"id":1}`, ""),
	}
	opts := debezium.Options{Table: func(string) debezium.TableOptions {
		return debezium.TableOptions{Name: "items", Columns: map[string]change.Type{
			"price": change.DecimalType(10, 2), "seen": change.TimestampType(change.UnitMillis), "added": change.Date,
		}}
	}}
	tab, err := Inspect("db.inv.items", recs, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tab.Columns {
		got = append(got, c.Name+" "+c.Type.String()+" "+encodingName(c.Encoding)+map[bool]string{true: " key"}[c.Key])
	}
	want := []string{
		"id bigint number key", "name string string", "price decimal(10,2) string",
		"seen timestamp_ms number", "note string string", "added date number",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("columns:\n got  %q\n want %q", got, want)
	}
	if tab.ValueSchemas || tab.KeySchemas || tab.Source != SourceBinlog || tab.Name != "items" || strings.Join(tab.Key, ",") != "id" {
		t.Errorf("table: %+v", tab)
	}
}

func encodingName(e Encoding) string {
	return [...]string{"unknown", "number", "string", "bool", "struct", "base64"}[e]
}

func TestInspectSources(t *testing.T) {
	for _, c := range []struct {
		source string
		want   Source
	}{
		{`"source":{"connector":"mariadb","file":"mariadb-bin.000001","pos":4,"row":0}`, SourceBinlog},
		{`"source":{"connector":"postgresql","lsn":22196384,"sequence":"[null,\"22196384\"]"}`, SourcePostgres},
		{`"source":{"connector":"sqlserver","commit_lsn":"00000025:00000d98:0002","change_lsn":"00000025:00000d98:0002","event_serial_no":1}`, SourceSQLServer},
		{`"source":{"lsn":1}`, SourcePostgres},
		{`"source":{"connector":"mongodb"}`, SourceUnknown},
	} {
		v := `{"before":null,"after":{"id":1},` + c.source + `,"op":"c"}`
		tab, err := Inspect("db.inv.items", []debezium.Record{rec(0, `{"id":1}`, v)}, debezium.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tab.Source != c.want {
			t.Errorf("%s: source %v, want %v", c.source, tab.Source, c.want)
		}
		warned := strings.Contains(strings.Join(tab.Warnings, " "), "no known source position")
		if (c.want == SourceUnknown) != warned {
			t.Errorf("%s: warnings %q", c.source, tab.Warnings)
		}
	}
}

// Keys and values have their own converters: values may carry schemas
// while keys do not, and the generated SQL navigates each accordingly.
func TestInspectMixedConverters(t *testing.T) {
	value := `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","field":"id"},{"type":"string","field":"name"}],"field":"after"}]},` +
		`"payload":` + event("c", `{"id":1,"name":"a"}`, 10) + `}`
	tab, err := Inspect("db.inv.items", []debezium.Record{rec(0, `{"id":1}`, value)}, debezium.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tab.ValueSchemas || tab.KeySchemas {
		t.Fatalf("value schemas %v, key schemas %v", tab.ValueSchemas, tab.KeySchemas)
	}
	out, err := Generate(Options{}, []*Table{tab})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`m.key_payload."id"::BIGINT AS id`, `m.payload.payload.after."name"::VARCHAR(65535) AS name`, `m.payload.payload."op"::VARCHAR(16)`} {
		if !strings.Contains(out.Tables[0].SQL, want) {
			t.Errorf("the SQL lacks %s", want)
		}
	}
}

// Redshift folds identifiers to lower case: columns are created lower
// case, SUPER navigation keeps the source's case (which needs
// case-sensitive identifiers in the procedure), and two names that fold
// to one are an error.
func TestGenerateMixedCase(t *testing.T) {
	tab := &Table{Name: "Items", Topic: "db.inv.Items", Source: SourceBinlog, Key: []string{"ItemId"}, Columns: []Column{
		{Name: "ItemId", Type: change.Int64, Key: true, Encoding: EncNumber},
		{Name: "Label", Type: change.String, Encoding: EncString},
	}}
	out, err := Generate(Options{}, []*Table{tab})
	if err != nil {
		t.Fatal(err)
	}
	sql := out.Tables[0].SQL
	for _, want := range []string{
		`m.payload.after."Label"::VARCHAR(65535) AS label`, "CREATE TABLE IF NOT EXISTS public.items (",
		"$$ LANGUAGE plpgsql\nSET enable_case_sensitive_identifier TO true;",
		"SET enable_case_sensitive_identifier TO true;\nCREATE MATERIALIZED VIEW public.mv_items",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("the SQL lacks %q", want)
		}
	}
	tab.Columns = append(tab.Columns, Column{Name: "label", Type: change.String, Encoding: EncString})
	if _, err := Generate(Options{}, []*Table{tab}); err == nil || !strings.Contains(err.Error(), "lower case") {
		t.Errorf("got %v, want an error about folded names", err)
	}
}

func TestGenerateLowCardinality(t *testing.T) {
	tab := &Table{Name: "items", Topic: "db.inv.items", Key: []string{"id"}, Columns: []Column{
		{Name: "id", Type: change.Int64, Key: true, Encoding: EncNumber},
		{Name: "state", Type: change.String, Encoding: EncString},
		{Name: "active", Type: change.Bool, Encoding: EncBool},
	}}
	out, err := Generate(Options{LowCardinality: map[string][]string{"items": {"state"}}}, []*Table{tab})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Tables[0].SQL, "state VARCHAR(65535) ENCODE bytedict") {
		t.Error("state is not BYTEDICT")
	}
	for _, col := range []string{"active", "nosuch"} {
		if _, err := Generate(Options{LowCardinality: map[string][]string{"items": {col}}}, []*Table{tab}); err == nil {
			t.Errorf("low-cardinality %s: no error", col)
		}
	}
}

func TestComment(t *testing.T) {
	got := comment("-- WARNING: ", strings.Repeat("word ", 30))
	for _, line := range strings.Split(got, "\n") {
		if len(line) > 80 || !strings.HasPrefix(line, "--") {
			t.Errorf("line %q", line)
		}
	}
}

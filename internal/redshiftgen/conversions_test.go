package redshiftgen

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// conversion is one column of TestConversionsOnPostgreSQL: its Connect
// schema, its value in the event, and what the target must hold, read back
// as text (through read when set).
type conversion struct {
	schema string
	value  string
	want   string
	read   string // SQL over the column, %s; default %s::TEXT
}

var conversions = map[string]conversion{
	"small":  {`{"type":"int16"}`, `-32768`, "-32768", ""},
	"flag":   {`{"type":"int16"}`, `1`, "true", ""}, // MySQL TINYINT(1), declared boolean
	"b":      {`{"type":"boolean"}`, `true`, "true", ""},
	"i":      {`{"type":"int32"}`, `-7`, "-7", ""},
	"l":      {`{"type":"int64"}`, `9007199254740993`, "9007199254740993", ""},
	"f":      {`{"type":"float"}`, `1.5`, "1.5", ""},
	"d":      {`{"type":"double"}`, `-2.25`, "-2.25", ""},
	"amount": {`{"type":"string"}`, `"-1234.567"`, "-1234.567", ""}, // decimal.handling.mode=string, declared decimal(12,3)
	"price":  {`{"type":"double"}`, `19.99`, "19.99", ""},           // decimal.handling.mode=double
	"dt":     {`{"type":"int32","name":"io.debezium.time.Date"}`, `-56270`, "1815-12-10", ""},
	"ts_ms":  {`{"type":"int64","name":"io.debezium.time.Timestamp"}`, `-1`, "1969-12-31 23:59:59.999", ""},
	"ts_us":  {`{"type":"int64","name":"io.debezium.time.MicroTimestamp"}`, `1704164645123456`, "2024-01-02 03:04:05.123456", ""},
	"ts_ns":  {`{"type":"int64","name":"io.debezium.time.NanoTimestamp"}`, `1704164645123456789`, "2024-01-02 03:04:05.123456", ""},
	"zts": {`{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"2024-01-02T03:04:05.5Z"`, "2024-01-02 03:04:05.5",
		"(%s AT TIME ZONE 'UTC')::TEXT"},
	"t_us":  {`{"type":"int64","name":"io.debezium.time.MicroTime"}`, `27000000000`, "07:30:00", ""},
	"t_ms":  {`{"type":"int32","name":"io.debezium.time.Time"}`, `3723004`, "01:02:03.004", ""},
	"ztime": {`{"type":"string","name":"io.debezium.time.ZonedTime"}`, `"07:30:00Z"`, "07:30:00+00", ""},
	"year":  {`{"type":"int32","name":"io.debezium.time.Year"}`, `2024`, "2024", ""},
	"dur":   {`{"type":"int64","name":"io.debezium.time.MicroDuration"}`, `90061000000`, "90061000000", ""},
	"blob":  {`{"type":"bytes"}`, `"3q2+7w=="`, "3q2+7w==", "ENCODE(%s, 'base64')"},
	"doc":   {`{"type":"string","name":"io.debezium.data.Json"}`, `"{\"n\": 1, \"s\": \"x\"}"`, `{"n": 1, "s": "x"}`, ""},
	"uid":   {`{"type":"string","name":"io.debezium.data.Uuid"}`, `"b1ffcd88-1d1c-4ef8-bb6d-6bb9bd380a22"`, "b1ffcd88-1d1c-4ef8-bb6d-6bb9bd380a22", ""},
	"tags":  {`{"type":"array","items":{"type":"string"}}`, `["a","b"]`, `["a", "b"]`, ""},
	"props": {`{"type":"map","keys":{"type":"string"},"values":{"type":"string"}}`, `{"k":"v"}`, `{"k": "v"}`, ""},
	"name":  {`{"type":"string"}`, `"Zoë \"quoted\" ✓"`, `Zoë "quoted" ✓`, ""},
	"tier":  {`{"type":"string","name":"io.debezium.data.Enum","parameters":{"allowed":"gold,silver"}}`, `"silver"`, "silver", ""},
}

// TestConversionsOnPostgreSQL runs the staging conversions of every
// Debezium encoding the generator handles on PostgreSQL, from one
// schema-carrying event, and reads the target back.
func TestConversionsOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	names := make([]string, 0, len(conversions))
	for name := range conversions {
		names = append(names, name)
	}
	var fields, values []string
	fields = append(fields, `{"type":"int32","optional":false,"field":"id"}`)
	values = append(values, `"id":1`)
	for _, name := range names {
		c := conversions[name]
		fields = append(fields, strings.TrimSuffix(c.schema, "}")+`,"optional":true,"field":"`+name+`"}`)
		values = append(values, `"`+name+`":`+c.value)
	}
	row := `{"type":"struct","fields":[` + strings.Join(fields, ",") + `],"optional":true,"field":"%s"}`
	value := `{"schema":{"type":"struct","fields":[` + strings.ReplaceAll(row, "%s", "before") + "," + strings.ReplaceAll(row, "%s", "after") +
		`,{"type":"struct","fields":[],"optional":false,"field":"source"},{"type":"string","optional":false,"field":"op"}],"optional":false},` +
		`"payload":{"before":null,"after":{` + strings.Join(values, ",") + `},` +
		`"source":{"connector":"mysql","file":"mysql-bin.000007","pos":4711,"row":0,"ts_ms":1704164645000},"op":"c"}}`
	key := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":1}}`
	if !json.Valid([]byte(value)) {
		t.Fatalf("bad test event: %s", value)
	}

	rec := debezium.Record{Topic: "db.types", Key: []byte(key), Value: []byte(value)}
	opts := debezium.Options{Table: func(string) debezium.TableOptions {
		return debezium.TableOptions{Name: "types", Columns: map[string]change.Type{
			"flag": change.Bool, "amount": change.DecimalType(12, 3), "price": change.DecimalType(10, 2),
		}}
	}}
	tab, err := Inspect(rec.Topic, []debezium.Record{rec}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Warnings) > 0 {
		t.Errorf("warnings: %q", tab.Warnings)
	}
	db, schema := openSchema(t, dsn)
	out, err := Generate(Options{Dialect: PostgreSQL, Schema: schema}, []*Table{tab})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, out.Setup)
	exec(t, db, out.Tables[0].SQL)
	l := loader{t: t, db: db, schema: schema, recs: []record{{table: "types", key: rec.Key, value: rec.Value}}}
	l.load(func(int32) int { return 1 })
	exec(t, db, "CALL "+schema+".incremental_sync_types()")

	for _, name := range names {
		c := conversions[name]
		read := c.read
		if read == "" {
			read = "%s::TEXT"
		}
		var got string
		q := "SELECT " + strings.ReplaceAll(read, "%s", rs.Ident(name)) + " FROM " + schema + ".types"
		if err := db.QueryRow(q).Scan(&got); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", name, got, c.want)
		}
	}
	var length int
	err = db.QueryRow(`SELECT character_maximum_length FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'types' AND column_name = 'tier'`, schema).Scan(&length)
	if err != nil || length != len("silver") {
		t.Errorf("tier: VARCHAR(%d) (%v), want the longest enum value's length, 6", length, err)
	}
}

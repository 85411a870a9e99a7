package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
)

// typeCase is one column type with one value: the Connect field schema,
// the JSON literal Debezium writes, and the exact text DuckDB gives back
// for the stored value (column::VARCHAR in UTC), or "NULL".
type typeCase struct {
	name   string
	field  string // Connect field schema, without "field"
	value  string // JSON literal
	sqlTyp string // DuckDB column type created
	want   string
}

// typeCases cover every Debezium type with edge values; expected values
// come from Debezium's own tests (../shared/debezium-examples/TYPE-ENCODINGS.md).
var typeCases = []typeCase{
	{"int16 max", `{"type":"int16"}`, `32767`, "SMALLINT", "32767"},
	{"int16 min", `{"type":"int16"}`, `-32768`, "SMALLINT", "-32768"},
	{"int8", `{"type":"int8"}`, `-128`, "SMALLINT", "-128"},
	{"int32 max", `{"type":"int32"}`, `2147483647`, "INTEGER", "2147483647"},
	{"int64 max", `{"type":"int64"}`, `9223372036854775807`, "BIGINT", "9223372036854775807"},
	{"int64 min", `{"type":"int64"}`, `-9223372036854775808`, "BIGINT", "-9223372036854775808"},
	{"float32", `{"type":"float"}`, `1.5`, "FLOAT", "1.5"},
	{"float64", `{"type":"double"}`, `-2.5e-10`, "DOUBLE", "-2.5e-10"},
	{"float64 NaN quoted by Jackson", `{"type":"double"}`, `"NaN"`, "DOUBLE", "nan"},
	{"float64 infinity", `{"type":"double"}`, `"Infinity"`, "DOUBLE", "inf"},
	{"boolean", `{"type":"boolean"}`, `true`, "BOOLEAN", "true"},
	{"string unicode", `{"type":"string"}`, `"Zoë ☃ 日本語 \ud83d\ude00"`, "VARCHAR", "Zoë ☃ 日本語 😀"},
	{"string empty", `{"type":"string"}`, `""`, "VARCHAR", ""},
	{"string null", `{"type":"string","optional":true}`, `null`, "VARCHAR", "NULL"},
	{"bytes", `{"type":"bytes"}`, `"AQID"`, "BLOB", `\x01\x02\x03`},
	{"decimal 1.10", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"3"}}`, `"bg=="`, "DECIMAL(3,2)", "1.10"},
	{"decimal 22.2200", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"4","connect.decimal.precision":"6"}}`, `"A2P4"`, "DECIMAL(6,4)", "22.2200"},
	{"decimal negative money", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"}}`, `"/h3t"`, "DECIMAL(10,2)", "-1234.11"},
	{"decimal zero", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"}}`, `"AA=="`, "DECIMAL(10,2)", "0.00"},
	{"decimal 38 digits", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"0","connect.decimal.precision":"38"}}`, `"SztMqFqGxHoJiiI//////w=="`, "DECIMAL(38,0)", "99999999999999999999999999999999999999"},
	{"decimal without precision", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"0"}}`, `"Cg=="`, "VARCHAR", "10"},
	{"variable-scale decimal", `{"type":"struct","name":"io.debezium.data.VariableScaleDecimal","fields":[{"type":"int32","field":"scale"},{"type":"bytes","field":"value"}]}`, `{"scale":4,"value":"AYr3"}`, "VARCHAR", "10.1111"},
	{"variable-scale decimal 1/3", `{"type":"struct","name":"io.debezium.data.VariableScaleDecimal","fields":[{"type":"int32","field":"scale"},{"type":"bytes","field":"value"}]}`, `{"scale":20,"value":"Ac6Xyg8hBVVV"}`, "VARCHAR", "0.33333333333333333333"},
	{"date", `{"type":"int32","name":"io.debezium.time.Date"}`, `17109`, "DATE", "2016-11-04"},
	{"date year 18", `{"type":"int32","name":"io.debezium.time.Date"}`, `-712863`, "DATE", "0018-04-01"},
	{"date leap day", `{"type":"int32","name":"io.debezium.time.Date"}`, `19782`, "DATE", "2024-02-29"},
	{"connect date", `{"type":"int32","name":"org.apache.kafka.connect.data.Date"}`, `3012`, "DATE", "1978-04-01"},
	{"time ms", `{"type":"int32","name":"io.debezium.time.Time"}`, `49890123`, "TIME", "13:51:30.123"},
	{"micro time", `{"type":"int64","name":"io.debezium.time.MicroTime"}`, `49890000000`, "TIME", "13:51:30"},
	{"micro time 24:00", `{"type":"int64","name":"io.debezium.time.MicroTime"}`, `86400000000`, "TIME", "24:00:00"},
	{"nano time", `{"type":"int64","name":"io.debezium.time.NanoTime"}`, `49890123456789`, "TIME_NS", "13:51:30.123456789"},
	{"connect time", `{"type":"int32","name":"org.apache.kafka.connect.data.Time"}`, `49890123`, "TIME", "13:51:30.123"},
	{"timestamp ms", `{"type":"int64","name":"io.debezium.time.Timestamp"}`, `1478267490123`, "TIMESTAMP", "2016-11-04 13:51:30.123"},
	{"connect timestamp", `{"type":"int64","name":"org.apache.kafka.connect.data.Timestamp"}`, `1529476623000`, "TIMESTAMP", "2018-06-20 06:37:03"},
	{"micro timestamp", `{"type":"int64","name":"io.debezium.time.MicroTimestamp"}`, `1478267490123456`, "TIMESTAMP", "2016-11-04 13:51:30.123456"},
	{"micro timestamp before 1970", `{"type":"int64","name":"io.debezium.time.MicroTimestamp"}`, `-1047174587392000`, "TIMESTAMP", "1936-10-25 22:10:12.608"},
	{"micro timestamp +infinity", `{"type":"int64","name":"io.debezium.time.MicroTimestamp"}`, `9223372036825200000`, "TIMESTAMP", "infinity"},
	{"micro timestamp -infinity", `{"type":"int64","name":"io.debezium.time.MicroTimestamp"}`, `-9223372036832400000`, "TIMESTAMP", "-infinity"},
	{"nano timestamp", `{"type":"int64","name":"io.debezium.time.NanoTimestamp"}`, `1478267490123456789`, "TIMESTAMP_NS", "2016-11-04 13:51:30.123456789"},
	{"zoned timestamp", `{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"2016-11-04T11:51:30.123456Z"`, "TIMESTAMP WITH TIME ZONE", "2016-11-04 11:51:30.123456+00"},
	{"zoned timestamp after 9999", `{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"+21016-11-04T06:51:30.123456Z"`, "TIMESTAMP WITH TIME ZONE", "21016-11-04 06:51:30.123456+00"},
	{"zoned timestamp BC", `{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"-4713-12-31T23:59:59.999999Z"`, "TIMESTAMP WITH TIME ZONE", "4714-12-31 (BC) 23:59:59.999999+00"},
	{"zoned timestamp infinity", `{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"infinity"`, "TIMESTAMP WITH TIME ZONE", "infinity"},
	{"zoned time", `{"type":"string","name":"io.debezium.time.ZonedTime"}`, `"11:51:30.123789Z"`, "TIME WITH TIME ZONE", "11:51:30.123789+00"},
	{"year", `{"type":"int32","name":"io.debezium.time.Year"}`, `2018`, "INTEGER", "2018"},
	{"micro duration", `{"type":"int64","name":"io.debezium.time.MicroDuration"}`, `37091106780000`, "INTERVAL", "10303:05:06.78"},
	{"interval string", `{"type":"string","name":"io.debezium.time.Interval"}`, `"P1Y2M3DT4H5M6.78S"`, "INTERVAL", "1 year 2 months 3 days 04:05:06.78"},
	{"json", `{"type":"string","name":"io.debezium.data.Json"}`, `"{\"bar\": \"baz\"}"`, "JSON", `{"bar": "baz"}`},
	{"enum", `{"type":"string","name":"io.debezium.data.Enum","parameters":{"allowed":"a\\,b,c"}}`, `"a,b"`, "VARCHAR", "a,b"},
	{"enum set", `{"type":"string","name":"io.debezium.data.EnumSet","parameters":{"allowed":"x,y,z"}}`, `"x,z"`, "VARCHAR", "x,z"},
	{"uuid", `{"type":"string","name":"io.debezium.data.Uuid"}`, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, "UUID", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"xml", `{"type":"string","name":"io.debezium.data.Xml"}`, `"<a>b</a>"`, "VARCHAR", "<a>b</a>"},
	{"bits", `{"type":"bytes","name":"io.debezium.data.Bits","parameters":{"length":"24"}}`, `"AQID"`, "BLOB", `\x01\x02\x03`},
	{"geometry", `{"type":"struct","name":"io.debezium.data.geometry.Geometry","fields":[{"type":"bytes","field":"wkb"},{"type":"int32","field":"srid","optional":true}]}`, `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`, "JSON", `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`},
	{"int array", `{"type":"array","items":{"type":"int32"}}`, `[1,2,3]`, "INTEGER[]", "[1, 2, 3]"},
	{"string array", `{"type":"array","items":{"type":"string"}}`, `["a","b b"]`, "VARCHAR[]", "[a, b b]"},
	{"struct", `{"type":"struct","fields":[{"type":"int32","field":"x"}]}`, `{"x":1}`, "JSON", `{"x":1}`},
	{"map", `{"type":"map","keys":{"type":"string"},"values":{"type":"string"}}`, `{"k":"v"}`, "JSON", `{"k":"v"}`},
}

func event(field, value string, id int) (key, val []byte) {
	key = []byte(fmt.Sprintf(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}]},"payload":{"id":%d}}`, id))
	f := strings.TrimSuffix(field, "}") + `,"field":"v"}`
	if !strings.Contains(field, `"optional"`) {
		f = strings.TrimSuffix(field, "}") + `,"optional":true,"field":"v"}`
	}
	val = []byte(fmt.Sprintf(`{"schema":{"type":"struct","fields":[`+
		`{"type":"struct","optional":true,"field":"after","fields":[{"type":"int32","optional":false,"field":"id"},%s]},`+
		`{"type":"string","optional":false,"field":"op"}]},`+
		`"payload":{"before":null,"after":{"id":%d,"v":%s},"op":"c","source":{"file":"mysql-bin.000001","pos":%d,"row":0}}}`, f, id, value, 100+id))
	return key, val
}

// TestTypesLandExactly decodes one schema-carrying event per type, applies
// it to DuckDB and reads the stored value back as text.
func TestTypesLandExactly(t *testing.T) {
	ctx := context.Background()
	wh, ins := sqlapplytest.DuckDB(t, filepath.Join(t.TempDir(), "types.duckdb"), warehouse.Options{Group: "types"})
	dec := debezium.NewDecoder(debezium.Options{})
	b := batch.New()
	for i, tc := range typeCases {
		topic := fmt.Sprintf("db.types.t%02d", i)
		key, val := event(tc.field, tc.value, i)
		res, err := dec.Decode(debezium.Record{Topic: topic, Partition: 0, Offset: 0, Key: key, Value: val})
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		b.Record(topic, 0, 0, len(val))
		tb := b.Table(res.Change.Table, topic)
		tb.Add(res.Change)
		tb.Landing = append(tb.Landing, batch.Raw{Topic: topic, Key: key, Value: val})
	}
	st, err := wh.Apply(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadLetters != 0 {
		var reasons []string
		rows, _ := ins.DB.Query(`SELECT table_name || ': ' || reason FROM _cdc_dead_letters`)
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			reasons = append(reasons, s)
		}
		t.Fatalf("%d dead letters: %v", st.DeadLetters, reasons)
	}
	conn, err := ins.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range typeCases {
		table := fmt.Sprintf("t%02d", i)
		var typ string
		if err := conn.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = 'v'`, table).Scan(&typ); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got sql.NullString
		if err := conn.QueryRowContext(ctx, `SELECT v::VARCHAR FROM `+table).Scan(&got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		s := "NULL"
		if got.Valid {
			s = got.String
		}
		if typ != tc.sqlTyp || s != tc.want {
			t.Errorf("%s: stored %s %q, want %s %q", tc.name, typ, s, tc.sqlTyp, tc.want)
		}
	}
}

// TestValuesThatDoNotFitAreDeadLettered: bad values become dead letters
// naming the column and the reason; the rest of the batch applies.
func TestValuesThatDoNotFitAreDeadLettered(t *testing.T) {
	ctx := context.Background()
	wh, ins := sqlapplytest.DuckDB(t, filepath.Join(t.TempDir(), "bad.duckdb"), warehouse.Options{Group: "bad"})
	dec := debezium.NewDecoder(debezium.Options{})
	bad := []typeCase{
		{"decimal wider than its precision", `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"3"}}`, `"EtaH"`, "", "does not fit"},
		{"malformed ISO timestamp", `{"type":"string","name":"io.debezium.time.ZonedTimestamp"}`, `"2016-13-45T99:00:00Z"`, "", "ISO-8601"},
		{"base64 that does not decode", `{"type":"bytes"}`, `"@@@"`, "", "base64"},
	}
	b := batch.New()
	n := 0
	for i, tc := range bad {
		topic := "db.bad.items"
		key, val := event(tc.field, tc.value, i)
		b.Record(topic, 0, int64(i), len(val))
		res, err := dec.Decode(debezium.Record{Topic: topic, Offset: int64(i), Key: key, Value: val})
		if err == nil {
			t.Errorf("%s: decoded without error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), `"v"`) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the column and the reason (%s)", tc.name, err, tc.want)
		}
		_ = res
		b.DeadLetters = append(b.DeadLetters, batch.DeadLetter{Topic: topic, Offset: int64(i), Table: "items", Reason: err.Error(), Key: key, Value: val})
		n++
	}
	if _, err := wh.Apply(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := ins.DB.QueryRow(`SELECT count(*) FROM _cdc_dead_letters WHERE reason LIKE '%"v"%'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n || n != len(bad) {
		t.Fatalf("dead letters naming the column: %d, want %d", got, len(bad))
	}
}

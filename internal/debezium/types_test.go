package debezium

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
)

// The type matrix: every Debezium and Kafka Connect logical type of
// TYPE-ENCODINGS.md, with the input → value pairs Debezium's own tests
// assert and edge values, each decoded from a small schema-carrying event
// whose after struct has the key column id and the column under test, v.
// A case asserts the exact normalised Go value (package change) and the
// column type; a bad value must be an error that names the column.

// field is a Connect field schema.
type field struct {
	Type       string            `json:"type"`
	Name       string            `json:"name,omitempty"`
	Version    int               `json:"version,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Items      *field            `json:"items,omitempty"`
	Fields     []namedField      `json:"fields,omitempty"`
	Optional   bool              `json:"optional"`
}

type namedField struct {
	field
	Field string `json:"field"`
}

// typedEvent builds a create event with schema whose row is {id: 1, v: lit}.
func typedEvent(t testing.TB, f field, lit string) []byte {
	t.Helper()
	f.Optional = true
	row := field{Type: "struct", Name: "srv.db.t.Value", Optional: true, Fields: []namedField{
		{field: field{Type: "int32"}, Field: "id"},
		{field: f, Field: "v"},
	}}
	env := struct {
		Type   string       `json:"type"`
		Name   string       `json:"name"`
		Fields []namedField `json:"fields"`
	}{Type: "struct", Name: "srv.db.t.Envelope", Fields: []namedField{
		{field: row, Field: "before"},
		{field: row, Field: "after"},
		{field: field{Type: "struct", Name: "srv.test.Source", Fields: []namedField{
			{field: field{Type: "string"}, Field: "file"},
			{field: field{Type: "int64"}, Field: "pos"},
			{field: field{Type: "int32"}, Field: "row"},
		}}, Field: "source"},
		{field: field{Type: "string"}, Field: "op"},
	}}
	schema, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"schema":` + string(schema) + `,"payload":{"before":null,"after":{"id":1,"v":` + lit +
		`},"source":{"file":"mysql-bin.000001","pos":4,"row":0},"op":"c"}}`)
}

const typedKey = `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"srv.db.t.Key"},"payload":{"id":1}}`

// decodeTyped decodes a typed event and returns v's value and type.
func decodeTyped(t testing.TB, f field, lit string) (any, change.Type, error) {
	t.Helper()
	res, err := NewDecoder(Options{}).decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, f, lit)})
	if err != nil {
		return nil, change.Type{}, err
	}
	c := res.Change
	if c == nil || c.Op != change.OpUpsert || c.Schema == nil || len(c.Row) != 2 || c.Schema.Index("v") != 1 {
		t.Fatalf("unexpected result %s", describeResult(res, err))
	}
	if !sameValue(c.Row[0], int64(1)) {
		t.Fatalf("id = %#v", c.Row[0])
	}
	return c.Row[1], c.Schema.Columns[1].Type, nil
}

func named(typ, name string) field { return field{Type: typ, Name: name, Version: 1} }

func decimalField(scale, precision string) field {
	p := map[string]string{"scale": scale}
	if precision != "" {
		p["connect.decimal.precision"] = precision
	}
	return field{Type: "bytes", Name: "org.apache.kafka.connect.data.Decimal", Version: 1, Parameters: p}
}

func dec(unscaled string, scale int) change.Decimal {
	n, ok := new(big.Int).SetString(unscaled, 10)
	if !ok {
		panic(unscaled)
	}
	return change.Decimal{Unscaled: n, Scale: scale}
}

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func tod(h, m, s, ns int64) change.TimeOfDay {
	return change.TimeOfDay(h*3600e9 + m*60e9 + s*1e9 + ns)
}

type typeCase struct {
	name string
	f    field
	lit  string      // the JSON literal of v
	want any         // the decoded value; ignored when err is set
	typ  change.Type // v's column type
	err  string      // the error must name column v and contain this
}

var (
	dateF           = named("int32", "io.debezium.time.Date")
	timeF           = named("int32", "io.debezium.time.Time")
	microTimeF      = named("int64", "io.debezium.time.MicroTime")
	nanoTimeF       = named("int64", "io.debezium.time.NanoTime")
	timestampF      = named("int64", "io.debezium.time.Timestamp")
	microTimestampF = named("int64", "io.debezium.time.MicroTimestamp")
	nanoTimestampF  = named("int64", "io.debezium.time.NanoTimestamp")
	zonedTsF        = named("string", "io.debezium.time.ZonedTimestamp")
	zonedTimeF      = named("string", "io.debezium.time.ZonedTime")
	varDecF         = field{Type: "struct", Name: "io.debezium.data.VariableScaleDecimal", Version: 1, Fields: []namedField{
		{field: field{Type: "int32"}, Field: "scale"}, {field: field{Type: "bytes"}, Field: "value"}}}
	geometryF = field{Type: "struct", Name: "io.debezium.data.geometry.Geometry", Version: 1, Fields: []namedField{
		{field: field{Type: "bytes"}, Field: "wkb"}, {field: field{Type: "int32", Optional: true}, Field: "srid"}}}
	pointF = field{Type: "struct", Name: "io.debezium.data.geometry.Point", Version: 1, Fields: []namedField{
		{field: field{Type: "double"}, Field: "x"}, {field: field{Type: "double"}, Field: "y"},
		{field: field{Type: "bytes", Optional: true}, Field: "wkb"}, {field: field{Type: "int32", Optional: true}, Field: "srid"}}}

	tsMillis = change.TimestampType(change.UnitMillis)
	tsMicros = change.TimestampType(change.UnitMicros)
	tsNanos  = change.TimestampType(change.UnitNanos)
)

var typeCases = []typeCase{
	// io.debezium.time.Date: int32 days since the epoch.
	{name: "Date PG 2016-11-04", f: dateF, lit: "17109", want: utc(2016, 11, 4, 0, 0, 0, 0), typ: change.Date},
	{name: "Date epoch", f: dateF, lit: "0", want: utc(1970, 1, 1, 0, 0, 0, 0), typ: change.Date},
	{name: "Date day before epoch", f: dateF, lit: "-1", want: utc(1969, 12, 31, 0, 0, 0, 0), typ: change.Date},
	{name: "Date leap day", f: dateF, lit: "19782", want: utc(2024, 2, 29, 0, 0, 0, 0), typ: change.Date},
	{name: "Date MySQL 2018-04-01", f: dateF, lit: "17622", want: utc(2018, 4, 1, 0, 0, 0, 0), typ: change.Date},
	{name: "Date MySQL year 0018", f: dateF, lit: "-712863", want: utc(18, 4, 1, 0, 0, 0, 0), typ: change.Date},
	{name: "Date MySQL 1978-04-01", f: dateF, lit: "3012", want: utc(1978, 4, 1, 0, 0, 0, 0), typ: change.Date},
	{name: "Date 1900-03-01 (no leap day in 1900)", f: dateF, lit: "-25508", want: utc(1900, 3, 1, 0, 0, 0, 0), typ: change.Date},
	{name: "Date int32 max is beyond PostgreSQL's dates", f: dateF, lit: "2147483647", err: "outside the range"},
	{name: "Date PostgreSQL's last day", f: dateF, lit: "2145042905", want: utc(5874897, 12, 31, 0, 0, 0, 0), typ: change.Date},
	{name: "Date after PostgreSQL's last day", f: dateF, lit: "2145042906", err: "outside the range"},
	{name: "Date fractional", f: dateF, lit: "1.5", err: "date"},
	{name: "Date string garbage", f: dateF, lit: `"yesterday"`, err: "not an ISO-8601"},
	{name: "IsoDate", f: named("string", "io.debezium.time.IsoDate"), lit: `"2017-09-15Z"`, want: utc(2017, 9, 15, 0, 0, 0, 0), typ: change.Date},
	{name: "IsoDate no such day", f: named("string", "io.debezium.time.IsoDate"), lit: `"2023-02-29Z"`, err: "no such day"},

	// io.debezium.time.Time: int32 milliseconds of the day.
	{name: "Time PG 13:51:30.123", f: timeF, lit: "49890123", want: tod(13, 51, 30, 123e6), typ: change.TimeType(change.UnitMillis)},
	{name: "Time midnight", f: timeF, lit: "0", want: tod(0, 0, 0, 0), typ: change.TimeType(change.UnitMillis)},
	{name: "Time last ms", f: timeF, lit: "86399999", want: tod(23, 59, 59, 999e6), typ: change.TimeType(change.UnitMillis)},
	{name: "Time 24:00", f: timeF, lit: "86400000", want: tod(24, 0, 0, 0), typ: change.TimeType(change.UnitMillis)},
	{name: "Time past 24:00", f: timeF, lit: "86400001", err: "time"},
	{name: "Time negative", f: timeF, lit: "-1", err: "time"},

	// io.debezium.time.MicroTime: int64 microseconds of the day.
	{name: "MicroTime PG 13:51:30", f: microTimeF, lit: "49890000000", want: tod(13, 51, 30, 0), typ: change.TimeType(change.UnitMicros)},
	{name: "MicroTime 24:00:00", f: microTimeF, lit: "86400000000", want: change.TimeOfDay(86400e9), typ: change.TimeType(change.UnitMicros)},
	{name: "MicroTime last µs", f: microTimeF, lit: "86399999999", want: tod(23, 59, 59, 999999e3), typ: change.TimeType(change.UnitMicros)},
	{name: "MicroTime overflow", f: microTimeF, lit: "9223372036854775807", err: "time"},

	// io.debezium.time.NanoTime: int64 nanoseconds of the day.
	{name: "NanoTime", f: nanoTimeF, lit: "49890123456789", want: tod(13, 51, 30, 123456789), typ: change.TimeType(change.UnitNanos)},
	{name: "NanoTime 24:00", f: nanoTimeF, lit: "86400000000000", want: tod(24, 0, 0, 0), typ: change.TimeType(change.UnitNanos)},

	// Zoneless timestamps: epoch numbers, wall clock read as UTC.
	{name: "Timestamp PG TIMESTAMP(3)", f: timestampF, lit: "1478267490123", want: utc(2016, 11, 4, 13, 51, 30, 123e6), typ: tsMillis},
	{name: "Timestamp MySQL DATETIME doc", f: timestampF, lit: "1529476623000", want: utc(2018, 6, 20, 6, 37, 3, 0), typ: tsMillis},
	{name: "Timestamp MySQL DATETIME test", f: timestampF, lit: "1522586096000", want: utc(2018, 4, 1, 12, 34, 56, 0), typ: tsMillis},
	{name: "Timestamp before epoch", f: timestampF, lit: "-1", want: utc(1969, 12, 31, 23, 59, 59, 999e6), typ: tsMillis},
	{name: "Timestamp PG TIMESTAMP(3) +infinity", f: timestampF, lit: "9223372036825200000", want: change.PosInfinity, typ: tsMillis},
	{name: "Timestamp PG TIMESTAMP(3) -infinity", f: timestampF, lit: "-9223372036832400000", want: change.NegInfinity, typ: tsMillis},
	{name: "MicroTimestamp PG", f: microTimestampF, lit: "1478267490123456", want: utc(2016, 11, 4, 13, 51, 30, 123456e3), typ: tsMicros},
	{name: "MicroTimestamp negative", f: microTimestampF, lit: "-1047174587392000", want: utc(1936, 10, 25, 22, 10, 12, 608e6), typ: tsMicros},
	{name: "MicroTimestamp PG doc", f: microTimestampF, lit: "1529507596945104", want: utc(2018, 6, 20, 15, 13, 16, 945104e3), typ: tsMicros},
	{name: "MicroTimestamp one µs before epoch", f: microTimestampF, lit: "-1", want: utc(1969, 12, 31, 23, 59, 59, 999999e3), typ: tsMicros},
	{name: "MicroTimestamp PG +infinity", f: microTimestampF, lit: "9223372036825200000", want: change.PosInfinity, typ: tsMicros},
	{name: "MicroTimestamp PG -infinity", f: microTimestampF, lit: "-9223372036832400000", want: change.NegInfinity, typ: tsMicros},
	{name: "MicroTimestamp not an integer", f: microTimestampF, lit: "1.5", err: "timestamp"},
	{name: "NanoTimestamp", f: nanoTimestampF, lit: "1478267490123456789", want: utc(2016, 11, 4, 13, 51, 30, 123456789), typ: tsNanos},
	{name: "NanoTimestamp 1 ns before epoch", f: nanoTimestampF, lit: "-1", want: utc(1969, 12, 31, 23, 59, 59, 999999999), typ: tsNanos},
	{name: "NanoTimestamp Long.MAX is +infinity", f: nanoTimestampF, lit: "9223372036854775807", want: change.PosInfinity, typ: tsNanos},
	{name: "NanoTimestamp Long.MIN is -infinity", f: nanoTimestampF, lit: "-9223372036854775808", want: change.NegInfinity, typ: tsNanos},
	{name: "NanoTimestamp beyond int64", f: nanoTimestampF, lit: "9223372036854775808", err: "timestamp"},
	{name: "IsoTimestamp", f: named("string", "io.debezium.time.IsoTimestamp"), lit: `"2019-07-09T02:28:57.123456Z"`, want: utc(2019, 7, 9, 2, 28, 57, 123456e3), typ: tsMicros},

	// io.debezium.time.ZonedTimestamp: ISO-8601 with an offset.
	{name: "ZonedTimestamp PG", f: zonedTsF, lit: `"2016-11-04T11:51:30.123456Z"`, want: utc(2016, 11, 4, 11, 51, 30, 123456e3), typ: change.TimestampTZ},
	{name: "ZonedTimestamp offset normalised", f: zonedTsF, lit: `"2016-11-04T13:51:30.123456+02:00"`, want: utc(2016, 11, 4, 11, 51, 30, 123456e3), typ: change.TimestampTZ},
	{name: "ZonedTimestamp negative offset", f: zonedTsF, lit: `"2018-06-20T06:37:03-07:00"`, want: utc(2018, 6, 20, 13, 37, 3, 0), typ: change.TimestampTZ},
	{name: "ZonedTimestamp year above 9999", f: zonedTsF, lit: `"+21016-11-04T06:51:30.123456Z"`, want: utc(21016, 11, 4, 6, 51, 30, 123456e3), typ: change.TimestampTZ},
	{name: "ZonedTimestamp trailing zeros", f: zonedTsF, lit: `"+21016-11-04T06:51:30.000000Z"`, want: utc(21016, 11, 4, 6, 51, 30, 0), typ: change.TimestampTZ},
	{name: "ZonedTimestamp trailing zeros 2020", f: zonedTsF, lit: `"2020-04-01T11:51:02.000000Z"`, want: utc(2020, 4, 1, 11, 51, 2, 0), typ: change.TimestampTZ},
	{name: "ZonedTimestamp BC", f: zonedTsF, lit: `"-4713-12-31T23:59:59.999999Z"`, want: utc(-4713, 12, 31, 23, 59, 59, 999999e3), typ: change.TimestampTZ},
	{name: "ZonedTimestamp MySQL no fraction", f: zonedTsF, lit: `"2018-06-20T13:37:03Z"`, want: utc(2018, 6, 20, 13, 37, 3, 0), typ: change.TimestampTZ},
	{name: "ZonedTimestamp nanoseconds", f: zonedTsF, lit: `"2019-07-09T02:28:57.123456789Z"`, want: utc(2019, 7, 9, 2, 28, 57, 123456789), typ: change.TimestampTZ},
	{name: "ZonedTimestamp leap day", f: zonedTsF, lit: `"2024-02-29T00:00:00Z"`, want: utc(2024, 2, 29, 0, 0, 0, 0), typ: change.TimestampTZ},
	{name: "ZonedTimestamp infinity", f: zonedTsF, lit: `"infinity"`, want: change.PosInfinity, typ: change.TimestampTZ},
	{name: "ZonedTimestamp -infinity", f: zonedTsF, lit: `"-infinity"`, want: change.NegInfinity, typ: change.TimestampTZ},
	{name: "ZonedTimestamp malformed", f: zonedTsF, lit: `"2016-11-04 garbage"`, err: "not an ISO-8601 timestamp"},
	{name: "ZonedTimestamp month 13", f: zonedTsF, lit: `"2016-13-04T11:51:30Z"`, err: "month and day"},
	{name: "ZonedTimestamp no such day", f: zonedTsF, lit: `"2023-02-29T11:51:30Z"`, err: "no such day"},
	{name: "ZonedTimestamp hour 25", f: zonedTsF, lit: `"2016-11-04T25:51:30Z"`, err: "hh:mm"},
	{name: "ZonedTimestamp ten fraction digits", f: zonedTsF, lit: `"2016-11-04T11:51:30.1234567891Z"`, err: "fraction"},
	{name: "ZonedTimestamp without offset", f: zonedTsF, lit: `"2016-11-04T11:51:30.123456"`, err: "has no offset"},
	{name: "ZonedTimestamp empty", f: zonedTsF, lit: `""`, err: "not an ISO-8601 timestamp"},

	// io.debezium.time.ZonedTime: ISO time with offset, kept as text.
	{name: "ZonedTime µs", f: zonedTimeF, lit: `"11:51:30.123789Z"`, want: "11:51:30.123789Z", typ: change.TimeTZ},
	{name: "ZonedTime ms", f: zonedTimeF, lit: `"11:51:30.123Z"`, want: "11:51:30.123Z", typ: change.TimeTZ},
	{name: "ZonedTime without offset", f: zonedTimeF, lit: `"11:51:30.123"`, err: "no offset"},
	{name: "ZonedTime malformed", f: zonedTimeF, lit: `"11h51"`, err: "not an ISO-8601 time"},

	// io.debezium.time.Year.
	{name: "Year 2018", f: named("int32", "io.debezium.time.Year"), lit: "2018", want: int64(2018), typ: change.Int32},
	{name: "Year 1978", f: named("int32", "io.debezium.time.Year"), lit: "1978", want: int64(1978), typ: change.Int32},

	// io.debezium.time.MicroDuration and Interval.
	{name: "MicroDuration P1Y2M3DT4H5M6.78S", f: named("int64", "io.debezium.time.MicroDuration"), lit: "37091106780000", want: change.IntervalValue{Micros: 37091106780000}, typ: change.Interval},
	{name: "MicroDuration negative", f: named("int64", "io.debezium.time.MicroDuration"), lit: "-1", want: change.IntervalValue{Micros: -1}, typ: change.Interval},
	{name: "MicroDuration zero", f: named("int64", "io.debezium.time.MicroDuration"), lit: "0", want: change.IntervalValue{}, typ: change.Interval},
	{name: "Interval", f: named("string", "io.debezium.time.Interval"), lit: `"P1Y2M3DT4H5M6.78S"`, want: change.IntervalValue{Months: 14, Days: 3, Micros: 14706780000}, typ: change.Interval},
	{name: "Interval negative parts", f: named("string", "io.debezium.time.Interval"), lit: `"P-1Y-2M3DT-4H-5M-6.78S"`, want: change.IntervalValue{Months: -14, Days: 3, Micros: -14706780000}, typ: change.Interval},
	{name: "Interval negated", f: named("string", "io.debezium.time.Interval"), lit: `"-P1W"`, want: change.IntervalValue{Days: -7}, typ: change.Interval},
	{name: "Interval zero", f: named("string", "io.debezium.time.Interval"), lit: `"P0Y0M0DT0H0M0S"`, want: change.IntervalValue{}, typ: change.Interval},
	{name: "Interval µs", f: named("string", "io.debezium.time.Interval"), lit: `"PT0.000001S"`, want: change.IntervalValue{Micros: 1}, typ: change.Interval},
	{name: "Interval below µs", f: named("string", "io.debezium.time.Interval"), lit: `"PT0.0000001S"`, err: "not an ISO-8601 duration"},
	{name: "Interval months overflow", f: named("string", "io.debezium.time.Interval"), lit: `"P2147483647Y"`, err: "out of range"},
	{name: "Interval seconds overflow", f: named("string", "io.debezium.time.Interval"), lit: `"PT99999999999999999999S"`, err: "not an ISO-8601 duration"},
	{name: "Interval hours overflow", f: named("string", "io.debezium.time.Interval"), lit: `"PT2562047788H2562047788H2562047788H2562047788H"`, err: "out of range"},
	{name: "Interval malformed", f: named("string", "io.debezium.time.Interval"), lit: `"1 day"`, err: "not an ISO-8601 duration"},

	// org.apache.kafka.connect.data.Decimal (precise mode).
	{name: "Decimal NUMERIC(3,2) 1.1", f: decimalField("2", "3"), lit: `"bg=="`, want: dec("110", 2), typ: change.DecimalType(3, 2)},
	{name: "Decimal NUMERIC(6,4) 22.22", f: decimalField("4", "6"), lit: `"A2P4"`, want: dec("222200", 4), typ: change.DecimalType(6, 4)},
	{name: "Decimal NUMERIC(4,0) 10", f: decimalField("0", "4"), lit: `"Cg=="`, want: dec("10", 0), typ: change.DecimalType(4, 0)},
	{name: "Decimal MONEY 1234.11", f: decimalField("2", ""), lit: `"AeIT"`, want: dec("123411", 2), typ: change.DecimalType(0, 2)},
	{name: "Decimal MONEY -1234.11", f: decimalField("2", ""), lit: `"/h3t"`, want: dec("-123411", 2), typ: change.DecimalType(0, 2)},
	{name: "Decimal zero", f: decimalField("2", "10"), lit: `"AA=="`, want: dec("0", 2), typ: change.DecimalType(10, 2)},
	{name: "Decimal 38 nines", f: decimalField("0", "38"), lit: `"SztMqFqGxHoJiiI//////w=="`, want: dec("99999999999999999999999999999999999999", 0), typ: change.DecimalType(38, 0)},
	{name: "Decimal -38 nines", f: decimalField("0", "38"), lit: `"tMSzV6V5O4X2dd3AAAAAAQ=="`, want: dec("-99999999999999999999999999999999999999", 0), typ: change.DecimalType(38, 0)},
	{name: "Decimal 38 digits scale 10", f: decimalField("10", "38"), lit: `"SztMqFqGxHoJiiI//////w=="`, want: dec("99999999999999999999999999999999999999", 10), typ: change.DecimalType(38, 10)},
	{name: "Decimal 10^38 in DECIMAL(38)", f: decimalField("0", "38"), lit: `"SztMqFqGxHoJiiJAAAAAAA=="`, err: "does not fit DECIMAL(38,0)"},
	{name: "Decimal 1.10 in DECIMAL(2,2)", f: decimalField("2", "2"), lit: `"bg=="`, err: "does not fit DECIMAL(2,2)"},
	{name: "Decimal bad base64", f: decimalField("2", "3"), lit: `"b@=="`, err: "base64"},
	{name: "Decimal empty", f: decimalField("2", "3"), lit: `""`, err: "empty unscaled value"},
	{name: "Decimal number literal", f: decimalField("2", "5"), lit: `1.1`, want: dec("110", 2), typ: change.DecimalType(5, 2)},
	{name: "Decimal scale out of range", f: decimalField("2000000000", ""), lit: `"AQ=="`, err: "decimal scale 2000000000 is out of range"},
	{name: "Decimal without scale", f: field{Type: "bytes", Name: "org.apache.kafka.connect.data.Decimal"}, lit: `"AQ=="`, err: `parameter "scale" missing`},

	// io.debezium.data.VariableScaleDecimal.
	{name: "VariableScaleDecimal 10.1111", f: varDecF, lit: `{"scale":4,"value":"AYr3"}`, want: dec("101111", 4), typ: change.DecimalType(0, 0)},
	{name: "VariableScaleDecimal 22.2222", f: varDecF, lit: `{"scale":4,"value":"A2QO"}`, want: dec("222222", 4), typ: change.DecimalType(0, 0)},
	{name: "VariableScaleDecimal 10", f: varDecF, lit: `{"scale":0,"value":"Cg=="}`, want: dec("10", 0), typ: change.DecimalType(0, 0)},
	{name: "VariableScaleDecimal without value", f: varDecF, lit: `{"scale":0}`, err: "needs scale and value"},
	{name: "VariableScaleDecimal scale out of range", f: varDecF, lit: `{"scale":-2000000000,"value":"AQ=="}`, err: "out of range"},

	// decimal.handling.mode=string and double: plain string and double fields.
	{name: "decimal string mode", f: field{Type: "string"}, lit: `"1.10"`, want: "1.10", typ: change.String},
	{name: "decimal string mode NaN", f: field{Type: "string"}, lit: `"NAN"`, want: "NAN", typ: change.String},
	{name: "decimal string mode infinity", f: field{Type: "string"}, lit: `"POSITIVE_INFINITY"`, want: "POSITIVE_INFINITY", typ: change.String},
	{name: "decimal double mode", f: field{Type: "double"}, lit: `1.1`, want: 1.1, typ: change.Float64},
	{name: "decimal double mode 10.1111", f: field{Type: "double"}, lit: `10.1111`, want: 10.1111, typ: change.Float64},
	{name: "decimal double mode NaN quoted by Jackson", f: field{Type: "double"}, lit: `"NaN"`, want: math.NaN(), typ: change.Float64},
	{name: "double Infinity quoted", f: field{Type: "double"}, lit: `"Infinity"`, want: math.Inf(1), typ: change.Float64},
	{name: "double -Infinity quoted", f: field{Type: "double"}, lit: `"-Infinity"`, want: math.Inf(-1), typ: change.Float64},
	{name: "double max", f: field{Type: "double"}, lit: `1.7976931348623157e308`, want: math.MaxFloat64, typ: change.Float64},
	{name: "double smallest", f: field{Type: "double"}, lit: `5e-324`, want: math.SmallestNonzeroFloat64, typ: change.Float64},
	{name: "double not a number", f: field{Type: "double"}, lit: `"abc"`, err: "float"},
	{name: "float32", f: field{Type: "float"}, lit: `1.5`, want: 1.5, typ: change.Float32},
	{name: "float32 named float32", f: field{Type: "float32"}, lit: `-0.25`, want: -0.25, typ: change.Float32},
	{name: "float64 named float64", f: field{Type: "float64"}, lit: `3`, want: 3.0, typ: change.Float64},

	// Other Debezium semantic types.
	{name: "Json", f: named("string", "io.debezium.data.Json"), lit: `"{\"bar\": \"baz\"}"`, want: `{"bar": "baz"}`, typ: change.JSON},
	{name: "Json array", f: named("string", "io.debezium.data.Json"), lit: `"[1,2]"`, want: `[1,2]`, typ: change.JSON},
	{name: "Json invalid text", f: named("string", "io.debezium.data.Json"), lit: `"{bar}"`, err: "invalid JSON text"},
	{name: "Enum", f: field{Type: "string", Name: "io.debezium.data.Enum", Version: 1, Parameters: map[string]string{"allowed": `station,post_office,plane,ahihi_dongok,now,test,a\,b,c\,'d,g\,'h`}}, lit: `"a,b"`, want: "a,b", typ: change.String},
	{name: "EnumSet", f: field{Type: "string", Name: "io.debezium.data.EnumSet", Version: 1, Parameters: map[string]string{"allowed": "a,b,c"}}, lit: `"a,c"`, want: "a,c", typ: change.String},
	{name: "EnumSet empty", f: field{Type: "string", Name: "io.debezium.data.EnumSet", Version: 1, Parameters: map[string]string{"allowed": "a,b,c"}}, lit: `""`, want: "", typ: change.String},
	{name: "Bits bit(24)", f: field{Type: "bytes", Name: "io.debezium.data.Bits", Version: 1, Parameters: map[string]string{"length": "24"}}, lit: `"AQID"`, want: []byte{1, 2, 3}, typ: change.Bytes},
	{name: "Bits bit(2)", f: field{Type: "bytes", Name: "io.debezium.data.Bits", Version: 1, Parameters: map[string]string{"length": "2"}}, lit: `"Aw=="`, want: []byte{3}, typ: change.Bytes},
	{name: "Bits bit(64)", f: field{Type: "bytes", Name: "io.debezium.data.Bits", Version: 1, Parameters: map[string]string{"length": "64"}}, lit: `"AAAAAAAAAIA="`, want: []byte{0, 0, 0, 0, 0, 0, 0, 0x80}, typ: change.Bytes},
	{name: "Bits bad base64", f: field{Type: "bytes", Name: "io.debezium.data.Bits", Version: 1}, lit: `"AQI*"`, err: "invalid base64"},
	{name: "Uuid", f: named("string", "io.debezium.data.Uuid"), lit: `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, want: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", typ: change.UUID},
	{name: "Uuid malformed", f: named("string", "io.debezium.data.Uuid"), lit: `"a0eebc99"`, err: "not a UUID"},
	{name: "Xml", f: named("string", "io.debezium.data.Xml"), lit: `"<a b=\"1\">x</a>"`, want: `<a b="1">x</a>`, typ: change.String},
	{name: "Ltree", f: named("string", "io.debezium.data.Ltree"), lit: `"Top.Science.Astronomy"`, want: "Top.Science.Astronomy", typ: change.String},
	{name: "Geometry", f: geometryF, lit: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":null}`, want: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":null}`, typ: change.Geometry},
	{name: "Geometry with srid", f: geometryF, lit: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`, want: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`, typ: change.Geometry},
	{name: "Geography", f: field{Type: "struct", Name: "io.debezium.data.geometry.Geography", Fields: geometryF.Fields}, lit: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`, want: `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":4326}`, typ: change.Geometry},
	{name: "Point", f: pointF, lit: `{"x":1.0,"y":1.0,"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":null}`, want: `{"x":1.0,"y":1.0,"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":null}`, typ: change.Geometry},

	// Kafka Connect logical types (time.precision.mode=connect).
	{name: "Connect Date", f: named("int32", "org.apache.kafka.connect.data.Date"), lit: "17109", want: utc(2016, 11, 4, 0, 0, 0, 0), typ: change.Date},
	{name: "Connect Time", f: named("int32", "org.apache.kafka.connect.data.Time"), lit: "49890123", want: tod(13, 51, 30, 123e6), typ: change.TimeType(change.UnitMillis)},
	{name: "Connect Timestamp", f: named("int64", "org.apache.kafka.connect.data.Timestamp"), lit: "1478267490123", want: utc(2016, 11, 4, 13, 51, 30, 123e6), typ: tsMillis},

	// Plain Connect types.
	{name: "bytes", f: field{Type: "bytes"}, lit: `"AQID"`, want: []byte{1, 2, 3}, typ: change.Bytes},
	{name: "bytes empty", f: field{Type: "bytes"}, lit: `""`, want: []byte{}, typ: change.Bytes},
	{name: "bytes TOAST placeholder is unchanged, not bytes", f: field{Type: "bytes"}, lit: `"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="`, want: nil, typ: change.Bytes},
	{name: "bytes bad base64", f: field{Type: "bytes"}, lit: `"not base64!"`, err: "invalid base64"},
	{name: "bytes as a number", f: field{Type: "bytes"}, lit: `12`, err: "base64 string"},
	{name: "int8 max", f: field{Type: "int8"}, lit: "127", want: int64(127), typ: change.Int16},
	{name: "int8 min", f: field{Type: "int8"}, lit: "-128", want: int64(-128), typ: change.Int16},
	{name: "int16 max", f: field{Type: "int16"}, lit: "32767", want: int64(32767), typ: change.Int16},
	{name: "int16 min", f: field{Type: "int16"}, lit: "-32768", want: int64(-32768), typ: change.Int16},
	{name: "int16 overflow", f: field{Type: "int16"}, lit: "32768", err: "out of range"},
	{name: "int32 max", f: field{Type: "int32"}, lit: "2147483647", want: int64(math.MaxInt32), typ: change.Int32},
	{name: "int32 min", f: field{Type: "int32"}, lit: "-2147483648", want: int64(math.MinInt32), typ: change.Int32},
	{name: "int32 overflow", f: field{Type: "int32"}, lit: "2147483648", err: "out of range"},
	{name: "int64 max", f: field{Type: "int64"}, lit: "9223372036854775807", want: int64(math.MaxInt64), typ: change.Int64},
	{name: "int64 min", f: field{Type: "int64"}, lit: "-9223372036854775808", want: int64(math.MinInt64), typ: change.Int64},
	{name: "int64 overflow", f: field{Type: "int64"}, lit: "9223372036854775808", err: "not an integer in range"},
	{name: "int64 fraction", f: field{Type: "int64"}, lit: "1.5", err: "not an integer"},
	{name: "int64 exponent", f: field{Type: "int64"}, lit: "1e3", err: "not an integer"},
	{name: "int32 as a string", f: field{Type: "int32"}, lit: `"42"`, want: int64(42), typ: change.Int32},
	{name: "boolean true", f: field{Type: "boolean"}, lit: "true", want: true, typ: change.Bool},
	{name: "boolean false", f: field{Type: "boolean"}, lit: "false", want: false, typ: change.Bool},
	{name: "boolean bad", f: field{Type: "boolean"}, lit: `"maybe"`, err: "not a boolean"},
	{name: "string", f: field{Type: "string"}, lit: `"Anne Marie"`, want: "Anne Marie", typ: change.String},
	{name: "string empty", f: field{Type: "string"}, lit: `""`, want: "", typ: change.String},
	{name: "string unicode", f: field{Type: "string"}, lit: `"Zoë 🚀 日本"`, want: "Zoë 🚀 日本", typ: change.String},
	{name: "string escaped unicode", f: field{Type: "string"}, lit: `"\u00e9\ud83d\ude80\n\t\"\\"`, want: "é🚀\n\t\"\\", typ: change.String},
	{name: "string NUL", f: field{Type: "string"}, lit: `"a\u0000b"`, want: "a\x00b", typ: change.String},
	{name: "string TOAST placeholder is unchanged", f: field{Type: "string"}, lit: `"__debezium_unavailable_value"`, want: nil, typ: change.String},
	{name: "null int", f: field{Type: "int32"}, lit: "null", want: nil, typ: change.Int32},
	{name: "null string", f: field{Type: "string"}, lit: "null", want: nil, typ: change.String},
	{name: "null decimal", f: decimalField("2", "3"), lit: "null", want: nil, typ: change.DecimalType(3, 2)},
	{name: "null timestamp", f: zonedTsF, lit: "null", want: nil, typ: change.TimestampTZ},
	{name: "array of int32", f: field{Type: "array", Items: &field{Type: "int32"}}, lit: `[1,-2,3]`, want: []any{int64(1), int64(-2), int64(3)}, typ: change.ListType(change.Int32)},
	{name: "array of strings with null", f: field{Type: "array", Items: &field{Type: "string", Optional: true}}, lit: `["a",null,""]`, want: []any{"a", nil, ""}, typ: change.ListType(change.String)},
	{name: "array empty", f: field{Type: "array", Items: &field{Type: "int64"}}, lit: `[]`, want: []any{}, typ: change.ListType(change.Int64)},
	{name: "array of dates", f: field{Type: "array", Items: &field{Type: "int32", Name: "io.debezium.time.Date"}}, lit: `[17109,-1]`, want: []any{utc(2016, 11, 4, 0, 0, 0, 0), utc(1969, 12, 31, 0, 0, 0, 0)}, typ: change.ListType(change.Date)},
	{name: "array of decimals keeps its JSON", f: field{Type: "array", Items: &field{Type: "bytes", Name: "org.apache.kafka.connect.data.Decimal", Parameters: map[string]string{"scale": "2"}}}, lit: `["bg==","Cg=="]`, want: `["bg==","Cg=="]`, typ: change.JSON},
	{name: "array element out of range", f: field{Type: "array", Items: &field{Type: "int16"}}, lit: `[1,99999]`, err: "list element 1"},
	{name: "array TOAST placeholder", f: field{Type: "array", Items: &field{Type: "string"}}, lit: `["__debezium_unavailable_value"]`, want: nil, typ: change.ListType(change.String)},
	{name: "array not an array", f: field{Type: "array", Items: &field{Type: "int32"}}, lit: `1`, err: "want an array"},
	{name: "map", f: field{Type: "map"}, lit: `{"a":"1","b":"2"}`, want: `{"a":"1","b":"2"}`, typ: change.JSON},
	{name: "struct", f: field{Type: "struct", Name: "io.debezium.time.StructuredTimestamp"}, lit: `{"year":2024,"month":2,"day":29}`, want: `{"year":2024,"month":2,"day":29}`, typ: change.JSON},
	{name: "unsupported Connect type", f: field{Type: "int128"}, lit: `1`, err: `field "v": unsupported Connect type "int128"`},
}

func TestTypeMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range typeCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got, typ, err := decodeTyped(t, tc.f, tc.lit)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("decoded %#v (%s), want an error containing %q", got, typ, tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `"v"`) {
					t.Fatalf("error %q does not name column \"v\" and say %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !typ.Equal(tc.typ) {
				t.Errorf("type = %s, want %s", typ, tc.typ)
			}
			if !sameValue(got, tc.want) {
				t.Errorf("value = %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			if x, ok := got.(change.Decimal); ok {
				w := tc.want.(change.Decimal)
				if x.String() != w.String() {
					t.Errorf("decimal renders %s, want %s", x, w)
				}
			}
			if x, ok := got.(time.Time); ok {
				w := tc.want.(time.Time)
				if x.UnixNano() != w.UnixNano() || x.Unix() != w.Unix() || x.Nanosecond() != w.Nanosecond() {
					t.Errorf("instant %s, want %s", x.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano))
				}
			}
			if got != nil {
				if msg := valueMismatch(got, typ); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

// TestTypeDecimalRendering pins the exact text of the expected decimals,
// so that the unscaled/scale pairs above mean what their names say.
func TestTypeDecimalRendering(t *testing.T) {
	for _, c := range []struct {
		d    change.Decimal
		want string
	}{
		{dec("110", 2), "1.10"},
		{dec("222200", 4), "22.2200"},
		{dec("10", 0), "10"},
		{dec("123411", 2), "1234.11"},
		{dec("-123411", 2), "-1234.11"},
		{dec("0", 2), "0.00"},
		{dec("101111", 4), "10.1111"},
		{dec("222222", 4), "22.2222"},
		{dec("99999999999999999999999999999999999999", 10), "9999999999999999999999999999.9999999999"},
	} {
		if got := c.d.String(); got != c.want {
			t.Errorf("%v renders %s, want %s", c.d.Unscaled, got, c.want)
		}
	}
}

// TestTypeKeyColumns decodes logical types in key position: keys are typed
// by the key schema, and equal keys must have equal KeyIDs however their
// decimals are scaled.
func TestTypeKeyColumns(t *testing.T) {
	value := []byte(`{"op":"d","before":null,"after":null,"source":{}}`)
	key := func(f field, lit string) []byte {
		f.Optional = false
		schema, err := json.Marshal(field{Type: "struct", Name: "k", Fields: []namedField{{field: f, Field: "k"}}})
		if err != nil {
			t.Fatal(err)
		}
		return []byte(`{"schema":` + string(schema) + `,"payload":{"k":` + lit + `}}`)
	}
	decodeKey := func(f field, lit string) (*change.Change, error) {
		res, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: key(f, lit), Value: value})
		if err != nil {
			return nil, err
		}
		return res.Change, nil
	}
	for _, c := range []struct {
		f    field
		lit  string
		want any
	}{
		{microTimestampF, "1478267490123456", utc(2016, 11, 4, 13, 51, 30, 123456e3)},
		{dateF, "-712863", utc(18, 4, 1, 0, 0, 0, 0)},
		{decimalField("2", "3"), `"bg=="`, dec("110", 2)},
		{varDecF, `{"scale":4,"value":"AYr3"}`, dec("101111", 4)},
		{named("string", "io.debezium.data.Uuid"), `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{field{Type: "int64"}, "-9223372036854775808", int64(math.MinInt64)},
		{field{Type: "string"}, `"Zoë"`, "Zoë"},
	} {
		ch, err := decodeKey(c.f, c.lit)
		if err != nil {
			t.Errorf("%s %s: %v", c.f.Name, c.lit, err)
			continue
		}
		if ch.Op != change.OpDelete || len(ch.Key) != 1 || !sameValue(ch.Key[0], c.want) || ch.KeyID != change.KeyID([]any{c.want}) {
			t.Errorf("%s %s: key %#v, want %#v", c.f.Name, c.lit, ch.Key, c.want)
		}
	}
	// 1.10 (scale 2) and 1.1 (scale 1) are one key.
	a, err1 := decodeKey(varDecF, `{"scale":2,"value":"bg=="}`)
	b, err2 := decodeKey(varDecF, `{"scale":1,"value":"Cw=="}`)
	if err1 != nil || err2 != nil || a.KeyID != b.KeyID {
		t.Errorf("1.10 and 1.1 are different keys: %v %v", err1, err2)
	}
	// A null or malformed key column is an error naming it.
	for _, lit := range []string{"null", `"b@=="`} {
		if _, err := decodeKey(decimalField("2", "3"), lit); err == nil || !strings.Contains(err.Error(), `key column "k"`) {
			t.Errorf("key %s: err = %v", lit, err)
		}
	}
}

// TestTypeDeclared covers events without schemas whose table declares the
// column types (the config file's types): the same JSON literals decode to
// the same values as with a schema, and ISO strings are read too.
func TestTypeDeclared(t *testing.T) {
	declared := map[string]change.Type{
		"id":    change.Int32,
		"amt":   change.DecimalType(10, 2),
		"num":   change.DecimalType(0, 0),
		"day":   change.Date,
		"ts":    change.TimestampType(change.UnitMillis),
		"ts_us": tsMicros,
		"tstz":  change.TimestampTZ,
		"tod":   change.TimeType(change.UnitMicros),
		"flag":  change.Bool,
		"doc":   change.JSON,
		"span":  change.Interval,
		"blob":  change.Bytes,
	}
	opts := Options{Table: func(string) TableOptions { return TableOptions{Name: "t", Columns: declared} }}
	cases := []struct {
		col, lit string
		want     any
		err      string
	}{
		{"amt", `"12.3"`, dec("1230", 2), ""},
		{"amt", `12.34`, dec("1234", 2), ""},
		{"amt", `"BNI="`, dec("1234", 2), ""}, // schemaless precise mode: base64 with the declared scale
		{"amt", `"12.345"`, nil, "more than 2 digits after the point"},
		{"amt", `"123456789.1"`, nil, "does not fit DECIMAL(10,2)"},
		{"amt", `"NAN"`, nil, "NaN has no decimal value"},
		{"num", `"10.1111"`, dec("101111", 4), ""},
		{"num", `{"scale":4,"value":"AYr3"}`, dec("101111", 4), ""},
		{"day", `17109`, utc(2016, 11, 4, 0, 0, 0, 0), ""},
		{"day", `"2024-02-29"`, utc(2024, 2, 29, 0, 0, 0, 0), ""},
		{"day", `"2024-02-29T10:00:00Z"`, nil, "has a time of day"},
		{"ts", `1529476623000`, utc(2018, 6, 20, 6, 37, 3, 0), ""},
		{"ts", `"2018-06-20 06:37:03"`, utc(2018, 6, 20, 6, 37, 3, 0), ""},
		{"ts_us", `1478267490123456`, utc(2016, 11, 4, 13, 51, 30, 123456e3), ""},
		{"ts_us", `9223372036825200000`, change.PosInfinity, ""},
		{"tstz", `"2018-06-20T13:37:03Z"`, utc(2018, 6, 20, 13, 37, 3, 0), ""},
		{"tstz", `"2018-06-20T13:37:03"`, nil, "has no offset"},
		{"tod", `49890000000`, tod(13, 51, 30, 0), ""},
		{"tod", `"13:51:30.5"`, tod(13, 51, 30, 5e8), ""},
		{"flag", `1`, true, ""},
		{"flag", `"false"`, false, ""},
		{"flag", `2`, nil, "not a boolean"},
		{"doc", `{"a":[1,2]}`, `{"a":[1,2]}`, ""},
		{"doc", `"{\"a\":1}"`, `{"a":1}`, ""},
		{"span", `"P1Y2M3DT4H5M6.78S"`, change.IntervalValue{Months: 14, Days: 3, Micros: 14706780000}, ""},
		{"span", `37091106780000`, change.IntervalValue{Micros: 37091106780000}, ""},
		{"blob", `"AQID"`, []byte{1, 2, 3}, ""},
	}
	for _, c := range cases {
		value := []byte(`{"op":"c","after":{"id":1,"` + c.col + `":` + c.lit + `},"source":{}}`)
		res, err := NewDecoder(opts).Decode(Record{Topic: "t", Key: []byte(`{"id":1}`), Value: value})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `column "`+c.col+`"`) {
				t.Errorf("%s=%s: err = %v, want one naming the column and saying %q", c.col, c.lit, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s=%s: %v", c.col, c.lit, err)
			continue
		}
		checkResult(t, res, err)
		ch := res.Change
		i := ch.Schema.Index(c.col)
		if i < 0 || !ch.Schema.Columns[i].Type.Equal(declared[c.col]) {
			t.Errorf("%s=%s: schema %s", c.col, c.lit, ch.Schema)
			continue
		}
		if !sameValue(ch.Row[i], c.want) {
			t.Errorf("%s=%s: %#v (%T), want %#v (%T)", c.col, c.lit, ch.Row[i], ch.Row[i], c.want, c.want)
		}
	}
}

// TestTypeSchemalessInference pins what schemaless values infer to.
func TestTypeSchemalessInference(t *testing.T) {
	value := []byte(`{"op":"c","after":{"id":1,"i":-42,"f":1.5,"e":1e3,"b":true,"s":"x","o":{"a":1},"a":[1,"x"],"big":18446744073709551615,"n":null},"source":{}}`)
	c := decodeOne(t, Options{}, "t", []byte(`{"id":1}`), value)
	want := map[string]struct {
		typ change.Type
		v   any
	}{
		"id":  {change.Int64, int64(1)},
		"i":   {change.Int64, int64(-42)},
		"f":   {change.Float64, 1.5},
		"e":   {change.Float64, 1000.0},
		"b":   {change.Bool, true},
		"s":   {change.String, "x"},
		"o":   {change.JSON, `{"a":1}`},
		"a":   {change.JSON, `[1,"x"]`},
		"big": {change.DecimalType(20, 0), dec("18446744073709551615", 0)},
	}
	if len(c.Schema.Columns) != len(want) {
		t.Errorf("columns %s: a null column says nothing of its type and is left out", c.Schema)
	}
	for name, w := range want {
		i := c.Schema.Index(name)
		if i < 0 {
			t.Errorf("no column %s", name)
			continue
		}
		if !c.Schema.Columns[i].Type.Equal(w.typ) || !sameValue(c.Row[i], w.v) {
			t.Errorf("%s: %s %#v, want %s %#v", name, c.Schema.Columns[i].Type, c.Row[i], w.typ, w.v)
		}
	}
}

// TestToastPlaceholderForms: PostgreSQL's unchanged-TOAST placeholder in
// every form UnchangedToastedPlaceholder gives it (TYPE-ENCODINGS.md) marks
// its column unchanged and never becomes a value; a value that merely
// resembles it is a value.
func TestToastPlaceholderForms(t *testing.T) {
	arr := func(items field) field { return field{Type: "array", Items: &items} }
	cases := []struct {
		name string
		f    field
		lit  string
	}{
		{"text", field{Type: "string"}, `"__debezium_unavailable_value"`},
		{"json", named("string", "io.debezium.data.Json"), `"__debezium_unavailable_value"`},
		{"bytea bytes mode", field{Type: "bytes"}, `"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="`},
		{"bytea hex mode", field{Type: "string"}, `"__debezium_unavailable_value"`},
		{"text[]", arr(field{Type: "string"}), `["__debezium_unavailable_value"]`},
		{"bytea[]", arr(field{Type: "bytes"}), `["X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="]`},
		{"int[]", arr(field{Type: "int32"}), `[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,97,108,117,101]`},
		{"bigint[]", arr(field{Type: "int64"}), `[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,97,108,117,101]`},
		{"uuid[]", arr(named("string", "io.debezium.data.Uuid")), `["b68a35a7-17ad-35b3-af2a-ae46edb4545a"]`},
		{"hstore map mode", field{Type: "map"}, `{"__debezium_unavailable_value":"__debezium_unavailable_value"}`},
		{"hstore json mode", named("string", "io.debezium.data.Json"), `"{\"__debezium_unavailable_value\":\"__debezium_unavailable_value\"}"`},
	}
	for _, c := range cases {
		res, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, c.f, c.lit)})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkResult(t, res, err)
		ch := res.Change
		if !reflect.DeepEqual(ch.Unchanged, []bool{false, true}) || ch.Row[1] != nil || !ch.HasUnchanged() {
			t.Errorf("%s: Unchanged %v row %#v, want v unchanged and nil", c.name, ch.Unchanged, ch.Row)
		}
	}
	// Not the placeholder: decoded as values, nothing unchanged.
	for _, c := range []struct {
		f   field
		lit string
	}{
		{field{Type: "string"}, `"__debezium_unavailable_value "`},
		{field{Type: "string"}, `"__DEBEZIUM_UNAVAILABLE_VALUE"`},
		{arr(field{Type: "string"}), `["__debezium_unavailable_value","x"]`},
		{arr(field{Type: "int32"}), `[95,95,100]`},
		{field{Type: "map"}, `{"__debezium_unavailable_value":"x"}`},
	} {
		res, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, c.f, c.lit)})
		if err != nil || res.Change.Unchanged != nil || res.Change.Row[1] == nil {
			t.Errorf("%s: %s", c.lit, describeResult(res, err))
		}
	}
	// A configured placeholder replaces the default one.
	opts := Options{Placeholder: "<<unavailable>>"}
	for lit, unchanged := range map[string]bool{`"<<unavailable>>"`: true, `"__debezium_unavailable_value"`: false, `["<<unavailable>>"]`: false} {
		f := field{Type: "string"}
		if strings.HasPrefix(lit, "[") {
			f = arr(field{Type: "string"})
			unchanged = true
		}
		res, err := NewDecoder(opts).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, f, lit)})
		if err != nil || res.Change.HasUnchanged() != unchanged {
			t.Errorf("placeholder option, %s: %s", lit, describeResult(res, err))
		}
	}
}

// TestInvalidJSONRejected: Kafka Connect's JsonConverter writes valid JSON
// (Jackson quotes non-finite doubles), so anything else is a corrupt record
// and an error, never a value guessed from it.
func TestInvalidJSONRejected(t *testing.T) {
	for _, lit := range []string{`NaN`, `Infinity`, `-Infinity`, `01`, `1.2.3`, `1e`, `-`, `"\q"`, `"\x41"`, `tru`, `[1,]`, `{"a":1,}`} {
		value := typedEvent(t, field{Type: "string"}, lit)
		_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: value})
		if err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("v = %s: err = %v, want value is not JSON", lit, err)
		}
	}
	good := typedEvent(t, field{Type: "string"}, `"x"`)
	for name, value := range map[string][]byte{
		"trailing data":          append(append([]byte{}, good...), " x"...),
		"extra closing brace":    append(append([]byte{}, good...), '}'),
		"trailing comma":         append(append([]byte{}, good[:len(good)-1]...), ",}"...),
		"truncated":              good[:len(good)-1],
		"schema not JSON":        []byte(`{"schema":{"type":"struct","fields":[01]},"payload":{"op":"c","after":{"id":1},"source":{}}}`),
		"tombstone schema":       []byte(`{"schema":{"a":[}},"payload":null}`),
		"unwrapped trailing":     []byte(`{"op":"c","after":{"id":1},"source":{}} {}`),
		"unwrapped bad escape":   []byte(`{"op":"c","after":{"id":1,"s":"\u12"},"source":{}}`),
		"payload then garbage":   []byte(`{"schema":{},"payload":{"op":"c","after":{"id":1},"source":{}} x}`),
		"payload first, garbage": []byte(`{"payload":{"op":"c","after":{"id":1},"source":{}},"schema":{}} x`),
	} {
		_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: value})
		if err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("%s: err = %v, want value is not JSON", name, err)
		}
	}
	for name, key := range map[string]string{
		"trailing data":            `{"id":1} x`,
		"trailing comma":           `{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"}]},"payload":{"id":1},}`,
		"bad number":               `{"id":01}`,
		"null payload, bad schema": `{"schema":{"a":[}},"payload":null}`,
	} {
		_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(key), Value: good})
		if err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("key %s: err = %v, want key is not JSON", name, err)
		}
	}
	// The same records, well formed, decode.
	if _, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: good}); err != nil {
		t.Fatal(err)
	}
}

// TestDeclaredOverSchema: a table's declared types override the schema's.
// Plain Connect literals are read by the declared type; logical types are
// read with the schema (whose scale and unit the literal needs) and then
// converted exactly.
func TestDeclaredOverSchema(t *testing.T) {
	cases := []struct {
		name     string
		f        field
		lit      string
		declared change.Type
		want     any
		err      string
	}{
		{"Decimal, same type, digits-only base64", decimalField("2", "10"), `"1234"`, change.DecimalType(10, 2), dec("-2658824", 2), ""},
		{"Decimal to a larger scale", decimalField("2", "3"), `"bg=="`, change.DecimalType(12, 4), dec("11000", 4), ""},
		{"Decimal to a smaller exact scale", decimalField("4", "6"), `"A2P4"`, change.DecimalType(6, 2), dec("2222", 2), ""},
		{"Decimal to a smaller inexact scale", decimalField("4", "6"), `"AYr3"`, change.DecimalType(6, 2), nil, "more than 2 digits after the point"},
		{"Decimal to double", decimalField("2", "3"), `"bg=="`, change.Float64, 1.1, ""},
		{"Decimal to string", decimalField("2", "3"), `"bg=="`, change.String, "1.10", ""},
		{"Decimal to int, integral", decimalField("0", "4"), `"Cg=="`, change.Int32, int64(10), ""},
		{"Decimal to int, fractional", decimalField("2", "3"), `"bg=="`, change.Int32, nil, "does not convert"},
		{"VariableScaleDecimal to decimal(10,4)", varDecF, `{"scale":4,"value":"AYr3"}`, change.DecimalType(10, 4), dec("101111", 4), ""},
		{"MicroTimestamp declared timestamp_ms", microTimestampF, "1478267490123456", tsMillis, utc(2016, 11, 4, 13, 51, 30, 123456e3), ""},
		{"Timestamp declared timestamp (µs)", timestampF, "1478267490123", tsMicros, utc(2016, 11, 4, 13, 51, 30, 123e6), ""},
		{"Date declared timestamp", dateF, "17109", tsMicros, utc(2016, 11, 4, 0, 0, 0, 0), ""},
		{"MicroTimestamp infinity declared timestamp_ms", microTimestampF, "9223372036825200000", tsMillis, change.PosInfinity, ""},
		{"ZonedTimestamp declared string", zonedTsF, `"2016-11-04T13:51:30.123456+02:00"`, change.String, "2016-11-04T11:51:30.123456Z", ""},
		{"MicroTime declared time_ms", microTimeF, "49890123000", change.TimeType(change.UnitMillis), tod(13, 51, 30, 123e6), ""},
		{"MicroTimestamp declared date", microTimestampF, "1478267490123456", change.Date, nil, "has a time of day"},
		{"plain int64 declared timestamp_ms", field{Type: "int64"}, "1529476623000", tsMillis, utc(2018, 6, 20, 6, 37, 3, 0), ""},
		{"plain string declared bigint", field{Type: "string"}, `"42"`, change.Int64, int64(42), ""},
		{"plain string declared decimal", field{Type: "string"}, `"12.3"`, change.DecimalType(10, 2), dec("1230", 2), ""},
		{"plain int32 declared smallint, too big", field{Type: "int32"}, "70000", change.Int16, nil, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Table: func(string) TableOptions {
				return TableOptions{Name: "t", Columns: map[string]change.Type{"v": c.declared}}
			}}
			res, err := NewDecoder(opts).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, c.f, c.lit)})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `column "v"`) {
					t.Fatalf("err = %v, want one naming column v and saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res, err)
			ch := res.Change
			if !ch.Schema.Columns[1].Type.Equal(c.declared) || !sameValue(ch.Row[1], c.want) {
				t.Errorf("v = %s %#v, want %s %#v", ch.Schema.Columns[1].Type, ch.Row[1], c.declared, c.want)
			}
		})
	}
	// Key columns follow the same rule.
	key := []byte(`{"schema":{"type":"struct","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"},"field":"id"}]},"payload":{"id":"bg=="}}`)
	opts := Options{Table: func(string) TableOptions {
		return TableOptions{Name: "t", Columns: map[string]change.Type{"id": change.DecimalType(12, 4)}}
	}}
	res, err := NewDecoder(opts).Decode(Record{Topic: "t", Key: key})
	if err != nil || !sameValue(res.Change.Key[0], dec("11000", 4)) {
		t.Errorf("declared decimal key: %s", describeResult(res, err))
	}
}

// TestTypedKeyTypesSchemalessRow: when only the key carries a schema, the
// row's key columns are read as the key reads them, so key and row agree.
func TestTypedKeyTypesSchemalessRow(t *testing.T) {
	key := []byte(`{"schema":{"type":"struct","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"id"}]},"payload":{"id":"1234"}}`)
	value := []byte(`{"op":"c","after":{"id":"1234","name":"x"},"source":{}}`)
	for _, declared := range []map[string]change.Type{nil, {"id": change.DecimalType(12, 4)}} {
		opts := Options{Table: func(string) TableOptions { return TableOptions{Name: "t", Columns: declared} }}
		c := decodeOne(t, opts, "t", key, value)
		want := dec("-2658824", 2)
		if declared != nil {
			want = dec("-265882400", 4)
		}
		if !sameValue(c.Key[0], want) || !sameValue(c.Row[c.Schema.Index("id")], want) {
			t.Errorf("declared %v: key %v row %v, want %v for both", declared, c.Key, c.Row, want)
		}
	}
}

// TestDuplicateFields: a JSON object may repeat a name; a row must not, so
// a repeated field is an error, with and without schemas.
func TestDuplicateFields(t *testing.T) {
	for _, v := range []string{
		`{"op":"c","after":{"id":1,"a":1,"a":"x"},"source":{}}`,
		`{"op":"c","after":{"id":1,"a":1,"id":1},"source":{}}`,
		`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int32","field":"id"},{"type":"string","field":"a"}]}]},"payload":{"op":"c","after":{"id":1,"a":"x","a":"y"},"source":{}}}`,
		`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int32","field":"id"},{"type":"string","field":"a"},{"type":"string","field":"a"}]}]},"payload":{"op":"c","after":{"id":1,"a":"x"},"source":{}}}`,
	} {
		_, err := NewDecoder(Options{}).Decode(Record{Topic: "t", Key: []byte(`{"id":1}`), Value: []byte(v)})
		if err == nil || !strings.Contains(err.Error(), "appears twice") {
			t.Errorf("%s: err = %v", v, err)
		}
	}
	if _, err := NewDecoder(Options{}).Decode(Record{Topic: "t", Key: []byte(`{"id":1,"id":2}`), Value: nil}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate key field: err = %v", err)
	}
}

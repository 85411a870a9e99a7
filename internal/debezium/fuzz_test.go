package debezium

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
)

// The fuzz target decodes arbitrary key/value bytes with decode, the
// decoder without Decode's recover() safety net, so that a panic fails the
// test instead of turning into a dead letter. Beyond "never panics" it
// checks that every result a warehouse could receive is well formed
// (checkResult), and that the decoder's caches never change an answer: a
// warmed-up decoder that has already decoded the record for another table
// (with declared column types) must answer exactly as a fresh one does.
//
// The corpus under testdata/fuzz/FuzzDecode holds every example event of
// ../shared/debezium-examples (with the key of its folder) and hand-made
// edge cases as seed_* files, kept in step by TestFuzzCorpus, plus every
// crasher the fuzzer found (hash-named files), kept as regression cases.
// Run the fuzzers with
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=60s ./internal/debezium/
//	go test -run='^$' -fuzz=FuzzTypedValue -fuzztime=60s ./internal/debezium/

const (
	fuzzTopicDeclared = "srv.inventory.declared"
	fuzzTopicPlain    = "srv.inventory.plain"
)

// fuzzDeclared are declared column types for the "declared" table: every
// kind a config file can declare, on column names the seeds use.
var fuzzDeclared = map[string]change.Type{
	"id":         change.Int32,
	"pk":         change.Int64,
	"first_name": change.String,
	"email":      change.String,
	"amount":     change.DecimalType(10, 2),
	"price":      change.DecimalType(0, 0),
	"flag":       change.Bool,
	"small":      change.Int16,
	"ratio":      change.Float64,
	"payload":    change.Bytes,
	"doc":        change.JSON,
	"uid":        change.UUID,
	"span":       change.Interval,
	"day":        change.Date,
	"tod":        change.TimeType(change.UnitMicros),
	"todtz":      change.TimeTZ,
	"ts":         change.TimestampType(change.UnitMillis),
	"ts_us":      change.TimestampType(change.UnitMicros),
	"ts_ns":      change.TimestampType(change.UnitNanos),
	"tstz":       change.TimestampTZ,
	"cola":       change.String,
}

// fuzzOptions are the decoder options for a flags byte: bit 0 marks both
// tables Flattened.
func fuzzOptions(flags uint8) Options {
	flat := flags&1 != 0
	return Options{Table: func(topic string) TableOptions {
		if topic == fuzzTopicDeclared {
			return TableOptions{Name: "declared", Columns: fuzzDeclared, Flattened: flat}
		}
		return TableOptions{Name: TableName(topic), Flattened: flat}
	}}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.key, s.value, s.flags)
	}
	f.Fuzz(func(t *testing.T, key, value []byte, flags uint8) {
		opts := fuzzOptions(flags)
		warm := NewDecoder(opts)
		for _, topic := range []string{fuzzTopicDeclared, fuzzTopicPlain} {
			res, err := warm.decode(Record{Topic: topic, Key: key, Value: value})
			checkResult(t, res, err)
			checkAcceptedJSON(t, key, value, res, err)
		}
		// The plain table again, on the warm decoder (every schema is now
		// cached, with the declared table's types next to it) and on a
		// fresh one: the answers must not differ.
		again, errAgain := warm.decode(Record{Topic: fuzzTopicPlain, Key: key, Value: value})
		checkResult(t, again, errAgain)
		fresh, errFresh := NewDecoder(opts).decode(Record{Topic: fuzzTopicPlain, Key: key, Value: value})
		if a, b := describeResult(again, errAgain), describeResult(fresh, errFresh); a != b {
			t.Fatalf("a warm decoder answers differently from a fresh one:\nwarm:  %s\nfresh: %s", a, b)
		}
	})
}

// checkResult asserts the invariants every decoded record satisfies.
func checkResult(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		if err.Error() == "" {
			t.Fatal("error with an empty message")
		}
		if res.Change != nil || res.Skip != "" {
			t.Fatalf("error %v with a result: %+v", err, res)
		}
		return
	}
	if (res.Change == nil) == (res.Skip == "") {
		t.Fatalf("want exactly one of Change and Skip, got %+v", res)
	}
	c := res.Change
	if c == nil {
		return
	}
	if c.Table == "" {
		t.Fatal("change without a table name")
	}
	if c.Pos.Known() && !strings.ContainsAny(string(c.Pos[:1]), "mps") {
		t.Fatalf("position %q has an unknown source tag", c.Pos)
	}
	switch c.Op {
	case change.OpTruncate:
		if c.Key != nil || c.Row != nil || c.Unchanged != nil {
			t.Fatalf("truncate with a key or row: %+v", c)
		}
		return
	case change.OpUpsert, change.OpDelete:
	default:
		t.Fatalf("unknown op %v", c.Op)
	}
	s := c.Schema
	if s == nil {
		t.Fatalf("%v without a schema", c.Op)
	}
	if len(s.Key) == 0 || len(c.Key) != len(s.Key) {
		t.Fatalf("key %v is not aligned with the key columns %v", c.Key, s.KeyNames())
	}
	if c.KeyID == "" || c.KeyID != change.KeyID(c.Key) {
		t.Fatalf("KeyID %q does not encode the key %v", c.KeyID, c.Key)
	}
	checkNames(t, "key", s.Key)
	for i, v := range c.Key {
		if v == nil {
			t.Fatalf("key column %q is nil", s.Key[i].Name)
		}
		if msg := valueMismatch(v, s.Key[i].Type); msg != "" {
			t.Fatalf("key column %q: %s", s.Key[i].Name, msg)
		}
	}
	if c.Op == change.OpDelete {
		if c.Row != nil || c.Unchanged != nil {
			t.Fatalf("delete with a row: %+v", c)
		}
		return
	}
	checkNames(t, "row", s.Columns)
	if len(c.Row) != len(s.Columns) {
		t.Fatalf("row of %d values for %d columns %v", len(c.Row), len(s.Columns), s)
	}
	if c.Unchanged != nil && len(c.Unchanged) != len(c.Row) {
		t.Fatalf("Unchanged has %d flags for %d values", len(c.Unchanged), len(c.Row))
	}
	for i, v := range c.Row {
		col := s.Columns[i]
		if s.Index(col.Name) != i {
			t.Fatalf("Schema.Index(%q) = %d, want %d", col.Name, s.Index(col.Name), i)
		}
		if c.Unchanged != nil && c.Unchanged[i] && v != nil {
			t.Fatalf("unchanged column %q carries a value %v", col.Name, v)
		}
		if v == nil {
			continue
		}
		if msg := valueMismatch(v, col.Type); msg != "" {
			t.Fatalf("column %q: %s", col.Name, msg)
		}
	}
}

// checkAcceptedJSON: a record the decoder accepts is valid JSON, and so is
// the key of any change that carries one. Malformed input is an error, never
// guessed at.
func checkAcceptedJSON(t *testing.T, key, value []byte, res Result, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if !isNullJSON(value) {
		if verr := fastjson.ValidateBytes(value); verr != nil {
			t.Fatalf("accepted a value that is not JSON (%v): %s", verr, describeResult(res, err))
		}
	}
	if c := res.Change; c != nil && c.Key != nil {
		if verr := fastjson.ValidateBytes(key); verr != nil {
			t.Fatalf("accepted a key that is not JSON (%v): %s", verr, describeResult(res, err))
		}
	}
}

func checkNames(t *testing.T, what string, cols []change.Column) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cols {
		if c.Name == "" {
			t.Fatalf("%s column without a name", what)
		}
		if seen[c.Name] {
			t.Fatalf("%s column %q appears twice", what, c.Name)
		}
		seen[c.Name] = true
	}
}

// valueMismatch says how a non-nil value breaks the normalised form of its
// column type (package change), or "" when it does not.
func valueMismatch(v any, typ change.Type) string {
	bad := func() string { return fmt.Sprintf("value %#v (%T) is not a normalised %s value", v, v, typ) }
	switch typ.Kind {
	case change.KindBool:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case change.KindInt16, change.KindInt32, change.KindInt64:
		n, ok := v.(int64)
		if !ok {
			return bad()
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch typ.Kind {
		case change.KindInt16:
			lo, hi = math.MinInt16, math.MaxInt16
		case change.KindInt32:
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if n < lo || n > hi {
			return fmt.Sprintf("%d is out of range for %s", n, typ)
		}
	case change.KindFloat32, change.KindFloat64:
		if _, ok := v.(float64); !ok {
			return bad()
		}
	case change.KindDecimal:
		d, ok := v.(change.Decimal)
		if !ok || d.Unscaled == nil {
			return bad()
		}
		if typ.Precision > 0 && (d.Scale != typ.Scale || d.Digits() > typ.Precision) {
			return fmt.Sprintf("%s does not have the shape of %s", d, typ)
		}
	case change.KindString, change.KindJSON, change.KindUUID, change.KindGeometry, change.KindTimeTZ:
		if _, ok := v.(string); !ok {
			return bad()
		}
	case change.KindBytes:
		if _, ok := v.([]byte); !ok {
			return bad()
		}
	case change.KindDate, change.KindTimestamp, change.KindTimestampTZ:
		switch x := v.(type) {
		case change.Infinity:
			if x != change.PosInfinity && x != change.NegInfinity {
				return bad()
			}
		case time.Time:
			if x.Location() != time.UTC {
				return fmt.Sprintf("%v is not in UTC", x)
			}
		default:
			return bad()
		}
	case change.KindTime:
		tod, ok := v.(change.TimeOfDay)
		if !ok {
			return bad()
		}
		if tod < 0 || tod > 86400e9 {
			return fmt.Sprintf("time of day %d is out of range", int64(tod))
		}
	case change.KindInterval:
		if _, ok := v.(change.IntervalValue); !ok {
			return bad()
		}
	case change.KindList:
		l, ok := v.([]any)
		if !ok || typ.Elem == nil {
			return bad()
		}
		for _, e := range l {
			if e == nil {
				continue
			}
			if msg := valueMismatch(e, *typ.Elem); msg != "" {
				return "list element: " + msg
			}
		}
	default:
		return fmt.Sprintf("column of kind %s", typ)
	}
	return ""
}

// describeResult renders a result without its arrival sequence number, so
// that two decoders' answers can be compared.
func describeResult(res Result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if res.Change == nil {
		return "skip: " + res.Skip
	}
	c := *res.Change
	schema := "<nil>"
	if c.Schema != nil {
		schema = c.Schema.String()
		for _, col := range c.Schema.Columns {
			schema += fmt.Sprintf(" %s:%v", col.Name, col.Optional)
		}
	}
	return fmt.Sprintf("%s %s op=%v src=%q schema=%s key=%v keyid=%q row=%v unchanged=%v pos=%q ts=%d payload=%q",
		c.Topic, c.Table, c.Op, c.SourceOp, schema, c.Key, c.KeyID, c.Row, c.Unchanged, c.Pos, c.SourceTs, res.Payload)
}

type fuzzSeed struct {
	name       string
	key, value []byte
	flags      uint8
}

// fuzzSeeds are the example events, each with the key of its folder, plus
// hand-made edge cases.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	if dir, ok := examplesDir(tb); ok {
		read := func(rel string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				tb.Fatal(err)
			}
			return b
		}
		err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || filepath.Ext(path) != ".json" {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			key := []byte(nil)
			if k, ok := exampleSeedKeys[filepath.ToSlash(rel)]; ok {
				key = read(k)
			} else if k, ok := exampleSeedKeys[filepath.ToSlash(filepath.Dir(rel))]; ok {
				key = read(k)
			}
			name := strings.NewReplacer("/", "_", ".json", "").Replace(filepath.ToSlash(rel))
			seeds = append(seeds, fuzzSeed{name: "example_" + name, key: key, value: read(rel)})
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return append(seeds, handMadeSeeds...)
}

// exampleSeedKeys pairs example values (by file, else by folder) with a key
// file for the fuzz seeds.
var exampleSeedKeys = map[string]string{
	"mysql":          "mysql/customers-key.json",
	"mariadb":        "mariadb/customers-key.json",
	"tutorial-mysql": "tutorial-mysql/01-snapshot-read-key.json",
	"test-resources": "tutorial-mysql/01-snapshot-read-key.json",
	"postgresql":     "tutorial-mysql/01-snapshot-read-key.json",
	"mysql/verify-deployment-snapshot-read-value.json": "mysql/verify-deployment-snapshot-read-key.json",
	"mysql/schema-change-value.json":                   "mysql/schema-change-key.json",
	"mariadb/schema-change-value.json":                 "mariadb/schema-change-key.json",
}

var handMadeSeeds = []fuzzSeed{
	{name: "tombstone_null", key: []byte(`{"id":1}`)},
	{name: "tombstone_legacy", key: []byte(`{"id":1}`), value: []byte(`{"schema":null,"payload":null}`)},
	{name: "null_key_null_value"},
	{name: "legacy_null_key_tombstone", key: []byte(`{"schema":null,"payload":null}`), value: []byte(`{"schema":null,"payload":null}`)},
	{name: "heartbeat", key: []byte(`{"serverName":"srv"}`), value: []byte(`{"ts_ms":1}`)},
	{name: "flattened_rewrite_delete", key: []byte(`{"pk":2}`), value: []byte(`{"pk":2,"cola":null,"__deleted":"true"}`)},
	{name: "flattened_rewrite_upsert", key: []byte(`{"pk":2}`), value: []byte(`{"pk":2,"cola":"x","__deleted":"false","__op":"u","__lsn":7,"__source_ts_ms":9}`)},
	{name: "flattened_plain", key: []byte(`{"pk":2}`), value: []byte(`{"pk":2,"status":"BEGIN","id":"x"}`), flags: 1},
	{name: "flattened_schema_tombstone", key: []byte(`{"pk":2}`), value: []byte(`{"schema":{"type":"struct","fields":[{"type":"int64","field":"pk"}]},"payload":null}`)},
	{name: "decimal_schema", key: []byte(`{"id":1}`), value: []byte(`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int32","field":"id"},{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"3"},"field":"amount"},{"type":"struct","name":"io.debezium.data.VariableScaleDecimal","field":"price","fields":[{"type":"int32","field":"scale"},{"type":"bytes","field":"value"}]}]}]},"payload":{"op":"c","after":{"id":1,"amount":"bg==","price":{"scale":4,"value":"AYr3"}},"source":{"file":"mysql-bin.000001","pos":4,"row":0}}}`)},
	{name: "temporal_schema", key: []byte(`{"schema":{"type":"struct","fields":[{"type":"int64","name":"io.debezium.time.MicroTimestamp","field":"ts_us"}]},"payload":{"ts_us":1478267490123456}}`), value: []byte(`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int64","name":"io.debezium.time.MicroTimestamp","field":"ts_us"},{"type":"int32","name":"io.debezium.time.Date","field":"day"},{"type":"int64","name":"io.debezium.time.MicroTime","field":"tod"},{"type":"string","name":"io.debezium.time.ZonedTimestamp","field":"tstz"},{"type":"string","name":"io.debezium.time.ZonedTime","field":"todtz"},{"type":"int64","name":"io.debezium.time.MicroDuration","field":"span"},{"type":"string","name":"io.debezium.time.Interval","field":"iv"}]}]},"payload":{"op":"r","after":{"ts_us":9223372036825200000,"day":-712863,"tod":86400000000,"tstz":"+21016-11-04T06:51:30.123456Z","todtz":"11:51:30.123Z","span":37091106780000,"iv":"P1Y2M3DT4H5M6.78S"},"source":{"lsn":24023128,"sequence":"[\"24023119\",\"24023128\"]"}}}`)},
	{name: "toast_forms", key: []byte(`{"id":1}`), value: []byte(`{"op":"u","after":{"id":1,"a":"__debezium_unavailable_value","b":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==","c":["__debezium_unavailable_value"],"d":[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,97,108,117,101],"e":["b68a35a7-17ad-35b3-af2a-ae46edb4545a"],"f":{"__debezium_unavailable_value":"__debezium_unavailable_value"}},"source":{}}`)},
	{name: "declared_values", key: []byte(`{"id":1}`), value: []byte(`{"op":"c","after":{"id":1,"amount":"12.30","price":"AYr3","flag":1,"small":-32768,"ratio":"NaN","payload":"AQID","doc":"{\"a\":1}","uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","span":"P1Y","day":"2024-02-29","tod":"24:00:00","todtz":"11:51:30Z","ts":1529476623000,"ts_us":"2016-11-04T13:51:30.123456","ts_ns":-1,"tstz":"-4713-12-31T23:59:59.999999Z"},"source":{}}`)},
	{name: "truncate_empty_schema", value: []byte(`{"schema":{},"payload":{"op":"t","source":{"file":"mysql-bin.000003","pos":484,"row":0}}}`)},
	{name: "message", key: []byte(`{"prefix":"foo"}`), value: []byte(`{"op":"m","source":{"lsn":1},"message":{"prefix":"foo","content":"Ymfy"}}`)},
	{name: "big_numbers", key: []byte(`{"id":99999999999999999999999}`), value: []byte(`{"op":"c","after":{"id":99999999999999999999999,"x":1e999,"y":-0},"source":{}}`)},
	{name: "duplicate_fields", key: []byte(`{"id":1}`), value: []byte(`{"op":"c","after":{"id":1,"a":1,"a":"x","":2},"source":{}}`)},
	{name: "not_json", key: []byte(`{"id":1`), value: []byte(`{"op":"c",`)},
	{name: "scalar_value", key: []byte(`1`), value: []byte(`"null"`)},
	{name: "wrapper_trailing_data", key: []byte(`{"id":1} `), value: []byte(`{"schema":{},"payload":{"op":"c","after":{"id":1},"source":{}}}}`)},
	{name: "wrapper_trailing_comma", key: []byte(`{"schema":{},"payload":{"id":1},}`), value: []byte(`{"schema":{},"payload":{"op":"c","after":{"id":1},"source":{}},}`)},
	{name: "wrapper_garbage_schema_tombstone", key: []byte(`{"id":1}`), value: []byte(`{"schema":{"a":[}},"payload":null}`)},
	{name: "huge_scale", key: []byte(`{"id":1}`), value: []byte(`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int32","field":"id"},{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2000000000"},"field":"amount"}]}]},"payload":{"op":"c","after":{"id":1,"amount":"AQ=="},"source":{}}}`)},
	{name: "huge_variable_scale", key: []byte(`{"schema":{"type":"struct","fields":[{"type":"struct","name":"io.debezium.data.VariableScaleDecimal","field":"id","fields":[]}]},"payload":{"id":{"scale":-2000000000,"value":"AQ=="}}}`), value: []byte(`{"op":"d","before":null,"source":{}}`)},
	{name: "interval_overflow", key: []byte(`{"id":1}`), value: []byte(`{"op":"c","after":{"id":1,"span":"P2147483647Y"},"source":{}}`)},
}

// corpusFile renders a seed in the go test fuzz v1 corpus format.
func corpusFile(s fuzzSeed) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nbyte(%q)\n", s.key, s.value, s.flags))
}

// TestFuzzCorpus keeps the committed corpus (testdata/fuzz/FuzzDecode) in
// step with the seeds, so that plain `go test` runs every example and edge
// case through the fuzz target even where the examples directory is
// absent. Set CDCSYNC_WRITE_FUZZ_CORPUS=1 to (re)write the seed files;
// files the fuzzer added (crashers) are kept.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	write := os.Getenv("CDCSYNC_WRITE_FUZZ_CORPUS") == "1"
	if write {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	for _, s := range fuzzSeeds(t) {
		if names[s.name] {
			t.Fatalf("two seeds are called %s", s.name)
		}
		names[s.name] = true
		path := filepath.Join(dir, "seed_"+s.name)
		want := corpusFile(s)
		if write {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("corpus file %s is missing or stale: run CDCSYNC_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./internal/debezium/", path)
		}
	}
}

// FuzzTypedValue fuzzes value conversion: an arbitrary JSON literal as the
// value of a column of every logical and plain type of the type matrix
// (types_test.go), also under a declared type. Byte-level mutation of whole
// events rarely reaches deep into a value; this target starts there. The
// properties are FuzzDecode's, and a value error names its column.
func FuzzTypedValue(f *testing.F) {
	for i, c := range typeCases {
		f.Add(c.lit, uint8(i))
	}
	declared := []change.Type{change.DecimalType(12, 4), change.TimestampType(change.UnitMillis), change.String, change.Int16, change.Date, change.Float64}
	f.Fuzz(func(t *testing.T, lit string, which uint8) {
		if fastjson.Validate(lit) != nil {
			return // not one JSON value: FuzzDecode's business
		}
		c := typeCases[int(which)%len(typeCases)]
		value := typedEvent(t, c.f, lit)
		for i, decl := range append([]*change.Type{nil}, typePtrs(declared)...) {
			opts := Options{}
			if decl != nil {
				opts.Table = func(string) TableOptions {
					return TableOptions{Name: "t", Columns: map[string]change.Type{"v": *decl}}
				}
			}
			res, err := NewDecoder(opts).decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: value})
			checkResult(t, res, err)
			if err != nil && !strings.Contains(err.Error(), `"v"`) {
				t.Fatalf("declared %d: error %q does not name the column", i, err)
			}
		}
	})
}

func typePtrs(ts []change.Type) []*change.Type {
	out := make([]*change.Type, len(ts))
	for i := range ts {
		out[i] = &ts[i]
	}
	return out
}

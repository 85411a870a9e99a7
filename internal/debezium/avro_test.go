package debezium

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv"
	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
	"github.com/cdcsync/cdcsync/internal/change"
)

// Avro (the Confluent wire format with a schema registry) must read
// exactly as JSON does: every test here writes events the JSON tests use
// as Connect's Avro converter would (package avrotest), registered in a
// registry served by the test (srfake, an httptest server of the
// registry's API), and compares the two decodings.

func testRegistry(t testing.TB) (*srfake.Registry, *avroconv.Registry) {
	t.Helper()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg, err := avroconv.New(avroconv.Options{URL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return fake, reg
}

// toAvro writes a JsonConverter event in the wire format; ok is false when
// the event has no Avro form.
func toAvro(t testing.TB, fake *srfake.Registry, subject string, event []byte) ([]byte, bool) {
	t.Helper()
	if isNullJSON(event) {
		return nil, true
	}
	b, err := avrotest.FromJSON(fake, subject, event)
	if errors.Is(err, avrotest.ErrNoAvroForm) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("writing %s as Avro: %v", event, err)
	}
	return b, true
}

// sameResult compares a JSON and an Avro decoding of one event: the same
// change (payload text aside, which Avro renders afresh), or errors.
// Values of JSON kinds are compared as JSON, not as text.
func sameResult(t *testing.T, js, av Result, jerr, aerr error) {
	t.Helper()
	if (jerr == nil) != (aerr == nil) {
		t.Fatalf("JSON: %s\nAvro: %s", describeResult(js, jerr), describeResult(av, aerr))
	}
	if jerr != nil {
		if jerr.Error() != aerr.Error() {
			t.Fatalf("JSON error %q, Avro error %q", jerr, aerr)
		}
		return
	}
	if av.Schema != nil || av.SchemaID != "" {
		t.Fatalf("an Avro record offers a JSON schema to rebuild its value from")
	}
	js.Payload, av.Payload, js.Schema, js.SchemaID = nil, nil, nil, ""
	if js.Change != nil && av.Change != nil {
		jc, ac := *js.Change, *av.Change
		if len(jc.Row) == len(ac.Row) && jc.Schema != nil {
			jc.Row, ac.Row = append([]any(nil), jc.Row...), append([]any(nil), ac.Row...)
			for i, col := range jc.Schema.Columns {
				if k := col.Type.Kind; (k == change.KindJSON || k == change.KindGeometry) && sameJSON(jc.Row[i], ac.Row[i]) {
					ac.Row[i] = jc.Row[i]
				}
			}
		}
		js.Change, av.Change = &jc, &ac
	}
	if a, b := describeResult(js, nil), describeResult(av, nil); a != b {
		t.Fatalf("JSON and Avro differ:\nJSON: %s\nAvro: %s", a, b)
	}
	if js.Change != nil {
		for i := range js.Change.Row {
			if !sameValue(av.Change.Row[i], js.Change.Row[i]) {
				t.Fatalf("column %d: Avro %#v, JSON %#v", i, av.Change.Row[i], js.Change.Row[i])
			}
		}
	}
}

func sameJSON(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	var x, y any
	return json.Unmarshal([]byte(as), &x) == nil && json.Unmarshal([]byte(bs), &y) == nil && reflect.DeepEqual(x, y)
}

// TestAvroTypeMatrix runs the type matrix through Avro: every case whose
// literal has an Avro form decodes to the same column type and the same
// value as in JSON, or fails with the same reason.
func TestAvroTypeMatrix(t *testing.T) {
	fake, reg := testRegistry(t)
	key, _ := toAvro(t, fake, "srv.db.t-key", []byte(typedKey))
	ran := 0
	for _, tc := range typeCases {
		value, ok := toAvro(t, fake, "srv.db.t-value", typedEvent(t, tc.f, tc.lit))
		if !ok {
			continue // a JSON literal of the wrong type: JSON-only
		}
		ran++
		t.Run(tc.name, func(t *testing.T) {
			js, jerr := NewDecoder(Options{}).decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: typedEvent(t, tc.f, tc.lit)})
			av, aerr := NewDecoder(Options{Wire: reg}).Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
			sameResult(t, js, av, jerr, aerr)
		})
	}
	if ran < 150 {
		t.Fatalf("only %d of %d cases have an Avro form", ran, len(typeCases))
	}
}

// TestAvroExamples: every example event with schemas (the shared Debezium
// examples and the hand-made seeds), written as Avro, decodes as in JSON.
func TestAvroExamples(t *testing.T) {
	fake, reg := testRegistry(t)
	ran := 0
	for _, s := range fuzzSeeds(t) {
		key, okk := toAvro(t, fake, s.name+"-key", s.key)
		value, okv := toAvro(t, fake, s.name+"-value", s.value)
		if !okk || !okv || (key == nil && value == nil) {
			continue
		}
		ran++
		t.Run(s.name, func(t *testing.T) {
			js, jerr := NewDecoder(fuzzOptions(s.flags)).decode(Record{Topic: fuzzTopicPlain, Key: s.key, Value: s.value})
			opts := fuzzOptions(s.flags)
			opts.Wire = reg
			av, aerr := NewDecoder(opts).Decode(Record{Topic: fuzzTopicPlain, Key: key, Value: value})
			sameResult(t, js, av, jerr, aerr)
		})
	}
	if dir, ok := examplesDir(t); !ok && ran < 5 {
		t.Skipf("no Debezium examples at %s: %d seeds have an Avro form", dir, ran)
	}
	if ran < 5 {
		t.Fatalf("only %d example events have an Avro form", ran)
	}
}

// avroEvent is a create of table t with a schema-carrying key.
func avroEvent(t *testing.T, fake *srfake.Registry, f field, lit string) (key, value []byte) {
	t.Helper()
	key, _ = toAvro(t, fake, "srv.db.t-key", []byte(typedKey))
	value, ok := toAvro(t, fake, "srv.db.t-value", typedEvent(t, f, lit))
	if !ok {
		t.Fatalf("no Avro form for %s", lit)
	}
	return key, value
}

// TestAvroUnknownSchemaIDIsDeadLetter: a schema id the registry does not
// know is the record's fault, with a reason naming the id.
func TestAvroUnknownSchemaIDIsDeadLetter(t *testing.T) {
	fake, reg := testRegistry(t)
	key, value := avroEvent(t, fake, field{Type: "string"}, `"x"`)
	value = avrotest.Wire(4711, value[5:])
	_, err := NewDecoder(Options{Wire: reg}).Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err == nil || !strings.Contains(err.Error(), "schema id 4711 is unknown to the schema registry") {
		t.Fatalf("err = %v, want the unknown schema id", err)
	}
	if errors.Is(err, avroconv.ErrUnavailable) {
		t.Fatal("an unknown id is reported as an unavailable registry")
	}
}

// TestAvroUndecodableBytesIsDeadLetter: bytes that do not decode with their
// schema are the record's fault.
func TestAvroUndecodableBytesIsDeadLetter(t *testing.T) {
	fake, reg := testRegistry(t)
	key, value := avroEvent(t, fake, field{Type: "string"}, `"some text"`)
	for name, v := range map[string][]byte{
		"truncated":     value[:len(value)-3],
		"trailing data": append(append([]byte(nil), value...), 1, 2),
		"header only":   value[:5],
		"short header":  value[:3],
	} {
		_, err := NewDecoder(Options{Wire: reg}).Decode(Record{Topic: "srv.db.t", Key: key, Value: v})
		if err == nil || errors.Is(err, avroconv.ErrUnavailable) {
			t.Errorf("%s: err = %v, want a dead-letter reason", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "value") {
			t.Errorf("%s: %q does not say the value is at fault", name, err)
		}
	}
}

// TestAvroRegistryDownIsUnavailable: a registry that fails is
// ErrUnavailable (an infrastructure failure, retried by the pipeline), and
// its failure is not remembered: once it answers, the record decodes.
func TestAvroRegistryDownIsUnavailable(t *testing.T) {
	fake, reg := testRegistry(t)
	key, value := avroEvent(t, fake, field{Type: "string"}, `"x"`)
	fake.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	_, err := NewDecoder(Options{Wire: reg}).Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if !errors.Is(err, avroconv.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	fake.ClearInterceptors()
	res, err := NewDecoder(Options{Wire: reg}).Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err != nil || res.Change == nil || res.Change.Row[1] != "x" {
		t.Fatalf("after the outage: %s", describeResult(res, err))
	}
}

// TestAvroWithoutRegistry: Avro records without a configured registry say
// so.
func TestAvroWithoutRegistry(t *testing.T) {
	fake, _ := testRegistry(t)
	key, value := avroEvent(t, fake, field{Type: "string"}, `"x"`)
	_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err == nil || !strings.Contains(err.Error(), "no schema_registry is configured") {
		t.Fatalf("err = %v", err)
	}
}

// TestAvroTopicMovesFromJSON: the converter is chosen per record, so one
// decoder reads a topic's JSON events and then its Avro ones, keys of
// either format with values of either.
func TestAvroTopicMovesFromJSON(t *testing.T) {
	fake, reg := testRegistry(t)
	d := NewDecoder(Options{Wire: reg})
	jsonValue := typedEvent(t, field{Type: "string"}, `"from json"`)
	key, value := avroEvent(t, fake, field{Type: "string"}, `"from avro"`)
	for i, r := range []Record{
		{Key: []byte(typedKey), Value: jsonValue},
		{Key: key, Value: value},
		{Key: []byte(typedKey), Value: value},
		{Key: key, Value: jsonValue},
		{Key: key},
	} {
		r.Topic = "srv.db.t"
		res, err := d.Decode(r)
		if err != nil || res.Change == nil || res.Change.KeyID != change.KeyID([]any{int64(1)}) {
			t.Fatalf("record %d: %s", i, describeResult(res, err))
		}
		if res.Change.Op == change.OpUpsert {
			want := "from json"
			if avroconv.IsWire(r.Value) {
				want = "from avro"
			}
			if res.Change.Row[1] != want {
				t.Fatalf("record %d: v = %v, want %q", i, res.Change.Row[1], want)
			}
		} else if i != 4 {
			t.Fatalf("record %d: %s", i, describeResult(res, err))
		}
	}
}

// TestAvroSchemaEvolution: registry versions of a table's value schema (a
// new column, a widened one, a removed one) give the changes the schemas
// they say, as JSON schemas do.
func TestAvroSchemaEvolution(t *testing.T) {
	fake, reg := testRegistry(t)
	d := NewDecoder(Options{Wire: reg})
	key, _ := toAvro(t, fake, "srv.db.t-key", []byte(typedKey))
	versions := []struct {
		f    field
		lit  string
		want change.Type
	}{
		{field{Type: "int32"}, "7", change.Int32},     // v1
		{field{Type: "int64"}, "8", change.Int64},     // v2: widened
		{field{Type: "string"}, `"n"`, change.String}, // v3: retyped
	}
	ids := map[int]bool{}
	for i, v := range versions {
		value, _ := toAvro(t, fake, "srv.db.t-value", typedEvent(t, v.f, v.lit))
		id, _ := avroconv.SchemaID(value)
		ids[id] = true
		res, err := d.Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
		if err != nil {
			t.Fatalf("version %d: %v", i+1, err)
		}
		if got := res.Change.Schema.Columns[1].Type; !got.Equal(v.want) {
			t.Fatalf("version %d: v is %s, want %s", i+1, got, v.want)
		}
	}
	if len(ids) != len(versions) {
		t.Fatalf("the versions share schema ids: %v", ids)
	}
	// A new column, and then its removal: the row carries what the
	// version it was written with says.
	added := addField(t, typedEvent(t, field{Type: "string"}, `"n"`), "extra", `"e"`)
	value, _ := toAvro(t, fake, "srv.db.t-value", added)
	res, err := d.Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err != nil || res.Change.Schema.Index("extra") < 0 {
		t.Fatalf("added column: %s", describeResult(res, err))
	}
	value, _ = toAvro(t, fake, "srv.db.t-value", typedEvent(t, field{Type: "string"}, `"n"`))
	res, err = d.Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err != nil || res.Change.Schema.Index("extra") >= 0 {
		t.Fatalf("removed column: %s", describeResult(res, err))
	}
}

// addField adds an optional string column to a typedEvent's row.
func addField(t *testing.T, event []byte, name, lit string) []byte {
	t.Helper()
	s := strings.ReplaceAll(string(event), `"field":"v"}]`, `"field":"v"},{"type":"string","optional":true,"field":"`+name+`"}]`)
	s = strings.Replace(s, `"after":{"id":1,"v":`, `"after":{"`+name+`":`+lit+`,"id":1,"v":`, 1)
	if s == string(event) || strings.Count(s, name) != 3 {
		t.Fatalf("cannot add a field to %s", event)
	}
	return []byte(s)
}

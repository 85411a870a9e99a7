package debezium

import (
	"strings"
	"testing"
)

// Issue 10, "Decoding once": a payload is validated and parsed in one pass
// (internal/fastjson), a schema seen before is recognised by its bytes and
// not scanned, parsed or checked again, and the hot path allocates little.
// None of it may change an answer.

// TestDecodeOnce_ControlCharacterIsNotJSON: a raw control character in a
// string is not JSON (RFC 8259), wherever it is in the string. The old
// two-pass check missed one that came before an escape in the same string
// ("a\x01\"b") and applied the record.
func TestDecodeOnce_ControlCharacterIsNotJSON(t *testing.T) {
	for name, lit := range map[string]string{
		"before an escape":     "\"a\x01\\\"b\"",
		"NUL before an escape": "\"\x00\\n\"",
		"after an escape":      "\"\\n\x1f\"",
		"alone":                "\"\x0a\"",
	} {
		t.Run(name, func(t *testing.T) {
			value := typedEvent(t, field{Type: "string"}, lit)
			_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: value})
			if err == nil || !strings.Contains(err.Error(), "not JSON") || !strings.Contains(err.Error(), "control char") {
				t.Fatalf("err = %v, want value is not JSON: control char", err)
			}
		})
	}
	key := "{\"id\":\"a\x02\\tb\"}"
	_, err := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(key), Value: []byte(`{"op":"c","after":{"id":"x"},"source":{}}`)})
	if err == nil || !strings.Contains(err.Error(), "key is not JSON") {
		t.Fatalf("key: err = %v, want key is not JSON", err)
	}
}

// TestDecodeOnce_RecognisedSchemaStillChecksPayload: when an event carries
// the schema of the topic's previous event, only its payload is parsed and
// checked; every defect of the payload is still found, with the reason a
// fresh decoder gives.
func TestDecodeOnce_RecognisedSchemaStillChecksPayload(t *testing.T) {
	good := typedEvent(t, field{Type: "string"}, `"x"`)
	for name, lit := range map[string]string{
		"invalid UTF-8":       "\"a\xffb\"",
		"lone surrogate":      `"\ud800"`,
		"bad number":          `01`,
		"NaN":                 `NaN`,
		"unknown escape":      `"\q"`,
		"control character":   "\"\x01\"",
		"not a string at all": `x`,
	} {
		t.Run(name, func(t *testing.T) {
			bad := typedEvent(t, field{Type: "string"}, lit)
			_, want := NewDecoder(Options{}).Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: bad})
			if want == nil {
				t.Fatal("a fresh decoder accepts it")
			}
			warm := NewDecoder(Options{})
			if _, err := warm.Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: good}); err != nil {
				t.Fatal(err)
			}
			_, err := warm.Decode(Record{Topic: "srv.db.t", Key: []byte(typedKey), Value: bad})
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("warm decoder: err = %v, want %v", err, want)
			}
		})
	}
}

// TestDecodeOnce_KeySchemaIsNeverAnInferredShape: the cache of key shapes
// holds parsed key schemas under their JSON text and inferred shapes under
// a binary signature. A key whose "schema" is such a signature, not JSON,
// was taken for the inferred shape and decoded; it is not JSON.
func TestDecodeOnce_KeySchemaIsNeverAnInferredShape(t *testing.T) {
	d := NewDecoder(Options{})
	value := []byte(`{"op":"c","after":{"id":1},"source":{}}`)
	if _, err := d.Decode(Record{Topic: "srv.db.t", Key: []byte(`{"id":1}`), Value: value}); err != nil {
		t.Fatal(err)
	}
	var sig []byte
	for s := range d.keys {
		sig = []byte(s)
	}
	if len(d.keys) != 1 || sig[0] != 2 {
		t.Fatalf("want one inferred key shape in the cache, got %d: %q", len(d.keys), sig)
	}
	key := append(append([]byte(`{"schema":`), sig...), `,"payload":{"id":1}}`...)
	_, err := d.Decode(Record{Topic: "srv.db.t", Key: key, Value: value})
	if err == nil || !strings.Contains(err.Error(), "key schema: not JSON") {
		t.Fatalf("err = %v, want key schema: not JSON", err)
	}
}

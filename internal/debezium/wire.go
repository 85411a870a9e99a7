package debezium

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cdcsync/cdcsync/internal/avroconv"
)

// Records in the Confluent wire format (Avro with a schema registry) are
// converted into the JSON Kafka Connect's JsonConverter writes with schemas
// ({"schema":…,"payload":…}) by Options.Wire, and then decoded as JSON
// ones: one set of rules types both (see package avroconv). The converter
// is chosen per record — the wire format starts with a zero byte, which no
// JSON text does — so a topic can move from JSON to Avro without a
// restart.

// Wire converts a record key or value in the Confluent wire format into
// JsonConverter's JSON with schema. An error is the dead-letter reason.
type Wire interface {
	ToJSON(b []byte) ([]byte, error)
}

// hasWire reports whether any part of r is in the wire format.
func hasWire(r Record) bool {
	return avroconv.IsWire(r.Key) || avroconv.IsWire(r.Value) || avroconv.IsWire(r.OldKey) || avroconv.IsWire(r.NewKey)
}

// decodeWire decodes a record with a part in the wire format.
func (d *Decoder) decodeWire(r Record) (Result, error) {
	for _, p := range []struct {
		what string
		b    *[]byte
	}{{"key", &r.Key}, {"value", &r.Value}, {"__debezium.oldkey header", &r.OldKey}, {"__debezium.newkey header", &r.NewKey}} {
		if !avroconv.IsWire(*p.b) {
			continue
		}
		if d.opts.Wire == nil {
			return Result{}, fmt.Errorf("the %s is Avro in the Confluent wire format (%s), and no schema_registry is configured", p.what, wireID(*p.b))
		}
		j, err := d.opts.Wire.ToJSON(*p.b)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", p.what, err)
		}
		*p.b = j
	}
	res, err := d.decode(r)
	// The landing table keeps the record's own bytes: the value is not
	// rebuilt from a JSON schema and payload.
	res.Schema, res.SchemaID = nil, ""
	return res, err
}

func wireID(b []byte) string {
	if id, ok := avroconv.SchemaID(b); ok {
		return fmt.Sprintf("schema id %d", id)
	}
	return fmt.Sprintf("%d bytes, too short for a schema id", len(b))
}

// Formats of records, as Format names them.
const (
	FormatAvro        = "avro"
	FormatJSONSchemas = "json (schemas)"
	FormatJSON        = "json"
)

// Format names the converter that wrote a record's value (its key when
// the value is null): FormatAvro, FormatJSONSchemas, FormatJSON, or ""
// when the record says nothing (a null key and value).
func Format(r Record) string {
	b := r.Value
	if isNullJSON(b) {
		b = r.Key
	}
	switch {
	case avroconv.IsWire(b):
		return FormatAvro
	case isNullJSON(b):
		return ""
	}
	if _, _, wrapped, _, err := splitConverterHint(b, ""); err == nil && wrapped {
		return FormatJSONSchemas
	}
	return FormatJSON
}

// TopicFormat names the formats of a topic's records, by Format: one
// name, several joined with "+" (a topic moving from one to another), or
// "-" when none says.
func TopicFormat(records []Record) string {
	var seen []string
	for _, r := range records {
		if f := Format(r); f != "" && !slices.Contains(seen, f) {
			seen = append(seen, f)
		}
	}
	if len(seen) == 0 {
		return "-"
	}
	slices.Sort(seen)
	return strings.Join(seen, "+")
}

package avroconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/hamba/avro/v2"
)

// connectSchema is a Kafka Connect schema in the JSON form JsonConverter
// writes (schemas.enable=true): what the JSON decoder reads.
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Field      string            `json:"field,omitempty"`
	Fields     []*connectSchema  `json:"fields,omitempty"`
	Items      *connectSchema    `json:"items,omitempty"`
	Keys       *connectSchema    `json:"keys,omitempty"`
	Values     *connectSchema    `json:"values,omitempty"`
}

// Avro schemas written by Kafka Connect's AvroData (Confluent's, and
// Apicurio's copy of it) carry the Connect schema in properties:
// connect.name (Debezium's semantic type names, io.debezium.time.* and
// the rest), connect.parameters, and connect.type for int8 and int16.
const (
	propName       = "connect.name"
	propParameters = "connect.parameters"
	propType       = "connect.type"
)

// maxDepth bounds the nesting of a schema: Connect schemas are not
// recursive, and an Avro schema that is would never end.
const maxDepth = 32

// connectJSON converts a parsed Avro schema into the Connect schema JSON
// that JsonConverter would have written for the same data.
func connectJSON(s avro.Schema) ([]byte, error) {
	cs, err := toConnect(s, false, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cs)
}

// toConnect maps one Avro schema to its Connect schema.
func toConnect(s avro.Schema, optional bool, depth int) (*connectSchema, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("schema nested deeper than %d levels", maxDepth)
	}
	cs := &connectSchema{Optional: optional}
	if ps, ok := s.(avro.PropertySchema); ok {
		cs.Name, _ = ps.Prop(propName).(string)
		if params, ok := ps.Prop(propParameters).(map[string]any); ok {
			cs.Parameters = make(map[string]string, len(params))
			for k, v := range params {
				cs.Parameters[k] = fmt.Sprint(v)
			}
		}
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		// A named type used again (Debezium's before and after share
		// one); a recursive one ends at maxDepth.
		return toConnect(s.Schema(), optional, depth+1)
	case *avro.UnionSchema:
		return unionToConnect(s, optional, depth)
	case *avro.RecordSchema:
		cs.Type = "struct"
		if cs.Name == "" {
			cs.Name = s.FullName()
		}
		cs.Fields = make([]*connectSchema, 0, len(s.Fields()))
		for _, f := range s.Fields() {
			fs, err := toConnect(f.Type(), false, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
			fs.Field = f.Name()
			cs.Fields = append(cs.Fields, fs)
		}
		return cs, nil
	case *avro.ArraySchema:
		items, err := toConnect(s.Items(), false, depth+1)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		cs.Type, cs.Items = "array", items
		return cs, nil
	case *avro.MapSchema:
		values, err := toConnect(s.Values(), false, depth+1)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		cs.Type, cs.Keys, cs.Values = "map", &connectSchema{Type: "string"}, values
		return cs, nil
	case *avro.EnumSchema:
		// An Avro enum is a string column (Connect's AvroData reads it as
		// one); Debezium's own enums are strings named io.debezium.data.Enum.
		cs.Type = "string"
		return cs, nil
	case *avro.FixedSchema:
		cs.Type = "bytes"
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			decimalName(cs, d)
		}
		return cs, nil
	case *avro.NullSchema:
		// A field that is always null: a string column that stays NULL.
		cs.Type, cs.Optional = "string", true
		return cs, nil
	case *avro.PrimitiveSchema:
		return primitiveToConnect(cs, s)
	}
	return nil, fmt.Errorf("unsupported Avro schema %s", s.Type())
}

// unionToConnect maps a union: ["null", T] is an optional T, the form
// Connect's AvroData writes for optional fields. Other unions have no
// Connect form.
func unionToConnect(s *avro.UnionSchema, _ bool, depth int) (*connectSchema, error) {
	types := s.Types()
	var other []avro.Schema
	for _, t := range types {
		if t.Type() != avro.Null {
			other = append(other, t)
		}
	}
	if len(other) != 1 {
		return nil, fmt.Errorf("union of %d non-null types is not supported (only [\"null\", T], Connect's optional T)", len(other))
	}
	return toConnect(other[0], len(other) < len(types), depth+1)
}

// primitiveToConnect maps a primitive schema and its logical type.
func primitiveToConnect(cs *connectSchema, s *avro.PrimitiveSchema) (*connectSchema, error) {
	switch s.Type() {
	case avro.Boolean:
		cs.Type = "boolean"
	case avro.Int:
		cs.Type = "int32"
		if t, _ := s.Prop(propType).(string); t == "int8" || t == "int16" {
			cs.Type = t
		}
	case avro.Long:
		cs.Type = "int64"
	case avro.Float:
		cs.Type = "float32"
	case avro.Double:
		cs.Type = "float64"
	case avro.Bytes:
		cs.Type = "bytes"
	case avro.String:
		cs.Type = "string"
	default:
		return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
	}
	if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
		decimalName(cs, d)
		return cs, nil
	}
	if cs.Name != "" || s.Logical() == nil {
		// connect.name says what the logical type says, and more (the
		// unit of Debezium's temporal types, for one).
		return cs, nil
	}
	// A logical type without Connect's name, as producers other than Kafka
	// Connect write them: the Connect type it stands for.
	switch s.Logical().Type() {
	case avro.Date:
		cs.Name = "org.apache.kafka.connect.data.Date"
	case avro.TimeMillis:
		cs.Name = "org.apache.kafka.connect.data.Time"
	case avro.TimeMicros:
		cs.Name = "io.debezium.time.MicroTime"
	case avro.TimestampMillis, avro.LocalTimestampMillis:
		cs.Name = "org.apache.kafka.connect.data.Timestamp"
	case avro.TimestampMicros, avro.LocalTimestampMicros:
		cs.Name = "io.debezium.time.MicroTimestamp"
	case avro.UUID:
		cs.Name = "io.debezium.data.Uuid"
	}
	return cs, nil
}

// decimalName makes a bytes schema a Connect Decimal. A schema Connect
// wrote says its scale and precision in connect.parameters: a Decimal
// without a precision parameter is Avro's default precision 64 only on
// the Avro side, and stays without one, as in JSON. Other producers' are
// the logical type's.
func decimalName(cs *connectSchema, d *avro.DecimalLogicalSchema) {
	if cs.Name == "" {
		cs.Name = "org.apache.kafka.connect.data.Decimal"
		if d.Precision() > 0 && cs.Parameters == nil {
			cs.Parameters = map[string]string{"connect.decimal.precision": strconv.Itoa(d.Precision())}
		}
	}
	if cs.Parameters == nil {
		cs.Parameters = map[string]string{}
	}
	if _, ok := cs.Parameters["scale"]; !ok {
		cs.Parameters["scale"] = strconv.Itoa(d.Scale())
	}
}

// parseSchema parses an Avro schema text on its own: every schema gets a
// fresh name cache, since two versions of one record name differ.
func parseSchema(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("empty schema")
	}
	return s, nil
}

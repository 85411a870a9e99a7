// Package avrotest turns Debezium events in JsonConverter's JSON (with
// schemas) into the records Kafka Connect's Avro converter writes for the
// same data: the Avro schema as Connect's AvroData derives it (records
// named by the Connect schema name, connect.name, connect.parameters,
// connect.type, ["null", T] for optional fields, the decimal logical
// type), registered in a test registry, and the datum in Avro binary
// behind the Confluent wire header. Tests use it to check that an event
// reads the same in both formats.
package avrotest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// ErrNoAvroForm says that an event cannot be written in Avro at all (a
// JSON literal of the wrong type, a Connect type Avro has no form for):
// the case is JSON-only.
var ErrNoAvroForm = errors.New("no Avro form")

// FromJSON registers the schema of a JsonConverter event under subject
// and returns the event in the wire format.
func FromJSON(reg *srfake.Registry, subject string, event []byte) ([]byte, error) {
	var env struct {
		Schema  json.RawMessage `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(event, &env); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrNoAvroForm, err)
	}
	if len(env.Schema) == 0 || string(env.Schema) == "null" {
		return nil, fmt.Errorf("%w: the event has no schema", ErrNoAvroForm)
	}
	ck := cacheKey{reg, subject, string(env.Schema)}
	mu.Lock()
	ce, ok := cache[ck]
	mu.Unlock()
	if !ok {
		text, err := ConnectToAvro(env.Schema)
		if err != nil {
			return nil, err
		}
		s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoAvroForm, err)
		}
		id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: text, Type: sr.TypeAvro})
		if err != nil {
			return nil, err
		}
		ce = cached{s, id}
		mu.Lock()
		cache[ck] = ce
		mu.Unlock()
	}
	data, err := encodeJSON(ce.schema, env.Payload)
	if err != nil {
		return nil, err
	}
	return Wire(ce.id, data), nil
}

type cacheKey struct {
	reg             *srfake.Registry
	subject, schema string
}

type cached struct {
	schema avro.Schema
	id     int
}

// cache holds the schemas FromJSON registered, so that a workload's events
// convert quickly.
var (
	mu    sync.Mutex
	cache = map[cacheKey]cached{}
)

// Wire prepends the Confluent wire header: magic byte 0 and the schema id.
func Wire(id int, data []byte) []byte {
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(id))
	return append(out, data...)
}

// ConnectToAvro converts a Connect schema in JSON into the Avro schema
// text AvroData writes for it.
func ConnectToAvro(connect []byte) (string, error) {
	var cs map[string]any
	if err := json.Unmarshal(connect, &cs); err != nil {
		return "", err
	}
	s, err := (&converter{defined: map[string]bool{}}).schema(cs)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(s)
	return string(b), err
}

type converter struct {
	defined map[string]bool
	unnamed int
}

func (c *converter) schema(cs map[string]any) (any, error) {
	s, err := c.required(cs)
	if err != nil {
		return nil, err
	}
	if opt, _ := cs["optional"].(bool); opt {
		return []any{"null", s}, nil
	}
	return s, nil
}

func (c *converter) required(cs map[string]any) (any, error) {
	typ, _ := cs["type"].(string)
	name, _ := cs["name"].(string)
	params, _ := cs["parameters"].(map[string]any)
	out := map[string]any{}
	if name != "" {
		out["connect.name"] = name
		if v, ok := cs["version"]; ok {
			out["connect.version"] = v
		}
	}
	if params != nil {
		out["connect.parameters"] = params
	}
	switch typ {
	case "boolean", "string", "bytes":
		out["type"] = typ
	case "int8", "int16":
		out["type"], out["connect.type"] = "int", typ
	case "int32":
		out["type"] = "int"
	case "int64":
		out["type"] = "long"
	case "float", "float32":
		out["type"] = "float"
	case "double", "float64":
		out["type"] = "double"
	case "array":
		items, _ := cs["items"].(map[string]any)
		if items == nil {
			return nil, fmt.Errorf("%w: array without items", ErrNoAvroForm)
		}
		s, err := c.schema(items)
		if err != nil {
			return nil, err
		}
		out["type"], out["items"] = "array", s
	case "map":
		values, _ := cs["values"].(map[string]any)
		if values == nil {
			values = map[string]any{"type": "string"}
		}
		s, err := c.schema(values)
		if err != nil {
			return nil, err
		}
		out["type"], out["values"] = "map", s
	case "struct":
		if name == "" {
			c.unnamed++
			name = "ConnectDefault" + strconv.Itoa(c.unnamed)
		}
		if c.defined[name] {
			return name, nil // a named type is defined once, then referred to
		}
		c.defined[name] = true
		fields := []any{}
		list, _ := cs["fields"].([]any)
		for _, f := range list {
			fm, _ := f.(map[string]any)
			fs, err := c.schema(fm)
			if err != nil {
				return nil, err
			}
			af := map[string]any{"name": fm["field"], "type": fs}
			if opt, _ := fm["optional"].(bool); opt {
				af["default"] = nil
			}
			fields = append(fields, af)
		}
		out["type"], out["name"], out["fields"] = "record", name, fields
	default:
		return nil, fmt.Errorf("%w: Connect type %q", ErrNoAvroForm, typ)
	}
	switch name {
	case "org.apache.kafka.connect.data.Decimal":
		scale, err := strconv.Atoi(fmt.Sprint(params["scale"]))
		if err != nil || scale < 0 || scale > 64 {
			return nil, fmt.Errorf("%w: decimal scale %v", ErrNoAvroForm, params["scale"])
		}
		prec := 64
		if p, ok := params["connect.decimal.precision"]; ok {
			if prec, err = strconv.Atoi(fmt.Sprint(p)); err != nil || prec < scale {
				return nil, fmt.Errorf("%w: decimal precision %v", ErrNoAvroForm, p)
			}
		}
		out["logicalType"], out["scale"], out["precision"] = "decimal", scale, prec
	case "org.apache.kafka.connect.data.Date":
		out["logicalType"] = "date"
	case "org.apache.kafka.connect.data.Time":
		out["logicalType"] = "time-millis"
	case "org.apache.kafka.connect.data.Timestamp":
		out["logicalType"] = "timestamp-millis"
	}
	return out, nil
}

// Encode writes a JSON payload as an Avro datum of the schema: the
// inverse of JsonConverter's payload form (bytes in base64, "NaN" and
// the infinities as strings).
func Encode(schemaText string, payload []byte) ([]byte, error) {
	s, err := avro.ParseWithCache(schemaText, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoAvroForm, err)
	}
	return encodeJSON(s, payload)
}

func encodeJSON(s avro.Schema, payload []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrNoAvroForm, err)
	}
	return encode(nil, s, v)
}

func noForm(v any, s avro.Schema) error {
	return fmt.Errorf("%w: %#v as %s", ErrNoAvroForm, v, s.Type())
}

func long(dst []byte, n int64) []byte { return binary.AppendVarint(dst, n) }

func encode(dst []byte, s avro.Schema, v any) ([]byte, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		return encode(dst, s.Schema(), v)
	case *avro.UnionSchema:
		for i, t := range s.Types() {
			if (v == nil) == (t.Type() == avro.Null) {
				return encode(long(dst, int64(i)), t, v)
			}
		}
		return nil, noForm(v, s)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, noForm(v, s)
		}
		for k := range m {
			found := false
			for _, f := range s.Fields() {
				found = found || f.Name() == k
			}
			if !found {
				return nil, fmt.Errorf("%w: field %q is not in the schema", ErrNoAvroForm, k)
			}
		}
		var err error
		for _, f := range s.Fields() {
			if dst, err = encode(dst, f.Type(), m[f.Name()]); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *avro.ArraySchema:
		l, ok := v.([]any)
		if !ok {
			return nil, noForm(v, s)
		}
		if len(l) > 0 {
			dst = long(dst, int64(len(l)))
			var err error
			for _, e := range l {
				if dst, err = encode(dst, s.Items(), e); err != nil {
					return nil, err
				}
			}
		}
		return long(dst, 0), nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, noForm(v, s)
		}
		if len(m) > 0 {
			dst = long(dst, int64(len(m)))
			var err error
			for k, e := range m {
				dst = long(dst, int64(len(k)))
				dst = append(dst, k...)
				if dst, err = encode(dst, s.Values(), e); err != nil {
					return nil, err
				}
			}
		}
		return long(dst, 0), nil
	case *avro.NullSchema:
		if v == nil {
			return dst, nil
		}
	case *avro.PrimitiveSchema:
		return primitive(dst, s, v)
	}
	return nil, noForm(v, s)
}

func primitive(dst []byte, s *avro.PrimitiveSchema, v any) ([]byte, error) {
	switch s.Type() {
	case avro.Null:
		if v == nil {
			return dst, nil
		}
	case avro.Boolean:
		if b, ok := v.(bool); ok {
			if b {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}
	case avro.Int, avro.Long:
		if n, ok := v.(json.Number); ok {
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err == nil && (s.Type() == avro.Long || (i >= math.MinInt32 && i <= math.MaxInt32)) {
				return long(dst, i), nil
			}
		}
	case avro.Float, avro.Double:
		var f float64
		switch x := v.(type) {
		case json.Number:
			var err error
			if f, err = strconv.ParseFloat(string(x), 64); err != nil {
				return nil, noForm(v, s)
			}
		case string:
			switch x {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return nil, noForm(v, s)
			}
		default:
			return nil, noForm(v, s)
		}
		if s.Type() == avro.Float {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case avro.Bytes:
		if str, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return nil, noForm(v, s)
			}
			return append(long(dst, int64(len(b))), b...), nil
		}
	case avro.String:
		if str, ok := v.(string); ok {
			return append(long(dst, int64(len(str))), str...), nil
		}
	}
	return nil, noForm(v, s)
}

package debezium

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
)

// encoding says how a JSON literal encodes a column's value when the type
// alone leaves it open.
type encoding uint8

const (
	encAuto          encoding = iota // decided by the JSON literal's type
	encDecimalBytes                  // base64 big-endian two's-complement unscaled integer
	encGeometry                      // {wkb, srid} struct, kept as a JSON object
	encDecimalString                 // decimal text (Debezium's decimal.handling.mode=string)
)

// envelopeSchema is a parsed value schema: the row schema of an envelope's
// after/before fields, and the schema of the value read as a flattened row.
type envelopeSchema struct {
	raw    string     // the schema's JSON, as the events carry it
	row    *rowSchema // nil when the value schema has no before/after struct
	flat   *rowSchema
	digest string // id(), computed once
}

// id is a digest of the schema's bytes: equal schemas, equal ids.
func (es *envelopeSchema) id() string {
	if es.digest == "" {
		sum := sha256.Sum256([]byte(es.raw))
		es.digest = hex.EncodeToString(sum[:16])
	}
	return es.digest
}

// rowSchema is the typed column list of a row struct.
type rowSchema struct {
	cols      []change.Column
	encodings []encoding
	bound     map[boundKey]*boundRow
}

// boundKey identifies a row shape's binding: the table whose declared
// types apply, and the key shape.
type boundKey struct {
	table string
	ks    *keySchema
}

// boundRow is a row shape with a table's declared types applied: the
// change.Schema its events carry (with the declared types), and the
// schema's own types and encodings, which say how the literals encode the
// values (see decodeAs).
type boundRow struct {
	schema    *change.Schema
	src       []change.Type
	encodings []encoding
}

// bind returns the row shape for a table's declared types and a key shape.
// The result is cached so that events of one shape share one
// *change.Schema. Two tables whose events carry byte-identical schemas share
// the rowSchema, so a binding never changes the rowSchema itself.
func (rs *rowSchema) bind(tab TableOptions, ks *keySchema) *boundRow {
	bk := boundKey{table: tab.Name, ks: ks}
	if b, ok := rs.bound[bk]; ok {
		return b
	}
	cols := append([]change.Column(nil), rs.cols...)
	src := make([]change.Type, len(cols))
	for i, c := range cols {
		src[i] = c.Type
		if t, ok := tab.Columns[c.Name]; ok {
			cols[i].Type = t
		}
	}
	b := &boundRow{schema: change.NewSchema(cols, ks.schema.Key), src: src, encodings: rs.encodings}
	if rs.bound == nil {
		rs.bound = map[boundKey]*boundRow{}
	}
	rs.bound[bk] = b
	return b
}

// envelopeSchema returns the parsed value schema for raw schema bytes.
func (d *Decoder) envelopeSchema(raw []byte) (*envelopeSchema, error) {
	if es, ok := d.schemas[string(raw)]; ok {
		return es, nil
	}
	v, err := parseStrict(&d.sp, raw)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if t := string(v.GetStringBytes("type")); t != "struct" {
		return nil, fmt.Errorf("value schema type is %q, want struct", t)
	}
	es := &envelopeSchema{}
	var rowField *fastjson.Value
	for _, f := range v.GetArray("fields") {
		name := string(f.GetStringBytes("field"))
		if (name == "after" || (name == "before" && rowField == nil)) && string(f.GetStringBytes("type")) == "struct" {
			rowField = f
		}
	}
	if rowField != nil {
		if es.row, err = parseRowSchema(rowField, nil); err != nil {
			return nil, err
		}
		if binlogSource(v) {
			timesAsDurations(es.row)
		}
	}
	if es.flat, err = parseRowSchema(v, isMetaField); err != nil {
		return nil, err
	}
	if len(d.schemas) >= maxCachedSchemas {
		clear(d.schemas)
	}
	es.raw = string(raw)
	d.schemas[es.raw] = es
	return es, nil
}

// binlogSource reports whether an envelope schema's source block is a
// MySQL or MariaDB connector's.
func binlogSource(v *fastjson.Value) bool {
	for _, f := range v.GetArray("fields") {
		if string(f.GetStringBytes("field")) == "source" {
			name := string(f.GetStringBytes("name"))
			return strings.Contains(name, ".mysql.") || strings.Contains(name, ".mariadb.")
		}
	}
	return false
}

// timesAsDurations retypes time columns as intervals: MySQL's and
// MariaDB's TIME is a duration (-838:59:59 to 838:59:59), not a time of
// day, and Debezium sends it as such.
func timesAsDurations(rs *rowSchema) {
	for i, c := range rs.cols {
		if c.Type.Kind == change.KindTime {
			rs.cols[i].Type = change.Type{Kind: change.KindInterval, Unit: c.Type.Unit}
		}
	}
}

// parseRowSchema parses the fields of a struct schema. Fields for which
// skip reports true (the metadata fields of flattened rows) are left out.
func parseRowSchema(v *fastjson.Value, skip func(string) bool) (*rowSchema, error) {
	fields := v.GetArray("fields")
	rs := &rowSchema{cols: make([]change.Column, 0, len(fields)), encodings: make([]encoding, 0, len(fields))}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		name := string(f.GetStringBytes("field"))
		if name == "" {
			return nil, errors.New("schema field without a name")
		}
		if seen[name] {
			return nil, fmt.Errorf("field %q appears twice in the schema", name)
		}
		seen[name] = true
		if skip != nil && skip(name) {
			continue
		}
		t, enc, err := connectType(f)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		rs.cols = append(rs.cols, change.Column{Name: name, Type: t, Optional: f.GetBool("optional")})
		rs.encodings = append(rs.encodings, enc)
	}
	return rs, nil
}

// connectType maps a Kafka Connect field schema, with Debezium's semantic
// type names, to a column type.
func connectType(f *fastjson.Value) (change.Type, encoding, error) {
	typ := string(f.GetStringBytes("type"))
	name := string(f.GetStringBytes("name"))
	switch name {
	case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date", "io.debezium.time.IsoDate":
		return change.Date, encAuto, nil
	case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
		return change.TimeType(change.UnitMillis), encAuto, nil
	case "io.debezium.time.MicroTime", "io.debezium.time.IsoTime":
		return change.TimeType(change.UnitMicros), encAuto, nil
	case "io.debezium.time.NanoTime":
		return change.TimeType(change.UnitNanos), encAuto, nil
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		return change.TimestampType(change.UnitMillis), encAuto, nil
	case "io.debezium.time.MicroTimestamp", "io.debezium.time.IsoTimestamp":
		return change.TimestampType(change.UnitMicros), encAuto, nil
	case "io.debezium.time.NanoTimestamp":
		return change.TimestampType(change.UnitNanos), encAuto, nil
	case "io.debezium.time.ZonedTimestamp":
		return change.TimestampTZ, encAuto, nil
	case "io.debezium.time.ZonedTime":
		return change.TimeTZ, encAuto, nil
	case "io.debezium.time.Year":
		return change.Int32, encAuto, nil
	case "io.debezium.time.MicroDuration", "io.debezium.time.Interval":
		return change.Interval, encAuto, nil
	case "org.apache.kafka.connect.data.Decimal":
		params := f.Get("parameters")
		scale, err := intParam(params, "scale")
		if err != nil {
			return change.Type{}, 0, fmt.Errorf("decimal scale: %w", err)
		}
		if scale < -maxDecimalScale || scale > maxDecimalScale {
			return change.Type{}, 0, fmt.Errorf("decimal scale %d is out of range [%d, %d]", scale, -maxDecimalScale, maxDecimalScale)
		}
		prec := 0
		if params != nil && params.Exists("connect.decimal.precision") {
			if prec, err = intParam(params, "connect.decimal.precision"); err != nil {
				return change.Type{}, 0, fmt.Errorf("decimal precision: %w", err)
			}
			if prec < 0 || prec > maxDecimalScale {
				return change.Type{}, 0, fmt.Errorf("decimal precision %d is out of range [0, %d]", prec, maxDecimalScale)
			}
		}
		if prec > 0 && prec < scale {
			// MySQL DECIMAL(M,D) always has M >= D; a precision below the
			// scale is malformed, widen it rather than reject every value.
			prec = scale
		}
		return change.DecimalType(prec, scale), encDecimalBytes, nil
	case "io.debezium.data.VariableScaleDecimal":
		return change.DecimalType(0, 0), encAuto, nil
	case "io.debezium.data.Json":
		return change.JSON, encAuto, nil
	case "io.debezium.data.Uuid":
		return change.UUID, encAuto, nil
	case "io.debezium.data.Enum", "io.debezium.data.EnumSet", "io.debezium.data.Xml", "io.debezium.data.Ltree":
		return change.String, encAuto, nil
	case "io.debezium.data.Bits":
		return change.Bytes, encAuto, nil
	case "io.debezium.data.geometry.Geometry", "io.debezium.data.geometry.Geography", "io.debezium.data.geometry.Point":
		return change.Geometry, encGeometry, nil
	}
	switch typ {
	case "boolean":
		return change.Bool, encAuto, nil
	case "int8", "int16":
		return change.Int16, encAuto, nil
	case "int32":
		return change.Int32, encAuto, nil
	case "int64":
		return change.Int64, encAuto, nil
	case "float", "float32":
		return change.Float32, encAuto, nil
	case "double", "float64":
		return change.Float64, encAuto, nil
	case "string":
		return change.String, encAuto, nil
	case "bytes":
		return change.Bytes, encAuto, nil
	case "array":
		items := f.Get("items")
		if items == nil {
			return change.Type{}, 0, errors.New("array schema without items")
		}
		elem, enc, err := connectType(items)
		if err != nil {
			return change.Type{}, 0, fmt.Errorf("array items: %w", err)
		}
		if enc != encAuto || elem.Kind == change.KindList || elem.Kind == change.KindDecimal {
			// Lists of structs, nested lists and decimal arrays keep their
			// exact JSON form.
			return change.JSON, encAuto, nil
		}
		return change.ListType(elem), encAuto, nil
	case "map", "struct":
		return change.JSON, encAuto, nil
	case "":
		return change.Type{}, 0, errors.New("schema without a type")
	}
	return change.Type{}, 0, fmt.Errorf("unsupported Connect type %q", typ)
}

func intParam(params *fastjson.Value, name string) (int, error) {
	if params == nil {
		return 0, fmt.Errorf("parameter %q missing", name)
	}
	v := params.Get(name)
	if v == nil {
		return 0, fmt.Errorf("parameter %q missing", name)
	}
	if v.Type() == fastjson.TypeNumber {
		return v.Int()
	}
	s, err := v.StringBytes()
	if err != nil {
		return 0, fmt.Errorf("parameter %q: %w", name, err)
	}
	n, err := strconv.Atoi(string(s))
	if err != nil {
		return 0, fmt.Errorf("parameter %q: %w", name, err)
	}
	return n, nil
}

// declaredEncoding is how declared types read their values: decided by the
// JSON literal.
func declaredEncoding(change.Type) encoding { return encAuto }

// tableEncoding is how a table's declared types read their values: decimals
// in string mode read digits-only strings as text, not base64.
func tableEncoding(t change.Type, tab TableOptions) encoding {
	if t.Kind == change.KindDecimal && tab.DecimalStrings {
		return encDecimalString
	}
	return declaredEncoding(t)
}

// inferType types a JSON value that comes without a schema. Integers that
// do not fit int64 (MySQL BIGINT UNSIGNED, PostgreSQL NUMERIC) are exact
// integers of a fixed precision, which every warehouse holds as an exact
// numeric: DECIMAL(20,0) up to 20 digits (every unsigned 64-bit integer),
// DECIMAL(38,0) beyond, the widest exact numeric all warehouses have. A
// BIGINT column widens to them and keeps taking ordinary integers; an
// integer of more than 38 digits does not fit and is a dead letter. (A
// variable-scale decimal would be text in DuckDB, a column no integer could
// be written to again.)
func inferType(v *fastjson.Value) change.Type {
	switch v.Type() {
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return change.Bool
	case fastjson.TypeNumber:
		if _, err := v.Int64(); err == nil {
			return change.Int64
		}
		if lit := v.MarshalTo(nil); isIntegerLiteral(lit) {
			if digits := len(strings.TrimPrefix(string(lit), "-")); digits <= 20 {
				return change.DecimalType(20, 0)
			}
			return change.DecimalType(maxExactDigits, 0)
		}
		return change.Float64
	case fastjson.TypeObject, fastjson.TypeArray:
		return change.JSON
	}
	return change.String
}

// maxExactDigits is the precision of the widest exact numeric column every
// warehouse has (DuckDB and Redshift DECIMAL(38,s)).
const maxExactDigits = 38

func isIntegerLiteral(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i, c := range b {
		if c == '-' && i == 0 {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

package change

import (
	"fmt"
	"strings"
)

// Kind is the logical kind of a column, independent of any warehouse.
type Kind uint8

// The column kinds cdcsync maps Debezium's types onto.
const (
	KindUnknown Kind = iota
	KindBool
	KindInt16
	KindInt32
	KindInt64
	KindFloat32
	KindFloat64
	KindDecimal // Precision and Scale; Precision 0 means variable scale
	KindString
	KindBytes
	KindDate
	KindTime        // Unit: precision of the time of day
	KindTimeTZ      // time of day with offset, normalised to UTC
	KindTimestamp   // Unit: wall-clock timestamp without zone
	KindTimestampTZ // instant, normalised to UTC
	KindInterval
	KindJSON
	KindUUID
	KindGeometry // struct{wkb bytes, srid int32}, stored as a JSON object
	KindList     // Elem: element type
)

// Unit is the precision of a temporal kind.
type Unit uint8

// Temporal precisions.
const (
	UnitMicros Unit = iota // the default: what most warehouses store
	UnitMillis
	UnitNanos
)

// Type is a column type. The zero value is KindUnknown.
type Type struct {
	Kind      Kind
	Precision int  // KindDecimal: total digits; 0 when unknown (variable)
	Scale     int  // KindDecimal: digits after the point
	Unit      Unit // KindTime, KindTimestamp
	Elem      *Type
}

// Common types.
var (
	Bool        = Type{Kind: KindBool}
	Int16       = Type{Kind: KindInt16}
	Int32       = Type{Kind: KindInt32}
	Int64       = Type{Kind: KindInt64}
	Float32     = Type{Kind: KindFloat32}
	Float64     = Type{Kind: KindFloat64}
	String      = Type{Kind: KindString}
	Bytes       = Type{Kind: KindBytes}
	Date        = Type{Kind: KindDate}
	TimestampTZ = Type{Kind: KindTimestampTZ}
	TimeTZ      = Type{Kind: KindTimeTZ}
	Interval    = Type{Kind: KindInterval}
	JSON        = Type{Kind: KindJSON}
	UUID        = Type{Kind: KindUUID}
	Geometry    = Type{Kind: KindGeometry}
)

// DecimalType returns DECIMAL(precision, scale).
func DecimalType(precision, scale int) Type {
	return Type{Kind: KindDecimal, Precision: precision, Scale: scale}
}

// TimestampType returns a zoneless timestamp of the given precision.
func TimestampType(u Unit) Type { return Type{Kind: KindTimestamp, Unit: u} }

// TimeType returns a time of day of the given precision.
func TimeType(u Unit) Type { return Type{Kind: KindTime, Unit: u} }

// ListType returns a list of elem.
func ListType(elem Type) Type { return Type{Kind: KindList, Elem: &elem} }

// Equal reports whether two types are the same.
func (t Type) Equal(o Type) bool {
	if t.Kind != o.Kind || t.Precision != o.Precision || t.Scale != o.Scale || t.Unit != o.Unit {
		return false
	}
	if t.Elem == nil || o.Elem == nil {
		return t.Elem == o.Elem
	}
	return t.Elem.Equal(*o.Elem)
}

// String renders the type in cdcsync's own notation, the one the config
// file accepts (see ParseType).
func (t Type) String() string {
	switch t.Kind {
	case KindBool:
		return "boolean"
	case KindInt16:
		return "smallint"
	case KindInt32:
		return "int"
	case KindInt64:
		return "bigint"
	case KindFloat32:
		return "float"
	case KindFloat64:
		return "double"
	case KindDecimal:
		if t.Precision == 0 {
			return "decimal"
		}
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case KindString:
		return "string"
	case KindBytes:
		return "bytes"
	case KindDate:
		return "date"
	case KindTime:
		return "time" + unitSuffix(t.Unit)
	case KindTimeTZ:
		return "timetz"
	case KindTimestamp:
		return "timestamp" + unitSuffix(t.Unit)
	case KindTimestampTZ:
		return "timestamptz"
	case KindInterval:
		return "interval"
	case KindJSON:
		return "json"
	case KindUUID:
		return "uuid"
	case KindGeometry:
		return "geometry"
	case KindList:
		if t.Elem == nil {
			return "list"
		}
		return "list<" + t.Elem.String() + ">"
	}
	return "unknown"
}

func unitSuffix(u Unit) string {
	switch u {
	case UnitMillis:
		return "_ms"
	case UnitNanos:
		return "_ns"
	}
	return ""
}

// Column is one column of a source table.
type Column struct {
	Name     string
	Type     Type
	Optional bool
}

// Schema is the shape of a source table as one event carries it: its
// columns in source order and its key columns (from the record key). Events
// with identical schemas share one *Schema, so comparing pointers is a cheap
// first test of sameness.
type Schema struct {
	Columns []Column
	Key     []Column
	index   map[string]int
}

// NewSchema builds a schema and its name index.
func NewSchema(cols, key []Column) *Schema {
	s := &Schema{Columns: cols, Key: key, index: make(map[string]int, len(cols))}
	for i, c := range cols {
		s.index[c.Name] = i
	}
	return s
}

// Index returns the position of the named column, or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// KeyNames returns the key column names.
func (s *Schema) KeyNames() []string {
	names := make([]string, len(s.Key))
	for i, c := range s.Key {
		names[i] = c.Name
	}
	return names
}

// String describes the schema for logs and errors.
func (s *Schema) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range s.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
	}
	b.WriteString(") key(")
	b.WriteString(strings.Join(s.KeyNames(), ", "))
	b.WriteByte(')')
	return b.String()
}

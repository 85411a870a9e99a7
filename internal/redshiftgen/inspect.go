package redshiftgen

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// ErrNoRowEvent means that none of the records read was a row event (c, u
// or r) to learn the table from.
var ErrNoRowEvent = errors.New("no row event (op c, u or r) among the records read")

// ErrUnsupported means that the topic's events are not Debezium envelopes
// the generated SQL can read.
var ErrUnsupported = errors.New("not supported by the Redshift-native SQL")

// Inspect learns a table from records of its topic, oldest first (by
// partition, then offset): the decoder (with the table's declared column
// types) types the columns and the key; the events' JSON says how each
// value is encoded, which connector wrote them and whether values and keys
// carry schemas. The latest row event decides, by source position; older
// ones add the columns it lacks (events without schemas leave NULL columns
// out), and so do the columns the configuration declares.
func Inspect(topic string, records []debezium.Record, opts debezium.Options) (*Table, error) {
	tab := tableOptions(topic, opts)
	if tab.Flattened {
		return nil, fmt.Errorf("%w: table %s is configured as flattened (ExtractNewRecordState rows); use cdcsync run", ErrUnsupported, tab.Name)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: the topic has no records", ErrNoRowEvent)
	}
	rows, stats := decodeRows(records, opts)
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoRowEvent, stats)
	}
	latest := rows[0]
	env := latest.envelope
	if env.Get("op") == nil {
		return nil, fmt.Errorf("%w: the events are flattened rows (ExtractNewRecordState), not Debezium envelopes; use cdcsync run", ErrUnsupported)
	}
	t := &Table{
		Name:         tab.Name,
		Topic:        topic,
		Connector:    string(env.GetStringBytes("source", "connector")),
		ValueSchemas: latest.wrapped,
		KeySchemas:   isWrapped(latest.key),
	}
	t.Source = sourceOf(t.Connector, env.Get("source"))
	if t.Source == SourcePostgres {
		t.warn("an update that leaves a TOASTed value (large text, bytea, jsonb) unchanged carries Debezium's unavailable-value " +
			"placeholder instead of the value, and this SQL stores the placeholder (cdcsync run keeps the current value instead)")
	}
	if t.Source == SourceUnknown {
		t.warn("connector %q has no known source position: each key's changes are ordered by Kafka offset only, and truncates only by the offsets of their own partition", t.Connector)
	}
	t.Columns = columns(rows, tab)
	for _, k := range latest.ch.Schema.Key {
		t.Key = append(t.Key, k.Name)
	}
	for i := range t.Columns {
		t.describe(&t.Columns[i], rows)
	}
	return t, nil
}

func (t *Table) warn(format string, args ...any) {
	t.Warnings = append(t.Warnings, fmt.Sprintf(format, args...))
}

func tableOptions(topic string, opts debezium.Options) debezium.TableOptions {
	var tab debezium.TableOptions
	if opts.Table != nil {
		tab = opts.Table(topic)
	}
	if tab.Name == "" {
		tab.Name = debezium.TableName(topic)
	}
	return tab
}

// row is one decoded row event with its JSON.
type row struct {
	ch       *change.Change
	envelope *fastjson.Value // the payload: the Debezium envelope
	after    *fastjson.Object
	wrapped  bool            // the value is {"schema":…,"payload":…}
	schema   *fastjson.Value // the value's Connect schema; nil without
	key      []byte
	seq      int // position in the records read
}

// rowStats counts the records that were not row events.
type rowStats struct{ read, deletes, truncates, skipped, bad int }

func (s rowStats) String() string {
	return fmt.Sprintf("%d records read: %d deletes or tombstones, %d truncates, %d skipped, %d undecodable",
		s.read, s.deletes, s.truncates, s.skipped, s.bad)
}

// decodeRows decodes the records and returns the row events, latest first.
func decodeRows(records []debezium.Record, opts debezium.Options) ([]row, rowStats) {
	dec := debezium.NewDecoder(opts)
	stats := rowStats{read: len(records)}
	var rows []row
	for i, r := range records {
		res, err := dec.Decode(r)
		switch {
		case err != nil:
			stats.bad++
		case res.Skip != "":
			stats.skipped++
		case res.Change.Op == change.OpDelete:
			stats.deletes++
		case res.Change.Op == change.OpTruncate:
			stats.truncates++
		default:
			if rw, ok := parseRow(r, res, i); ok {
				rows = append(rows, rw)
			} else {
				stats.bad++
			}
		}
	}
	// Latest first: by source position where both are known, else by the
	// order read.
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.ch.Pos.Known() && b.ch.Pos.Known() && a.ch.Pos != b.ch.Pos {
			return a.ch.Pos > b.ch.Pos
		}
		return a.seq > b.seq
	})
	return rows, stats
}

func parseRow(r debezium.Record, res debezium.Result, seq int) (row, bool) {
	env, err := fastjson.ParseBytes(res.Payload)
	if err != nil {
		return row{}, false
	}
	rw := row{ch: res.Change, envelope: env, key: r.Key, seq: seq}
	if a := env.Get("after"); a != nil && a.Type() == fastjson.TypeObject {
		rw.after, _ = a.Object()
	} else if env.Get("op") == nil {
		rw.after, _ = env.Object() // a flattened row
	}
	if v, err := fastjson.ParseBytes(r.Value); err == nil && isWrappedValue(v) {
		rw.wrapped = true
		if s := v.Get("schema"); s != nil && s.Type() == fastjson.TypeObject {
			rw.schema = s
		}
	}
	return rw, rw.after != nil
}

// isWrapped reports whether a key or value is JsonConverter's
// {"schema":…,"payload":…} wrapper.
func isWrapped(b []byte) bool {
	v, err := fastjson.ParseBytes(b)
	return err == nil && isWrappedValue(v)
}

func isWrappedValue(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil || o.Len() != 2 {
		return false
	}
	return o.Get("schema") != nil && o.Get("payload") != nil
}

// sourceOf tells the connector family from source.connector, else from the
// fields the source block has.
func sourceOf(connector string, src *fastjson.Value) Source {
	switch strings.ToLower(connector) {
	case "mysql", "mariadb":
		return SourceBinlog
	case "postgresql":
		return SourcePostgres
	case "sqlserver":
		return SourceSQLServer
	}
	switch {
	case src == nil:
	case src.Exists("file") && src.Exists("pos"):
		return SourceBinlog
	case src.Exists("lsn"):
		return SourcePostgres
	case src.Exists("commit_lsn"):
		return SourceSQLServer
	}
	return SourceUnknown
}

// columns lists the table's columns: the latest after image's fields in
// their order (NULL ones included), then fields only older events have,
// then declared columns no event had; key columns are marked and typed as
// the key is.
func columns(rows []row, tab debezium.TableOptions) []Column {
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] && !strings.HasPrefix(name, "__") {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, r := range rows {
		r.after.Visit(func(k []byte, _ *fastjson.Value) { add(string(k)) })
	}
	key := rows[0].ch.Schema.Key
	for _, k := range key {
		add(k.Name)
	}
	declared := make([]string, 0, len(tab.Columns))
	for name := range tab.Columns {
		declared = append(declared, name)
	}
	sort.Strings(declared)
	for _, name := range declared {
		add(name)
	}

	cols := make([]Column, len(names))
	for i, name := range names {
		cols[i] = Column{Name: name, Type: typeOf(name, rows, tab)}
		for _, k := range key {
			if k.Name == name {
				cols[i].Key, cols[i].Type = true, k.Type
			}
		}
	}
	return cols
}

// typeOf is a column's type in the latest event that carries it, else its
// declared type; KindUnknown when neither says.
func typeOf(name string, rows []row, tab debezium.TableOptions) change.Type {
	for _, r := range rows {
		if i := r.ch.Schema.Index(name); i >= 0 {
			return r.ch.Schema.Columns[i].Type
		}
	}
	return tab.Columns[name]
}

// describe settles how a column's values are encoded, its VARCHAR length,
// and what the generated SQL cannot do with it.
func (t *Table) describe(c *Column, rows []row) {
	field := fieldSchema(c.Name, rows)
	lit := literalOf(c.Name, rows)
	switch {
	case field != nil:
		c.Encoding = connectEncoding(field)
		c.MaxBytes = sourceLength(field)
	case lit != nil:
		c.Encoding = literalEncoding(lit, c.Type)
	default:
		c.Encoding = defaultEncoding(c.Type, t.Source)
	}
	if c.Type.Kind == change.KindUnknown {
		c.Type = change.String
		t.warn("column %s was NULL in every event read and is not declared: typed VARCHAR; declare its type in tables.%s.columns", c.Name, t.Name)
	}
	if c.Type.Kind == change.KindDecimal && c.Encoding == EncDecimalBase64 {
		t.warn("column %s is a DECIMAL in Debezium's precise mode (base64 two's-complement bytes), which Redshift SQL cannot decode: "+
			"set decimal.handling.mode=string (or double) on the connector; the generated cast expects the string form and fails on base64 values", c.Name)
	}
	if c.Type.Kind == change.KindDecimal && c.Encoding == EncStruct {
		t.warn("column %s is a variable-scale decimal ({scale, value} with base64 bytes): kept as SUPER; set decimal.handling.mode=string on the connector", c.Name)
	}
	if c.Type.Kind == change.KindDecimal && !rs.ExactDecimal(c.Type) && c.Encoding != EncStruct {
		t.warn("column %s is a decimal without a precision Redshift's DECIMAL can hold: kept as VARCHAR text; declare decimal(p,s) in tables.%s.columns", c.Name, t.Name)
	}
}

// fieldSchema returns the Connect schema of an after field in the latest
// event that has one.
func fieldSchema(name string, rows []row) *fastjson.Value {
	for _, r := range rows {
		if r.schema == nil {
			continue
		}
		for _, f := range r.schema.GetArray("fields") {
			if string(f.GetStringBytes("field")) != "after" {
				continue
			}
			for _, col := range f.GetArray("fields") {
				if string(col.GetStringBytes("field")) == name {
					return col
				}
			}
		}
	}
	return nil
}

// literalOf returns the latest non-null value of a column.
func literalOf(name string, rows []row) *fastjson.Value {
	for _, r := range rows {
		if v := r.after.Get(name); v != nil && v.Type() != fastjson.TypeNull {
			return v
		}
	}
	return nil
}

// connectEncoding reads the encoding off a Connect field schema.
func connectEncoding(f *fastjson.Value) Encoding {
	switch string(f.GetStringBytes("type")) {
	case "int8", "int16", "int32", "int64", "float", "float32", "float64", "double":
		return EncNumber
	case "boolean":
		return EncBool
	case "string":
		return EncString
	case "bytes":
		if string(f.GetStringBytes("name")) == "org.apache.kafka.connect.data.Decimal" {
			return EncDecimalBase64
		}
		return EncString
	case "struct", "map", "array":
		return EncStruct
	}
	return EncUnknown
}

// literalEncoding reads the encoding off a JSON value. A decimal string
// that is not decimal text is precise mode's base64.
func literalEncoding(v *fastjson.Value, t change.Type) Encoding {
	switch v.Type() {
	case fastjson.TypeNumber:
		return EncNumber
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return EncBool
	case fastjson.TypeObject, fastjson.TypeArray:
		return EncStruct
	}
	if t.Kind == change.KindDecimal {
		s := string(v.GetStringBytes())
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			if _, err := base64.StdEncoding.DecodeString(s); err == nil {
				return EncDecimalBase64
			}
		}
	}
	return EncString
}

// defaultEncoding is the encoding of a column no event showed a value of:
// what Debezium writes for its type.
func defaultEncoding(t change.Type, src Source) Encoding {
	switch t.Kind {
	case change.KindBool:
		if src == SourceBinlog {
			return EncNumber // MySQL BOOLEAN is TINYINT(1): int16
		}
		return EncBool
	case change.KindInt16, change.KindInt32, change.KindInt64, change.KindFloat32, change.KindFloat64,
		change.KindDate, change.KindTime, change.KindTimestamp, change.KindInterval:
		return EncNumber
	case change.KindList, change.KindGeometry:
		return EncStruct
	}
	return EncString
}

// sourceLength reads a character column's length in bytes off the
// parameters Debezium adds with column.propagate.source.type (characters,
// at most 4 bytes each in UTF-8), or off an enum's allowed values.
func sourceLength(f *fastjson.Value) int {
	params := f.Get("parameters")
	if params == nil || string(f.GetStringBytes("type")) != "string" {
		return 0
	}
	if string(f.GetStringBytes("name")) == "io.debezium.data.Enum" {
		n := 0
		for _, v := range strings.Split(string(params.GetStringBytes("allowed")), ",") {
			n = max(n, len(v))
		}
		return n
	}
	switch strings.ToUpper(string(params.GetStringBytes("__debezium.source.column.type"))) {
	case "CHAR", "VARCHAR", "NCHAR", "NVARCHAR", "BPCHAR", "CHARACTER", "CHARACTER VARYING":
		n, err := strconv.Atoi(string(params.GetStringBytes("__debezium.source.column.length")))
		if err == nil && n > 0 {
			return min(4*n, rs.MaxVarcharBytes)
		}
	}
	return 0
}

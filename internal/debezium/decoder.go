package debezium

import (
	"errors"
	"fmt"
	"strings"

	"github.com/buger/jsonparser"
	"github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
)

// DefaultPlaceholder is Debezium's default unavailable.value.placeholder.
const DefaultPlaceholder = "__debezium_unavailable_value"

// Record is the part of a Kafka record the decoder reads.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Result is a decoded record. Exactly one of Change and Skip is set.
type Result struct {
	Change *change.Change
	// Skip says why a well-formed record carries no row change (schema
	// change, transaction metadata, heartbeat, logical message).
	Skip string
	// Payload is the event's JSON payload (the envelope, or the flattened
	// row) without the converter's schema; nil for tombstones.
	Payload []byte
}

// TableOptions are the per-table settings the decoder honours.
type TableOptions struct {
	// Name is the target table name.
	Name string
	// Columns declares column types for events without schemas. Declared
	// types also override types carried by schemas.
	Columns map[string]change.Type
	// Flattened accepts bare rows (ExtractNewRecordState without markers)
	// as upserts.
	Flattened bool
}

// Options configure a Decoder.
type Options struct {
	// Table returns the options of the table a topic maps to.
	Table func(topic string) TableOptions
	// Placeholder is the unavailable-value placeholder; DefaultPlaceholder
	// when empty.
	Placeholder string
}

// Decoder decodes records. It is not safe for concurrent use.
type Decoder struct {
	opts    Options
	vp      fastjson.Parser // value payload
	kp      fastjson.Parser // key payload
	sp      fastjson.Parser // schemas, on cache misses
	schemas map[string]*envelopeSchema
	keys    map[string]*keySchema
	infer   map[string]*change.Schema
	tables  map[string]TableOptions
	ph      placeholders
	seq     uint64
	scratch []byte
}

const maxCachedSchemas = 4096

// NewDecoder returns a decoder.
func NewDecoder(opts Options) *Decoder {
	if opts.Placeholder == "" {
		opts.Placeholder = DefaultPlaceholder
	}
	if opts.Table == nil {
		opts.Table = func(topic string) TableOptions { return TableOptions{Name: TableName(topic)} }
	}
	return &Decoder{
		opts:    opts,
		schemas: map[string]*envelopeSchema{},
		keys:    map[string]*keySchema{},
		infer:   map[string]*change.Schema{},
		tables:  map[string]TableOptions{},
		ph:      newPlaceholders(opts.Placeholder),
	}
}

// TableName maps a topic `<prefix>.<database>.<table>` to `<table>`: the
// last dot-separated segment.
func TableName(topic string) string {
	if i := strings.LastIndexByte(topic, '.'); i >= 0 && i < len(topic)-1 {
		return topic[i+1:]
	}
	return topic
}

func (d *Decoder) table(topic string) TableOptions {
	t, ok := d.tables[topic]
	if !ok {
		t = d.opts.Table(topic)
		if t.Name == "" {
			t.Name = TableName(topic)
		}
		d.tables[topic] = t
	}
	return t
}

// Decode decodes one record. An error means the record is bad input: its
// text is the dead-letter reason.
func (d *Decoder) Decode(r Record) (res Result, err error) {
	defer func() {
		// Decoding must never take the pipeline down. Every known input is
		// handled above; this turns an unforeseen one into a dead letter.
		if p := recover(); p != nil {
			res, err = Result{}, fmt.Errorf("decoder failure on this record: %v", p)
		}
	}()
	d.seq++
	tab := d.table(r.Topic)
	base := change.Change{
		Topic:     r.Topic,
		Table:     tab.Name,
		Partition: r.Partition,
		Offset:    r.Offset,
		Seq:       d.seq,
	}
	if isNullJSON(r.Value) {
		return d.tombstone(base, tab, r.Key)
	}
	schemaRaw, payloadRaw, wrapped, err := splitConverter(r.Value)
	if err != nil {
		return Result{}, fmt.Errorf("value is not JSON: %w", err)
	}
	if wrapped && isNullJSON(payloadRaw) {
		// The legacy tombstone {"schema":null,"payload":null}, or a
		// flattened delete in tombstone mode rendered with its schema.
		return d.tombstone(base, tab, r.Key)
	}
	v, err := d.vp.ParseBytes(payloadRaw)
	if err != nil {
		return Result{}, fmt.Errorf("value is not JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return Result{}, fmt.Errorf("value is a JSON %s, not a Debezium event object", v.Type())
	}
	res.Payload = payloadRaw

	var es *envelopeSchema
	if wrapped && len(schemaRaw) > 0 && !isNullJSON(schemaRaw) && !isEmptyObject(schemaRaw) {
		if es, err = d.envelopeSchema(schemaRaw); err != nil {
			return Result{}, fmt.Errorf("value schema: %w", err)
		}
	}

	if opv := v.Get("op"); opv != nil && opv.Type() == fastjson.TypeString && (v.Exists("source") || v.Exists("after") || v.Exists("before")) {
		ch, skip, err := d.envelope(base, tab, v, es, r.Key)
		if err != nil {
			return Result{}, err
		}
		res.Change, res.Skip = ch, skip
		return res, nil
	}
	if skip := classifyNonChange(v); skip != "" {
		res.Skip = skip
		return res, nil
	}
	if isFlattened(v) || tab.Flattened {
		ch, err := d.flattened(base, tab, v, es, r.Key)
		if err != nil {
			return Result{}, err
		}
		res.Change = ch
		return res, nil
	}
	return Result{}, errors.New("no Debezium envelope: the value has no op/before/after/source fields and no ExtractNewRecordState __op/__deleted field")
}

// tombstone decodes a null-valued record: a delete of its key.
func (d *Decoder) tombstone(base change.Change, tab TableOptions, key []byte) (Result, error) {
	if isNullJSON(key) {
		// Nothing to delete and nothing to land: a null key and a null
		// value carry no information at all.
		return Result{Skip: "null key and null value"}, nil
	}
	k, err := d.decodeKey(key, tab)
	if err != nil {
		return Result{}, err
	}
	base.Op = change.OpDelete
	base.Schema = k.schema.deleteSchema()
	base.Key, base.KeyID = k.values, k.id
	return Result{Change: &base}, nil
}

// classifyNonChange recognises payloads that are valid Debezium output but
// not row changes.
func classifyNonChange(v *fastjson.Value) string {
	o, _ := v.Object()
	if o == nil {
		return ""
	}
	if st := v.GetStringBytes("status"); (string(st) == "BEGIN" || string(st) == "END") && v.Exists("id") {
		return "transaction metadata " + string(st)
	}
	if v.Exists("ddl") || v.Exists("tableChanges") {
		return "schema change event"
	}
	if o.Len() == 1 && v.Exists("ts_ms") {
		return "heartbeat"
	}
	return ""
}

func isFlattened(v *fastjson.Value) bool {
	return v.Exists("__op") || v.Exists("__deleted")
}

// envelope decodes a Debezium envelope payload.
func (d *Decoder) envelope(base change.Change, tab TableOptions, v *fastjson.Value, es *envelopeSchema, rawKey []byte) (*change.Change, string, error) {
	op, _ := v.Get("op").StringBytes()
	if len(op) != 1 {
		return nil, "", fmt.Errorf("unknown op %q", op)
	}
	ch := &base
	ch.SourceOp = op[0]
	src := v.Get("source")
	ch.Pos = sourcePosition(src)
	ch.SourceTs = intField(src, "ts_ms")

	switch op[0] {
	case 'm':
		return nil, "logical decoding message", nil
	case 't':
		ch.Op = change.OpTruncate
		return ch, "", nil
	case 'c', 'u', 'r':
		ch.Op = change.OpUpsert
	case 'd':
		ch.Op = change.OpDelete
	default:
		return nil, "", fmt.Errorf("unknown op %q", op)
	}
	if isNullJSON(rawKey) {
		return nil, "", fmt.Errorf("op %q without a record key: cdcsync needs the primary key to apply it", op)
	}
	k, err := d.decodeKey(rawKey, tab)
	if err != nil {
		return nil, "", err
	}
	ch.Key, ch.KeyID = k.values, k.id
	if ch.Op == change.OpDelete {
		// A delete only needs the key; the before image may be partial
		// (PostgreSQL REPLICA IDENTITY DEFAULT) or absent.
		ch.Schema = k.schema.deleteSchema()
		return ch, "", nil
	}
	after := v.Get("after")
	if after == nil || after.Type() != fastjson.TypeObject {
		return nil, "", fmt.Errorf("op %q without an after image", op)
	}
	var rowSchema *rowSchema
	if es != nil {
		rowSchema = es.row
	}
	if err := d.fillRow(ch, tab, after, rowSchema, k.schema, nil); err != nil {
		return nil, "", err
	}
	return ch, "", nil
}

// flattened decodes ExtractNewRecordState output: the row itself, with
// optional __-prefixed metadata fields.
func (d *Decoder) flattened(base change.Change, tab TableOptions, v *fastjson.Value, es *envelopeSchema, rawKey []byte) (*change.Change, error) {
	ch := &base
	ch.Op = change.OpUpsert
	ch.SourceOp = 'u'
	if op := v.GetStringBytes("__op"); len(op) == 1 {
		ch.SourceOp = op[0]
		switch op[0] {
		case 'c', 'u', 'r':
		case 'd':
			ch.Op = change.OpDelete
		default:
			return nil, fmt.Errorf("unknown __op %q", op)
		}
	} else if op != nil {
		return nil, fmt.Errorf("unknown __op %q", op)
	}
	if del := v.Get("__deleted"); del != nil {
		s, _ := del.StringBytes()
		switch {
		case string(s) == "true" || del.Type() == fastjson.TypeTrue:
			ch.Op, ch.SourceOp = change.OpDelete, 'd'
		case string(s) == "false" || del.Type() == fastjson.TypeFalse:
		default:
			return nil, fmt.Errorf("__deleted is %s, want \"true\" or \"false\"", del)
		}
	}
	ch.Pos = flattenedPosition(v)
	ch.SourceTs = intField(v, "__source_ts_ms")
	if isNullJSON(rawKey) {
		return nil, fmt.Errorf("flattened row without a record key: cdcsync needs the primary key to apply it")
	}
	k, err := d.decodeKey(rawKey, tab)
	if err != nil {
		return nil, err
	}
	ch.Key, ch.KeyID = k.values, k.id
	if ch.Op == change.OpDelete {
		ch.Schema = k.schema.deleteSchema()
		return ch, nil
	}
	var rs *rowSchema
	if es != nil {
		rs = es.flat
	}
	if err := d.fillRow(ch, tab, v, rs, k.schema, isMetaField); err != nil {
		return nil, err
	}
	return ch, nil
}

// isMetaField reports whether a flattened field is Debezium metadata rather
// than a source column (add.fields renders them with a __ prefix).
func isMetaField(name string) bool { return strings.HasPrefix(name, "__") }

// fillRow converts an after image into ch.Row and sets ch.Schema.
func (d *Decoder) fillRow(ch *change.Change, tab TableOptions, after *fastjson.Value, rs *rowSchema, ks *keySchema, skip func(string) bool) error {
	obj, _ := after.Object()
	if rs == nil {
		return d.inferRow(ch, tab, obj, ks, skip)
	}
	schema := rs.schemaFor(tab, ks)
	row := make([]any, len(schema.Columns))
	var firstErr error
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if firstErr != nil {
			return
		}
		i := schema.Index(string(key))
		if i < 0 {
			if skip != nil && skip(string(key)) {
				return
			}
			firstErr = fmt.Errorf("field %q is not in the event's schema", key)
			return
		}
		col := &schema.Columns[i]
		if d.ph.is(fv) {
			if ch.Unchanged == nil {
				ch.Unchanged = make([]bool, len(schema.Columns))
			}
			ch.Unchanged[i] = true
			return
		}
		val, err := convert(fv, col.Type, rs.encodings[i])
		if err != nil {
			firstErr = fmt.Errorf("column %q: %w", col.Name, err)
			return
		}
		row[i] = val
	})
	if firstErr != nil {
		return firstErr
	}
	ch.Schema, ch.Row = schema, row
	return nil
}

// inferRow types an after image without a schema: declared types first,
// then the JSON values. Null values leave their column out of the event's
// schema, since a null says nothing of a type.
func (d *Decoder) inferRow(ch *change.Change, tab TableOptions, obj *fastjson.Object, ks *keySchema, skip func(string) bool) error {
	type field struct {
		name string
		typ  change.Type
		enc  encoding
		v    *fastjson.Value
	}
	fields := make([]field, 0, obj.Len())
	sig := d.scratch[:0]
	sig = append(sig, tab.Name...)
	sig = append(sig, 0)
	var firstErr error
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		name := string(key)
		if firstErr != nil || (skip != nil && skip(name)) {
			return
		}
		if fv.Type() == fastjson.TypeNull {
			return
		}
		var f field
		f.name, f.v = name, fv
		if t, ok := tab.Columns[name]; ok {
			f.typ, f.enc = t, declaredEncoding(t)
		} else if kc := ks.column(name); kc != nil && ks.typed {
			f.typ = kc.Type
		} else {
			f.typ = inferType(fv)
		}
		fields = append(fields, f)
		sig = append(sig, name...)
		sig = append(sig, 0, byte(f.typ.Kind), byte(f.typ.Unit), byte(f.typ.Precision), byte(f.typ.Scale), 0)
	})
	if firstErr != nil {
		return firstErr
	}
	sig = append(sig, 1)
	for _, k := range ks.schema.Key {
		sig = append(sig, k.Name...)
		sig = append(sig, 0, byte(k.Type.Kind))
	}
	d.scratch = sig
	schema, ok := d.infer[string(sig)]
	if !ok {
		cols := make([]change.Column, len(fields))
		for i, f := range fields {
			cols[i] = change.Column{Name: f.name, Type: f.typ, Optional: ks.column(f.name) == nil}
		}
		schema = change.NewSchema(cols, ks.schema.Key)
		if len(d.infer) > maxCachedSchemas {
			clear(d.infer)
		}
		d.infer[string(sig)] = schema
	}
	row := make([]any, len(fields))
	for i, f := range fields {
		if d.ph.is(f.v) {
			if ch.Unchanged == nil {
				ch.Unchanged = make([]bool, len(fields))
			}
			ch.Unchanged[i] = true
			continue
		}
		val, err := convert(f.v, f.typ, f.enc)
		if err != nil {
			return fmt.Errorf("column %q: %w", f.name, err)
		}
		row[i] = val
	}
	ch.Schema, ch.Row = schema, row
	return nil
}

// splitConverter separates JsonConverter's {"schema":…,"payload":…} wrapper.
// When the value is not wrapped, the whole value is the payload.
func splitConverter(b []byte) (schema, payload []byte, wrapped bool, err error) {
	b = trimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		// Not an object: let the payload parser produce the error.
		return nil, b, false, nil
	}
	n, hasSchema, hasPayload := 0, false, false
	err = jsonparser.ObjectEach(b, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
		n++
		switch string(key) {
		case "schema":
			hasSchema = true
			schema = rawValue(value, dt)
		case "payload":
			hasPayload = true
			payload = rawValue(value, dt)
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	if n == 2 && hasSchema && hasPayload {
		return schema, payload, true, nil
	}
	return nil, b, false, nil
}

// rawValue restores the quotes jsonparser strips from strings.
func rawValue(v []byte, dt jsonparser.ValueType) []byte {
	switch dt {
	case jsonparser.String:
		out := make([]byte, 0, len(v)+2)
		out = append(out, '"')
		out = append(out, v...)
		return append(out, '"')
	case jsonparser.Null:
		return []byte("null")
	}
	return v
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func isNullJSON(b []byte) bool {
	b = trimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func isEmptyObject(b []byte) bool {
	b = trimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	return len(trimSpace(b[1:len(b)-1])) == 0
}

func intField(v *fastjson.Value, name string) int64 {
	if v == nil {
		return 0
	}
	f := v.Get(name)
	if f == nil {
		return 0
	}
	n, err := f.Int64()
	if err != nil {
		return 0
	}
	return n
}

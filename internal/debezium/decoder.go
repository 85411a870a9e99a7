package debezium

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	lenient "github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
	"github.com/cdcsync/cdcsync/internal/mask"
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
	// OldKey is the __debezium.oldkey header Debezium puts on the create
	// that ends a primary-key change, or nil.
	OldKey []byte
	// NewKey is the __debezium.newkey header Debezium puts on the delete
	// (and tombstone) that starts a primary-key change, or nil.
	NewKey []byte
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
	// Schema and SchemaID are set when the value is exactly
	// {"schema":Schema,"payload":Payload}, as JsonConverter writes it: the
	// value can be rebuilt from the two, so a landing table can keep the
	// schema once (by SchemaID, a digest of it) instead of in every row.
	Schema   []byte
	SchemaID string
	// TxID is the id of the source transaction the event belongs to
	// (Debezium's transaction block, provide.transaction.metadata=true);
	// empty outside transactions and without the metadata.
	TxID string
	// TxMark is set for a BEGIN or END record of the transaction topic
	// (then Skip is set too).
	TxMark *TxMark
	// Masked says the table has column rules (package mask): Change is
	// masked and Payload is what the landing table keeps instead of the
	// record's own key, value and key headers, which must not be kept.
	Masked bool
	// Before is, for a table with column rules, the event's before image
	// decoded (events with schemas only), for the landing table's masked
	// payload; nil otherwise.
	Before *change.Change
}

// TxMark is a record of Debezium's transaction topic.
type TxMark struct {
	// End is true for END, false for BEGIN.
	End bool
	ID  string
	// Collections are the END record's events per data collection
	// (`<db>.<table>` or `<schema>.<table>`); empty for BEGIN.
	Collections []TxCollection
}

// TxCollection is one data collection's event count in a transaction.
type TxCollection struct {
	Name   string
	Events int64
}

// TableOptions are the per-table settings the decoder honours.
type TableOptions struct {
	// Name is the target table name.
	Name string
	// Columns declares column types for events without schemas. Declared
	// types also override types carried by schemas.
	Columns map[string]change.Type
	// Flattened accepts bare rows (ExtractNewRecordState without markers)
	// as upserts. A flattened table's records are always rows, never taken
	// for transaction metadata, schema changes or heartbeats.
	Flattened bool
	// DecimalStrings says the connector writes decimals as text
	// (decimal.handling.mode=string): digits-only strings of declared
	// decimal columns are numbers, not base64 bytes.
	DecimalStrings bool
}

// Options configure a Decoder.
type Options struct {
	// Table returns the options of the table a topic maps to.
	Table func(topic string) TableOptions
	// Placeholder is the unavailable-value placeholder; DefaultPlaceholder
	// when empty.
	Placeholder string
	// Wire reads records in the Confluent wire format (Avro); nil when no
	// schema registry is configured.
	Wire Wire
	// Mask holds the tables' column rules; nil when no table has any.
	Mask *mask.Set
}

// Decoder decodes records. It is not safe for concurrent use.
type Decoder struct {
	opts    Options
	vp      fastjson.Parser // value payload
	kp      fastjson.Parser // key payload
	sp      fastjson.Parser // schemas, on cache misses
	qp      lenient.Parser  // PostgreSQL source.sequence (not checked: as it always was read)
	schemas map[string]*envelopeSchema
	keys    map[string]*keySchema
	infer   map[string]*change.Schema
	topics  map[string]*topicState
	ph      placeholders
	seq     uint64
	scratch []byte
	seen    []bool // fillRow's fields seen, reused

	// lastTopic and last are the topic of the previous record and its state.
	lastTopic string
	last      *topicState
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
		topics:  map[string]*topicState{},
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

// topicState is what the decoder keeps per topic: the table options, and
// the value schema of the topic's last schema-carrying event.
type topicState struct {
	tab     TableOptions
	mask    *mask.Table // the table's column rules; nil without
	last    *envelopeSchema
	lastKey *keySchema
}

func (d *Decoder) topic(topic string) *topicState {
	if d.last != nil && d.lastTopic == topic {
		return d.last // records come in runs of one partition
	}
	ts, ok := d.topics[topic]
	if !ok {
		t := d.opts.Table(topic)
		if t.Name == "" {
			t.Name = TableName(topic)
		}
		ts = &topicState{tab: t, mask: d.opts.Mask.For(t.Name)}
		d.topics[topic] = ts
	}
	d.lastTopic, d.last = topic, ts
	return ts
}

// Decode decodes one record. An error means the record is bad input: its
// text is the dead-letter reason.
func (d *Decoder) Decode(r Record) (res Result, err error) {
	defer func() {
		// Decoding must never take the pipeline down. Every known input is
		// handled by decode; this turns an unforeseen one into a dead
		// letter. The fuzz test calls decode directly, so that a panic is a
		// test failure rather than a dead letter.
		if p := recover(); p != nil {
			res, err = Result{}, fmt.Errorf("decoder failure on this record: %v", p)
		}
	}()
	if hasWire(r) {
		res, err = d.decodeWire(r) // Avro: wire.go
	} else {
		res, err = d.decode(r)
	}
	if m := d.topic(r.Topic).mask; m != nil {
		return masked(m, res, err)
	}
	return res, err
}

// masked applies a table's column rules to a decoded record: one place
// for JSON and Avro, before anything reaches the warehouse. A decoding
// error's text is cut short so that it cannot carry a value.
func masked(m *mask.Table, res Result, err error) (Result, error) {
	if err != nil {
		return Result{}, mask.Withhold(err)
	}
	if res.Change == nil {
		return res, nil
	}
	if err := m.Apply(res.Change); err != nil {
		return Result{}, err
	}
	if res.Before != nil && m.Apply(res.Before) != nil {
		res.Before = nil
	}
	res.Payload = m.Landing(res.Payload, res.Change, res.Before)
	res.Schema, res.SchemaID, res.Masked, res.Before = nil, "", true, nil
	return res, nil
}

// decode is Decode without the panic safety net.
func (d *Decoder) decode(r Record) (res Result, err error) {
	d.seq++
	ts := d.topic(r.Topic)
	tab := ts.tab
	base := change.Change{
		Topic:     r.Topic,
		Table:     tab.Name,
		Partition: r.Partition,
		Offset:    r.Offset,
		Seq:       d.seq,
	}
	if isNullJSON(r.Value) {
		return d.tombstone(base, ts, r.Key)
	}
	key := r.Key
	// Events of a topic nearly always carry the schema of the topic's last
	// event: the splitter compares it instead of scanning it.
	var hint string
	if ts.last != nil {
		hint = ts.last.raw
	}
	schemaRaw, payloadRaw, wrapped, hinted, err := splitConverterHint(r.Value, hint)
	// The value's text must have an exact Unicode value (checkText). The
	// payload parser checks the payload's strings as it parses them, and a
	// recognised schema (the topic's last, or any in the cache) was checked
	// when it was first seen; the whole value is checked here only when
	// there is more to it, and checkText's reason comes before any other.
	recognised := hinted
	if wrapped && !hinted {
		_, recognised = d.schemas[string(schemaRaw)]
	}
	textChecked := err != nil || (wrapped && !recognised)
	if textChecked {
		if err := checkText(r.Value, "value"); err != nil {
			return Result{}, err
		}
	}
	if err != nil {
		return Result{}, fmt.Errorf("value is not JSON: %w", err)
	}
	if wrapped && isNullJSON(payloadRaw) {
		// The legacy tombstone {"schema":null,"payload":null}, or a
		// flattened delete in tombstone mode rendered with its schema.
		if err := fastjson.ValidateBytes(schemaRaw); err != nil {
			return Result{}, fmt.Errorf("value schema is not JSON: %w", err)
		}
		return d.tombstone(base, ts, key)
	}
	v, err := parseStrict(&d.vp, payloadRaw)
	if err != nil {
		if !textChecked {
			if err := checkText(r.Value, "value"); err != nil {
				return Result{}, err
			}
		}
		return Result{}, fmt.Errorf("value is not JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return Result{}, fmt.Errorf("value is a JSON %s, not a Debezium event object", v.Type())
	}
	res.Payload = payloadRaw

	var es *envelopeSchema
	switch {
	case hinted:
		es = ts.last
	case wrapped && len(schemaRaw) > 0 && !isNullJSON(schemaRaw) && !isEmptyObject(schemaRaw):
		if es, err = d.envelopeSchema(schemaRaw); err != nil {
			return Result{}, fmt.Errorf("value schema: %w", err)
		}
		ts.last = es
	}
	if es != nil && rebuilds(r.Value, schemaRaw, payloadRaw) {
		res.Schema, res.SchemaID = schemaRaw, es.id()
	}

	if opv := v.Get("op"); opv != nil && opv.Type() == fastjson.TypeString && (v.Exists("source") || v.Exists("after") || v.Exists("before")) {
		ch, skip, err := d.envelope(base, ts, v, es, key)
		if err != nil {
			return Result{}, err
		}
		switch {
		case ch == nil:
		case ch.Op == change.OpUpsert && r.OldKey != nil:
			// A primary-key change: the unchanged (TOASTed) values are the
			// old key's row's.
			if k, err := d.decodeKey(r.OldKey, ts); err == nil && k.id != ch.KeyID {
				ch.OldKey, ch.OldKeyID = k.values, k.id
			}
		case ch.Op == change.OpDelete && ch.SourceOp == 'd' && r.NewKey != nil:
			// The old key's side of a primary-key change: its values move.
			if k, err := d.decodeKey(r.NewKey, ts); err == nil && k.id != ch.KeyID {
				ch.NewKey, ch.NewKeyID = k.values, k.id
			}
		}
		res.Change, res.Skip = ch, skip
		if ts.mask != nil && ch != nil && es != nil {
			res.Before = d.before(ts, v, es, key)
		}
		if t := v.Get("transaction"); t != nil && t.Type() == fastjson.TypeObject {
			res.TxID = txID(t.Get("id"))
		}
		return res, nil
	}
	if isFlattened(v) || tab.Flattened {
		// A flattened row is a row whatever its columns are called (a
		// status column may well hold "BEGIN"), so it is never classified.
		ch, err := d.flattened(base, ts, v, es, key)
		if err != nil {
			return Result{}, err
		}
		res.Change = ch
		return res, nil
	}
	if skip := classifyNonChange(v); skip != "" {
		res.Skip = skip
		res.TxMark = txMark(v)
		return res, nil
	}
	return Result{}, errors.New("no Debezium envelope: the value has no op/before/after/source fields and no ExtractNewRecordState __op/__deleted field")
}

// before decodes an envelope's before image, when it has one and it
// decodes, so that the landing table of a table with column rules can keep
// it masked; nil otherwise (a partial image that does not decode is not
// kept).
func (d *Decoder) before(ts *topicState, v *fastjson.Value, es *envelopeSchema, key []byte) *change.Change {
	b := v.Get("before")
	if b == nil || b.Type() != fastjson.TypeObject {
		return nil
	}
	k, err := d.decodeKey(key, ts)
	if err != nil {
		return nil
	}
	bc := &change.Change{Op: change.OpUpsert}
	if err := d.fillRow(bc, ts.tab, b, es.row, k.schema, nil); err != nil {
		return nil
	}
	return bc
}

// tombstone decodes a null-valued record: a delete of its key.
func (d *Decoder) tombstone(base change.Change, ts *topicState, key []byte) (Result, error) {
	k, err := d.decodeKey(key, ts)
	if errors.Is(err, errNullKey) {
		// Nothing to delete and nothing to land: a null key and a null
		// value carry no information at all.
		return Result{Skip: "null key and null value"}, nil
	}
	if err != nil {
		return Result{}, err
	}
	base.Op = change.OpDelete
	base.Schema = k.schema.deleteSchema()
	base.Key, base.KeyID = k.values, k.id
	return Result{Change: &base}, nil
}

// classifyNonChange recognises payloads that are valid Debezium output but
// not row changes. Each test asks for the whole shape Debezium writes, so
// that a row never passes for metadata.
func classifyNonChange(v *fastjson.Value) string {
	o, _ := v.Object()
	if o == nil {
		return ""
	}
	if isTransactionMetadata(v, o) {
		return "transaction metadata " + string(v.GetStringBytes("status"))
	}
	if src := v.Get("source"); src != nil && src.Type() == fastjson.TypeObject &&
		v.Exists("databaseName") && (v.Exists("ddl") || v.Exists("tableChanges")) {
		return "schema change event"
	}
	if o.Len() == 1 && v.Exists("ts_ms") {
		return "heartbeat"
	}
	return ""
}

// isTransactionMetadata recognises BEGIN and END records of the transaction
// topic: status, id, event_count and data_collections, and ts_ms in newer
// versions, nothing else.
func isTransactionMetadata(v *fastjson.Value, o *fastjson.Object) bool {
	st := string(v.GetStringBytes("status"))
	if st != "BEGIN" && st != "END" {
		return false
	}
	if !v.Exists("id") || !v.Exists("event_count") || !v.Exists("data_collections") {
		return false
	}
	other := false
	o.Visit(func(k []byte, _ *fastjson.Value) {
		switch string(k) {
		case "status", "id", "ts_ms", "event_count", "data_collections":
		default:
			other = true
		}
	})
	return !other
}

// txMark reads a transaction topic record; nil for any other record.
func txMark(v *fastjson.Value) *TxMark {
	o, _ := v.Object()
	if o == nil || !isTransactionMetadata(v, o) {
		return nil
	}
	m := &TxMark{End: string(v.GetStringBytes("status")) == "END", ID: txID(v.Get("id"))}
	for _, c := range v.GetArray("data_collections") {
		m.Collections = append(m.Collections, TxCollection{
			Name: string(c.GetStringBytes("data_collection")), Events: countField(c.Get("event_count"))})
	}
	return m
}

// countField reads an event count, a number or (in old versions) a
// number's text; -1 when it is neither.
func countField(v *fastjson.Value) int64 {
	if v == nil {
		return -1
	}
	if n, err := v.Int64(); err == nil {
		return n
	}
	if b, err := v.StringBytes(); err == nil {
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n
		}
	}
	return -1
}

// txID renders a transaction id: a string, or a number's text.
// PostgreSQL's ids are `<xid>:<lsn>`, and Debezium (3.3) puts a different
// LSN on each event of one transaction and on its BEGIN and END: such
// ids, two decimal numbers around one colon, are matched by xid alone.
// (MySQL's GTIDs and binlog positions and SQL Server's LSNs never have
// that shape.)
func txID(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	b, err := v.StringBytes()
	if err != nil {
		return string(v.MarshalTo(nil))
	}
	if i := bytes.IndexByte(b, ':'); i > 0 && i < len(b)-1 && allDigits(b[:i]) && allDigits(b[i+1:]) {
		return string(b[:i])
	}
	return string(b)
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func isFlattened(v *fastjson.Value) bool {
	return v.Exists("__op") || v.Exists("__deleted")
}

// envelope decodes a Debezium envelope payload.
func (d *Decoder) envelope(base change.Change, ts *topicState, v *fastjson.Value, es *envelopeSchema, rawKey []byte) (*change.Change, string, error) {
	tab := ts.tab
	op, _ := v.Get("op").StringBytes()
	if len(op) != 1 {
		return nil, "", fmt.Errorf("unknown op %q", op)
	}
	ch := &base
	ch.SourceOp = op[0]
	src := v.Get("source")
	ch.Pos = d.sourcePosition(src)
	ch.SourceTs = sourceTs(src)

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
	k, err := d.decodeKey(rawKey, ts)
	if errors.Is(err, errNullKey) {
		return nil, "", fmt.Errorf("op %q without a record key: cdcsync needs the primary key to apply it", op)
	}
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
func (d *Decoder) flattened(base change.Change, ts *topicState, v *fastjson.Value, es *envelopeSchema, rawKey []byte) (*change.Change, error) {
	tab := ts.tab
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
	ch.Pos = d.flattenedPosition(v)
	ch.SourceTs = intField(v, "__source_ts_ms")
	k, err := d.decodeKey(rawKey, ts)
	if errors.Is(err, errNullKey) {
		return nil, errors.New("flattened row without a record key: cdcsync needs the primary key to apply it")
	}
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
	b := rs.bind(tab, ks)
	schema := b.schema
	row := make([]any, len(schema.Columns))
	seen := d.seen[:0]
	for range schema.Columns {
		seen = append(seen, false)
	}
	d.seen = seen
	var firstErr error
	next := 0 // fields nearly always come in the schema's order
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if firstErr != nil {
			return
		}
		i := next
		if i >= len(schema.Columns) || schema.Columns[i].Name != string(key) {
			i = schema.Index(string(key))
		}
		if i < 0 {
			if skip != nil && skip(string(key)) {
				return
			}
			firstErr = fmt.Errorf("field %q is not in the event's schema", key)
			return
		}
		if seen[i] {
			firstErr = fmt.Errorf("field %q appears twice", key)
			return
		}
		seen[i] = true
		next = i + 1
		col := &schema.Columns[i]
		if d.ph.is(fv) {
			if ch.Unchanged == nil {
				ch.Unchanged = make([]bool, len(schema.Columns))
			}
			ch.Unchanged[i] = true
			return
		}
		val, err := decodeAs(fv, b.src[i], b.encodings[i], col.Type)
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
// schema, since a null says nothing of a type; the warehouse replaces whole
// rows, so a column left out is NULL all the same.
func (d *Decoder) inferRow(ch *change.Change, tab TableOptions, obj *fastjson.Object, ks *keySchema, skip func(string) bool) error {
	type field struct {
		name string
		typ  change.Type
		enc  encoding
		key  int // ≥ 0: a column of the typed key, read as the key reads it
		v    *fastjson.Value
	}
	fields := make([]field, 0, obj.Len())
	sig := d.scratch[:0]
	sig = appendSigString(sig, tab.Name)
	var firstErr error
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		name := string(key)
		if firstErr != nil || (skip != nil && skip(name)) {
			return
		}
		if name == "" {
			firstErr = errors.New("field with an empty name")
			return
		}
		if fv.Type() == fastjson.TypeNull {
			return
		}
		f := field{name: name, v: fv, key: -1}
		if i := ks.index(name); i >= 0 && ks.typed {
			// The key schema types the column (with the table's declared
			// type applied): read the row's value as the key's.
			f.typ, f.key = ks.schema.Key[i].Type, i
		} else if t, ok := tab.Columns[name]; ok {
			f.typ, f.enc = t, tableEncoding(t, tab)
		} else {
			f.typ = inferType(fv)
		}
		fields = append(fields, f)
		sig = appendSigString(sig, name)
		sig = appendSigType(sig, f.typ)
	})
	if firstErr != nil {
		return firstErr
	}
	sig = append(sig, 0xff) // the key columns follow
	for _, k := range ks.schema.Key {
		sig = appendSigString(sig, k.Name)
		sig = appendSigType(sig, k.Type)
	}
	d.scratch = sig
	schema, ok := d.infer[string(sig)]
	if !ok {
		// Checked once per shape: a cached signature spells out every name.
		cols := make([]change.Column, len(fields))
		for i, f := range fields {
			cols[i] = change.Column{Name: f.name, Type: f.typ, Optional: ks.column(f.name) == nil}
		}
		if dup := duplicateName(cols); dup != "" {
			return fmt.Errorf("field %q appears twice", dup)
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
		var val any
		var err error
		if f.key >= 0 {
			val, err = decodeAs(f.v, ks.src[f.key], ks.encodings[f.key], f.typ)
		} else {
			val, err = convert(f.v, f.typ, f.enc)
		}
		if err != nil {
			return fmt.Errorf("column %q: %w", f.name, err)
		}
		row[i] = val
	}
	ch.Schema, ch.Row = schema, row
	return nil
}

// duplicateName returns a name that two columns share, or "".
func duplicateName(cols []change.Column) string {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c.Name] {
			return c.Name
		}
		seen[c.Name] = true
	}
	return ""
}

// appendSigString appends a length-prefixed string to a cache signature, so
// that no two sequences of names share a signature.
func appendSigString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendSigType appends a whole column type to a cache signature.
func appendSigType(b []byte, t change.Type) []byte {
	for {
		b = append(b, byte(t.Kind), byte(t.Unit))
		b = binary.AppendVarint(b, int64(t.Precision))
		b = binary.AppendVarint(b, int64(t.Scale))
		if t.Elem == nil {
			return append(b, 0)
		}
		b = append(b, 1)
		t = *t.Elem
	}
}

// rebuilds reports whether value is exactly {"schema":schema,"payload":payload},
// schema and payload being the spans of value the converter split.
func rebuilds(value, schema, payload []byte) bool {
	const head, mid = `{"schema":`, `,"payload":`
	ls, lp := len(schema), len(payload)
	return ls > 0 && lp > 0 && len(value) == len(head)+ls+len(mid)+lp+1 &&
		string(value[:len(head)]) == head && &value[len(head)] == &schema[0] &&
		string(value[len(head)+ls:len(head)+ls+len(mid)]) == mid &&
		&value[len(head)+ls+len(mid)] == &payload[0] && value[len(value)-1] == '}'
}

// splitConverterHint separates JsonConverter's {"schema":…,"payload":…}
// wrapper; when the value is not wrapped, the whole value is the payload.
// hint is a schema the value is likely to carry: when the schema value is
// exactly hint, the schema is not scanned, and hinted is true.
func splitConverterHint(b []byte, hint string) (schema, payload []byte, wrapped, hinted bool, err error) {
	b = trimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		// Not an object: let the payload parser produce the error.
		return nil, b, false, false, nil
	}
	n, hasSchema, hasPayload := 0, false, false
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return nil, nil, false, false, fmt.Errorf("expected a field name at offset %d", i)
			}
			keyEnd := stringEnd(b, i)
			if keyEnd < 0 {
				return nil, nil, false, false, errors.New("unterminated string")
			}
			key := b[i+1 : keyEnd-1]
			switch {
			case string(key) == "schema" && !hasSchema:
				hasSchema = true
			case string(key) == "payload" && !hasPayload:
				hasPayload = true
			default:
				// Another field, or a repeated one: not a wrapper.
				return nil, b, false, false, nil
			}
			i = skipSpace(b, keyEnd)
			if i >= len(b) || b[i] != ':' {
				return nil, nil, false, false, fmt.Errorf("expected ':' at offset %d", i)
			}
			i = skipSpace(b, i+1)
			if string(key) == "payload" && n == 1 {
				// JsonConverter writes the payload last, so it runs to the
				// object's closing brace. The payload parser, which
				// rejects anything after a value, validates the rest.
				if i >= len(b)-1 || b[len(b)-1] != '}' {
					return nil, nil, false, false, fmt.Errorf("malformed value at offset %d", i)
				}
				payload = trimSpace(b[i : len(b)-1])
				return schema, payload, true, hinted, nil
			}
			var end int
			if string(key) == "schema" && hint != "" && len(b)-i >= len(hint) && string(b[i:i+len(hint)]) == hint {
				// The same bytes as a schema scanned and parsed before: its
				// end is where the hint ends.
				end, hinted = i+len(hint), true
			} else {
				end = valueEnd(b, i)
			}
			if end < 0 {
				return nil, nil, false, false, fmt.Errorf("malformed value at offset %d", i)
			}
			if string(key) == "schema" {
				schema = b[i:end]
			} else {
				payload = b[i:end]
			}
			n++
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return nil, nil, false, false, fmt.Errorf("expected ',' or '}' at offset %d", i)
		}
	}
	if i != len(b) {
		return nil, nil, false, false, fmt.Errorf("unexpected data after the JSON object at offset %d", i)
	}
	if n == 2 {
		return schema, payload, true, hinted, nil
	}
	return nil, b, false, false, nil
}

// parseStrict parses JSON in one pass, rejecting what a lenient parser
// lets through (malformed numbers such as 01 or 1.2.3, unknown escapes,
// bare NaN) and strings without an exact Unicode value (see checkText): a
// record that is not JSON is bad input, not something to guess at. The
// error is the validator's where it has one, as dead-letter reasons have
// always read.
func parseStrict(p *fastjson.Parser, b []byte) (*fastjson.Value, error) {
	v, err := p.ParseBytes(b)
	if err != nil {
		if verr := fastjson.ValidateBytes(b); verr != nil {
			return nil, verr
		}
		return nil, err
	}
	return v, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the offset after the string starting at b[i] == '"',
// or -1.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		escapes := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return j + 1
		}
		j++
	}
}

// valueEnd returns the offset after the JSON value starting at b[i], or -1.
// Objects and arrays end at their matching bracket, strings at their
// closing quote, literals at the next delimiter.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', '}', ']', ':':
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ' ', '\n', '\t', '\r', ',', '}', ']', '{', '[', '"', ':':
			return j
		}
		j++
	}
	return j
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

// intField reads an integer field, 0 when it is absent or not an integer.
// Integers written as JSON strings are read too: transformations and older
// versions render some int64 fields that way.
func intField(v *fastjson.Value, name string) int64 {
	n, _ := intFieldOK(v, name)
	return n
}

func intFieldOK(v *fastjson.Value, name string) (int64, bool) {
	if v == nil {
		return 0, false
	}
	f := v.Get(name)
	if f == nil {
		return 0, false
	}
	switch f.Type() {
	case fastjson.TypeNumber:
		n, err := f.Int64()
		return n, err == nil
	case fastjson.TypeString:
		s, _ := f.StringBytes()
		n, err := strconv.ParseInt(string(s), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// sourceTs is the source block's ts_ms, or ts_sec in seconds for the early
// MySQL connector that wrote only that.
func sourceTs(src *fastjson.Value) int64 {
	if n, ok := intFieldOK(src, "ts_ms"); ok {
		return n
	}
	if n, ok := intFieldOK(src, "ts_sec"); ok && n < math.MaxInt64/1000 && n > math.MinInt64/1000 {
		return n * 1000
	}
	return 0
}

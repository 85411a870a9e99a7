// Package workload generates realistic, seeded Debezium change streams for
// the recipe's three tables (customers, orders, order_settings) together
// with the source state they must converge to. Tests, benchmarks and the
// demo drive the pipeline with it.
//
// The source is modelled as a MySQL server: every change has a binlog
// position (file, pos, row), files rotate, multi-row statements share a
// position, several changes share one millisecond, snapshot rows share the
// snapshot's position. Events are partitioned by a hash of their key, as
// Kafka's default partitioner does; truncates (null key) land on any
// partition; a primary-key change is the delete of the old key (header
// __debezium.newkey), a tombstone, and the create of the new key (header
// __debezium.oldkey).
package workload

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options shape a workload.
type Options struct {
	Seed       int64
	Prefix     string // topic prefix, e.g. "shop.inventory"
	Partitions int
	// Schemas embeds the Connect schema in keys and values
	// (schemas.enable=true); without it decimals are written as strings.
	Schemas bool
	// SnapshotRows per table, emitted first as op "r".
	SnapshotRows int
	// Ops is the number of streamed operations after the snapshot.
	Ops int
	// Truncates, PKChanges, Poison enable the rarer operations.
	Truncates bool
	PKChanges bool
	Poison    bool
	// Tombstones follows every delete with a null-valued record.
	Tombstones bool
	// SchemaChanges alters customers mid-stream: a column is added at a
	// quarter of the operations (loyalty_points INT), widened at half
	// (to BIGINT) and another dropped at three quarters (phone).
	SchemaChanges bool
	// Toast renders an unchanged long text (customers.address,
	// orders.notes) as Debezium's unavailable-value placeholder in updates
	// and in the create of a primary-key change, as PostgreSQL's connector
	// does for unchanged TOASTed values.
	Toast bool
}

// toastColumns are the columns Options.Toast may send as the placeholder.
var toastColumns = map[string]bool{"address": true, "notes": true}

// Event is one Kafka record to produce.
type Event struct {
	Topic     string
	Partition int32
	Key       []byte // nil for truncates
	Value     []byte // nil for tombstones
	Headers   map[string]string
}

// Workload is a generated stream and the state it must converge to.
type Workload struct {
	Opts   Options
	Tables []*Table
	Events []Event
	// Poisoned counts the undecodable records in Events.
	Poisoned int
	// Ops counts the operations generated, by table and kind ("snapshot",
	// "insert", "update", "delete", "pk-change", "truncate", "poison").
	Ops map[string]map[string]int

	rng       *rand.Rand
	movedFrom Row   // the old row of the create being emitted by pkChange
	binlog    int64 // binlog file number
	pos       int64
	ms        int64 // source clock, ms
	nextIDs   map[string]int64
}

// New generates a workload.
func New(o Options) *Workload {
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	if o.Prefix == "" {
		o.Prefix = "shop.inventory"
	}
	w := &Workload{
		Opts:    o,
		rng:     rand.New(rand.NewSource(o.Seed)),
		binlog:  3,
		pos:     154,
		ms:      time.Date(2025, 7, 23, 14, 12, 21, 0, time.UTC).UnixMilli(),
		nextIDs: map[string]int64{},
		Ops:     map[string]map[string]int{},
	}
	w.Tables = recipeTables()
	for _, t := range w.Tables {
		t.rows = map[string]Row{}
		t.allCols = append([]column(nil), t.cols...)
		t.schemaJSON, t.keySchemaJSON = t.schemas(o.Prefix)
	}
	w.snapshot()
	for i := 0; i < o.Ops; i++ {
		if o.SchemaChanges && o.Ops >= 8 {
			switch i {
			case o.Ops / 4:
				w.alter("customers", func(t *Table) { t.addColumn(column{"loyalty_points", kindInt, true}) })
			case o.Ops / 2:
				w.alter("customers", func(t *Table) { t.setKind("loyalty_points", kindBigint) })
			case 3 * o.Ops / 4:
				w.alter("customers", func(t *Table) { t.dropColumn("phone") })
			}
		}
		w.step()
	}
	return w
}

// Topic returns a table's topic.
func (w *Workload) Topic(t *Table) string { return w.Opts.Prefix + "." + t.Name }

// TopicRegex matches the workload's topics.
func (w *Workload) TopicRegex() string {
	return strings.ReplaceAll(w.Opts.Prefix, ".", `\.`) + `\..*`
}

// Table returns the named table.
func (w *Workload) Table(name string) *Table {
	for _, t := range w.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// alter changes a table's schema as an ALTER TABLE would: events after it
// carry the new schema.
func (w *Workload) alter(table string, f func(*Table)) {
	t := w.Table(table)
	f(t)
	t.schemaJSON, t.keySchemaJSON = t.schemas(w.Opts.Prefix)
	w.count(t, "alter")
	w.advance(1)
}

func (w *Workload) count(t *Table, op string) {
	if w.Ops[t.Name] == nil {
		w.Ops[t.Name] = map[string]int{}
	}
	w.Ops[t.Name][op]++
}

// Do performs one named operation on a table: "insert", "update",
// "delete", "pk-change", "truncate" or "poison".
func (w *Workload) Do(table, op string) {
	t := w.Table(table)
	switch op {
	case "insert":
		w.insert(t)
	case "update":
		w.update(t, 1)
	case "delete":
		w.delete(t)
	case "pk-change":
		w.pkChange(t)
	case "truncate":
		w.truncate(t)
	case "poison":
		w.poison(t)
	default:
		panic("workload: unknown op " + op)
	}
}

func (w *Workload) snapshot() {
	// Every snapshot row carries the binlog position the snapshot started
	// at, as Debezium's MySQL connector does.
	pos := w.pos
	for _, t := range w.Tables {
		for i := 0; i < w.Opts.SnapshotRows; i++ {
			r := t.newRow(w, w.nextID(t))
			t.set(t.keyID(r), r)
			snap := "true"
			if i == w.Opts.SnapshotRows-1 {
				snap = "last_in_data_collection"
			}
			w.emit(t, 'r', nil, r, source{file: w.binlog, pos: pos, row: 0, ms: w.ms, snapshot: snap}, nil)
			w.count(t, "snapshot")
		}
	}
	w.advance(1)
}

// advance moves the source clock and the binlog position.
func (w *Workload) advance(events int) {
	// Several changes share a millisecond: the clock moves only sometimes.
	if w.rng.Intn(3) == 0 {
		w.ms += int64(w.rng.Intn(5))
	}
	w.pos += int64(100 + w.rng.Intn(400)*events)
	if w.rng.Intn(200) == 0 {
		w.binlog++ // rotation: positions restart
		w.pos = 4
	}
}

func (w *Workload) src() source {
	return source{file: w.binlog, pos: w.pos, ms: w.ms, snapshot: "false"}
}

func (w *Workload) nextID(t *Table) int64 {
	w.nextIDs[t.Name]++
	return w.nextIDs[t.Name] + t.idBase
}

// step performs one random operation.
func (w *Workload) step() {
	t := w.Tables[w.rng.Intn(len(w.Tables))]
	r := w.rng.Intn(1000)
	switch {
	case r < 300 || len(t.rows) == 0:
		w.insert(t)
	case r < 700:
		w.update(t, 1+w.rng.Intn(3))
	case r < 850:
		w.delete(t)
	case r < 900:
		w.multiRow(t)
	case r < 950:
		w.reinsert(t)
	case r < 975 && w.Opts.PKChanges:
		w.pkChange(t)
	case r < 980 && w.Opts.Truncates:
		w.truncate(t)
	case r < 990 && w.Opts.Poison:
		w.poison(t)
	default:
		w.insert(t)
	}
}

func (w *Workload) insert(t *Table) {
	r := t.newRow(w, w.nextID(t))
	t.set(t.keyID(r), r)
	w.emit(t, 'c', nil, r, w.src(), nil)
	w.count(t, "insert")
	w.advance(1)
}

// update changes one row n times; the changes usually share a millisecond.
func (w *Workload) update(t *Table, n int) {
	k := w.randomKey(t)
	for i := 0; i < n; i++ {
		before := t.rows[k]
		after := t.mutate(w, before)
		t.set(k, after)
		// One statement each, usually within one millisecond.
		w.emit(t, 'u', before, after, w.src(), nil)
		w.count(t, "update")
		w.pos += 50
	}
	w.advance(n)
}

func (w *Workload) delete(t *Table) {
	k := w.randomKey(t)
	before := t.rows[k]
	t.del(k)
	w.deleted(t, before)
	w.emit(t, 'd', before, nil, w.src(), nil)
	w.count(t, "delete")
	if w.Opts.Tombstones {
		w.tombstone(t, before, nil)
	}
	w.advance(1)
}

// multiRow changes several rows with one statement: one position, rows
// numbered.
func (w *Workload) multiRow(t *Table) {
	s := w.src()
	for i := 0; i < 1+w.rng.Intn(4) && len(t.rows) > 0; i++ {
		k := w.randomKey(t)
		before := t.rows[k]
		after := t.mutate(w, before)
		t.set(k, after)
		s.row = int64(i)
		w.emit(t, 'u', before, after, s, nil)
		w.count(t, "update")
	}
	w.advance(3)
}

// reinsert creates a row under a key deleted earlier.
func (w *Workload) reinsert(t *Table) {
	if len(t.deletedKeys) == 0 {
		w.insert(t)
		return
	}
	i := w.rng.Intn(len(t.deletedKeys))
	old := t.deletedKeys[i]
	t.deletedKeys = append(t.deletedKeys[:i], t.deletedKeys[i+1:]...)
	if _, exists := t.rows[t.keyID(old)]; exists {
		w.insert(t)
		return
	}
	r := t.newRow(w, 0)
	for _, k := range t.Key {
		r[k] = old[k]
	}
	t.set(t.keyID(r), r)
	w.emit(t, 'c', nil, r, w.src(), nil)
	w.count(t, "insert")
	w.advance(1)
}

func (w *Workload) deleted(t *Table, r Row) {
	if len(t.deletedKeys) < 1000 {
		t.deletedKeys = append(t.deletedKeys, r)
	}
}

// pkChange moves a row to a new key: delete, tombstone, create.
func (w *Workload) pkChange(t *Table) {
	k := w.randomKey(t)
	before := t.rows[k]
	after := t.mutate(w, before)
	for _, kc := range t.Key {
		if k := t.col(kc).kind; k == kindInt || k == kindBigint {
			after[kc] = w.nextID(t)
		} else {
			after[kc] = before[kc].(string) + "-moved" + strconv.Itoa(w.rng.Intn(1000))
		}
	}
	if _, clash := t.rows[t.keyID(after)]; clash {
		return
	}
	t.del(k)
	w.deleted(t, before)
	t.set(t.keyID(after), after)
	s := w.src()
	newKey, oldKey := string(t.keyJSON(after, w.Opts.Schemas)), string(t.keyJSON(before, w.Opts.Schemas))
	w.emit(t, 'd', before, nil, s, map[string]string{"__debezium.newkey": newKey})
	w.tombstone(t, before, map[string]string{"__debezium.newkey": newKey})
	s.row = 1
	w.movedFrom = before
	w.emit(t, 'c', nil, after, s, map[string]string{"__debezium.oldkey": oldKey})
	w.movedFrom = nil
	w.count(t, "pk-change")
	w.advance(2)
}

// truncate empties the table: one event, null key, any partition.
func (w *Workload) truncate(t *Table) {
	for _, k := range append([]string(nil), t.keys...) {
		w.deleted(t, t.rows[k])
		t.del(k)
	}
	w.advance(1)
	src := w.src()
	value := w.envelope(t, 't', nil, nil, src)
	w.Events = append(w.Events, Event{Topic: w.Topic(t), Partition: int32(w.rng.Intn(w.Opts.Partitions)), Value: value})
	w.count(t, "truncate")
	w.advance(1)
}

// poison emits a record no decoder accepts.
func (w *Workload) poison(t *Table) {
	bad := [][]byte{
		[]byte("this is not json"),
		[]byte(`{"payload":{"op":"x","after":{"id":1},"source":{}}}`),
		[]byte(`{"before":null,"after":null,"op":"c"}`),
	}
	w.Events = append(w.Events, Event{Topic: w.Topic(t), Partition: int32(w.rng.Intn(w.Opts.Partitions)),
		Key: []byte(`{"garbage":`), Value: bad[w.rng.Intn(len(bad))]})
	w.Poisoned++
	w.count(t, "poison")
}

func (w *Workload) tombstone(t *Table, r Row, headers map[string]string) {
	key := t.keyJSON(r, w.Opts.Schemas)
	w.Events = append(w.Events, Event{Topic: w.Topic(t), Partition: w.partition(key), Key: key, Headers: headers})
}

func (w *Workload) randomKey(t *Table) string {
	// Map iteration order is random; pick deterministically.
	return t.keys[w.rng.Intn(len(t.keys))]
}

func (w *Workload) partition(key []byte) int32 {
	h := fnv.New32a()
	h.Write(key)
	return int32(h.Sum32() % uint32(w.Opts.Partitions))
}

type source struct {
	file, pos, row, ms int64
	snapshot           string
}

func (w *Workload) emit(t *Table, op byte, before, after Row, s source, headers map[string]string) {
	if after != nil && len(t.allCols) > len(t.cols) {
		// A dropped column is absent from the image: the warehouse gets NULL.
		for _, c := range t.allCols {
			if !t.has(c.name) {
				after[c.name] = nil
			}
		}
	}
	keyRow := after
	if keyRow == nil {
		keyRow = before
	}
	key := t.keyJSON(keyRow, w.Opts.Schemas)
	w.Events = append(w.Events, Event{
		Topic: w.Topic(t), Partition: w.partition(key), Key: key,
		Value: w.envelope(t, op, before, after, s), Headers: headers,
	})
}

// envelope renders a Debezium envelope, with or without the schema.
func (w *Workload) envelope(t *Table, op byte, before, after Row, s source) []byte {
	b := make([]byte, 0, 2048)
	if w.Opts.Schemas {
		b = append(b, `{"schema":`...)
		b = append(b, t.schemaJSON...)
		b = append(b, `,"payload":`...)
	}
	b = append(b, `{"before":`...)
	b = t.appendRow(b, before, w.Opts.Schemas, nil)
	b = append(b, `,"after":`...)
	b = t.appendRow(b, after, w.Opts.Schemas, w.unchanged(op, before, after))
	b = fmt.Appendf(b, `,"source":{"version":"3.1.2.Final","connector":"mysql","name":"%s","ts_ms":%d,"snapshot":"%s","db":"inventory","sequence":null,"table":"%s","server_id":223344,"gtid":null,"file":"mysql-bin.%06d","pos":%d,"row":%d,"thread":7,"query":null}`,
		strings.SplitN(w.Opts.Prefix, ".", 2)[0], s.ms/1000*1000, s.snapshot, t.Name, s.file, s.pos, s.row)
	b = fmt.Appendf(b, `,"op":"%c","ts_ms":%d,"transaction":null}`, op, s.ms+int64(w.rng.Intn(50)))
	if w.Opts.Schemas {
		b = append(b, '}')
	}
	return b
}

// unchanged returns the after image's columns Options.Toast sends as the
// placeholder: long texts an update or a primary-key change left as they
// were.
func (w *Workload) unchanged(op byte, before, after Row) map[string]bool {
	if !w.Opts.Toast || after == nil {
		return nil
	}
	old := before
	if op == 'c' {
		old = w.movedFrom
	}
	if old == nil {
		return nil
	}
	var out map[string]bool
	for c := range toastColumns {
		if v, ok := after[c]; ok && v != nil && v == old[c] {
			if out == nil {
				out = map[string]bool{}
			}
			out[c] = true
		}
	}
	return out
}

// Row is a source row: column name → value (int64, string, bool, Cents,
// time.Time).
type Row map[string]any

// Cents is a DECIMAL(10,2) value.
type Cents int64

type kind int

const (
	kindInt kind = iota
	kindBigint
	kindString
	kindBool
	kindDecimal   // DECIMAL(10,2)
	kindDatetime  // DATETIME: io.debezium.time.Timestamp (ms)
	kindDatetime6 // DATETIME(6): io.debezium.time.MicroTimestamp (µs)
	kindDate      // DATE: io.debezium.time.Date (days)
	kindTimestamp // TIMESTAMP: io.debezium.time.ZonedTimestamp
)

type column struct {
	name     string
	kind     kind
	optional bool
}

// addColumn adds a nullable column: existing rows hold NULL in it.
func (t *Table) addColumn(c column) {
	t.cols = append(t.cols, c)
	t.allCols = append(t.allCols, c)
}

func (t *Table) has(name string) bool {
	for _, c := range t.cols {
		if c.name == name {
			return true
		}
	}
	return false
}

// setKind changes a column's type (a widening).
func (t *Table) setKind(name string, k kind) {
	for i := range t.cols {
		if t.cols[i].name == name {
			t.cols[i].kind = k
		}
	}
	for i := range t.allCols {
		if t.allCols[i].name == name {
			t.allCols[i].kind = k
		}
	}
}

// dropColumn removes a column from the source: rows keep the warehouse's
// value until their next change, which carries no value for it (NULL).
func (t *Table) dropColumn(name string) {
	for i := range t.cols {
		if t.cols[i].name == name {
			t.cols = append(t.cols[:i:i], t.cols[i+1:]...)
			return
		}
	}
}

// Table is one source table of the workload.
type Table struct {
	Name        string
	Key         []string
	cols        []column // the source's current columns
	allCols     []column // every column the table ever had: the warehouse's
	idBase      int64
	rows        map[string]Row
	keys        []string       // the keys of rows, for uniform random picks
	keyPos      map[string]int // key → index in keys
	deletedKeys []Row

	schemaJSON, keySchemaJSON []byte
}

func recipeTables() []*Table {
	return []*Table{
		{Name: "customers", Key: []string{"id"}, cols: []column{
			{"id", kindInt, false}, {"first_name", kindString, true}, {"last_name", kindString, true},
			{"email", kindString, true}, {"phone", kindString, true}, {"address", kindString, true},
			{"city", kindString, true}, {"state", kindString, true}, {"zip_code", kindString, true},
			{"country", kindString, true}, {"registration_date", kindDatetime, true}, {"status", kindString, true},
		}},
		{Name: "orders", Key: []string{"order_id"}, idBase: 100000, cols: []column{
			{"order_id", kindBigint, false}, {"customer_id", kindInt, true}, {"order_date", kindDate, true},
			{"total_amount", kindDecimal, true}, {"status", kindString, true}, {"notes", kindString, true},
			{"created_at", kindTimestamp, true},
		}},
		{Name: "order_settings", Key: []string{"order_id", "setting_key"}, idBase: 100000, cols: []column{
			{"order_id", kindBigint, false}, {"setting_key", kindString, false}, {"setting_value", kindString, true},
			{"is_active", kindBool, true}, {"updated_at", kindDatetime6, true},
		}},
	}
}

// Columns returns the table's column names in order.
func (t *Table) Columns() []string {
	out := make([]string, len(t.allCols))
	for i, c := range t.allCols {
		out[i] = c.name
	}
	return out
}

// DeclaredTypes are the column types a config declares for this table when
// events come without schemas.
func (t *Table) DeclaredTypes() map[string]string {
	out := map[string]string{}
	for _, c := range t.allCols {
		switch c.kind {
		case kindInt:
			out[c.name] = "int"
		case kindBigint:
			out[c.name] = "bigint"
		case kindDecimal:
			out[c.name] = "decimal(10,2)"
		case kindDatetime:
			out[c.name] = "timestamp_ms"
		case kindDatetime6:
			out[c.name] = "timestamp"
		case kindDate:
			out[c.name] = "date"
		case kindTimestamp:
			out[c.name] = "timestamptz"
		case kindBool:
			out[c.name] = "boolean"
		}
	}
	return out
}

func (t *Table) col(name string) column {
	for _, c := range t.allCols {
		if c.name == name {
			return c
		}
	}
	panic("no column " + name)
}

func (t *Table) keyID(r Row) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = fmt.Sprint(r[k])
	}
	return strings.Join(parts, "\x00")
}

func (t *Table) set(k string, r Row) {
	if _, ok := t.rows[k]; !ok {
		if t.keyPos == nil {
			t.keyPos = map[string]int{}
		}
		t.keyPos[k] = len(t.keys)
		t.keys = append(t.keys, k)
	}
	t.rows[k] = r
}

func (t *Table) del(k string) {
	i, ok := t.keyPos[k]
	if !ok {
		return
	}
	last := t.keys[len(t.keys)-1]
	t.keys[i] = last
	t.keyPos[last] = i
	t.keys = t.keys[:len(t.keys)-1]
	delete(t.keyPos, k)
	delete(t.rows, k)
}

func (t *Table) sortedKeys() []string {
	keys := make([]string, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var (
	firstNames = []string{"Sally", "George", "Edward", "Anne", "Zoë", "José", "Mei", "Olamide", "Ana", "Lars"}
	lastNames  = []string{"Thomas", "Bailey", "Walker", "Kretchmar", "Müller", "García", "Chen", "O'Neil", "Nakamura"}
	cities     = []string{"Seattle", "Austin", "Berlin", "São Paulo", "Lagos", "Tokyo", "Lyon"}
	states     = []string{"WA", "TX", "BE", "SP", "LA", "TK", "ARA"}
	statuses   = []string{"active", "inactive", "pending"}
	orderStats = []string{"PENDING", "PAID", "SHIPPED", "CANCELLED"}
	settings   = []string{"gift_wrap", "express", "notify_sms", "notes"}
)

func (t *Table) newRow(w *Workload, id int64) Row {
	r := Row{}
	rng := w.rng
	for _, c := range t.cols {
		r[c.name] = t.value(w, c, rng)
	}
	if id != 0 {
		r[t.Key[0]] = id
	}
	return r
}

func (t *Table) value(w *Workload, c column, rng *rand.Rand) any {
	if c.optional && rng.Intn(20) == 0 {
		return nil
	}
	switch c.name {
	case "first_name":
		return firstNames[rng.Intn(len(firstNames))]
	case "last_name":
		return lastNames[rng.Intn(len(lastNames))]
	case "email":
		return fmt.Sprintf("user%d@example.com", rng.Intn(100000))
	case "phone":
		return fmt.Sprintf("+1-555-%04d", rng.Intn(10000))
	case "address":
		return fmt.Sprintf("%d Main St", 1+rng.Intn(999))
	case "city":
		return cities[rng.Intn(len(cities))]
	case "state":
		return states[rng.Intn(len(states))]
	case "zip_code":
		return fmt.Sprintf("%05d", rng.Intn(100000))
	case "country":
		return "US"
	case "status":
		if t.Name == "orders" {
			return orderStats[rng.Intn(len(orderStats))]
		}
		return statuses[rng.Intn(len(statuses))]
	case "notes":
		return fmt.Sprintf("note %d: \"quoted\" \\ back\tslash", rng.Intn(1000))
	case "setting_key":
		return settings[rng.Intn(len(settings))]
	case "setting_value":
		return fmt.Sprintf("v%d", rng.Intn(100))
	case "customer_id":
		return int64(1 + rng.Intn(1000))
	case "order_id":
		return int64(100000 + rng.Intn(1000))
	}
	switch c.kind {
	case kindInt:
		return int64(rng.Intn(1 << 30))
	case kindBigint:
		return rng.Int63n(1 << 40)
	case kindBool:
		return rng.Intn(2) == 0
	case kindDecimal:
		return Cents(rng.Int63n(2_000_000) - 100_000) // negative, zero and positive
	case kindDatetime:
		return time.UnixMilli(w.ms - rng.Int63n(1e11)).UTC()
	case kindDatetime6:
		return time.UnixMicro(w.ms*1000 - rng.Int63n(1e14)).UTC()
	case kindDate:
		return time.UnixMilli(w.ms - rng.Int63n(1e11)).UTC().Truncate(24 * time.Hour)
	case kindTimestamp:
		return time.Unix(w.ms/1000-rng.Int63n(1e8), 0).UTC()
	}
	return fmt.Sprintf("s%d", rng.Intn(1000))
}

// mutate returns a copy of r with one to three non-key columns changed.
func (t *Table) mutate(w *Workload, r Row) Row {
	out := Row{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i < 1+w.rng.Intn(3); i++ {
		c := t.cols[w.rng.Intn(len(t.cols))]
		if t.isKey(c.name) {
			continue
		}
		out[c.name] = t.value(w, c, w.rng)
	}
	return out
}

func (t *Table) isKey(name string) bool {
	for _, k := range t.Key {
		if k == name {
			return true
		}
	}
	return false
}

// appendRow renders a row image as JSON, the way Debezium's JsonConverter
// does for these MySQL types.
func (t *Table) appendRow(b []byte, r Row, schemas bool, unchanged map[string]bool) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, c := range t.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, c.name)
		b = append(b, ':')
		if unchanged[c.name] {
			b = append(b, `"__debezium_unavailable_value"`...)
			continue
		}
		b = appendValue(b, c.kind, r[c.name], schemas)
	}
	return append(b, '}')
}

func appendValue(b []byte, k kind, v any, schemas bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		j, _ := json.Marshal(x)
		return append(b, j...)
	case Cents:
		if schemas {
			return append(append(append(b, '"'), base64.StdEncoding.EncodeToString(twosComplement(int64(x)))...), '"')
		}
		return append(append(append(b, '"'), x.String()...), '"')
	case time.Time:
		switch k {
		case kindDatetime:
			return strconv.AppendInt(b, x.UnixMilli(), 10)
		case kindDatetime6:
			return strconv.AppendInt(b, x.UnixMicro(), 10)
		case kindDate:
			return strconv.AppendInt(b, x.Unix()/86400, 10)
		case kindTimestamp:
			b = append(b, '"')
			b = x.AppendFormat(b, "2006-01-02T15:04:05Z")
			return append(b, '"')
		}
	}
	panic(fmt.Sprintf("workload: no JSON for %T", v))
}

// String renders cents as DECIMAL(10,2) text.
func (c Cents) String() string {
	neg := c < 0
	if neg {
		c = -c
	}
	s := fmt.Sprintf("%d.%02d", int64(c)/100, int64(c)%100)
	if neg {
		s = "-" + s
	}
	return s
}

func twosComplement(n int64) []byte {
	bi := big.NewInt(n)
	if n >= 0 {
		b := bi.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Negative: add 2^(8k) for the smallest k that keeps the sign bit set.
	for k := 1; ; k++ {
		mod := new(big.Int).Lsh(big.NewInt(1), uint(8*k))
		v := new(big.Int).Add(bi, mod)
		if v.Sign() >= 0 && v.BitLen() == 8*k {
			b := v.Bytes()
			return b
		}
	}
}

func (t *Table) keyJSON(r Row, schemas bool) []byte {
	b := make([]byte, 0, 128)
	if schemas {
		b = append(b, `{"schema":`...)
		b = append(b, t.keySchemaJSON...)
		b = append(b, `,"payload":`...)
	}
	b = append(b, '{')
	for i, k := range t.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = appendValue(b, t.col(k).kind, r[k], schemas)
	}
	b = append(b, '}')
	if schemas {
		b = append(b, '}')
	}
	return b
}

// schemas renders the value (Envelope) and key Connect schemas.
func (t *Table) schemas(prefix string) (value, key []byte) {
	field := func(c column) map[string]any {
		f := map[string]any{"field": c.name, "optional": c.optional}
		switch c.kind {
		case kindInt:
			f["type"] = "int32"
		case kindBigint:
			f["type"] = "int64"
		case kindString:
			f["type"] = "string"
		case kindBool:
			f["type"] = "boolean"
		case kindDecimal:
			f["type"], f["name"], f["version"] = "bytes", "org.apache.kafka.connect.data.Decimal", 1
			f["parameters"] = map[string]string{"scale": "2", "connect.decimal.precision": "10"}
		case kindDatetime:
			f["type"], f["name"], f["version"] = "int64", "io.debezium.time.Timestamp", 1
		case kindDatetime6:
			f["type"], f["name"], f["version"] = "int64", "io.debezium.time.MicroTimestamp", 1
		case kindDate:
			f["type"], f["name"], f["version"] = "int32", "io.debezium.time.Date", 1
		case kindTimestamp:
			f["type"], f["name"], f["version"] = "string", "io.debezium.time.ZonedTimestamp", 1
		}
		return f
	}
	var fields, keyFields []map[string]any
	for _, c := range t.cols {
		fields = append(fields, field(c))
		if t.isKey(c.name) {
			keyFields = append(keyFields, field(c))
		}
	}
	name := prefix + "." + t.Name
	row := func(fieldName string) map[string]any {
		return map[string]any{"type": "struct", "fields": fields, "optional": true, "name": name + ".Value", "field": fieldName}
	}
	env := map[string]any{
		"type": "struct", "optional": false, "name": name + ".Envelope", "version": 2,
		"fields": []map[string]any{
			row("before"), row("after"),
			{"type": "struct", "optional": false, "name": "io.debezium.connector.mysql.Source", "field": "source", "fields": []map[string]any{
				{"type": "string", "optional": false, "field": "version"},
				{"type": "string", "optional": false, "field": "connector"},
				{"type": "string", "optional": false, "field": "name"},
				{"type": "int64", "optional": false, "field": "ts_ms"},
				{"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
					"parameters": map[string]string{"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
					"default":    "false", "field": "snapshot"},
				{"type": "string", "optional": false, "field": "db"},
				{"type": "string", "optional": true, "field": "sequence"},
				{"type": "string", "optional": true, "field": "table"},
				{"type": "int64", "optional": false, "field": "server_id"},
				{"type": "string", "optional": true, "field": "gtid"},
				{"type": "string", "optional": false, "field": "file"},
				{"type": "int64", "optional": false, "field": "pos"},
				{"type": "int32", "optional": false, "field": "row"},
				{"type": "int64", "optional": true, "field": "thread"},
				{"type": "string", "optional": true, "field": "query"},
			}},
			{"type": "string", "optional": false, "field": "op"},
			{"type": "int64", "optional": true, "field": "ts_ms"},
			{"type": "struct", "optional": true, "name": "event.block", "version": 1, "field": "transaction", "fields": []map[string]any{
				{"type": "string", "optional": false, "field": "id"},
				{"type": "int64", "optional": false, "field": "total_order"},
				{"type": "int64", "optional": false, "field": "data_collection_order"},
			}},
		},
	}
	value, _ = json.Marshal(env)
	key, _ = json.Marshal(map[string]any{"type": "struct", "fields": keyFields, "optional": false, "name": name + ".Key"})
	return value, key
}

// Expected returns the state a table must hold: one row per key, sorted by
// key, each value in canonical text (see Canonical), nil for NULL.
func (t *Table) Expected() [][]*string {
	keys := t.sortedKeys()
	rows := make([][]*string, 0, len(keys))
	for _, k := range keys {
		r := t.rows[k]
		out := make([]*string, len(t.allCols))
		for i, c := range t.allCols {
			out[i] = canonical(c.kind, r[c.name])
		}
		rows = append(rows, out)
	}
	sort.Slice(rows, func(i, j int) bool { return lessRow(rows[i], rows[j], t.keyIdx()) })
	return rows
}

func (t *Table) keyIdx() []int {
	var idx []int
	for _, k := range t.Key {
		for i, c := range t.allCols {
			if c.name == k {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

// SortRows sorts rows of this table (canonical text) by key.
func (t *Table) SortRows(rows [][]*string) {
	sort.Slice(rows, func(i, j int) bool { return lessRow(rows[i], rows[j], t.keyIdx()) })
}

func lessRow(a, b []*string, idx []int) bool {
	for _, i := range idx {
		x, y := deref(a[i]), deref(b[i])
		if x == y {
			continue
		}
		xi, e1 := strconv.ParseInt(x, 10, 64)
		yi, e2 := strconv.ParseInt(y, 10, 64)
		if e1 == nil && e2 == nil {
			return xi < yi
		}
		return x < y
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Canonical text of values, as the warehouse side must render them:
// integers in decimal, decimals with their scale, booleans true/false,
// timestamps as microseconds since the epoch, dates as YYYY-MM-DD.
func canonical(k kind, v any) *string {
	if v == nil {
		return nil
	}
	var s string
	switch x := v.(type) {
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	case string:
		s = x
	case Cents:
		s = x.String()
	case time.Time:
		if k == kindDate {
			s = x.Format("2006-01-02")
		} else {
			s = strconv.FormatInt(x.UnixMicro(), 10)
		}
	}
	return &s
}

// IsTimestamp reports whether a column is rendered canonically as epoch
// microseconds.
func (t *Table) IsTimestamp(col string) bool {
	switch t.col(col).kind {
	case kindDatetime, kindDatetime6, kindTimestamp:
		return true
	}
	return false
}

// People returns n creates of a one-table stream — `{"id": i, "name":
// "p<i>"}` for ids first … first+n-1 — over two partitions, with MySQL
// positions in order: the smallest stream a test needs.
func People(topic string, first, n int) []Event {
	var out []Event
	for i := first; i < first+n; i++ {
		out = append(out, Event{Topic: topic, Partition: int32(i % 2),
			Key:   []byte(fmt.Sprintf(`{"id":%d}`, i)),
			Value: []byte(fmt.Sprintf(`{"before":null,"after":{"id":%d,"name":"p%d"},"op":"c","source":{"file":"b.000001","pos":%d,"row":0}}`, i, i, 100+i))})
	}
	return out
}

package warehousetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// runNames runs the naming cases: names are a checked mapping.
func runNames(t *testing.T, open Opener) {
	t.Run("Names_CaseCollidingTopics", func(t *testing.T) { testCaseCollidingTopics(t, open) })
	t.Run("Names_SameTableTwoDatabases", func(t *testing.T) { testSameTableTwoDatabases(t, open) })
	t.Run("Names_LongTableNames", func(t *testing.T) { testLongTableNames(t, open) })
	t.Run("Names_LongColumnNames", func(t *testing.T) { testLongColumnNames(t, open) })
	t.Run("Names_ReservedTable", func(t *testing.T) { testReservedTable(t, open) })
	t.Run("Names_ColumnRenamedInCase", func(t *testing.T) { testColumnRenamedInCase(t, open) })
	t.Run("Names_PrefixedSourceColumns", func(t *testing.T) { testPrefixedSourceColumns(t, open) })
}

// row is an upsert of (id, cols...) on a topic and table of its own.
func row(topic, table string, s *change.Schema, part int32, off int64, vals ...any) *change.Change {
	seq++
	key := []any{vals[0]}
	return &change.Change{Topic: topic, Table: table, Partition: part, Offset: off, Seq: seq, Op: change.OpUpsert,
		SourceOp: 'c', Schema: s, Key: key, KeyID: change.KeyID(key), Row: vals, Pos: change.Position("p" + string(rune('a'+off)))}
}

func schemaOf(names ...string) *change.Schema {
	cols := []change.Column{{Name: "id", Type: change.Int64}}
	for _, n := range names {
		cols = append(cols, change.Column{Name: n, Type: change.String, Optional: true})
	}
	return change.NewSchema(cols, keyCols)
}

// dumpMap reads a table as id → the other columns joined by "|".
func dumpMap(t *testing.T, wh *sqlapply.Warehouse, table string, cols ...string) map[string]string {
	t.Helper()
	rows, err := wh.Dump(context.Background(), table, append([]string{"id"}, cols...), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		parts := make([]string, len(r)-1)
		for i, v := range r[1:] {
			parts[i] = "NULL"
			if v != nil {
				parts[i] = *v
			}
		}
		out[*r[0]] = strings.Join(parts, "|")
	}
	return out
}

func wantNameError(t *testing.T, err error, mention ...string) {
	t.Helper()
	var ne *warehouse.NameError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, want a *warehouse.NameError", err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is not one line", err)
	}
}

func storedOffsets(t *testing.T, wh *sqlapply.Warehouse, topics ...string) map[batch.TopicPartition]int64 {
	t.Helper()
	offs, err := wh.Offsets(context.Background(), topics)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// Topics srv.db1.Orders and srv.db2.orders: one table where the warehouse
// folds case (an error naming both topics and the config key, across a
// restart too), two tables where it does not.
func testCaseCollidingTopics(t *testing.T, open Opener) {
	opts := warehouse.Options{Group: "g", Landing: true}
	wh := open(t, "casecollide", opts)
	s := schemaOf("name")
	apply(t, wh, batchOf(row("srv.db1.Orders", "Orders", s, 0, 0, int64(1), "upper")), nil)
	folds := wh.Dialect().Identifiers().CaseInsensitive
	other := batchOf(row("srv.db2.orders", "orders", s, 0, 0, int64(2), "lower"))
	_, err := wh.Apply(context.Background(), other, nil)
	if !folds {
		if err != nil {
			t.Fatalf("a case-sensitive warehouse keeps Orders and orders apart: %v", err)
		}
		if got := dumpMap(t, wh, "Orders", "name"); len(got) != 1 || got["1"] != "upper" {
			t.Errorf("Orders = %v, want 1=upper", got)
		}
		if got := dumpMap(t, wh, "orders", "name"); len(got) != 1 || got["2"] != "lower" {
			t.Errorf("orders = %v, want 2=lower", got)
		}
		return
	}
	wantNameError(t, err, "srv.db1.Orders", "srv.db2.orders", "tables.<name>.topic")
	wh.Close()
	// After a restart, the owner recorded in the tables table decides.
	wh = open(t, "casecollide", opts)
	_, err = wh.Apply(context.Background(), batchOf(row("srv.db2.orders", "orders", s, 0, 0, int64(2), "lower")), nil)
	wantNameError(t, err, "srv.db1.Orders", "srv.db2.orders")
	if offs := storedOffsets(t, wh, "srv.db2.orders"); len(offs) != 0 {
		t.Errorf("offsets of the refused topic were stored: %v", offs)
	}
	if got := dumpMap(t, wh, "Orders", "name"); len(got) != 1 || got["1"] != "upper" {
		t.Errorf("Orders = %v, want 1=upper only", got)
	}
	// The owner goes on.
	tp := batch.TopicPartition{Topic: "srv.db1.Orders", Partition: 0}
	apply(t, wh, batchOf(row("srv.db1.Orders", "Orders", s, 0, 1, int64(3), "more")), map[batch.TopicPartition]int64{tp: 1})
}

// srv.db1.orders and srv.db2.orders in one batch: an error, nothing
// applied; a truncate of one can never touch the other's rows.
func testSameTableTwoDatabases(t *testing.T, open Opener) {
	wh := open(t, "twodbs", warehouse.Options{Group: "g"})
	s := schemaOf("name")
	apply(t, wh, batchOf(row("srv.db1.orders", "orders", s, 0, 0, int64(1), "db1")), nil)
	tp := batch.TopicPartition{Topic: "srv.db1.orders", Partition: 0}
	tr := &change.Change{Topic: "srv.db2.orders", Table: "orders", Partition: 0, Offset: 0, Op: change.OpTruncate, SourceOp: 't', Pos: "pz"}
	b := batchOf(row("srv.db1.orders", "orders", s, 0, 1, int64(2), "db1"), row("srv.db2.orders", "orders", s, 0, 1, int64(1), "db2"), tr)
	_, err := wh.Apply(context.Background(), b, map[batch.TopicPartition]int64{tp: 1})
	wantNameError(t, err, "srv.db1.orders", "srv.db2.orders", `table "orders"`, "tables.<name>.topic")
	if got := dumpMap(t, wh, "orders", "name"); len(got) != 1 || got["1"] != "db1" {
		t.Errorf("orders = %v, want only 1=db1 (nothing of the refused batch)", got)
	}
	if offs := storedOffsets(t, wh, "srv.db1.orders", "srv.db2.orders"); len(offs) != 1 || offs[tp] != 1 {
		t.Errorf("stored offsets = %v, want only srv.db1.orders[0]=1", offs)
	}
}

// Table names longer than the warehouse's identifiers: every event lands,
// in the target and its landing table, two names that share the first 63
// bytes stay two tables, and the tables table records the name's topic.
func testLongTableNames(t *testing.T, open Opener) {
	wh := open(t, "longtables", warehouse.Options{Group: "g", Landing: true})
	s := schemaOf("name")
	base := strings.Repeat("customer_loyalty_programme_", 3) // 81 bytes
	a, b := base+"members", base+"tiers"
	apply(t, wh, batchOf(row("srv.db."+a, a, s, 0, 0, int64(1), "a1"), row("srv.db."+a, a, s, 0, 1, int64(2), "a2"),
		row("srv.db."+b, b, s, 0, 0, int64(1), "b1")), nil)
	if got := dumpMap(t, wh, a, "name"); len(got) != 2 || got["1"] != "a1" || got["2"] != "a2" {
		t.Errorf("%s = %v, want 1=a1 2=a2", a, got)
	}
	if got := dumpMap(t, wh, b, "name"); len(got) != 1 || got["1"] != "b1" {
		t.Errorf("%s = %v, want 1=b1", b, got)
	}
	ids := wh.Dialect().Identifiers()
	var landed int
	if err := wh.DB().QueryRow(`SELECT count(*) FROM ` + qualified(wh, ids.Landing(ids.Table(a)))).Scan(&landed); err != nil {
		t.Fatal(err)
	}
	if landed != 2 {
		t.Errorf("landing rows of %s = %d, want 2", a, landed)
	}
	var name, landing string
	if err := wh.DB().QueryRow(`SELECT table_name, landing_table FROM `+qualified(wh, warehouse.TablesTable)+` WHERE topic = $1`, "srv.db."+a).Scan(&name, &landing); err != nil {
		t.Fatal(err)
	}
	if name != ids.Table(a) || (ids.MaxBytes > 0 && len(name) > ids.MaxBytes) {
		t.Errorf("recorded table name %q, want %q within %d bytes", name, ids.Table(a), ids.MaxBytes)
	}
	if landing != ids.Landing(name) {
		t.Errorf("recorded landing table %q, want %q", landing, ids.Landing(name))
	}
}

// Column names longer than the warehouse's identifiers, equal in their
// first 63 bytes: both land, each with its value.
func testLongColumnNames(t *testing.T, open Opener) {
	wh := open(t, "longcols", warehouse.Options{Group: "g"})
	base := strings.Repeat("shipping_address_", 4) // 68 bytes
	s := schemaOf(base+"line_one", base+"line_two")
	apply(t, wh, batchOf(row("t.db.people", "people", s, 0, 0, int64(1), "one", "two")), nil)
	if got := dumpMap(t, wh, "people", base+"line_one", base+"line_two"); got["1"] != "one|two" {
		t.Errorf("people = %v, want 1=one|two", got)
	}
	// Again after a restart of the catalog: the same names map the same.
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	apply(t, wh, batchOf(row("t.db.people", "people", s, 0, 1, int64(2), "uno", "dos")), map[batch.TopicPartition]int64{tp: 1})
	if got := dumpMap(t, wh, "people", base+"line_one", base+"line_two"); got["2"] != "uno|dos" || len(got) != 2 {
		t.Errorf("people = %v, want 2=uno|dos too", got)
	}
}

// A topic whose table part is one of cdcsync's own tables is refused, and
// its truncate never reaches the stored offsets.
func testReservedTable(t *testing.T, open Opener) {
	wh := open(t, "reserved", warehouse.Options{Group: "g"})
	apply(t, wh, batchOf(upsert(0, 0, "m1", 1, "ann", "x")), nil)
	for _, name := range []string{warehouse.OffsetsTable, warehouse.DeadLettersTable, "_CDC_Tables"} {
		topic := "evil.db." + name
		tr := &change.Change{Topic: topic, Table: name, Partition: 0, Offset: 0, Op: change.OpTruncate, SourceOp: 't', Pos: "p1"}
		_, err := wh.Apply(context.Background(), batchOf(tr), nil)
		wantNameError(t, err, topic, "reserved", "tables.<name>.topic")
	}
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	if offs := storedOffsets(t, wh, "t.db.people"); offs[tp] != 1 {
		t.Errorf("stored offsets = %v, want t.db.people[0]=1 kept", offs)
	}
}

// A source column renamed only in case (Email → email) keeps landing: in
// the same column where the warehouse folds case, in a new one where it
// does not; never NULL.
func testColumnRenamedInCase(t *testing.T, open Opener) {
	wh := open(t, "colcase", warehouse.Options{Group: "g"})
	apply(t, wh, batchOf(row("t.db.people", "people", schemaOf("Email"), 0, 0, int64(1), "a@x")), nil)
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	st := apply(t, wh, batchOf(row("t.db.people", "people", schemaOf("email"), 0, 1, int64(2), "b@x")), map[batch.TopicPartition]int64{tp: 1})
	if st.DeadLetters != 0 {
		t.Fatalf("dead letters = %d, want 0", st.DeadLetters)
	}
	if wh.Dialect().Identifiers().CaseInsensitive {
		if got := dumpMap(t, wh, "people", "email"); got["1"] != "a@x" || got["2"] != "b@x" {
			t.Errorf("people = %v, want 1=a@x 2=b@x in one column", got)
		}
		return
	}
	if got := dumpMap(t, wh, "people", "Email", "email"); got["1"] != "a@x|NULL" || got["2"] != "NULL|b@x" {
		t.Errorf("people = %v, want 1=a@x|NULL 2=NULL|b@x", got)
	}
}

// Source columns with cdcsync's prefix land: _cdc_extra as itself, and
// _cdc_op — one of cdcsync's own column names — as src_cdc_op.
func testPrefixedSourceColumns(t *testing.T, open Opener) {
	wh := open(t, "prefixcols", warehouse.Options{Group: "g"})
	s := schemaOf("_cdc_extra", "_cdc_op")
	apply(t, wh, batchOf(row("t.db.people", "people", s, 0, 0, int64(1), "extra", "mine")), nil)
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	apply(t, wh, batchOf(row("t.db.people", "people", s, 0, 1, int64(2), "extra2", "mine2")), map[batch.TopicPartition]int64{tp: 1})
	if got := dumpMap(t, wh, "people", "_cdc_extra", "src_cdc_op"); got["1"] != "extra|mine" || got["2"] != "extra2|mine2" {
		t.Errorf("people = %v, want 1=extra|mine 2=extra2|mine2", got)
	}
	var op string
	if err := wh.DB().QueryRow(`SELECT ` + sqltext.Ident(warehouse.ColOp) + ` FROM ` + qualified(wh, "people") + ` WHERE id = 2`).Scan(&op); err != nil {
		t.Fatal(err)
	}
	if op != "c" {
		t.Errorf("%s = %q, want cdcsync's op c", warehouse.ColOp, op)
	}
}

// Package warehousetest is the conformance suite every warehouse passes:
// the definition of "correct" for a warehouse implementation. It drives
// warehouse.Warehouse only, and reads results back through an Inspector
// the warehouse's test package provides, so a warehouse need not be SQL to
// run it. A new warehouse is added by calling Run from its tests.
//
// Every case runs on every warehouse. Two assertions read optional
// capabilities of the Inspector (CatalogInspector: the tables table;
// MovesInspector: values in flight between the halves of a primary-key
// change) and are skipped for a warehouse whose Inspector lacks them. The
// replay cases need the optional warehouse.Replayer and are skipped for a
// warehouse without it.
package warehousetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// Opener opens the warehouse under test and an Inspector of it. Each call
// with a new name must give an empty warehouse; calling it again with the
// same name reopens the same one (a restart). The warehouse is closed when
// the test ends (closing it earlier is allowed).
type Opener func(t *testing.T, name string, opts warehouse.Options) (warehouse.Warehouse, Inspector)

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("ConvergesWithSchemas", func(t *testing.T) { testConverges(t, open, true) })
	t.Run("ConvergesWithoutSchemas", func(t *testing.T) { testConverges(t, open, false) })
	t.Run("ReplayIsFenced", func(t *testing.T) { testReplayIsFenced(t, open) })
	t.Run("TruncateMarkSurvivesRestart", func(t *testing.T) { testTruncateMark(t, open) })
	t.Run("UnchangedToastKeepsValue", func(t *testing.T) { testUnchanged(t, open) })
	t.Run("UnchangedToastAcrossKeyChange", func(t *testing.T) { testUnchangedMoved(t, open) })
	t.Run("ToastKeyChange", func(t *testing.T) { testToastKeyChange(t, open) })
	t.Run("ToastKeyChangeWorkload", func(t *testing.T) { testToastKeyChangeWorkload(t, open) })
	t.Run("LandingKeepsRawValues", func(t *testing.T) { testLandingRaw(t, open) })
	t.Run("LandingRetention", func(t *testing.T) { testLandingRetention(t, open) })
	t.Run("SchemaEvolution", func(t *testing.T) { testEvolution(t, open) })
	t.Run("ValueThatDoesNotFitIsDeadLettered", func(t *testing.T) { testDoesNotFit(t, open) })
	t.Run("Values", func(t *testing.T) { runValues(t, open) })
	t.Run("TopicIDsAndReset", func(t *testing.T) { testTopicIDs(t, open) })
	runNames(t, open)
	runReplay(t, open)
}

// PersonBatch is a batch of one upsert of person id on partition part of
// topic t.db.people, table people, at offset off.
func PersonBatch(part int32, off int64, id int64) *batch.Batch {
	return batchOf(upsert(part, off, fmt.Sprintf("%08d", off), id, "p", nil))
}

// testTopicIDs: the topic ID set before Apply is stored with the offsets
// and read back; ResetTopic forgets the topic's offsets and its tables'
// truncate marks (the recreated topic's offsets start again at 0) and
// keeps the rows.
func testTopicIDs(t *testing.T, open Opener) {
	ctx := context.Background()
	wh, ins := open(t, "topicids", warehouse.Options{Group: "g"})
	const topic = "t.db.people"
	wh.SetTopicIDs(map[string]string{topic: "id-1"})
	apply(t, wh, batchOf(upsert(0, 0, "a", 1, "x", nil), truncateAt(0, 1, "b"), upsert(0, 2, "c", 2, "y", nil)), nil)
	ids, err := wh.TopicIDs(ctx, []string{topic, "other"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[topic] != "id-1" {
		t.Fatalf("topic ids %v, want %s: id-1", ids, topic)
	}
	if err := wh.ResetTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	offs, err := wh.Offsets(ctx, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 0 {
		t.Fatalf("offsets after reset: %v, want none", offs)
	}
	// The new topic's offset 0 precedes the old truncate at offset 1: it
	// must apply all the same.
	wh.SetTopicIDs(map[string]string{topic: "id-2"})
	apply(t, wh, batchOf(upsert(0, 0, "a", 3, "z", nil)), nil)
	if got := people(t, ins); len(got) != 2 {
		t.Fatalf("rows after reset %v, want ids 2 and 3", got)
	}
	if ids, _ := wh.TopicIDs(ctx, []string{topic}); ids[topic] != "id-2" {
		t.Fatalf("topic id after reset %q, want id-2", ids[topic])
	}
}

// Converge drains a seeded workload with the pipeline (one pass, on an
// in-process Kafka) into wh and compares every table with the source state.
func Converge(t *testing.T, wh warehouse.Warehouse, ins Inspector, w *workload.Workload) {
	t.Helper()
	converge(t, wh, ins, w, 700)
}

// converge drains the workload in batches of at most maxEvents events.
func converge(t *testing.T, wh warehouse.Warehouse, ins Inspector, w *workload.Workload, maxEvents int) {
	t.Helper()
	var topics []string
	for _, tb := range w.Tables {
		topics = append(topics, w.Topic(tb))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		t.Fatal(err)
	}
	declared := map[string]map[string]change.Type{}
	if !w.Opts.Schemas {
		for _, tb := range w.Tables {
			m := map[string]change.Type{}
			for col, s := range tb.DeclaredTypes() {
				typ, err := change.ParseType(s)
				if err != nil {
					t.Fatal(err)
				}
				m[col] = typ
			}
			declared[tb.Name] = m
		}
	}
	cfg := pipeline.Config{
		Topics: regexp.MustCompile("^(?:" + w.TopicRegex() + ")$"), Group: "conformance", Once: true,
		MaxEvents: maxEvents, MaxBytes: 8 << 20, Interval: 50 * time.Millisecond,
		Decoder: debezium.Options{Table: func(topic string) debezium.TableOptions {
			name := debezium.TableName(topic)
			return debezium.TableOptions{Name: name, Columns: declared[name]}
		}},
		Kafka: []kgo.Opt{kgo.SeedBrokers(c.Addr())}, MetadataRefresh: time.Second, FetchMaxBytes: 4 << 20,
	}
	sum, err := pipeline.New(cfg, wh, nil, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(w.Events)) {
		t.Errorf("consumed %d events, produced %d", sum.Events, len(w.Events))
	}
	AssertTables(t, ins, w)
}

// AssertTables compares every table of the workload with the warehouse,
// row by row.
func AssertTables(t *testing.T, ins Inspector, w *workload.Workload) {
	t.Helper()
	ctx := context.Background()
	for _, tb := range w.Tables {
		ts := map[string]bool{}
		for _, c := range tb.Columns() {
			ts[c] = tb.IsTimestamp(c)
		}
		got, err := ins.Rows(ctx, tb.Name, tb.Columns(), ts)
		if err != nil {
			t.Fatal(err)
		}
		tb.SortRows(got)
		want := tb.Expected()
		if diff := DiffRows(tb.Columns(), want, got); diff != "" {
			t.Errorf("table %s differs from the source (want %d rows, got %d):\n%s", tb.Name, len(want), len(got), diff)
		}
	}
}

// DiffRows describes the rows missing from got and the extra ones, or "".
func DiffRows(cols []string, want, got [][]*string) string {
	render := func(r []*string) string {
		parts := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				parts[i] = cols[i] + "=NULL"
			} else {
				parts[i] = cols[i] + "=" + *v
			}
		}
		return strings.Join(parts, " ")
	}
	w, g := map[string]int{}, map[string]int{}
	for _, r := range want {
		w[render(r)]++
	}
	for _, r := range got {
		g[render(r)]++
	}
	var b strings.Builder
	n := 0
	for _, r := range want {
		if s := render(r); g[s] < w[s] && n < 10 {
			fmt.Fprintf(&b, "  missing: %s\n", s)
			n++
		}
	}
	for _, r := range got {
		if s := render(r); w[s] < g[s] && n < 20 {
			fmt.Fprintf(&b, "  extra:   %s\n", s)
			n++
		}
	}
	return b.String()
}

func testConverges(t *testing.T, open Opener, schemas bool) {
	for _, seed := range []int64{3, 11} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			w := workload.New(workload.Options{Seed: seed, Partitions: 3, Schemas: schemas, SnapshotRows: 30, Ops: 2500,
				Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
			wh, ins := open(t, fmt.Sprintf("conv_%v_%d", schemas, seed), warehouse.Options{Group: "conformance", Landing: true})
			Converge(t, wh, ins, w)
			dead, err := ins.DeadLetters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != w.Poisoned {
				t.Errorf("dead letters: %d, want %d", len(dead), w.Poisoned)
			}
			landed, distinct := 0, map[[2]int64]bool{}
			for _, l := range landing(t, ins, "customers") {
				landed++
				distinct[[2]int64{int64(l.Partition), l.Offset}] = true
			}
			if landed == 0 || landed != len(distinct) {
				t.Errorf("landing: %d rows for %d distinct records", landed, len(distinct))
			}
		})
	}
}

// landing reads a table's landing rows.
func landing(t *testing.T, ins Inspector, table string) []Landed {
	t.Helper()
	rows, err := ins.Landing(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// noPendingMoves fails the test when values of primary-key changes are
// still in flight, where the Inspector can tell.
func noPendingMoves(t *testing.T, ins Inspector, when string) {
	t.Helper()
	mi, ok := ins.(MovesInspector)
	if !ok {
		return
	}
	left, err := mi.PendingMoves(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d values of key changes left in flight %s", left, when)
	}
}

// A tiny table for hand-made batches: id key, name, bio.
var (
	keyCols = []change.Column{{Name: "id", Type: change.Int64}}
	schema  = change.NewSchema([]change.Column{
		{Name: "id", Type: change.Int64}, {Name: "name", Type: change.String, Optional: true}, {Name: "bio", Type: change.String, Optional: true},
	}, keyCols)
	deleteSchema = change.NewSchema(nil, keyCols)
	seq          uint64
)

func upsert(part int32, off int64, pos string, id int64, name, bio any) *change.Change {
	seq++
	return &change.Change{Topic: "t.db.people", Table: "people", Partition: part, Offset: off, Seq: seq, Op: change.OpUpsert,
		SourceOp: 'u', Schema: schema, Key: []any{id}, KeyID: change.KeyID([]any{id}), Row: []any{id, name, bio}, Pos: change.Position(pos)}
}

func truncateAt(part int32, off int64, pos string) *change.Change {
	seq++
	return &change.Change{Topic: "t.db.people", Table: "people", Partition: part, Offset: off, Seq: seq, Op: change.OpTruncate,
		SourceOp: 't', Pos: change.Position(pos)}
}

// batchOf builds a batch of changes on topic t.db.people.
func batchOf(changes ...*change.Change) *batch.Batch {
	b := batch.New()
	for _, c := range changes {
		b.Record(c.Topic, c.Partition, c.Offset, 10)
		tb := b.Table(c.Table, c.Topic)
		tb.Add(c)
		tb.Landing = append(tb.Landing, batch.Raw{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, TimestampType: 'C',
			Timestamp: time.UnixMilli(1_700_000_000_000).UTC(), Key: []byte(fmt.Sprintf(`{"id":%v}`, c.Key)), Value: []byte(`{}`)})
	}
	return b
}

func people(t *testing.T, ins Inspector) map[string]string {
	t.Helper()
	rows, err := ins.Rows(context.Background(), "people", []string{"id", "name", "bio"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		v := func(s *string) string {
			if s == nil {
				return "NULL"
			}
			return *s
		}
		out[v(r[0])] = v(r[1]) + "|" + v(r[2])
	}
	return out
}

func apply(t *testing.T, wh warehouse.Warehouse, b *batch.Batch, from map[batch.TopicPartition]int64) warehouse.Stats {
	t.Helper()
	st, err := wh.Apply(context.Background(), b, from)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testReplayIsFenced(t *testing.T, open Opener) {
	wh, ins := open(t, "replay", warehouse.Options{Group: "g", Landing: true})
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	apply(t, wh, batchOf(upsert(0, 0, "m1", 1, "ann", "x")), nil)
	// The same batch again, from a process that believes nothing is
	// stored: fenced, nothing applied.
	_, err := wh.Apply(context.Background(), batchOf(upsert(0, 0, "m1", 1, "ann-again", "x")), nil)
	if !errors.Is(err, warehouse.ErrFenced) {
		t.Fatalf("replay with no stored offset: err = %v, want ErrFenced", err)
	}
	apply(t, wh, batchOf(upsert(0, 1, "m2", 1, "bob", "y")), map[batch.TopicPartition]int64{tp: 1})
	// A stale process that read offset 1 and commits after the newer one.
	_, err = wh.Apply(context.Background(), batchOf(upsert(0, 1, "m2", 1, "stale", "y")), map[batch.TopicPartition]int64{tp: 1})
	if !errors.Is(err, warehouse.ErrFenced) {
		t.Fatalf("stale commit: err = %v, want ErrFenced", err)
	}
	if got := people(t, ins); got["1"] != "bob|y" || len(got) != 1 {
		t.Fatalf("people = %v, want only 1=bob|y", got)
	}
	offs, err := wh.Offsets(context.Background(), []string{"t.db.people"})
	if err != nil {
		t.Fatal(err)
	}
	if offs[tp] != 2 {
		t.Fatalf("stored offset = %d, want 2", offs[tp])
	}
	if landed := len(landing(t, ins, "people")); landed != 2 {
		t.Fatalf("landing rows = %d, want 2 (fenced batches land nothing)", landed)
	}
}

func testTruncateMark(t *testing.T, open Opener) {
	opts := warehouse.Options{Group: "g"}
	wh, ins := open(t, "truncmark", opts)
	// Partition 1 is ahead: its row at m20 follows the truncate at m15.
	apply(t, wh, batchOf(upsert(0, 0, "m10", 1, "a", "x"), upsert(1, 0, "m20", 2, "b", "x")), nil)
	apply(t, wh, batchOf(truncateAt(2, 0, "m15")), nil)
	if got := people(t, ins); len(got) != 1 || got["2"] == "" {
		t.Fatalf("after truncate people = %v, want only 2 (it follows the truncate)", got)
	}
	wh.Close()
	// After a restart, an event of partition 0 that precedes the
	// truncate but is consumed late is ignored; a later one applies.
	wh, ins = open(t, "truncmark", opts)
	tp0 := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	st := apply(t, wh, batchOf(upsert(0, 1, "m12", 3, "late", "x"), upsert(0, 2, "m30", 4, "after", "x")), map[batch.TopicPartition]int64{tp0: 1})
	got := people(t, ins)
	if got["3"] != "" || got["4"] != "after|x" || got["2"] != "b|x" {
		t.Fatalf("people = %v, want 2 and 4 only", got)
	}
	if st.Ignored != 1 {
		t.Fatalf("ignored = %d, want 1", st.Ignored)
	}
}

func testUnchanged(t *testing.T, open Opener) {
	wh, ins := open(t, "toast", warehouse.Options{Group: "g"})
	apply(t, wh, batchOf(upsert(0, 0, "p1", 1, "ann", "a long biography")), nil)
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	c := upsert(0, 1, "p2", 1, "ann b", nil)
	c.Unchanged = []bool{false, false, true}
	d := upsert(0, 2, "p3", 2, "new", nil) // unchanged but no row to keep it from
	d.Unchanged = []bool{false, false, true}
	apply(t, wh, batchOf(c, d), map[batch.TopicPartition]int64{tp: 1})
	got := people(t, ins)
	if got["1"] != "ann b|a long biography" || got["2"] != "new|NULL" {
		t.Fatalf("people = %v; the unchanged bio must be kept and the placeholder never written", got)
	}
}

// testUnchangedMoved: PostgreSQL updates the primary key of a row whose
// TOASTed bio is unchanged; Debezium sends the delete of the old key and a
// create of the new one with the placeholder. The new row keeps the bio,
// whether the old row is in the warehouse or earlier in the same batch.
func testUnchangedMoved(t *testing.T, open Opener) {
	wh, ins := open(t, "toastmove", warehouse.Options{Group: "g"})
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	moved := func(off int64, pos string, from, to int64) *change.Change {
		c := upsert(0, off, pos, to, "moved", nil)
		c.Unchanged = []bool{false, false, true}
		c.OldKey, c.OldKeyID = []any{from}, change.KeyID([]any{from})
		return c
	}
	del := func(off int64, pos string, id int64) *change.Change {
		c := upsert(0, off, pos, id, nil, nil)
		c.Op, c.SourceOp, c.Row, c.Schema = change.OpDelete, 'd', nil, deleteSchema
		return c
	}
	// Across batches: the old row is in the warehouse.
	apply(t, wh, batchOf(upsert(0, 0, "p1", 1, "ann", "bio of ann")), nil)
	apply(t, wh, batchOf(del(1, "p2", 1), moved(2, "p3", 1, 100)), map[batch.TopicPartition]int64{tp: 1})
	// Within one batch: created, then moved.
	apply(t, wh, batchOf(upsert(0, 3, "p4", 2, "bob", "bio of bob"), del(4, "p5", 2), moved(5, "p6", 2, 200)),
		map[batch.TopicPartition]int64{tp: 3})
	got := people(t, ins)
	want := map[string]string{"100": "moved|bio of ann", "200": "moved|bio of bob"}
	if len(got) != len(want) || got["100"] != want["100"] || got["200"] != want["200"] {
		t.Fatalf("people = %v, want %v", got, want)
	}
}

// testToastKeyChange: the create of a primary-key change carries the
// TOAST placeholder; the new key must get the old key's latest value,
// whichever batch and partition the old key's last update and delete
// arrive in. The old key's changes are on partition 0, the new key's on 1.
func testToastKeyChange(t *testing.T, open Opener) {
	// Each case is a list of batches; id 1 moves to id 100.
	v1 := func() *change.Change { return upsert(0, 0, "p10", 1, "ann", "bio v1") }
	v2 := func() *change.Change { return upsert(0, 1, "p20", 1, "ann", "bio v2") }
	delOld := func(off int64) *change.Change { return toastDel(0, off, "p30", 1, 100) }
	create := func(off int64) *change.Change { return toastCreate(1, off, "p30", 1, 100, "moved") }
	cases := []struct {
		name    string
		batches [][]*change.Change
		want    string
	}{
		{"DeleteAndCreateInOneBatch", [][]*change.Change{{v1()}, {v2(), delOld(2), create(0)}}, "moved|bio v2"},
		{"CreateFirstInOneBatch", [][]*change.Change{{v1()}, {create(0), v2(), delOld(2)}}, "moved|bio v2"},
		{"DeleteInEarlierBatch", [][]*change.Change{{v1()}, {v2(), delOld(2)}, {create(0)}}, "moved|bio v2"},
		{"DeleteWithoutImageInEarlierBatch", [][]*change.Change{{v1()}, {v2()}, {delOld(2)}, {create(0)}}, "moved|bio v2"},
		{"CreateBeforeOldKeysUpdateAndDelete", [][]*change.Change{{v1()}, {create(0)}, {v2(), delOld(2)}}, "moved|bio v2"},
		{"OldKeyUpdatedInCreatesBatchOnOtherPartition", [][]*change.Change{{v1()}, {create(0), v2()}, {delOld(2)}}, "moved|bio v2"},
		{"NewKeyWrittenBeforeOldKeysDelete", [][]*change.Change{{v1()}, {create(0)}, {upsert(1, 1, "p40", 100, "own", "own bio")}, {v2(), delOld(2)}}, "own|own bio"},
		{"NewKeyUpdatedWithPlaceholderBeforeOldKeysDelete", [][]*change.Change{{v1()}, {create(0)}, {toastUpdate(1, 1, "p40", 100, "renamed")}, {v2(), delOld(2)}}, "renamed|bio v2"},
		{"NewKeyUpdatedInCreatesBatch", [][]*change.Change{{v1()}, {create(0), toastUpdate(1, 1, "p40", 100, "renamed"), v2()}, {delOld(2)}}, "renamed|bio v2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wh, ins := open(t, "toastkey_"+strings.ToLower(tc.name), warehouse.Options{Group: "g"})
			from := map[batch.TopicPartition]int64{}
			for _, cs := range tc.batches {
				b := batchOf(cs...)
				apply(t, wh, b, maps.Clone(from))
				maps.Copy(from, b.Next)
			}
			got := people(t, ins)
			if len(got) != 1 || got["100"] != tc.want {
				t.Fatalf("people = %v, want only 100=%s (the old key's latest bio)", got, tc.want)
			}
			noPendingMoves(t, ins, "once both halves of the key change are applied")
		})
	}
}

// testToastKeyChangeWorkload drains seeded workloads whose updates and
// primary-key changes send unchanged long texts as the TOAST placeholder,
// over three partitions in small batches, so the two halves of key changes
// fall in different batches in both orders; every table must equal the
// source and nothing may stay in the moves table.
func testToastKeyChangeWorkload(t *testing.T, open Opener) {
	for _, seed := range []int64{5, 17} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			w := workload.New(workload.Options{Seed: seed, Partitions: 3, Schemas: true, SnapshotRows: 20, Ops: 1500,
				PKChanges: true, Tombstones: true, Toast: true})
			if w.Ops["customers"]["pk-change"] == 0 || w.Ops["orders"]["pk-change"] == 0 {
				t.Fatalf("the workload has no primary-key change: %v", w.Ops)
			}
			wh, ins := open(t, fmt.Sprintf("toastwl_%d", seed), warehouse.Options{Group: "conformance"})
			converge(t, wh, ins, w, 7)
			noPendingMoves(t, ins, "after draining")
		})
	}
}

// toastCreate is the create that ends the move of row from to key to,
// its bio the TOAST placeholder.
func toastCreate(part int32, off int64, pos string, from, to int64, name string) *change.Change {
	c := toastUpdate(part, off, pos, to, name)
	c.SourceOp = 'c'
	c.OldKey, c.OldKeyID = []any{from}, change.KeyID([]any{from})
	return c
}

// toastUpdate updates name, its bio the TOAST placeholder.
func toastUpdate(part int32, off int64, pos string, id int64, name string) *change.Change {
	c := upsert(part, off, pos, id, name, nil)
	c.Unchanged = []bool{false, false, true}
	return c
}

// toastDel is the delete that starts the move of row id to key to.
func toastDel(part int32, off int64, pos string, id, to int64) *change.Change {
	c := upsert(part, off, pos, id, nil, nil)
	c.Op, c.SourceOp, c.Row, c.Schema = change.OpDelete, 'd', nil, deleteSchema
	c.NewKey, c.NewKeyID = []any{to}, change.KeyID([]any{to})
	return c
}

// testLandingRaw: the landing table gives back every record's exact bytes,
// whether the warehouse keeps embedded schemas once or in every row.
func testLandingRaw(t *testing.T, open Opener) {
	wh, ins := open(t, "landing", warehouse.Options{Group: "g", Landing: true})
	schema := `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"t.db.people.Value"}`
	payload := `{"before":null,"after":{"id":1,"name":"ann \u00e9 \"q\""},"op":"c"}`
	wrapped := []byte(`{"schema":` + schema + `,"payload":` + payload + `}`)
	bare := []byte(`{"before":null,"after":{"id":2},"op":"c"}`)
	b := batchOf(upsert(0, 0, "m1", 1, "ann", "x"), upsert(0, 1, "m2", 2, "bob", "y"))
	tb := b.Tables[0]
	tb.Landing[0].Value, tb.Landing[0].Payload = wrapped, wrapped[len(`{"schema":`)+len(schema)+len(`,"payload":`):len(wrapped)-1]
	tb.Landing[0].Schema, tb.Landing[0].SchemaID = wrapped[len(`{"schema":`):len(`{"schema":`)+len(schema)], "schema-1"
	tb.Landing[1].Value, tb.Landing[1].Payload = bare, bare
	apply(t, wh, b, nil)
	rows := landing(t, ins, "people")
	slices.SortFunc(rows, func(a, b Landed) int { return cmp.Compare(a.Offset, b.Offset) })
	var got [][]byte
	for _, r := range rows {
		got = append(got, r.Value)
	}
	if len(got) != 2 || string(got[0]) != string(wrapped) || string(got[1]) != string(bare) {
		t.Fatalf("landing kafka_value = %q, want %q and %q", got, wrapped, bare)
	}
}

// testLandingRetention: landing rows older than the retention are deleted
// after a batch commits; target rows are not.
func testLandingRetention(t *testing.T, open Opener) {
	wh, ins := open(t, "retention", warehouse.Options{Group: "g", Landing: true, LandingRetention: time.Nanosecond})
	apply(t, wh, batchOf(upsert(0, 0, "m1", 1, "ann", "x"), upsert(0, 1, "m2", 2, "bob", "y")), nil)
	landed := len(landing(t, ins, "people"))
	if got := people(t, ins); landed != 0 || len(got) != 2 {
		t.Fatalf("landing rows %d (want 0 past a 1ns retention), people %v (want 2)", landed, got)
	}
}

func testEvolution(t *testing.T, open Opener) {
	wh, ins := open(t, "evolve", warehouse.Options{Group: "g"})
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	apply(t, wh, batchOf(upsert(0, 0, "m1", 1, "ann", "x")), nil)

	// Add a column, widen none: age int32.
	s2 := change.NewSchema(append(append([]change.Column(nil), schema.Columns...), change.Column{Name: "age", Type: change.Int32, Optional: true}), keyCols)
	c2 := upsert(0, 1, "m2", 2, "bob", "y")
	c2.Schema, c2.Row = s2, []any{int64(2), "bob", "y", int64(41)}
	apply(t, wh, batchOf(c2), map[batch.TopicPartition]int64{tp: 1})

	// Widen age to int64 with a value that needs it.
	s3 := change.NewSchema(append(append([]change.Column(nil), schema.Columns...), change.Column{Name: "age", Type: change.Int64, Optional: true}), keyCols)
	c3 := upsert(0, 2, "m3", 3, "cy", "z")
	c3.Schema, c3.Row = s3, []any{int64(3), "cy", "z", int64(1) << 40}

	// Drop bio: the column stays, NULL from then on.
	s4 := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "name", Type: change.String}}, keyCols)
	c4 := upsert(0, 3, "m4", 4, "dee", nil)
	c4.Schema, c4.Row = s4, []any{int64(4), "dee"}

	// Incompatible: name becomes an integer.
	s5 := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "name", Type: change.Int32}}, keyCols)
	c5 := upsert(0, 4, "m5", 5, nil, nil)
	c5.Schema, c5.Row = s5, []any{int64(5), int64(7)}
	st := apply(t, wh, batchOf(c3, c4, c5), map[batch.TopicPartition]int64{tp: 2})

	if st.DeadLetters != 1 {
		t.Fatalf("dead letters = %d, want 1 (the incompatible change)", st.DeadLetters)
	}
	rows, err := ins.Rows(context.Background(), "people", []string{"id", "name", "bio", "age"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		parts := make([]string, len(r))
		for i, v := range r {
			parts[i] = "NULL"
			if v != nil {
				parts[i] = *v
			}
		}
		got[parts[0]] = strings.Join(parts[1:], "|")
	}
	want := map[string]string{"1": "ann|x|NULL", "2": "bob|y|41", "3": "cy|z|1099511627776", "4": "dee|NULL|NULL"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("row %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
	dead := deadLetters(t, ins)
	if len(dead) != 1 {
		t.Fatalf("dead letters %v, want one", dead)
	}
	if reason := dead[4]; !strings.Contains(reason, `"name"`) {
		t.Errorf("dead-letter reason %q does not name the column", reason)
	}
}

func testDoesNotFit(t *testing.T, open Opener) {
	wh, ins := open(t, "nofit", warehouse.Options{Group: "g"})
	s := change.NewSchema([]change.Column{{Name: "id", Type: change.Int64}, {Name: "price", Type: change.DecimalType(5, 2)}}, keyCols)
	ok := upsert(0, 0, "m1", 1, nil, nil)
	ok.Schema, ok.Row = s, []any{int64(1), change.Decimal{Unscaled: bigInt(12345), Scale: 2}}
	bad := upsert(0, 1, "m2", 2, nil, nil)
	bad.Schema, bad.Row = s, []any{int64(2), change.Decimal{Unscaled: bigInt(1234567), Scale: 2}}
	st := apply(t, wh, batchOf(ok, bad), nil)
	if st.DeadLetters != 1 || st.Upserts != 1 {
		t.Fatalf("stats = %+v, want 1 upsert and 1 dead letter", st)
	}
	rows, err := ins.Rows(context.Background(), "people", []string{"id", "price"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || *rows[0][1] != "123.45" {
		t.Fatalf("rows = %v, want 1 → 123.45", rows)
	}
}

func bigInt(n int64) *big.Int { return big.NewInt(n) }

package batch

import (
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
)

var schema = change.NewSchema(
	[]change.Column{{Name: "id", Type: change.Int64}, {Name: "v", Type: change.String}, {Name: "bio", Type: change.String}},
	[]change.Column{{Name: "id", Type: change.Int64}},
)

var seq uint64

// ev builds a change: partition, offset, position, op, key and value.
func ev(part int32, off int64, pos string, op change.Op, id int64, v string) *change.Change {
	seq++
	c := &change.Change{Topic: "t", Table: "t", Partition: part, Offset: off, Seq: seq, Op: op,
		Pos: change.Position(pos), Schema: schema, Key: []any{id}, KeyID: change.KeyID([]any{id})}
	if op == change.OpUpsert {
		c.Row = []any{id, v, "bio-" + v}
	}
	if op == change.OpTruncate {
		c.Key, c.KeyID = nil, ""
	}
	return c
}

func winners(t *Table) map[int64]string {
	out := map[int64]string{}
	for _, c := range t.Changes() {
		if c.Op == change.OpDelete {
			out[c.Key[0].(int64)] = "<deleted>"
		} else {
			out[c.Key[0].(int64)] = c.Row[1].(string)
		}
	}
	return out
}

func TestOffsetOrderWinsWithinPartition(t *testing.T) {
	// Positions disagree with offsets (MySQL snapshot rows share one
	// position; several updates share a millisecond): offsets decide.
	var tb Table
	tb.Add(ev(0, 10, "m1", change.OpUpsert, 1, "a"))
	tb.Add(ev(0, 11, "m1", change.OpUpsert, 1, "b"))
	tb.Add(ev(0, 12, "m0", change.OpUpsert, 1, "c"))
	if got := winners(&tb)[1]; got != "c" {
		t.Fatalf("winner = %q, want the highest offset's value c", got)
	}
}

func TestSourcePositionWinsAcrossPartitions(t *testing.T) {
	// The same key on two partitions, the later change consumed first.
	var tb Table
	tb.Add(ev(1, 5, "m2", change.OpUpsert, 1, "later"))
	tb.Add(ev(0, 9, "m1", change.OpUpsert, 1, "earlier"))
	if got := winners(&tb)[1]; got != "later" {
		t.Fatalf("winner = %q, want the change with the greater source position", got)
	}
}

func TestUnknownPositionsFallBackToConsumptionOrder(t *testing.T) {
	var tb Table
	tb.Add(ev(1, 5, "", change.OpUpsert, 1, "first"))
	tb.Add(ev(0, 9, "", change.OpUpsert, 1, "second"))
	if got := winners(&tb)[1]; got != "second" {
		t.Fatalf("winner = %q, want the change consumed last", got)
	}
}

func TestDeleteThenReinsert(t *testing.T) {
	var tb Table
	tb.Add(ev(0, 1, "m1", change.OpUpsert, 1, "a"))
	tb.Add(ev(0, 2, "m2", change.OpDelete, 1, ""))
	tb.Add(ev(0, 3, "m3", change.OpUpsert, 1, "again"))
	tb.Add(ev(0, 4, "m4", change.OpUpsert, 2, "x"))
	tb.Add(ev(0, 5, "m5", change.OpDelete, 2, ""))
	got := winners(&tb)
	if got[1] != "again" || got[2] != "<deleted>" {
		t.Fatalf("winners = %v, want 1=again and 2 deleted", got)
	}
}

func TestTruncatePlacedBySourcePosition(t *testing.T) {
	var tb Table
	// Partition 1 is consumed before the truncate, partition 0 after.
	tb.Add(ev(1, 1, "m05", change.OpUpsert, 1, "before-truncate"))
	tb.Add(ev(1, 2, "m15", change.OpUpsert, 2, "after-truncate"))
	tb.Add(ev(2, 7, "m10", change.OpTruncate, 0, ""))
	tb.Add(ev(0, 3, "m08", change.OpUpsert, 3, "before-truncate-consumed-late"))
	tb.Add(ev(0, 4, "m12", change.OpUpsert, 4, "after-truncate-consumed-late"))
	got := winners(&tb)
	want := map[int64]string{2: "after-truncate", 4: "after-truncate-consumed-late"}
	if len(got) != len(want) || got[2] != want[2] || got[4] != want[4] {
		t.Fatalf("winners = %v, want %v", got, want)
	}
	if tb.Truncate == nil || tb.Truncate.Offset != 7 {
		t.Fatalf("truncate not kept: %+v", tb.Truncate)
	}
}

func TestEarlierTruncateConsumedLateIsCovered(t *testing.T) {
	var tb Table
	tb.Add(ev(0, 1, "m20", change.OpTruncate, 0, ""))
	tb.Add(ev(1, 1, "m10", change.OpTruncate, 0, ""))
	if tb.Truncate.Pos != "m20" {
		t.Fatalf("truncate = %s, want the later one (m20)", tb.Truncate.Pos)
	}
}

func TestAppliedMarkDropsPrecedingEvents(t *testing.T) {
	var tb Table
	tb.Add(ev(0, 3, "m08", change.OpUpsert, 3, "precedes"))
	tb.Add(ev(0, 4, "m12", change.OpUpsert, 4, "follows"))
	tb.Add(ev(1, 9, "", change.OpUpsert, 5, "unknown position"))
	n := tb.DropPreceding(Mark{Partition: 2, Offset: 7, Pos: "m10"})
	got := winners(&tb)
	if n != 1 || got[3] != "" || got[4] != "follows" || got[5] != "unknown position" {
		t.Fatalf("dropped %d, winners = %v; want only key 3 dropped", n, got)
	}
}

func TestMarkOnOwnPartitionUsesOffsets(t *testing.T) {
	m := Mark{Partition: 0, Offset: 10, Pos: "m50"}
	if !m.Precedes(ev(0, 9, "m60", change.OpUpsert, 1, "")) {
		t.Error("an earlier offset of the truncate's partition must precede it whatever its position")
	}
	if m.Precedes(ev(0, 11, "m40", change.OpUpsert, 1, "")) {
		t.Error("a later offset of the truncate's partition must follow it whatever its position")
	}
}

func TestUnchangedColumnsKeepEarlierBatchValue(t *testing.T) {
	var tb Table
	tb.Add(ev(0, 1, "p1", change.OpUpsert, 1, "a"))
	toast := ev(0, 2, "p2", change.OpUpsert, 1, "b")
	toast.Row[2] = nil
	toast.Unchanged = []bool{false, false, true}
	tb.Add(toast)
	c := tb.Changes()[0]
	if c.Row[1] != "b" || c.Row[2] != "bio-a" || c.Unchanged != nil {
		t.Fatalf("row = %v unchanged = %v; want v=b and bio kept from the earlier image", c.Row, c.Unchanged)
	}
}

func TestUnchangedColumnsWithoutEarlierValueStayMarked(t *testing.T) {
	var tb Table
	toast := ev(0, 2, "p2", change.OpUpsert, 1, "b")
	toast.Row[2] = nil
	toast.Unchanged = []bool{false, false, true}
	tb.Add(toast)
	if c := tb.Changes()[0]; c.Unchanged == nil || !c.Unchanged[2] {
		t.Fatal("bio must stay marked unchanged so the warehouse keeps its value")
	}
}

func TestBatchTracksNextOffsets(t *testing.T) {
	b := New()
	b.Record("t", 0, 5, 10)
	b.Record("t", 0, 6, 10)
	b.Record("t", 1, 2, 10)
	if b.Next[TopicPartition{"t", 0}] != 7 || b.Next[TopicPartition{"t", 1}] != 3 {
		t.Fatalf("next = %v", b.Next)
	}
	if b.Events != 3 || b.Bytes != 30 || b.Empty() {
		t.Fatalf("events=%d bytes=%d", b.Events, b.Bytes)
	}
}

package warehousetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// runReplay runs the cases of the optional warehouse.Replayer; a warehouse
// without it skips them.
func runReplay(t *testing.T, open Opener) {
	t.Run("ReplaySkipsSupersededAppliesRest", func(t *testing.T) { testReplay(t, open) })
	t.Run("ReplayUnsureWithoutLanding", func(t *testing.T) { testReplayUnsure(t, open) })
}

func replayer(t *testing.T, wh warehouse.Warehouse) warehouse.Replayer {
	t.Helper()
	r, ok := wh.(warehouse.Replayer)
	if !ok {
		t.Skip("the warehouse does not implement warehouse.Replayer")
	}
	return r
}

// letterOf is the dead letter a change would have left: its key as
// batchOf lands it.
func letterOf(c *change.Change) batch.DeadLetter {
	return batch.DeadLetter{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, Table: c.Table, Reason: "test",
		Key: []byte(fmt.Sprintf(`{"id":%v}`, c.Key)), Value: []byte(`{}`)}
}

func deleteOf(part int32, off int64, pos string, id int64) *change.Change {
	c := upsert(part, off, pos, id, nil, nil)
	c.Op, c.SourceOp, c.Row, c.Schema = change.OpDelete, 'd', nil, deleteSchema
	return c
}

// replayBatch is a replay's batch of one change: no offsets.
func replayBatch(c *change.Change) *batch.Batch {
	b := batch.New()
	b.Table(c.Table, c.Topic).Add(c)
	return b
}

// replayAll replays each pending letter with the change of the same
// offset, and returns the outcomes by offset.
func replayAll(t *testing.T, r warehouse.Replayer, changes map[int64]*change.Change) map[int64]warehouse.ReplayOutcome {
	t.Helper()
	ctx := context.Background()
	letters, err := r.ListDeadLetters(ctx, warehouse.DeadLetterFilter{Table: "people", Pending: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]warehouse.ReplayOutcome{}
	for _, l := range letters {
		o, err := r.ApplyReplay(ctx, l, replayBatch(changes[l.Offset]))
		if err != nil {
			t.Fatalf("replay offset %d: %v", l.Offset, err)
		}
		out[l.Offset] = o
	}
	return out
}

// testReplay: a letter whose key's row holds a later change is
// superseded and the row keeps its value; a letter whose key a later
// landed event deleted is superseded; a letter nothing newer touched is
// applied. Letters are marked, a second replay finds none pending, and
// the stored offsets never move.
func testReplay(t *testing.T, open Opener) {
	ctx := context.Background()
	wh, ins := open(t, "replay_letters", warehouse.Options{Group: "g", Landing: true})
	r := replayer(t, wh)
	old := upsert(0, 1, "p1", 1, "old", nil)   // superseded by offset 3
	bob := upsert(0, 2, "p2", 2, "bob", nil)   // nothing newer: applies
	gone := upsert(0, 4, "p4", 3, "gone", nil) // deleted at offset 5
	b := batchOf(upsert(0, 0, "p0", 1, "ann", nil), upsert(0, 3, "p3", 1, "ann3", nil), deleteOf(0, 5, "p5", 3))
	b.DeadLetters = []batch.DeadLetter{letterOf(old), letterOf(bob), letterOf(gone)}
	b.Next[batch.TopicPartition{Topic: "t.db.people", Partition: 0}] = 6
	apply(t, wh, b, nil)

	got := replayAll(t, r, map[int64]*change.Change{1: old, 2: bob, 4: gone})
	if got[1].Result != warehouse.ReplaySuperseded || got[2].Result != warehouse.ReplayApplied || got[4].Result != warehouse.ReplaySuperseded {
		t.Fatalf("outcomes %v, want 1 superseded, 2 applied, 4 superseded", got)
	}
	if p := people(t, ins); len(p) != 2 || p["1"] != "ann3|NULL" || p["2"] != "bob|NULL" {
		t.Fatalf("people after replay %v, want 1=ann3 (the newer change) and 2=bob", p)
	}
	if again := replayAll(t, r, nil); len(again) != 0 {
		t.Fatalf("a second replay found pending letters: %v", again)
	}
	all, err := r.ListDeadLetters(ctx, warehouse.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.ReplayedAt.IsZero() || l.ReplayResult == "" {
			t.Errorf("letter at offset %d not marked: %+v", l.Offset, l)
		}
	}
	offs, err := wh.Offsets(ctx, []string{"t.db.people"})
	if err != nil {
		t.Fatal(err)
	}
	if offs[batch.TopicPartition{Topic: "t.db.people", Partition: 0}] != 6 {
		t.Fatalf("stored offsets after replay %v, want 6: replay never moves them", offs)
	}
}

// testReplayUnsure: without a landing table nothing shows whether a later
// change deleted an absent key's row: the letter is left pending, not
// applied.
func testReplayUnsure(t *testing.T, open Opener) {
	wh, ins := open(t, "replay_unsure", warehouse.Options{Group: "g"})
	r := replayer(t, wh)
	lost := upsert(0, 1, "p1", 2, "lost", nil)
	b := batchOf(upsert(0, 0, "p0", 1, "ann", nil), deleteOf(0, 2, "p2", 2))
	b.DeadLetters = []batch.DeadLetter{letterOf(lost)}
	apply(t, wh, b, nil)
	got := replayAll(t, r, map[int64]*change.Change{1: lost})
	if got[1].Result != warehouse.ReplayUnsure {
		t.Fatalf("outcome %v, want unsure", got[1])
	}
	if p := people(t, ins); len(p) != 1 {
		t.Fatalf("people %v, want only 1: the deleted key must not come back", p)
	}
	if again := replayAll(t, r, map[int64]*change.Change{1: lost}); len(again) != 1 {
		t.Fatalf("an unsure letter must stay pending: %v", again)
	}
}

package iceberg_test

import (
	"context"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

// TestIceberg_BatchIsOneMultiTableCommit: a batch's target table and its
// offsets are one commit of the catalog. Another writer commits to the
// target table just before the batch's COMMIT: the catalog refuses the
// batch's change of that table, and with it the change of the offsets
// table, which nobody else touched — the offsets do not move past data
// that was not applied. The retried batch then commits both.
func TestIceberg_BatchIsOneMultiTableCommit(t *testing.T) {
	dsn := DSN(t, "atomic", nil)
	wh, ins := open(t, dsn, warehouse.Options{Group: "g"})
	ctx := context.Background()
	tp := batch.TopicPartition{Topic: "t.db.people", Partition: 0}
	if _, err := wh.Apply(ctx, warehousetest.PersonBatch(0, 0, 1), map[batch.TopicPartition]int64{}); err != nil {
		t.Fatal(err)
	}

	c, err := iceberg.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	other, err := iceberg.Connect(ctx, c, false)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	remove := failpoint.Inject("before-commit", func() {
		if _, err := other.ExecContext(ctx, `INSERT INTO people (id, name) VALUES (100, 'other writer')`); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	})
	_, err = wh.Apply(ctx, warehousetest.PersonBatch(0, 1, 2), map[batch.TopicPartition]int64{tp: 1})
	remove()
	if err == nil {
		t.Fatal("the batch committed over another writer's commit to its table")
	}
	if !warehouse.IsTransient(err) {
		t.Errorf("a commit conflict is not transient: %v", err)
	}
	offs, err := wh.Offsets(ctx, []string{tp.Topic})
	if err != nil {
		t.Fatal(err)
	}
	if offs[tp] != 1 {
		t.Fatalf("stored offset %d after the refused commit, want 1: the offsets moved without the data", offs[tp])
	}
	if n, err := ins.Count(ctx, "people", "id = 2"); err != nil || n != 0 {
		t.Fatalf("row 2: %d rows, %v; want none", n, err)
	}

	if _, err := wh.Apply(ctx, warehousetest.PersonBatch(0, 1, 2), map[batch.TopicPartition]int64{tp: 1}); err != nil {
		t.Fatalf("the retried batch: %v", err)
	}
	if offs, err = wh.Offsets(ctx, []string{tp.Topic}); err != nil || offs[tp] != 2 {
		t.Fatalf("stored offset %d, %v after the retry, want 2", offs[tp], err)
	}
	if n, err := ins.Count(ctx, "people", "id IN (1, 2, 100)"); err != nil || n != 3 {
		t.Fatalf("people: %d of rows 1, 2, 100, %v; want 3", n, err)
	}
}

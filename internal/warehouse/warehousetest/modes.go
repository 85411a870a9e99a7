package warehousetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// RunModes runs the cases of the table modes other than current
// (warehouse.ModeSoftDelete, warehouse.ModeHistory), for the warehouses
// that support them.
func RunModes(t *testing.T, open Opener) {
	t.Run("SoftDeleteFlagsAndReinsertClears", func(t *testing.T) { testSoftDelete(t, open) })
	t.Run("SoftDeleteSameKeyInOneBatch", func(t *testing.T) { testSoftDeleteOneBatch(t, open) })
	t.Run("SoftDeleteKeyChange", func(t *testing.T) { testSoftDeleteKeyChange(t, open) })
	t.Run("SoftDeleteTruncate", func(t *testing.T) { testSoftDeleteTruncate(t, open) })
	t.Run("SoftDeleteToast", func(t *testing.T) { testSoftDeleteToast(t, open) })
	t.Run("HistoryVersions", func(t *testing.T) { testHistory(t, open) })
	t.Run("HistorySameKeyInOneBatchInSourceOrder", func(t *testing.T) { testHistoryOneBatch(t, open) })
	t.Run("HistoryKeyChange", func(t *testing.T) { testHistoryKeyChange(t, open) })
	t.Run("HistoryTruncate", func(t *testing.T) { testHistoryTruncate(t, open) })
	t.Run("HistoryReplayAddsNoVersion", func(t *testing.T) { testHistoryReplay(t, open) })
	t.Run("HistoryToast", func(t *testing.T) { testHistoryToast(t, open) })
	t.Run("ModeCannotChange", func(t *testing.T) { testModeCannotChange(t, open) })
	t.Run("HistoryWorkload", func(t *testing.T) { testHistoryWorkload(t, open) })
	t.Run("SoftDeleteWorkload", func(t *testing.T) { testSoftDeleteWorkload(t, open) })
}

// testHistoryWorkload drains seeded workloads into history tables and
// compares each with the full sequence of source versions from the
// generator's model: every version present once, with its validity
// interval exactly the source commit times; and the current versions
// equal to the source's rows. Several partitions without truncates, and
// one partition with truncates and TOAST placeholders (see README: a
// version that precedes a truncate but is consumed after it, and a TOAST
// value across a key change split over partitions, are not covered).
func testHistoryWorkload(t *testing.T, open Opener) {
	for _, tc := range []workload.Options{
		{Seed: 5, Partitions: 3, Schemas: true, SnapshotRows: 20, Ops: 1500, PKChanges: true, Tombstones: true, SchemaChanges: true},
		{Seed: 9, Partitions: 1, Schemas: false, SnapshotRows: 20, Ops: 1500, PKChanges: true, Truncates: true, Toast: true, Poison: true},
		{Seed: 21, Partitions: 3, Schemas: true, SnapshotRows: 30, Ops: 2000, PKChanges: true, Tombstones: true, Truncates: true},
	} {
		t.Run(fmt.Sprintf("seed=%d/partitions=%d/%v%v%v", tc.Seed, tc.Partitions, tc.PKChanges, tc.Truncates, tc.Toast), func(t *testing.T) {
			w := workload.New(tc)
			wh, ins := open(t, fmt.Sprintf("histwl_%d_%v_%v_%v", tc.Seed, tc.PKChanges, tc.Truncates, tc.Toast), warehouse.Options{Group: "g", Mode: warehouse.ModeHistory})
			drain(t, wh, w, 97, func(string) bool { return true })
			AssertVersions(t, ins, w)
		})
	}
}

// AssertVersions compares every history table with the workload's
// versions — each once, with its exact validity — and its current versions
// with the source's rows.
func AssertVersions(t *testing.T, ins Inspector, w *workload.Workload) {
	t.Helper()
	ctx := context.Background()
	for _, tb := range w.Tables {
		cols := append(tb.Columns(), warehouse.ColValidFrom, warehouse.ColValidTo, warehouse.ColIsCurrent)
		ts := map[string]bool{warehouse.ColValidFrom: true, warehouse.ColValidTo: true}
		for _, c := range tb.Columns() {
			ts[c] = tb.IsTimestamp(c)
		}
		got, err := ins.Rows(ctx, tb.Name, cols, ts)
		if err != nil {
			t.Fatal(err)
		}
		var current [][]*string
		for i, r := range got {
			n := len(r) - 1
			if (boolText(r[n]) == "true") != (r[n-1] == nil) {
				t.Errorf("table %s: a version's %s disagrees with %s", tb.Name, warehouse.ColIsCurrent, warehouse.ColValidTo)
			}
			if r[n-1] == nil {
				current = append(current, r[:n-2])
			}
			got[i] = r[:n]
		}
		want := tb.ExpectedVersions()
		if diff := DiffRows(cols[:len(cols)-1], want, got); diff != "" {
			t.Errorf("table %s: versions differ from the source's (want %d, got %d):\n%s", tb.Name, len(want), len(got), diff)
		}
		tb.SortRows(current)
		if diff := DiffRows(tb.Columns(), tb.Expected(), current); diff != "" {
			t.Errorf("table %s: current versions differ from the source:\n%s", tb.Name, diff)
		}
	}
}

// testSoftDeleteWorkload drains a seeded workload into soft_delete tables:
// the live rows equal the source's, every key the source deleted (and did
// not re-create) is kept, flagged.
// The truncates run leaves TOAST placeholders out: current mode itself
// loses a TOAST value there (a key change across partitions around a
// truncate; see the report), and soft_delete shares its apply. With
// truncates, a row created and truncated within one batch, or
// consumed after a truncate it precedes, leaves no row (see README): the
// count of deleted rows is then at most the keys deleted.
func testSoftDeleteWorkload(t *testing.T, open Opener) {
	for _, truncates := range []bool{false, true} {
		t.Run(fmt.Sprint("truncates=", truncates), func(t *testing.T) { testSoftDeleteWorkloadWith(t, open, truncates) })
	}
}

func testSoftDeleteWorkloadWith(t *testing.T, open Opener, truncates bool) {
	w := workload.New(workload.Options{Seed: softSeed, Partitions: 3, Schemas: true, SnapshotRows: 20, Ops: int(softOps),
		PKChanges: true, Tombstones: true, Toast: !truncates, Truncates: truncates})
	wh, ins := open(t, fmt.Sprint("softwl_", truncates), warehouse.Options{Group: "g", Mode: warehouse.ModeSoftDelete})
	drain(t, wh, w, 97, nil)
	AssertSoftDeleted(t, ins, w, !truncates)
}

// AssertSoftDeleted checks soft_delete tables against a workload: the live
// rows equal the source's, every other row is flagged with its time, and
// (exact) every key the source had and no longer has is kept, flagged.
func AssertSoftDeleted(t *testing.T, ins Inspector, w *workload.Workload, exact bool) {
	t.Helper()
	ctx := context.Background()
	for _, tb := range w.Tables {
		cols := append(tb.Columns(), warehouse.ColDeleted, warehouse.ColDeletedAt)
		ts := map[string]bool{warehouse.ColDeletedAt: true}
		for _, c := range tb.Columns() {
			ts[c] = tb.IsTimestamp(c)
		}
		got, err := ins.Rows(ctx, tb.Name, cols, ts)
		if err != nil {
			t.Fatal(err)
		}
		var live [][]*string
		deleted := 0
		for _, r := range got {
			n := len(r)
			switch {
			case boolText(r[n-2]) == "false" && r[n-1] == nil:
				live = append(live, r[:n-2])
			case boolText(r[n-2]) == "true" && r[n-1] != nil:
				deleted++
			default:
				t.Errorf("table %s: a row flagged %v with deleted_at %v", tb.Name, text(r[n-2]), text(r[n-1]))
			}
		}
		tb.SortRows(live)
		if diff := DiffRows(tb.Columns(), tb.Expected(), live); diff != "" {
			t.Errorf("table %s: live rows differ from the source:\n%s", tb.Name, diff)
		}
		if want := tb.KeysEver() - len(tb.Expected()); deleted != want && (exact || deleted > want) {
			t.Errorf("table %s: %d deleted rows kept, want %d (every key the source had and no longer has)", tb.Name, deleted, want)
		}
	}
}

// at sets a change's source commit time, in seconds after a fixed epoch.
func at(c *change.Change, sec int64) *change.Change {
	c.SourceTs = tsBase + sec*1000
	return c
}

const tsBase = 1_700_000_000_000 // ms

// us is the text of a commit time at sec, as Inspector.Rows reads it.
func us(sec int64) string { return fmt.Sprint((tsBase + sec*1000) * 1000) }

func modeOpts(m warehouse.Mode) warehouse.Options { return warehouse.Options{Group: "g", Mode: m} }

func tp(part int32) batch.TopicPartition {
	return batch.TopicPartition{Topic: "t.db.people", Partition: part}
}

// softRows reads a soft_delete table as id → name|deleted|deleted_at.
func softRows(t *testing.T, ins Inspector) map[string]string {
	t.Helper()
	rows, err := ins.Rows(context.Background(), "people", []string{"id", "name", warehouse.ColDeleted, warehouse.ColDeletedAt},
		map[string]bool{warehouse.ColDeletedAt: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[text(r[0])] = text(r[1]) + "|" + boolText(r[2]) + "|" + text(r[3])
	}
	return out
}

func text(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// boolText normalizes a boolean's text form across warehouses.
func boolText(s *string) string {
	switch strings.ToLower(text(s)) {
	case "true", "t", "1":
		return "true"
	case "false", "f", "0":
		return "false"
	}
	return text(s)
}

func testSoftDelete(t *testing.T, open Opener) {
	wh, ins := open(t, "soft", modeOpts(warehouse.ModeSoftDelete))
	apply(t, wh, batchOf(at(upsert(0, 0, "p01", 1, "ann", nil), 1), at(upsert(0, 1, "p02", 2, "bob", nil), 2)), nil)
	apply(t, wh, batchOf(at(deleteOf(0, 2, "p03", 1), 3)), map[batch.TopicPartition]int64{tp(0): 2})
	got := softRows(t, ins)
	if want := map[string]string{"1": "ann|true|" + us(3), "2": "bob|false|NULL"}; !equalMaps(got, want) {
		t.Fatalf("after delete: %v, want %v (the deleted row kept, flagged at the delete's commit time)", got, want)
	}
	apply(t, wh, batchOf(at(upsert(0, 3, "p04", 1, "ann again", nil), 4)), map[batch.TopicPartition]int64{tp(0): 3})
	got = softRows(t, ins)
	if want := map[string]string{"1": "ann again|false|NULL", "2": "bob|false|NULL"}; !equalMaps(got, want) {
		t.Fatalf("after re-insert: %v, want %v (a re-insert clears the flag)", got, want)
	}
}

// testSoftDeleteOneBatch: several changes of a key in one batch, the last
// a delete — also of a key the warehouse never held — leave one flagged
// row with the last image; a delete then re-insert leaves a live row.
func testSoftDeleteOneBatch(t *testing.T, open Opener) {
	wh, ins := open(t, "soft1", modeOpts(warehouse.ModeSoftDelete))
	apply(t, wh, batchOf(at(upsert(0, 0, "p01", 1, "a1", nil), 1)), nil)
	apply(t, wh, batchOf(
		at(upsert(0, 1, "p02", 1, "a2", nil), 2),
		at(deleteOf(0, 2, "p03", 1), 3),
		at(upsert(0, 3, "p04", 2, "b1", nil), 4),
		at(upsert(0, 4, "p05", 2, "b2", nil), 5),
		at(deleteOf(0, 5, "p06", 2), 6),
		at(upsert(0, 6, "p07", 3, "c1", nil), 7),
		at(deleteOf(0, 7, "p08", 3), 8),
		at(upsert(0, 8, "p09", 3, "c2", nil), 9),
	), map[batch.TopicPartition]int64{tp(0): 1})
	got := softRows(t, ins)
	want := map[string]string{"1": "a2|true|" + us(3), "2": "b2|true|" + us(6), "3": "c2|false|NULL"}
	if !equalMaps(got, want) {
		t.Fatalf("people = %v, want %v", got, want)
	}
	ops, err := ins.Ops(context.Background(), "people")
	if err != nil {
		t.Fatal(err)
	}
	if ops["1"] != "d" || ops["2"] != "d" || ops["3"] != "u" {
		t.Fatalf("ops = %v, want 1=d 2=d 3=u", ops)
	}
}

// testSoftDeleteKeyChange: a primary-key change soft-deletes the old key
// and creates the new one, whether the halves come in one batch or two.
func testSoftDeleteKeyChange(t *testing.T, open Opener) {
	wh, ins := open(t, "softkey", modeOpts(warehouse.ModeSoftDelete))
	apply(t, wh, batchOf(at(upsert(0, 0, "p01", 1, "ann", "bio"), 1), at(upsert(0, 1, "p02", 3, "cy", "bio3"), 1)), nil)
	del := at(toastDel(0, 2, "p03", 1, 2), 2)
	create := at(upsert(0, 3, "p03", 2, "ann", "bio"), 2)
	create.SourceOp, create.OldKey, create.OldKeyID = 'c', []any{int64(1)}, change.KeyID([]any{int64(1)})
	apply(t, wh, batchOf(del, create), map[batch.TopicPartition]int64{tp(0): 2})
	// Two batches, two partitions: the delete's comes second.
	del3 := at(toastDel(0, 4, "p05", 3, 4), 3)
	create4 := at(upsert(1, 0, "p05", 4, "cy", "bio3"), 3)
	create4.SourceOp, create4.OldKey, create4.OldKeyID = 'c', []any{int64(3)}, change.KeyID([]any{int64(3)})
	apply(t, wh, batchOf(create4), nil)
	apply(t, wh, batchOf(del3), map[batch.TopicPartition]int64{tp(0): 4})
	got := softRows(t, ins)
	want := map[string]string{"1": "ann|true|" + us(2), "2": "ann|false|NULL", "3": "cy|true|" + us(3), "4": "cy|false|NULL"}
	if !equalMaps(got, want) {
		t.Fatalf("people = %v, want %v", got, want)
	}
	noPendingMoves(t, ins, "after both halves of the key changes")
}

// testSoftDeleteTruncate: a truncate flags every live row that precedes
// it, at its commit time; rows already deleted keep their delete's time;
// a row that follows it (another partition, later position) stays live;
// rows of the batch after the truncate are live.
func testSoftDeleteTruncate(t *testing.T, open Opener) {
	wh, ins := open(t, "softtrunc", modeOpts(warehouse.ModeSoftDelete))
	apply(t, wh, batchOf(at(upsert(0, 0, "p01", 1, "a", nil), 1), at(upsert(0, 1, "p02", 2, "b", nil), 1),
		at(deleteOf(0, 2, "p03", 2), 2), at(upsert(1, 0, "p20", 3, "c", nil), 5)), nil)
	apply(t, wh, batchOf(at(truncateAt(2, 0, "p10"), 4), at(upsert(2, 1, "p11", 4, "d", nil), 6)), nil)
	got := softRows(t, ins)
	want := map[string]string{"1": "a|true|" + us(4), "2": "b|true|" + us(2), "3": "c|false|NULL", "4": "d|false|NULL"}
	if !equalMaps(got, want) {
		t.Fatalf("people = %v, want %v", got, want)
	}
	// A late event preceding the truncate is ignored, as in current.
	st := apply(t, wh, batchOf(at(upsert(0, 3, "p05", 5, "late", nil), 3)), map[batch.TopicPartition]int64{tp(0): 3})
	if st.Ignored != 1 {
		t.Fatalf("ignored = %d, want 1", st.Ignored)
	}
	if got := softRows(t, ins); got["5"] != "" {
		t.Fatalf("late row 5 = %q, want none", got["5"])
	}
}

func testSoftDeleteToast(t *testing.T, open Opener) {
	wh, ins := open(t, "softtoast", modeOpts(warehouse.ModeSoftDelete))
	apply(t, wh, batchOf(at(upsert(0, 0, "p01", 1, "ann", "long bio"), 1)), nil)
	apply(t, wh, batchOf(at(toastUpdate(0, 1, "p02", 1, "ann b"), 2)), map[batch.TopicPartition]int64{tp(0): 1})
	apply(t, wh, batchOf(at(deleteOf(0, 2, "p03", 1), 3)), map[batch.TopicPartition]int64{tp(0): 2})
	if got := dumpMap(t, ins, "people", "name", "bio"); got["1"] != "ann b|long bio" {
		t.Fatalf("people = %v, want the unchanged bio kept", got)
	}
}

// version is one row of a history table, as text.
type version struct {
	id, name, bio, from, to, op, current string
}

func (v version) String() string {
	return fmt.Sprintf("%s:%s|%s [%s,%s) %s %s", v.id, v.name, v.bio, v.from, v.to, v.op, v.current)
}

// versions reads a history table, ordered by id and valid_from.
func versions(t *testing.T, ins Inspector) []version {
	t.Helper()
	rows, err := ins.Rows(context.Background(), "people", []string{"id", "name", "bio", warehouse.ColValidFrom, warehouse.ColValidTo,
		warehouse.ColOp, warehouse.ColIsCurrent, warehouse.ColPosition}, map[string]bool{warehouse.ColValidFrom: true, warehouse.ColValidTo: true})
	if err != nil {
		t.Fatal(err)
	}
	type keyed struct {
		v   version
		pos string
	}
	var ks []keyed
	for _, r := range rows {
		ks = append(ks, keyed{version{text(r[0]), text(r[1]), text(r[2]), text(r[3]), text(r[4]), text(r[5]), boolText(r[6])}, text(r[7])})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(fmt.Sprintf("%20s", a.v.id), fmt.Sprintf("%20s", b.v.id)); c != 0 {
			return c
		}
		return strings.Compare(a.pos, b.pos)
	})
	out := make([]version, len(ks))
	for i, k := range ks {
		out[i] = k.v
	}
	return out
}

func v(id int64, name, bio string, from, to int64, op string) version {
	cur, toText := "false", us(to)
	if to < 0 {
		cur, toText = "true", "NULL"
	}
	return version{fmt.Sprint(id), name, bio, us(from), toText, op, cur}
}

func wantVersions(t *testing.T, ins Inspector, want ...version) {
	t.Helper()
	got := versions(t, ins)
	if !slices.Equal(got, want) {
		t.Fatalf("versions:\n got %v\nwant %v", got, want)
	}
}

func testHistory(t *testing.T, open Opener) {
	wh, ins := open(t, "hist", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "a1", nil), 1), at(upsert(0, 1, "p02", 2, "b1", nil), 2)), nil)
	apply(t, wh, hbatch(at(upsert(0, 2, "p03", 1, "a2", nil), 3)), map[batch.TopicPartition]int64{tp(0): 2})
	apply(t, wh, hbatch(at(deleteOf(0, 3, "p04", 2), 4)), map[batch.TopicPartition]int64{tp(0): 3})
	apply(t, wh, hbatch(at(upsert(0, 4, "p05", 2, "b2", nil), 5)), map[batch.TopicPartition]int64{tp(0): 4})
	wantVersions(t, ins,
		v(1, "a1", "NULL", 1, 3, "u"), v(1, "a2", "NULL", 3, -1, "u"),
		v(2, "b1", "NULL", 2, 4, "u"), v(2, "b2", "NULL", 5, -1, "u"))
	if r, ok := ins.(interface {
		CurrentView(ctx context.Context, table string) (int, error)
	}); ok {
		n, err := r.CurrentView(context.Background(), "people")
		if err != nil || n != 2 {
			t.Fatalf("people_current: %d rows, err %v; want 2", n, err)
		}
	}
}

// testHistoryOneBatch: every change of a key in one batch is a version, in
// source order even when the batch consumed them out of it (two
// partitions of one table, interleaved by position).
func testHistoryOneBatch(t *testing.T, open Opener) {
	wh, ins := open(t, "hist1", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "a1", nil), 1)), nil)
	apply(t, wh, hbatch(
		// Partition 1 is consumed first but its changes come later.
		at(upsert(1, 0, "p06", 2, "b2", nil), 6),
		at(upsert(1, 1, "p08", 2, "b3", nil), 8),
		at(upsert(0, 1, "p02", 1, "a2", nil), 2),
		at(upsert(0, 2, "p03", 2, "b1", nil), 3),
		at(deleteOf(0, 3, "p04", 1), 4),
		at(upsert(0, 4, "p05", 1, "a3", nil), 5),
	), map[batch.TopicPartition]int64{tp(0): 1})
	wantVersions(t, ins,
		v(1, "a1", "NULL", 1, 2, "u"), v(1, "a2", "NULL", 2, 4, "u"), v(1, "a3", "NULL", 5, -1, "u"),
		v(2, "b1", "NULL", 3, 6, "u"), v(2, "b2", "NULL", 6, 8, "u"), v(2, "b3", "NULL", 8, -1, "u"))
}

// testHistoryKeyChange: the old key's version closes at the key change,
// the new key's opens, and an unchanged (TOAST) value comes from the old
// key's row, in the batch or stored.
func testHistoryKeyChange(t *testing.T, open Opener) {
	wh, ins := open(t, "histkey", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "ann", "bio1"), 1)), nil)
	apply(t, wh, hbatch(at(toastDel(0, 1, "p02", 1, 2), 2), at(toastCreate(0, 2, "p02", 1, 2, "ann"), 2),
		at(upsert(0, 3, "p03", 3, "cy", "bio3"), 3), at(toastDel(0, 4, "p04", 3, 4), 4), at(toastCreate(0, 5, "p04", 3, 4, "cy"), 4)),
		map[batch.TopicPartition]int64{tp(0): 1})
	wantVersions(t, ins,
		v(1, "ann", "bio1", 1, 2, "u"), v(2, "ann", "bio1", 2, -1, "c"),
		v(3, "cy", "bio3", 3, 4, "u"), v(4, "cy", "bio3", 4, -1, "c"))
	// A chain of key changes in one batch, 2→5→6: 5's value comes from the
	// stored 2, 6's from the staged 5.
	apply(t, wh, hbatch(at(toastDel(0, 6, "p05", 2, 5), 5), at(toastCreate(0, 7, "p05", 2, 5, "ann"), 5),
		at(toastDel(0, 8, "p06", 5, 6), 6), at(toastCreate(0, 9, "p06", 5, 6, "ann"), 6)),
		map[batch.TopicPartition]int64{tp(0): 6})
	wantVersions(t, ins,
		v(1, "ann", "bio1", 1, 2, "u"), v(2, "ann", "bio1", 2, 5, "c"),
		v(3, "cy", "bio3", 3, 4, "u"), v(4, "cy", "bio3", 4, -1, "c"),
		v(5, "ann", "bio1", 5, 6, "c"), v(6, "ann", "bio1", 6, -1, "c"))
}

// testHistoryTruncate: a truncate closes every open version that precedes
// it, whether stored or earlier in its batch; versions after it open; a
// version on another partition that follows it stays open.
func testHistoryTruncate(t *testing.T, open Opener) {
	wh, ins := open(t, "histtrunc", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "a1", nil), 1), at(upsert(1, 0, "p20", 3, "c1", nil), 20)), nil)
	apply(t, wh, hbatch(at(upsert(0, 1, "p02", 2, "b1", nil), 2), at(upsert(0, 2, "p03", 1, "a2", nil), 3),
		at(truncateAt(0, 3, "p05"), 5), at(upsert(0, 4, "p06", 1, "a3", nil), 6)),
		map[batch.TopicPartition]int64{tp(0): 1})
	wantVersions(t, ins,
		v(1, "a1", "NULL", 1, 3, "u"), v(1, "a2", "NULL", 3, 5, "u"), v(1, "a3", "NULL", 6, -1, "u"),
		v(2, "b1", "NULL", 2, 5, "u"),
		v(3, "c1", "NULL", 20, -1, "u"))
}

// testHistoryReplay: events applied again — a topic reset and read from
// the start, or Debezium sending events twice at new offsets — add no
// version; a new change after them does.
func testHistoryReplay(t *testing.T, open Opener) {
	wh, ins := open(t, "histreplay", modeOpts(warehouse.ModeHistory))
	first := func() []*change.Change {
		return []*change.Change{at(upsert(0, 0, "p01", 1, "a1", nil), 1), at(upsert(0, 1, "p02", 1, "a2", nil), 2),
			at(deleteOf(0, 2, "p03", 1), 3), at(upsert(0, 3, "p04", 2, "b1", nil), 4)}
	}
	apply(t, wh, hbatch(first()...), nil)
	want := []version{v(1, "a1", "NULL", 1, 2, "u"), v(1, "a2", "NULL", 2, 3, "u"), v(2, "b1", "NULL", 4, -1, "u")}
	wantVersions(t, ins, want...)
	if err := wh.ResetTopic(context.Background(), "t.db.people"); err != nil {
		t.Fatal(err)
	}
	apply(t, wh, hbatch(first()...), nil)
	wantVersions(t, ins, want...)
	// The same events again at later offsets (an at-least-once resend),
	// then a new one.
	var again []*change.Change
	for _, c := range first() {
		c.Offset += 10
		again = append(again, c)
	}
	again = append(again, at(upsert(0, 14, "p05", 2, "b2", nil), 5))
	apply(t, wh, hbatch(again...), map[batch.TopicPartition]int64{tp(0): 4})
	wantVersions(t, ins, want[0], want[1], v(2, "b1", "NULL", 4, 5, "u"), v(2, "b2", "NULL", 5, -1, "u"))
}

func testHistoryToast(t *testing.T, open Opener) {
	wh, ins := open(t, "histtoast", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "a1", "bio"), 1)), nil)
	apply(t, wh, hbatch(at(toastUpdate(0, 1, "p02", 1, "a2"), 2), at(toastUpdate(0, 2, "p03", 1, "a3"), 3)),
		map[batch.TopicPartition]int64{tp(0): 1})
	wantVersions(t, ins, v(1, "a1", "bio", 1, 2, "u"), v(1, "a2", "bio", 2, 3, "u"), v(1, "a3", "bio", 3, -1, "u"))
}

// testModeCannotChange: a table created in one mode refuses another.
func testModeCannotChange(t *testing.T, open Opener) {
	wh, _ := open(t, "modechange", modeOpts(warehouse.ModeHistory))
	apply(t, wh, hbatch(at(upsert(0, 0, "p01", 1, "a1", nil), 1)), nil)
	wh.Close()
	wh, _ = open(t, "modechange", modeOpts(warehouse.ModeCurrent))
	_, err := wh.Apply(context.Background(), hbatch(at(upsert(0, 1, "p02", 1, "a2", nil), 2)), map[batch.TopicPartition]int64{tp(0): 1})
	if err == nil || !strings.Contains(err.Error(), "created in mode history") {
		t.Fatalf("err = %v, want the mode mismatch named", err)
	}
}

// hbatch is batchOf for a history table: the batch keeps every change.
func hbatch(changes ...*change.Change) *batch.Batch {
	b := batch.New()
	for _, c := range changes {
		b.Table(c.Table, c.Topic).KeepVersions = true
	}
	for _, c := range changes {
		b.Record(c.Topic, c.Partition, c.Offset, 10)
		tb := b.Table(c.Table, c.Topic)
		tb.Add(c)
		tb.Landing = append(tb.Landing, batch.Raw{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, TimestampType: 'C',
			Key: []byte(fmt.Sprintf(`{"id":%v}`, c.Key)), Value: []byte(`{}`)})
	}
	return b
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var softSeed, softOps int64 = 17, 2000

package verify

import (
	"context"
	"strings"
	"testing"
)

// modeTarget compares a one-table source (id, name) with a DuckDB target
// built by stmts, and returns the result and the report.
func modeTarget(t *testing.T, src [][]any, stmts ...string) (*TableResult, string) {
	t.Helper()
	path := duckFile(t, stmts...)
	mem := newMem()
	mem.add(&Table{Name: "people", Key: []int{0}, Columns: []Column{{Name: "id", Family: FInt}, {Name: "name", Family: FString}}}, src...)
	ctx := context.Background()
	tgt, err := OpenTarget(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	var out strings.Builder
	res, err := Compare(ctx, mem, tgt, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tables[0], out.String()
}

const softTable = `CREATE TABLE people (id BIGINT, name VARCHAR` + cdcCols + `, _cdc_deleted BOOLEAN, _cdc_deleted_at TIMESTAMPTZ, PRIMARY KEY (id))`

// TestVerifySoftDelete: the live rows of a soft_delete table are compared
// with the source, the flagged ones are not; a deleted row without its
// time is a difference.
func TestVerifySoftDelete(t *testing.T) {
	src := [][]any{{int64(1), "ann"}, {int64(3), "cy"}}
	tr, out := modeTarget(t, src, softTable,
		`INSERT INTO people (id, name, _cdc_deleted) VALUES (1, 'ann', false), (3, 'cy', false)`,
		`INSERT INTO people (id, name, _cdc_deleted, _cdc_deleted_at) VALUES (2, 'bob', true, TIMESTAMPTZ '2024-01-01 00:00:00+00')`)
	if !tr.Equal() || tr.TargetRows != 2 || !strings.Contains(out, "1 deleted rows kept") {
		t.Fatalf("want equal, 2 live rows, the deleted one noted:\n%s", out)
	}
	tr, out = modeTarget(t, src, softTable,
		`INSERT INTO people (id, name, _cdc_deleted) VALUES (1, 'ann', false), (3, 'cy', true)`)
	if tr.Missing != 1 || !strings.Contains(out, "1 deleted rows with no _cdc_deleted_at") {
		t.Fatalf("want 3 missing (flagged deleted) and the flag without time reported:\n%s", out)
	}
}

const historyTable = `CREATE TABLE people (id BIGINT, name VARCHAR` + cdcCols + `, _cdc_valid_from TIMESTAMPTZ, _cdc_valid_to TIMESTAMPTZ,
	_cdc_is_current BOOLEAN, PRIMARY KEY (id, _cdc_kafka_partition, _cdc_kafka_offset))`

// TestVerifyHistory: a history table's current versions are compared with
// the source; versions that overlap, two current versions of a key, or a
// current flag that disagrees with valid_to are differences.
func TestVerifyHistory(t *testing.T) {
	src := [][]any{{int64(1), "a2"}, {int64(2), "b1"}}
	ins := `INSERT INTO people (id, name, _cdc_kafka_partition, _cdc_kafka_offset, _cdc_position, _cdc_valid_from, _cdc_valid_to, _cdc_is_current) VALUES `
	good := ins + `(1, 'a1', 0, 0, 'p1', TIMESTAMPTZ '2024-01-01 00:00:01+00', TIMESTAMPTZ '2024-01-01 00:00:02+00', false),
		(1, 'a2', 0, 1, 'p2', TIMESTAMPTZ '2024-01-01 00:00:02+00', NULL, true),
		(2, 'b0', 0, 2, 'p3', TIMESTAMPTZ '2024-01-01 00:00:03+00', TIMESTAMPTZ '2024-01-01 00:00:04+00', false),
		(2, 'b1', 0, 3, 'p5', TIMESTAMPTZ '2024-01-01 00:00:05+00', NULL, true)`
	tr, out := modeTarget(t, src, historyTable, good)
	if !tr.Equal() || tr.TargetRows != 2 || !strings.Contains(out, "4 versions in all") {
		t.Fatalf("want equal over the 2 current versions of 4:\n%s", out)
	}
	tr, out = modeTarget(t, src, historyTable, ins+`(1, 'a1', 0, 0, 'p1', TIMESTAMPTZ '2024-01-01 00:00:01+00', TIMESTAMPTZ '2024-01-01 00:00:03+00', false),
		(1, 'a2', 0, 1, 'p2', TIMESTAMPTZ '2024-01-01 00:00:02+00', NULL, true),
		(2, 'b0', 0, 2, 'p3', TIMESTAMPTZ '2024-01-01 00:00:03+00', NULL, true),
		(2, 'b1', 0, 3, 'p5', TIMESTAMPTZ '2024-01-01 00:00:05+00', NULL, true)`)
	for _, want := range []string{"1 keys with more than one current version", "2 versions that overlap the key's next version"} {
		if tr.Equal() || !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	_, out = modeTarget(t, src, historyTable, good, `UPDATE people SET _cdc_is_current = true WHERE name = 'b0'`)
	if !strings.Contains(out, "versions whose _cdc_is_current disagrees with _cdc_valid_to") {
		t.Errorf("report lacks the current flag disagreeing:\n%s", out)
	}
}

package redshiftgen

import (
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestProcedureSoftDeleteOnPostgreSQL runs the generated soft_delete
// procedures on PostgreSQL: after the stream (two runs) the live rows equal the
// source's; after a run of deletes only, the deleted keys are still there,
// flagged with their delete's commit time, and the live rows equal the
// source's again.
func TestProcedureSoftDeleteOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	opts := workload.Options{Seed: 5, Partitions: 3, Schemas: false, SnapshotRows: 20, Ops: 1500,
		Truncates: true, PKChanges: true, Tombstones: true}
	before := workload.New(opts)
	w := workload.New(opts)
	for _, tb := range w.Tables {
		w.Do(tb.Name, "delete")
		w.Do(tb.Name, "delete")
	}
	tables := inspectWorkload(t, w, declaredTypes(t, w))
	for _, tb := range tables {
		tb.Mode = warehouse.ModeSoftDelete
	}
	db, schema := openSchema(t, dsn)
	out, err := Generate(Options{Dialect: PostgreSQL, Schema: schema}, tables)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, out.Setup)
	for _, ts := range out.Tables {
		exec(t, db, ts.SQL)
	}
	l := loader{t: t, db: db, schema: schema, recs: records(w.Events)}
	n, all := len(before.Events), len(w.Events)
	flagged := func(table string) int {
		var k int
		if err := db.QueryRow("SELECT count(*) FROM " + rs.Ident(schema) + "." + rs.Ident(table) +
			" WHERE _cdc_deleted AND _cdc_deleted_at IS NOT NULL").Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	call := func() {
		for _, tb := range w.Tables {
			exec(t, db, "CALL "+rs.Ident(schema)+"."+rs.Ident("incremental_sync_"+tb.Name)+"()")
		}
	}
	live := " WHERE NOT _cdc_deleted"
	l.load(func(int32) int { return n / 2 })
	call()
	l.load(func(int32) int { return n })
	call()
	counts := map[string]int{}
	for _, tb := range before.Tables {
		assertRows(t, db, schema, tb, "whole stream", live)
		counts[tb.Name] = flagged(tb.Name)
		if counts[tb.Name] == 0 {
			t.Errorf("table %s: no row kept flagged after the stream's deletes", tb.Name)
		}
	}
	l.load(func(int32) int { return all })
	call()
	for _, tb := range w.Tables {
		assertRows(t, db, schema, tb, "deletes only", live)
		if got := flagged(tb.Name); got != counts[tb.Name]+2 {
			t.Errorf("table %s: %d rows flagged, want %d (the 2 deleted keys added)", tb.Name, got, counts[tb.Name]+2)
		}
	}
}

// TestGenerateRefusesHistory: the generated SQL does not do mode history,
// and says so.
func TestGenerateRefusesHistory(t *testing.T) {
	tb := &Table{Name: "people", Topic: "t.db.people", Columns: []Column{{Name: "id", Type: change.Int64, Key: true}}, Key: []string{"id"},
		Mode: warehouse.ModeHistory}
	_, err := Generate(Options{}, []*Table{tb})
	if err == nil || !strings.Contains(err.Error(), "mode history is not supported by the generated Redshift SQL") {
		t.Fatalf("err = %v, want history refused", err)
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestModes streams the PostgreSQL workload through Debezium into DuckDB
// with one table in each mode: customers soft_delete (deletes, a key
// deleted and inserted again, key changes, TOASTed values), orders
// current, order_settings history (a delete, a key change, a truncate).
// `cdcsync verify` must find each table equal to the source in its mode's
// terms after the snapshot and after the workload; the deleted keys and
// the versions are then checked one by one.
func TestModes(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	start := time.Now()
	schema := runID + "_md"
	prefix := runID + "m"
	slot := runID + "_mdslot"
	pub := runID + "_mdpub"

	_, conn, topics := pgSnapshotStreamed(t, connectorConfig(true), schema, prefix, slot, pub)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "modes.yaml")
	if err := os.WriteFile(cfg, []byte("tables:\n  customers:\n    mode: soft_delete\n  order_settings:\n    mode: history\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	duck := filepath.Join(dir, "modes.duckdb")
	topicsRE := regexp.QuoteMeta(prefix+"."+schema+".") + ".*"
	source := pgDSN(schema)

	syncOnce(t, duck, topicsRE, "--config", cfg)
	if r := verify(t, source, duck); r.code != 0 || !strings.Contains(r.stdout, "verify: 3 tables equal") {
		t.Errorf("verify after the snapshot: want 3 tables equal:\n%s", r)
	}

	execScript(t, conn, "testdata/postgres_workload.sql")
	execScript(t, conn, "testdata/postgres_marker.sql")
	waitForMarkers(t, topics)
	t.Logf("workload streamed: %s", since(start))
	syncOnce(t, duck, topicsRE, "--config", cfg)
	if r := verify(t, source, duck, "--page-size", "5"); r.code != 0 || !strings.Contains(r.stdout, "verify: 3 tables equal") {
		t.Errorf("verify after the workload: want 3 tables equal:\n%s", r)
		deadLetters(t, duck)
	}

	query := func(sql string) string {
		t.Helper()
		r := cdcsync(t, time.Minute, "query", "--target", duck, sql)
		if r.code != 0 {
			t.Fatalf("query %s:\n%s", sql, r)
		}
		return r.stdout
	}
	// soft_delete: deleted keys stay, flagged with their delete's commit
	// time; the old key of a key change is deleted, a key inserted again
	// is live.
	got := query(`SELECT id, _cdc_deleted, _cdc_deleted_at IS NOT NULL AS has_time FROM customers
		WHERE id IN (7, 8, 9, 10, 1008, 1010) ORDER BY id`)
	for _, want := range []string{`7\s+true\s+true`, `8\s+true\s+true`, `9\s+false\s+false`, `10\s+false\s+false`, `1008\s+false\s+false`, `1010\s+true\s+true`} {
		if !regexp.MustCompile(`(?m)^\s*` + want + `\s*$`).MatchString(got) {
			t.Errorf("soft_delete customers: no row matching %q in:\n%s", want, got)
		}
	}
	if got := query(`SELECT email FROM customers WHERE id = 9`); !strings.Contains(got, "reborn9@example.com") {
		t.Errorf("soft_delete: the key inserted again does not hold its new values:\n%s", got)
	}
	// history (the marker rows, committed last, aside): the truncate
	// closed every open version, at its commit time; the two rows
	// inserted after it are the only current ones; the renamed key's old
	// version closed when the new one opened.
	got = query(`WITH v AS (SELECT * FROM order_settings WHERE order_id < 999901),
		tr AS (SELECT max(source_ts) AS at FROM _cdc_history_truncates WHERE table_name = 'order_settings')
		SELECT count(*) FILTER (WHERE _cdc_is_current) AS current_versions,
		count(*) FILTER (WHERE _cdc_valid_to IS NULL) AS open_versions,
		count(*) FILTER (WHERE _cdc_op = 'r' AND _cdc_valid_to = tr.at) AS snapshot_closed_by_truncate,
		count(*) FILTER (WHERE order_id = 2 AND setting_key = 'color' AND _cdc_valid_to < tr.at) AS renamed_closed,
		count(*) FILTER (WHERE order_id = 2 AND setting_key = 'colour' AND _cdc_valid_to = tr.at) AS renamed_versions,
		count(*) FILTER (WHERE order_id = 1 AND setting_key = 'color') AS reinserted_versions
		FROM v, tr`)
	// 40 snapshot rows: one deleted and one renamed before the truncate.
	if !regexp.MustCompile(`(?m)^\s*2\s+2\s+38\s+1\s+1\s+2\s*$`).MatchString(got) {
		t.Errorf("history order_settings: want 2 current and 2 open versions, the 38 snapshot versions still open closed at the truncate, "+
			"the renamed key's old version closed before it, its new key's one version closed by it, and two versions of the key inserted again after it:\n%s", got)
	}
	if t.Failed() {
		t.Log(query(`SELECT order_id, setting_key, _cdc_op, _cdc_valid_from, _cdc_valid_to, _cdc_is_current, _cdc_position FROM order_settings WHERE order_id IN (1, 2, 3, 4) ORDER BY order_id, setting_key, _cdc_valid_from`))
		t.Log(query(`SELECT * FROM _cdc_history_truncates`))
		r := verify(t, source, duck)
		t.Logf("verify:\n%s", r)
	}
	t.Logf("done: %s", since(start))
}

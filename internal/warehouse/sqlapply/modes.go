package sqlapply

// Table modes (warehouse.Mode) other than current.
//
// soft_delete is current with one difference: a delete (or a truncate)
// flags the key's row (_cdc_deleted, _cdc_deleted_at: the delete's source
// commit time) instead of removing it, and a later upsert of the key
// replaces the row, flag cleared. Everything else — the last change per
// key, unchanged (TOAST) values, primary-key changes, truncate marks — is
// current's.
//
// history keeps every version of every row. The batch keeps every change
// of a history table (batch.Table.KeepVersions), in source order; they
// are applied in segments cut at the batch's truncates. Per segment:
//
//  1. Stage the segment's changes, each with its validity: valid_from is
//     its source commit time, valid_to the commit time of the key's next
//     change in the segment (or of the truncate that ends the segment),
//     NULL for the last.
//  2. Fill unchanged (TOAST) values from the key's latest stored version
//     (Versions already filled those the batch holds).
//  3. Drop the staged changes a stored version of the key already covers:
//     its position is at or after theirs (by Kafka offset when a position
//     is unknown). A version is identified by its key and source
//     position, so a replay — a reset topic read again, Debezium sending
//     an event twice — never adds a version twice. What remains of a
//     key's staged changes is a suffix of its changes: the stored ones
//     are the older.
//  4. Close the key's open version at the commit time of its first
//     remaining staged change.
//  5. Insert the staged upserts as versions.
//  6. A truncate closes every open version that precedes it (as current
//     removes the rows that precede it) and records its mark.
//
// The table's primary key is the source key plus the version's Kafka
// partition and offset, a guard: step 3 already keeps a version from
// being inserted twice.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// colSeq is history's staging column with a change's place in the batch's
// source order.
const colSeq = warehouse.Prefix + "seq"

// nHistoryStaging counts history's staging columns after current's:
// valid_from, valid_to, seq.
const nHistoryStaging = 3

type metaColumn = struct {
	name string
	typ  change.Type
}

// modeColumns are the columns a mode adds after metaColumns.
func modeColumns(m warehouse.Mode) []metaColumn {
	switch m {
	case warehouse.ModeSoftDelete:
		return []metaColumn{{warehouse.ColDeleted, change.Bool}, {warehouse.ColDeletedAt, change.TimestampTZ}}
	case warehouse.ModeHistory:
		return []metaColumn{{warehouse.ColValidFrom, change.TimestampTZ}, {warehouse.ColValidTo, change.TimestampTZ},
			{warehouse.ColIsCurrent, change.Bool}}
	}
	return nil
}

// historyKey are the columns after the source key in a history table's
// primary key: one version per key and Kafka record.
func historyKey(m warehouse.Mode) []string {
	if m != warehouse.ModeHistory {
		return nil
	}
	return []string{sqltext.Ident(warehouse.ColPartition), sqltext.Ident(warehouse.ColOffset)}
}

// checkModes refuses modes a dialect cannot apply.
func checkModes(d Dialect, opts warehouse.Options) error {
	if _, ok := d.(Unkeyed); ok && opts.UsesModes() {
		return fmt.Errorf("mode: %s supports only mode current (soft_delete and history need keyed tables)", d.Name())
	}
	return nil
}

// currentViewName is the view over a history table's current versions.
func (t *table) currentViewName() string { return t.ids.Fit(t.name + warehouse.CurrentViewSuffix) }

// currentView (re)creates the view over a history table's current
// versions; nothing for other modes.
func (w *Warehouse) currentView(t *table) []string {
	if t.mode != warehouse.ModeHistory {
		return nil
	}
	return []string{"CREATE OR REPLACE VIEW " + w.qualify(t.currentViewName()) + " AS SELECT * FROM " + w.qualify(t.name) +
		" WHERE " + sqltext.Ident(warehouse.ColIsCurrent)}
}

// dropCurrentView drops the view before a schema change (PostgreSQL does
// not change the type of a column a view uses); currentView recreates it.
func (w *Warehouse) dropCurrentView(t *table) []string {
	if t.mode != warehouse.ModeHistory {
		return nil
	}
	return []string{"DROP VIEW IF EXISTS " + w.qualify(t.currentViewName())}
}

// commitTime is a change's source commit time, or now when the event
// carries none.
func commitTime(c *change.Change, now time.Time) time.Time {
	if c.SourceTs != 0 {
		return time.UnixMilli(c.SourceTs).UTC()
	}
	return now
}

// closeOnTruncate flags (soft_delete) or closes (history) the rows a
// truncate follows; cond (" WHERE …" or "") and args select them.
func (w *Warehouse) closeOnTruncate(ctx context.Context, t *table, tr *change.Change, cond string, args []any) error {
	args = append(args, commitTime(tr, time.Now().UTC()))
	at := fmt.Sprintf("$%d", len(args))
	var set, open string
	if t.mode == warehouse.ModeHistory {
		// Open versions, and versions a later change (or truncate) closed
		// when this truncate was not applied yet (consumed late).
		set = sqltext.Ident(warehouse.ColValidTo) + " = " + at + ", " + sqltext.Ident(warehouse.ColIsCurrent) + " = FALSE"
		open = "(" + sqltext.Ident(warehouse.ColIsCurrent) + " OR " + sqltext.Ident(warehouse.ColValidTo) + " > " + at + ")"
	} else {
		set = sqltext.Ident(warehouse.ColDeleted) + " = TRUE, " + sqltext.Ident(warehouse.ColDeletedAt) + " = " + at + ", " +
			sqltext.Ident(warehouse.ColOp) + " = 't', " + sqltext.Ident(warehouse.ColRefreshedAt) + " = " + w.d.Now()
		open = "NOT " + sqltext.Ident(warehouse.ColDeleted)
	}
	if cond == "" {
		cond = " WHERE " + open
	} else {
		cond += " AND " + open
	}
	_, err := w.exec(ctx, "UPDATE "+w.qualify(t.name)+" SET "+set+cond, args...)
	return err
}

// withDeletedImages adds, before a soft_delete table's reduced changes,
// the last image the batch holds of each key it deletes: that row is
// inserted, then flagged by the delete (softDelete), so a key created and
// deleted in one batch keeps its row too.
func withDeletedImages(tb *batch.Table, changes []*change.Change) []*change.Change {
	var images []*change.Change
	for _, c := range changes {
		if c.Op != change.OpDelete {
			continue
		}
		if img := tb.DeletedImage(c); img != nil {
			images = append(images, img)
		}
	}
	if len(images) == 0 {
		return changes
	}
	return append(images, changes...)
}

// softDelete flags the rows of the staged deletes (soft_delete), with the
// delete's position and commit time.
func (w *Warehouse) softDelete(ctx context.Context, t *table, match string) error {
	stg := sqltext.Ident(t.ids.Staging(t.name))
	from := func(c string) string { return sqltext.Ident(c) + " = " + stg + "." + sqltext.Ident(c) }
	set := []string{
		sqltext.Ident(warehouse.ColDeleted) + " = TRUE",
		sqltext.Ident(warehouse.ColDeletedAt) + " = COALESCE(" + stg + "." + sqltext.Ident(warehouse.ColSourceTs) + ", " + w.d.Now() + ")",
		from(warehouse.ColOp), from(warehouse.ColPosition), from(warehouse.ColPartition), from(warehouse.ColOffset), from(warehouse.ColSourceTs),
		sqltext.Ident(warehouse.ColRefreshedAt) + " = " + w.d.Now(),
	}
	q := "UPDATE " + w.qualify(t.name) + " SET " + strings.Join(set, ", ") + " FROM " + stg + " WHERE " + match +
		" AND " + stg + "." + sqltext.Ident(warehouse.ColOp) + " = 'd'"
	if _, err := w.exec(ctx, q); err != nil {
		return fmt.Errorf("soft-delete keys: %w", err)
	}
	return nil
}

// segment is a run of a history table's changes in source order, ended by
// a truncate or by the batch's end.
type segment struct {
	rows     [][]any
	truncate *change.Change
}

// versions prepares a history table's share of the batch: every change
// in source order (wk.changes, for evolve) and the truncates among them
// (wk.all).
func (wk *tableWork) versions() error {
	tb := wk.tb
	all := tb.Versions()
	if all == nil {
		if tb.Events > 1 {
			return fmt.Errorf("history table %s: the batch kept only the last change per key (batch.Table.KeepVersions is not set)", wk.t.name)
		}
		all = tb.Changes()
		if tb.Truncate != nil {
			all = append(all, tb.Truncate)
		}
	}
	wk.all = all
	wk.changes = nil
	for _, c := range all {
		if c.Op != change.OpTruncate {
			wk.changes = append(wk.changes, c)
		}
	}
	return nil
}

// stageVersions converts a history table's changes that evolve kept into
// segments of staging rows with their validity (see the top of the file).
func (wk *tableWork) stageVersions(d Dialect, dead *[]batch.DeadLetter) {
	kept := make(map[*change.Change]bool, len(wk.changes))
	for _, c := range wk.changes {
		kept[c] = true
	}
	now := time.Now().UTC()
	n := len(wk.t.cols) + nStagingMeta + len(wk.t.key) + 2
	var seg segment
	last := map[string]int{}      // key → index of its last row in seg
	lateOf := map[int]time.Time{} // rows of seg that precede an applied truncate: its time
	var seq int64
	end := func(tr *change.Change) {
		seg.truncate = tr
		if tr != nil {
			at := commitTime(tr, now)
			for _, i := range last {
				if seg.rows[i][n+1] == nil {
					seg.rows[i][n+1] = at
				}
			}
		}
		// A key's last change that precedes an applied truncate
		// (consumed after it) ends at the first truncate that follows it.
		for _, i := range last {
			if at, ok := lateOf[i]; ok && seg.rows[i][n+1] == nil {
				seg.rows[i][n+1] = at
			}
		}
		if len(seg.rows) > 0 || tr != nil {
			wk.segments = append(wk.segments, seg)
		}
		seg, last, lateOf = segment{}, map[string]int{}, map[int]time.Time{}
	}
	for _, c := range wk.all {
		if c.Op == change.OpTruncate {
			end(c)
			continue
		}
		if !kept[c] {
			continue
		}
		row, err := wk.stageRow(d, c, nHistoryStaging)
		if err != nil {
			*dead = append(*dead, deadLetter(c, wk.tb, err.Error()))
			continue
		}
		from := commitTime(c, now)
		seq++
		row[n], row[n+2] = from, seq
		if i, ok := last[c.KeyID]; ok {
			seg.rows[i][n+1] = from
		}
		last[c.KeyID] = len(seg.rows)
		if at, ok := wk.t.endOfLate(c); ok {
			lateOf[len(seg.rows)] = at
		}
		seg.rows = append(seg.rows, row)
	}
	end(nil)
}

// applyHistory runs a history table's share of the batch inside the
// transaction, segment by segment.
func (w *Warehouse) applyHistory(ctx context.Context, wk *tableWork, st *warehouse.Stats) error {
	t := wk.t
	for _, seg := range wk.segments {
		if len(seg.rows) > 0 {
			if err := w.historyRows(ctx, wk, seg.rows); err != nil {
				return err
			}
		}
		if seg.truncate != nil {
			if err := w.truncate(ctx, t, seg.truncate); err != nil {
				return err
			}
			st.Truncates++
		}
	}
	if wk.upserts+wk.deletes > 0 {
		st.Upserts += wk.upserts
		st.Deletes += wk.deletes
		st.AddTable(wk.tb.Name, warehouse.TableStats{Upserts: wk.upserts, Deletes: wk.deletes})
	}
	if w.opts.Landing && len(wk.tb.Landing) > 0 {
		if err := w.land(ctx, t, wk.tb.Landing); err != nil {
			return err
		}
		st.Landed += len(wk.tb.Landing)
	}
	return nil
}

// historyRows applies one segment's staged changes (steps 1-5 at the top
// of the file).
func (w *Warehouse) historyRows(ctx context.Context, wk *tableWork, rows [][]any) error {
	t := wk.t
	if _, ok := w.d.(StagingRecreating); ok {
		t.staged = false
	}
	if err := w.ensureStaging(ctx, t); err != nil {
		return err
	}
	stgName := t.ids.Staging(t.name)
	stg := sqltext.Ident(stgName)
	if _, err := w.exec(ctx, "DELETE FROM "+stg); err != nil {
		return err
	}
	names, _ := w.stagingColumns(t)
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	if err := w.d.BulkLoad(ctx, conn, stgName, names, rows); err != nil {
		return fmt.Errorf("stage: %w", w.classify(sqltext.FirstLine(err)))
	}
	tgt := w.qualify(t.name)
	ident := sqltext.Ident
	on := func(a, b string, bCol func(string) string) string {
		m := make([]string, len(t.key))
		for i, k := range t.key {
			m[i] = a + "." + ident(k) + " = " + b + "." + ident(bCol(k))
		}
		return strings.Join(m, " AND ")
	}
	same := func(k string) string { return k }
	if err := w.fillHistory(ctx, wk, len(rows), stg, tgt, on); err != nil {
		return err
	}
	pos, part, off := ident(warehouse.ColPosition), ident(warehouse.ColPartition), ident(warehouse.ColOffset)
	covered := "DELETE FROM " + stg + " WHERE EXISTS (SELECT 1 FROM " + tgt + " h WHERE " + on("h", stg, same) + " AND (" +
		"(h." + pos + " IS NOT NULL AND " + stg + "." + pos + " IS NOT NULL AND h." + pos + " = " + stg + "." + pos + ") OR " +
		"((h." + pos + " IS NULL OR " + stg + "." + pos + " IS NULL) AND h." + part + " = " + stg + "." + part + " AND h." + off + " >= " + stg + "." + off + ")))"
	if _, err := w.exec(ctx, covered); err != nil {
		return fmt.Errorf("drop versions already stored: %w", err)
	}
	// A key's last staged change that a stored version follows (a late
	// one) ends where that version begins, or earlier.
	vf, vt, seq := ident(warehouse.ColValidFrom), ident(warehouse.ColValidTo), ident(colSeq)
	// (A derived table, not a correlated subquery in SET: Redshift has
	// none.)
	nextStored := "SELECT s2." + seq + " AS seq, min(h." + vf + ") AS next_from FROM " + stg + " s2 JOIN " + tgt + " h ON " + on("h", "s2", same) +
		" AND h." + pos + " > s2." + pos + " GROUP BY s2." + seq
	lastStaged := " AND NOT EXISTS (SELECT 1 FROM " + stg + " q WHERE " + on("q", stg, same) + " AND q." + seq + " > " + stg + "." + seq + ")"
	late := "UPDATE " + stg + " SET " + vt + " = n.next_from FROM (" + nextStored + ") n WHERE n.seq = " + stg + "." + seq +
		lastStaged + " AND (" + stg + "." + vt + " IS NULL OR n.next_from < " + stg + "." + vt + ")"
	if _, err := w.exec(ctx, late); err != nil {
		return fmt.Errorf("end late versions: %w", err)
	}
	failpoint.Hit("staged")
	// The version before the key's first staged change ends where it
	// begins: the current one, or — for a late change — the one a
	// truncate closed after it.
	cur := tgt + "." + ident(warehouse.ColIsCurrent)
	tpos := tgt + "." + pos
	closeOpen := "UPDATE " + tgt + " SET " + vt + " = s." + vf + ", " + ident(warehouse.ColIsCurrent) + " = FALSE FROM " + stg + " s WHERE " +
		on(tgt, "s", same) + " AND NOT EXISTS (SELECT 1 FROM " + stg + " p WHERE " + on("p", "s", same) + " AND p." + seq + " < s." + seq + ")" +
		" AND ((" + cur + " AND (s." + pos + " IS NULL OR " + tpos + " IS NULL OR " + tpos + " < s." + pos + "))" +
		" OR (s." + pos + " IS NOT NULL AND " + tpos + " < s." + pos + " AND " + tgt + "." + vt + " > s." + vf +
		" AND NOT EXISTS (SELECT 1 FROM " + tgt + " h2 WHERE " + on("h2", tgt, same) + " AND h2." + pos + " > " + tpos + " AND h2." + pos + " < s." + pos + ")))"
	if _, err := w.exec(ctx, closeOpen); err != nil {
		return fmt.Errorf("close current versions: %w", err)
	}
	var cols, sel []string
	for _, c := range t.cols {
		cols = append(cols, ident(c.Name))
		_, conv := w.d.Staging(c.SQL)
		sel = append(sel, fmt.Sprintf(conv, ident(c.Name)))
	}
	for _, m := range []string{warehouse.ColOp, warehouse.ColPosition, warehouse.ColPartition, warehouse.ColOffset, warehouse.ColSourceTs,
		warehouse.ColValidFrom, warehouse.ColValidTo} {
		cols = append(cols, ident(m))
		sel = append(sel, ident(m))
	}
	cols = append(cols, ident(warehouse.ColRefreshedAt), ident(warehouse.ColIsCurrent))
	sel = append(sel, w.d.Now(), ident(warehouse.ColValidTo)+" IS NULL")
	ins := "INSERT INTO " + tgt + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM " + stg + " WHERE " + ident(warehouse.ColOp) + " NOT IN ('d', " + sqltext.Literal(opMove) + ")"
	if _, err := w.exec(ctx, ins); err != nil {
		return fmt.Errorf("insert versions: %w", err)
	}
	return nil
}

// fillHistory fills the staged rows' unchanged (TOAST) values that the
// batch did not hold (batch.Table.Versions filled those it did): from the
// latest stored version of the key (of the old key, for the create that
// ends a primary-key change), else from the key's (old key's) previous
// staged row once that one is filled, until no row changes — a chain of
// key changes within one batch. A filled column leaves the row's
// unchanged list.
func (w *Warehouse) fillHistory(ctx context.Context, wk *tableWork, nrows int, stg, tgt string, on func(a, b string, bCol func(string) string) string) error {
	t := wk.t
	ident := sqltext.Ident
	same := func(k string) string { return k }
	notMoved := stg + "." + ident(oldKeyColumn(t.key[0])) + " IS NULL"
	latest := " AND NOT EXISTS (SELECT 1 FROM " + tgt + " h2 WHERE " + on("h2", "h", same) + " AND h2." + ident(warehouse.ColPosition) + " > h." + ident(warehouse.ColPosition) + ")"
	unch := ident(warehouse.ColUnchanged)
	op, seq := ident(warehouse.ColOp), ident(colSeq)
	for col := range wk.unchanged {
		st, _ := w.d.Staging(t.cols[t.byName[col]].SQL)
		value := "h." + ident(col)
		if st != t.cols[t.byName[col]].SQL {
			value = "CAST(" + value + " AS " + st + ")"
		}
		mark := sqltext.Literal("," + col + ",")
		set := " SET " + ident(col) + " = %s, " + unch + " = replace(" + stg + "." + unch + ", " + mark + ", ',')"
		isUnchanged := " AND strpos(" + stg + "." + unch + ", " + mark + ") > 0"
		stmts := []string{
			"UPDATE " + stg + fmt.Sprintf(set, value) + " FROM " + tgt + " h WHERE " + on("h", stg, same) + " AND " + notMoved + isUnchanged + latest,
		}
		if wk.movedKeys {
			stmts = append(stmts, "UPDATE "+stg+fmt.Sprintf(set, value)+" FROM "+tgt+" h WHERE "+on("h", stg, oldKeyColumn)+isUnchanged+latest)
		}
		for _, q := range stmts {
			if _, err := w.exec(ctx, q); err != nil {
				return fmt.Errorf("keep unchanged column %s: %w", col, err)
			}
		}
		// p: the previous staged upsert of the row's key (old key).
		prev := "((" + on("p", stg, same) + " AND " + notMoved + ") OR (" + on("p", stg, oldKeyColumn) + "))"
		chain := "UPDATE " + stg + fmt.Sprintf(set, "p."+ident(col)) + " FROM " + stg + " p WHERE " + prev +
			" AND p." + seq + " < " + stg + "." + seq + " AND p." + op + " NOT IN ('d', " + sqltext.Literal(opMove) + ")" +
			" AND NOT EXISTS (SELECT 1 FROM " + stg + " q WHERE " + on("q", "p", same) + " AND q." + seq + " > p." + seq +
			" AND q." + seq + " < " + stg + "." + seq + " AND q." + op + " NOT IN ('d', " + sqltext.Literal(opMove) + "))" +
			isUnchanged + " AND (p." + unch + " IS NULL OR strpos(p." + unch + ", " + mark + ") = 0)"
		for range nrows {
			res, err := w.exec(ctx, chain)
			if err != nil {
				return fmt.Errorf("keep unchanged column %s along the batch: %w", col, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				break
			}
		}
	}
	return nil
}

// HistoryTruncatesTable records every truncate applied to a history
// table: a change that precedes one but is consumed after it is still a
// version, which ends at the first truncate that follows it.
const HistoryTruncatesTable = warehouse.Prefix + "history_truncates"

// appliedTruncate is a truncate applied to a history table.
type appliedTruncate struct {
	mark batch.Mark
	at   time.Time // its source commit time
}

func (w *Warehouse) createHistoryTruncates(ctx context.Context) error {
	text, i32, i64, ts := w.d.SQLType(change.String), w.d.SQLType(change.Int32), w.d.SQLType(change.Int64), w.d.SQLType(change.TimestampTZ)
	_, err := w.exec(ctx, `CREATE TABLE IF NOT EXISTS `+w.qualify(HistoryTruncatesTable)+` (
		table_name `+text+` NOT NULL,
		kafka_partition `+i32+`,
		kafka_offset `+i64+`,
		position `+text+`,
		source_ts `+ts+`)`)
	return err
}

// historyTruncates reads the truncates applied to a history table.
func (w *Warehouse) historyTruncates(ctx context.Context, table string) ([]appliedTruncate, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT kafka_partition, kafka_offset, position, source_ts FROM `+w.qualify(HistoryTruncatesTable)+` WHERE table_name = $1`, table)
	if err != nil {
		return nil, w.classify(sqltext.FirstLine(err))
	}
	defer rows.Close()
	var out []appliedTruncate
	for rows.Next() {
		var a appliedTruncate
		var pos sql.NullString
		if err := rows.Scan(&a.mark.Partition, &a.mark.Offset, &pos, &a.at); err != nil {
			return nil, w.classify(sqltext.FirstLine(err))
		}
		a.mark.Pos = change.Position(pos.String)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, w.classify(sqltext.FirstLine(err))
	}
	return out, nil
}

// recordHistoryTruncate adds a truncate to the history table's record.
func (w *Warehouse) recordHistoryTruncate(ctx context.Context, t *table, tr *change.Change) error {
	_, err := w.exec(ctx, `INSERT INTO `+w.qualify(HistoryTruncatesTable)+` (table_name, kafka_partition, kafka_offset, position, source_ts) VALUES ($1, $2, $3, $4, $5)`,
		t.name, tr.Partition, tr.Offset, nilIfEmpty(string(tr.Pos)), commitTime(tr, time.Now().UTC()))
	if err != nil {
		return fmt.Errorf("record truncate: %w", err)
	}
	return nil
}

// endOfLate is when a change that precedes an applied truncate (consumed
// after it) ends: at the first applied truncate that follows it.
func (t *table) endOfLate(c *change.Change) (time.Time, bool) {
	var first *appliedTruncate
	for i := range t.truncates {
		a := &t.truncates[i]
		if !a.mark.Precedes(c) {
			continue
		}
		if first == nil || a.mark.Pos < first.mark.Pos || (a.mark.Pos == first.mark.Pos && a.mark.Offset < first.mark.Offset) {
			first = a
		}
	}
	if first == nil {
		return time.Time{}, false
	}
	return first.at, true
}

package sqlapply

// Unchanged values across primary-key changes.
//
// PostgreSQL sends an unchanged TOASTed value as a placeholder, even in the
// create that ends a primary-key change: that create's value is the old
// key's row's, as the old key's delete left it. The delete (header
// __debezium.newkey) and the create (header __debezium.oldkey) may sit on
// different partitions, so in different batches, in either order. What
// makes the old key's value knowable is that a key's changes share one
// partition: when the old key's delete is applied, every earlier change of
// the old key has been applied or is in the same batch. So the delete's
// batch decides the value, and the create's batch takes it:
//
//   - The delete's batch stages a move row (op 'm') for the old key: its
//     last image in the batch, the rest filled from the target row before
//     the batch deletes it. Its values go to the moves table as 'v' rows
//     (one per column, as text), in the same transaction.
//   - A create (or a later change of the new key in the same batch) with
//     placeholders takes the 'v' rows when there are some, and consumes
//     them. When there are none, the old key's delete is still to come: it
//     takes the old key's current value from the target and leaves a 'p'
//     row per column ("pending: the new key holds the old key's value").
//   - The old key's delete, when applied later, finds those 'p' rows and
//     writes its final values into the new key's row, then deletes them.
//   - A change of the new key with an explicit value, or its delete, ends
//     the pending state of that column (it no longer holds the old key's).
//
// Everything happens in the batch's transaction: a replay after a crash
// sees either all of it or none of it, and offsets fence the rest.
//
// Not covered: a chain of primary-key changes of one row (a→b→c) whose
// later delete is applied while an earlier link is still pending keeps the
// value b's delete saw.

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// MovesTable holds the values in flight between the two halves of a
// primary-key change (see above).
const MovesTable = warehouse.Prefix + "moves"

const (
	opMove        = "m" // staging op of a move row
	colKeyID      = warehouse.ColKeyID
	colOtherKeyID = warehouse.ColOtherKeyID
)

// keyIDText renders a change.KeyID as text any warehouse stores.
func keyIDText(id string) string { return hex.EncodeToString([]byte(id)) }

func (w *Warehouse) createMovesTable(ctx context.Context) error {
	text, i32, i64, ts := w.d.SQLType(change.String), w.d.SQLType(change.Int32), w.d.SQLType(change.Int64), w.d.SQLType(change.TimestampTZ)
	_, err := w.exec(ctx, `CREATE TABLE IF NOT EXISTS `+w.qualify(MovesTable)+` (
		table_name `+text+` NOT NULL,
		kind `+text+` NOT NULL,
		old_key `+text+` NOT NULL,
		new_key `+text+` NOT NULL,
		column_name `+text+` NOT NULL,
		value `+text+`,
		kafka_partition `+i32+`,
		kafka_offset `+i64+`,
		position `+text+`,
		created_at `+ts+`)`)
	if err != nil {
		return err
	}
	if ix, ok := w.d.(Indexer); ok {
		for _, c := range []string{"old_key", "new_key"} {
			if _, err := w.exec(ctx, ix.CreateIndex(sqltext.Ident(MovesTable+"_"+c), w.qualify(MovesTable), sqltext.Ident(c))); err != nil {
				return err
			}
		}
	}
	return nil
}

// stageMoves stages one move row per primary-key change whose delete is in
// the batch: key columns the old key, old-key columns the new key, values
// the old key's last image in the batch; the other columns are listed as
// unchanged, to be read from the target.
func (wk *tableWork) stageMoves(d Dialect) {
	t := wk.t
	if !t.exists {
		return
	}
	ncols := len(t.cols)
	isKey := map[int]bool{}
	for _, k := range t.key {
		isKey[t.byName[k]] = true
	}
next:
	for _, m := range wk.tb.Moves() {
		del := m.Del
		if len(del.Key) != len(t.key) || len(del.NewKey) != len(t.key) || del.Schema == nil || len(del.Schema.Key) != len(t.key) {
			continue
		}
		row := make([]any, ncols+nStagingMeta+len(t.key)+2)
		for i, kc := range del.Schema.Key {
			j, ok := t.byName[kc.Name]
			if !ok {
				continue next
			}
			col := t.cols[j]
			var err error
			if row[j], err = d.Bind(del.Key[i], col.Type, col.SQL); err != nil {
				continue next
			}
			if row[ncols+nStagingMeta+i], err = d.Bind(del.NewKey[i], col.Type, col.SQL); err != nil {
				continue next
			}
		}
		explicit := map[int]bool{}
		if img := m.Image; img != nil && img.Schema != nil {
			for i, v := range img.Row {
				if img.Unchanged != nil && img.Unchanged[i] {
					continue
				}
				j, ok := t.byName[img.Schema.Columns[i].Name]
				if !ok || isKey[j] {
					continue
				}
				if v != nil {
					b, err := d.Bind(v, t.cols[j].Type, t.cols[j].SQL)
					if err != nil {
						continue // the target's value, rather than none
					}
					row[j] = b
				}
				explicit[j] = true
			}
		}
		var unchanged []string
		for j, c := range t.cols {
			if !isKey[j] && !explicit[j] {
				unchanged = append(unchanged, c.Name)
			}
		}
		row[ncols] = opMove
		if len(unchanged) > 0 {
			row[ncols+1] = "," + strings.Join(unchanged, ",") + ","
		}
		row[ncols+2] = nilIfEmpty(string(del.Pos))
		row[ncols+3] = del.Partition
		row[ncols+4] = del.Offset
		if del.SourceTs != 0 {
			row[ncols+5] = time.UnixMilli(del.SourceTs).UTC()
		}
		row[len(row)-2] = keyIDText(del.KeyID)
		row[len(row)-1] = keyIDText(del.NewKeyID)
		wk.rows = append(wk.rows, row)
		wk.moves++
	}
}

// moveValues runs after staging and before the changes' unchanged columns
// are filled: it completes the move rows from the target, records their
// values, settles the new keys that took an old key's value before its
// delete, and ends the pending state of columns the batch writes.
func (w *Warehouse) moveValues(ctx context.Context, wk *tableWork) error {
	t := wk.t
	stg := sqltext.Ident(warehouse.StagingPrefix + t.name)
	tgt := w.qualify(t.name)
	mv := w.qualify(MovesTable)
	tname := sqltext.Literal(t.name)
	op := stg + "." + sqltext.Ident(warehouse.ColOp)
	keyID, otherID := stg+"."+sqltext.Ident(colKeyID), stg+"."+sqltext.Ident(colOtherKeyID)
	var valueCols []warehouse.Column
	isKey := map[string]bool{}
	for _, k := range t.key {
		isKey[k] = true
	}
	for _, c := range t.cols {
		if !isKey[c.Name] {
			valueCols = append(valueCols, c)
		}
	}
	match := make([]string, len(t.key))
	newMatch := make([]string, len(t.key))
	for i, k := range t.key {
		match[i] = tgt + "." + sqltext.Ident(k) + " = " + stg + "." + sqltext.Ident(k)
		newMatch[i] = tgt + "." + sqltext.Ident(k) + " = " + stg + "." + sqltext.Ident(oldKeyColumn(k))
	}
	if wk.moves > 0 {
		// The old key's values the batch does not hold are the target's.
		set := make([]string, len(valueCols))
		for i, c := range valueCols {
			value := tgt + "." + sqltext.Ident(c.Name)
			if st, _ := w.d.Staging(c.SQL); st != c.SQL {
				value = "CAST(" + value + " AS " + st + ")"
			}
			set[i] = sqltext.Ident(c.Name) + " = CASE WHEN strpos(" + stg + "." + sqltext.Ident(warehouse.ColUnchanged) + ", " + sqltext.Literal(","+c.Name+",") +
				") > 0 THEN " + value + " ELSE " + stg + "." + sqltext.Ident(c.Name) + " END"
		}
		upd := "UPDATE " + stg + " SET " + strings.Join(set, ", ") + " FROM " + tgt + " WHERE " + strings.Join(match, " AND ") +
			" AND " + op + " = " + sqltext.Literal(opMove) + " AND " + stg + "." + sqltext.Ident(warehouse.ColUnchanged) + " IS NOT NULL"
		if len(set) > 0 {
			if _, err := w.exec(ctx, upd); err != nil {
				return fmt.Errorf("read the values of moved rows: %w", err)
			}
		}
		// Record them for the creates of the new keys.
		text := w.d.SQLType(change.String)
		// A marker row (no column) says the delete was applied. Nothing is
		// recorded when the create was applied first (its marker): the
		// pending rows below take the values instead.
		// One scan of the staging table and one anti-join for all the
		// columns' rows (the column names joined in), not a scan and a join
		// per column: each held its own buffers, and a wide table's many
		// outgrew an embedded warehouse's memory limit.
		names := []string{"SELECT '' AS column_name"}
		value := "CAST(NULL AS " + text + ")"
		if len(valueCols) > 0 {
			whens := make([]string, len(valueCols))
			for i, c := range valueCols {
				names = append(names, "SELECT "+sqltext.Literal(c.Name))
				whens[i] = " WHEN " + sqltext.Literal(c.Name) + " THEN CAST(" + stg + "." + sqltext.Ident(c.Name) + " AS " + text + ")"
			}
			value = "CASE c.column_name" + strings.Join(whens, "") + " ELSE " + value + " END"
		}
		ins := "INSERT INTO " + mv + " SELECT " + tname + ", 'v', " + keyID + ", " + otherID + ", c.column_name, " + value + ", " +
			stg + "." + sqltext.Ident(warehouse.ColPartition) + ", " + stg + "." + sqltext.Ident(warehouse.ColOffset) + ", " + stg + "." + sqltext.Ident(warehouse.ColPosition) + ", " + w.d.Now() +
			" FROM " + stg + " CROSS JOIN (" + strings.Join(names, " UNION ALL ") + ") c WHERE " + op + " = " + sqltext.Literal(opMove) +
			" AND NOT EXISTS (SELECT 1 FROM " + mv + " WHERE " + mv + ".table_name = " + tname + " AND " + mv + ".kind = 'p' AND " + mv + ".old_key = " + keyID +
			" AND " + mv + ".new_key = " + otherID + " AND " + mv + ".column_name = '')"
		if _, err := w.exec(ctx, ins); err != nil {
			return fmt.Errorf("record the values of moved rows: %w", err)
		}
	}
	var pending []string
	if !t.noPending {
		conn, err := w.connection(ctx)
		if err != nil {
			return err
		}
		pending, err = QueryStrings(ctx, conn, `SELECT DISTINCT column_name FROM `+mv+` WHERE table_name = $1 AND kind = 'p'`, t.name)
		if err != nil {
			return fmt.Errorf("read pending moved values: %w", w.classify(sqltext.FirstLine(err)))
		}
		t.noPending = len(pending) == 0
	}
	if len(pending) == 0 {
		return nil
	}
	pendingOf := func(col string) string {
		return mv + ".table_name = " + tname + " AND " + mv + ".kind = 'p' AND " + mv + ".old_key = " + keyID +
			" AND " + mv + ".new_key = " + otherID + " AND " + mv + ".column_name = " + sqltext.Literal(col)
	}
	if wk.moves > 0 {
		// New keys that took an old key's value before its delete: they
		// get the value the delete leaves.
		for _, col := range pending {
			j, ok := t.byName[col]
			if !ok || isKey[col] {
				continue
			}
			_, conv := w.d.Staging(t.cols[j].SQL)
			upd := "UPDATE " + tgt + " SET " + sqltext.Ident(col) + " = " + fmt.Sprintf(conv, stg+"."+sqltext.Ident(col)) +
				" FROM " + stg + ", " + mv + " WHERE " + strings.Join(newMatch, " AND ") + " AND " + op + " = " + sqltext.Literal(opMove) + " AND " + pendingOf(col)
			if _, err := w.exec(ctx, upd); err != nil {
				return fmt.Errorf("carry column %s to a moved row: %w", col, err)
			}
		}
		del := "DELETE FROM " + mv + " USING " + stg + " WHERE " + op + " = " + sqltext.Literal(opMove) + " AND " + mv + ".table_name = " + tname +
			" AND " + mv + ".kind = 'p' AND " + mv + ".old_key = " + keyID + " AND " + mv + ".new_key = " + otherID
		if _, err := w.exec(ctx, del); err != nil {
			return fmt.Errorf("settle moved values: %w", err)
		}
	}
	// A new key's column written again, or the row deleted, no longer
	// holds the old key's value.
	unchanged := stg + "." + sqltext.Ident(warehouse.ColUnchanged)
	del := "DELETE FROM " + mv + " USING " + stg + " WHERE " + mv + ".table_name = " + tname + " AND " + mv + ".kind = 'p' AND " + mv + ".column_name <> '' AND " +
		mv + ".new_key = " + keyID + " AND " + op + " <> " + sqltext.Literal(opMove) + " AND (" + op + " = 'd' OR " + unchanged + " IS NULL OR strpos(" +
		unchanged + ", ',' || " + mv + ".column_name || ',') = 0)"
	if _, err := w.exec(ctx, del); err != nil {
		return fmt.Errorf("end pending moved values: %w", err)
	}
	return nil
}

// movedValue fills one unchanged column of the staged changes that moved
// from an old key with the value that key's delete left, when it is known.
func (w *Warehouse) movedValue(ctx context.Context, wk *tableWork, col string) error {
	t := wk.t
	stg := sqltext.Ident(warehouse.StagingPrefix + t.name)
	mv := w.qualify(MovesTable)
	st, _ := w.d.Staging(t.cols[t.byName[col]].SQL)
	upd := "UPDATE " + stg + " SET " + sqltext.Ident(col) + " = CAST(" + mv + ".value AS " + st + ") FROM " + mv + " WHERE " + w.movedFrom(t, stg, mv) +
		" AND " + mv + ".column_name = " + sqltext.Literal(col) + " AND strpos(" + stg + "." + sqltext.Ident(warehouse.ColUnchanged) + ", " + sqltext.Literal(","+col+",") + ") > 0"
	if _, err := w.exec(ctx, upd); err != nil {
		return fmt.Errorf("take column %s from a moved row: %w", col, err)
	}
	return nil
}

// movedFrom matches staged changes that moved from an old key with the
// values that key's delete left.
func (w *Warehouse) movedFrom(t *table, stg, mv string) string {
	op := stg + "." + sqltext.Ident(warehouse.ColOp)
	return mv + ".table_name = " + sqltext.Literal(t.name) + " AND " + mv + ".kind = 'v' AND " + mv + ".old_key = " + stg + "." + sqltext.Ident(colOtherKeyID) +
		" AND " + mv + ".new_key = " + stg + "." + sqltext.Ident(colKeyID) + " AND " + op + " <> " + sqltext.Literal(opMove)
}

// settleMoves runs after the unchanged columns are filled: a moved change
// whose old key's delete is still to come leaves a pending row per column
// it took from the old key; the values a delete left are consumed.
func (w *Warehouse) settleMoves(ctx context.Context, wk *tableWork) error {
	if !wk.movedKeys {
		return nil
	}
	t := wk.t
	stg := sqltext.Ident(warehouse.StagingPrefix + t.name)
	mv := w.qualify(MovesTable)
	op := stg + "." + sqltext.Ident(warehouse.ColOp)
	// The marker: this move's create is applied, whatever it took.
	sel := []string{"SELECT " + sqltext.Literal(t.name) + ", 'p', " + stg + "." + sqltext.Ident(colOtherKeyID) + ", " + stg + "." + sqltext.Ident(colKeyID) + ", '', NULL, " +
		stg + "." + sqltext.Ident(warehouse.ColPartition) + ", " + stg + "." + sqltext.Ident(warehouse.ColOffset) + ", " + stg + "." + sqltext.Ident(warehouse.ColPosition) + ", " + w.d.Now() +
		" FROM " + stg + " WHERE " + stg + "." + sqltext.Ident(colOtherKeyID) + " IS NOT NULL AND " + op + " <> " + sqltext.Literal(opMove) +
		" AND NOT EXISTS (SELECT 1 FROM " + mv + " WHERE " + w.movedFrom(t, stg, mv) + " AND " + mv + ".column_name = '')"}
	for col := range wk.unchanged {
		sel = append(sel, "SELECT "+sqltext.Literal(t.name)+", 'p', "+stg+"."+sqltext.Ident(colOtherKeyID)+", "+stg+"."+sqltext.Ident(colKeyID)+", "+sqltext.Literal(col)+", NULL, "+
			stg+"."+sqltext.Ident(warehouse.ColPartition)+", "+stg+"."+sqltext.Ident(warehouse.ColOffset)+", "+stg+"."+sqltext.Ident(warehouse.ColPosition)+", "+w.d.Now()+
			" FROM "+stg+" WHERE "+stg+"."+sqltext.Ident(colOtherKeyID)+" IS NOT NULL AND "+op+" NOT IN ('d', "+sqltext.Literal(opMove)+")"+
			" AND strpos("+stg+"."+sqltext.Ident(warehouse.ColUnchanged)+", "+sqltext.Literal(","+col+",")+") > 0"+
			" AND NOT EXISTS (SELECT 1 FROM "+mv+" WHERE "+w.movedFrom(t, stg, mv)+" AND "+mv+".column_name = "+sqltext.Literal(col)+")")
	}
	res, err := w.exec(ctx, "INSERT INTO "+mv+" "+strings.Join(sel, " UNION ALL "))
	if err != nil {
		return fmt.Errorf("record pending moved values: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		t.noPending = false
	}
	if _, err := w.exec(ctx, "DELETE FROM "+mv+" USING "+stg+" WHERE "+w.movedFrom(t, stg, mv)); err != nil {
		return fmt.Errorf("consume moved values: %w", err)
	}
	return nil
}

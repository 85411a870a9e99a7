package sqlapply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Dead-letter replay (warehouse.Replayer). A replayed change goes through
// the batch path (evolve, stage, upsert) in a transaction of its own that
// first reads the source position of the row it would replace, so a
// change committed since the letter was written is never overwritten.

// addDeadLetterColumns adds the dead-letter table's replay columns to a
// table created by a version without them.
func (w *Warehouse) addDeadLetterColumns(ctx context.Context) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	cols, err := w.d.Columns(ctx, conn, warehouse.DeadLettersTable)
	if err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c.Name] = true
	}
	for _, c := range []warehouse.Column{
		{Name: "replayed_at", Type: change.TimestampTZ, SQL: w.d.SQLType(change.TimestampTZ)},
		{Name: "replay_result", Type: change.String, SQL: w.d.SQLType(change.String)},
	} {
		if have[c.Name] {
			continue
		}
		if _, err := w.exec(ctx, w.d.AddColumn(w.qualify(warehouse.DeadLettersTable), c)); err != nil {
			return err
		}
	}
	return nil
}

// ListDeadLetters returns the group's dead letters that f selects, in topic,
// partition and offset order.
func (w *Warehouse) ListDeadLetters(ctx context.Context, f warehouse.DeadLetterFilter) ([]warehouse.StoredDeadLetter, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, err
	}
	q := `SELECT topic, kafka_partition, kafka_offset, table_name, reason, kafka_key, kafka_value, created_at, replayed_at, replay_result
		FROM ` + w.qualify(warehouse.DeadLettersTable) + ` WHERE consumer_group = $1`
	args := []any{w.opts.Group}
	if f.Table != "" {
		args = append(args, f.Table)
		q += fmt.Sprintf(" AND table_name = $%d", len(args))
	}
	if f.ReasonLike != "" {
		args = append(args, f.ReasonLike)
		q += fmt.Sprintf(" AND reason LIKE $%d", len(args))
	}
	if f.Pending {
		q += " AND replayed_at IS NULL"
	}
	q += " ORDER BY topic, kafka_partition, kafka_offset, created_at"
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", w.classify(sqltext.FirstLine(err)))
	}
	defer rows.Close()
	var out []warehouse.StoredDeadLetter
	for rows.Next() {
		var l warehouse.StoredDeadLetter
		var topic, table, reason, result sql.NullString
		var part sql.NullInt32
		var off sql.NullInt64
		var created, replayed sql.NullTime
		if err := rows.Scan(&topic, &part, &off, &table, &reason, &l.Key, &l.Value, &created, &replayed, &result); err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		l.Topic, l.Partition, l.Offset, l.Table, l.Reason = topic.String, part.Int32, off.Int64, table.String, reason.String
		l.CreatedAt, l.ReplayedAt, l.ReplayResult = created.Time, replayed.Time, result.String
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dead letters: %w", w.classify(err))
	}
	return out, nil
}

// MarkReplayed records a replay's outcome on a dead letter: replayed_at
// when the outcome settles it, replay_result always.
func (w *Warehouse) MarkReplayed(ctx context.Context, l warehouse.StoredDeadLetter, o warehouse.ReplayOutcome) error {
	if err := w.begin(ctx); err != nil {
		return fmt.Errorf("mark dead letter: %w", err)
	}
	committed := false
	defer w.rollbackUnless(&committed)
	if err := w.mark(ctx, l, o); err != nil {
		return err
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("mark dead letter: %w", err)
	}
	committed = true
	return nil
}

func (w *Warehouse) mark(ctx context.Context, l warehouse.StoredDeadLetter, o warehouse.ReplayOutcome) error {
	var at any
	if o.Done() {
		at = time.Now().UTC()
	}
	_, err := w.exec(ctx, `UPDATE `+w.qualify(warehouse.DeadLettersTable)+` SET replayed_at = $1, replay_result = $2
		WHERE consumer_group = $3 AND topic = $4 AND kafka_partition = $5 AND kafka_offset = $6 AND replayed_at IS NULL`,
		at, o.String(), w.opts.Group, l.Topic, l.Partition, l.Offset)
	if err != nil {
		return fmt.Errorf("mark dead letter %s[%d]@%d: %w", l.Topic, l.Partition, l.Offset, err)
	}
	return nil
}

// ApplyReplay applies one dead letter's decoded change unless the target
// holds a newer change of its key, and marks the letter, in one
// transaction. b.Next is ignored: replay never moves offsets.
func (w *Warehouse) ApplyReplay(ctx context.Context, l warehouse.StoredDeadLetter, b *batch.Batch) (warehouse.ReplayOutcome, error) {
	o, err := w.applyReplay(ctx, l, b)
	if err != nil {
		w.forgetCatalog()
	}
	return o, err
}

func (w *Warehouse) applyReplay(ctx context.Context, l warehouse.StoredDeadLetter, b *batch.Batch) (warehouse.ReplayOutcome, error) {
	if len(b.Tables) != 1 {
		return warehouse.ReplayOutcome{}, fmt.Errorf("replay: a replayed batch holds one table's change, not %d tables'", len(b.Tables))
	}
	tb := b.Tables[0]
	if tb.Truncate != nil {
		o := warehouse.ReplayOutcome{Result: warehouse.ReplayUnsure, Detail: "a truncate is never replayed: it would remove rows written after it"}
		return o, w.MarkReplayed(ctx, l, o)
	}
	changes := tb.Changes()
	if len(changes) != 1 {
		return warehouse.ReplayOutcome{}, fmt.Errorf("replay: a replayed batch holds one change, not %d", len(changes))
	}
	c := changes[0]
	t, err := w.table(ctx, tb.Name, tb.Topic)
	if err != nil {
		return warehouse.ReplayOutcome{}, err
	}
	// A first look before any DDL: a superseded change must not evolve
	// the table.
	if o, ok, err := w.replayable(ctx, t, c, l.Key); err != nil || !ok {
		if err == nil {
			err = w.MarkReplayed(ctx, l, o)
		}
		return o, err
	}
	wk := &tableWork{t: t, tb: tb, changes: changes}
	var dead []batch.DeadLetter
	if err := w.evolve(ctx, wk, &dead); err != nil {
		return warehouse.ReplayOutcome{}, err
	}
	if len(dead) == 0 {
		wk.stage(w.d, &dead)
	}
	if len(dead) > 0 {
		o := warehouse.ReplayOutcome{Result: warehouse.ReplayInvalid, Detail: dead[0].Reason}
		return o, w.MarkReplayed(ctx, l, o)
	}

	if err := w.beginSnapshot(ctx); err != nil {
		return warehouse.ReplayOutcome{}, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer w.rollbackUnless(&committed)
	// The look that counts, inside the transaction that writes.
	o, ok, err := w.replayable(ctx, t, c, l.Key)
	if err != nil {
		return o, err
	}
	if ok {
		o = warehouse.ReplayOutcome{Result: warehouse.ReplayApplied}
		if len(wk.rows) > 0 {
			if err := w.upsert(ctx, wk); err != nil {
				return warehouse.ReplayOutcome{}, fmt.Errorf("table %s: %w", t.name, err)
			}
		}
	}
	if err := w.mark(ctx, l, o); err != nil {
		return warehouse.ReplayOutcome{}, err
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return warehouse.ReplayOutcome{}, fmt.Errorf("commit: %w", err)
	}
	committed = true
	return o, nil
}

// replayable reports whether c may replace what the target holds of its
// key; when not, the outcome says why (superseded, or unsure).
func (w *Warehouse) replayable(ctx context.Context, t *table, c *change.Change, key []byte) (warehouse.ReplayOutcome, bool, error) {
	if t.mark != nil && t.mark.Precedes(c) {
		return warehouse.ReplayOutcome{Result: warehouse.ReplaySuperseded,
			Detail: fmt.Sprintf("the table was truncated after it (partition %d offset %d)", t.mark.Partition, t.mark.Offset)}, false, nil
	}
	if t.exists {
		st, found, err := w.storedChange(ctx, t, c)
		if err != nil {
			return warehouse.ReplayOutcome{}, false, err
		}
		if found {
			o, ok := ReplayOrder(c, st)
			return o, ok, nil
		}
	}
	if c.Op == change.OpDelete {
		return warehouse.ReplayOutcome{}, true, nil // deletes nothing: harmless
	}
	// The key has no row: never written, or removed by a later delete.
	// Only the landing table's history can tell.
	if !t.landing {
		return warehouse.ReplayOutcome{Result: warehouse.ReplayUnsure,
			Detail: "its key has no row and there is no landing table to show that no later change deleted it"}, false, nil
	}
	return w.landedLater(ctx, t, c, key)
}

// StoredChange is the change a target row holds: cdcsync's position
// columns of the row.
type StoredChange struct {
	Pos       change.Position
	Partition sql.NullInt32
	Offset    sql.NullInt64
}

// ReplayOrder decides whether a replayed change c may replace the row
// holding st, with the ordering of batch.After: within a partition the
// offset decides, across partitions a known source position; a change it
// cannot order is never applied (unsure).
func ReplayOrder(c *change.Change, st StoredChange) (warehouse.ReplayOutcome, bool) {
	if !st.Partition.Valid || !st.Offset.Valid {
		return warehouse.ReplayOutcome{Result: warehouse.ReplayUnsure, Detail: "its row has no Kafka position to compare with"}, false
	}
	if st.Partition.Int32 == c.Partition {
		if st.Offset.Int64 >= c.Offset {
			return warehouse.ReplayOutcome{Result: warehouse.ReplaySuperseded,
				Detail: fmt.Sprintf("its row holds the change at offset %d of partition %d", st.Offset.Int64, st.Partition.Int32)}, false
		}
		return warehouse.ReplayOutcome{}, true
	}
	if !c.Pos.Known() || !st.Pos.Known() || c.Pos == st.Pos {
		return warehouse.ReplayOutcome{Result: warehouse.ReplayUnsure,
			Detail: fmt.Sprintf("its row holds a change of partition %d that source positions cannot order with it", st.Partition.Int32)}, false
	}
	if st.Pos > c.Pos {
		return warehouse.ReplayOutcome{Result: warehouse.ReplaySuperseded,
			Detail: fmt.Sprintf("its row holds a later change (partition %d offset %d)", st.Partition.Int32, st.Offset.Int64)}, false
	}
	return warehouse.ReplayOutcome{}, true
}

// storedChange reads the position columns of the row with c's key.
func (w *Warehouse) storedChange(ctx context.Context, t *table, c *change.Change) (StoredChange, bool, error) {
	var st StoredChange
	if len(c.Key) != len(t.key) || len(c.Schema.Key) != len(c.Key) {
		return st, false, fmt.Errorf("replay: the change's key has %d columns, table %s's %d", len(c.Key), t.name, len(t.key))
	}
	conds := make([]string, len(c.Key))
	args := make([]any, len(c.Key))
	for i, v := range c.Key {
		idx, ok := t.byFold[t.ids.Fold(t.ids.Column(c.Schema.Key[i].Name))]
		if !ok {
			return st, false, fmt.Errorf("replay: table %s has no column for key column %q", t.name, c.Schema.Key[i].Name)
		}
		col := t.cols[idx]
		b, err := w.d.Bind(v, col.Type, col.SQL)
		if err != nil {
			return st, false, &warehouse.RejectedError{Err: fmt.Errorf("key column %q: %w", col.Name, err)}
		}
		_, conv := w.d.Staging(col.SQL)
		conds[i] = sqltext.Ident(col.Name) + " = " + fmt.Sprintf(conv, fmt.Sprintf("$%d", i+1))
		args[i] = b
	}
	conn, err := w.connection(ctx)
	if err != nil {
		return st, false, err
	}
	var pos sql.NullString
	err = conn.QueryRowContext(ctx, "SELECT "+sqltext.Ident(warehouse.ColPosition)+", "+sqltext.Ident(warehouse.ColPartition)+", "+
		sqltext.Ident(warehouse.ColOffset)+" FROM "+w.qualify(t.name)+" WHERE "+strings.Join(conds, " AND "), args...).
		Scan(&pos, &st.Partition, &st.Offset)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, false, nil
	case err != nil:
		return st, false, fmt.Errorf("read the row of the replayed change: %w", w.classify(sqltext.FirstLine(err)))
	}
	st.Pos = change.Position(pos.String)
	return st, true, nil
}

// landedLater looks in the landing table for a later event of c's key on
// its partition (a key's events share one partition). The landing table
// must hold the partition's history from c on: without retention it does;
// with it, an event at or before c must still be there.
func (w *Warehouse) landedLater(ctx context.Context, t *table, c *change.Change, key []byte) (warehouse.ReplayOutcome, bool, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return warehouse.ReplayOutcome{}, false, err
	}
	store := w.qualify(w.landingStore(t.name))
	var later, oldest sql.NullInt64
	err = conn.QueryRowContext(ctx, `SELECT min(kafka_offset) FROM `+store+`
		WHERE kafka_topic = $1 AND kafka_partition = $2 AND kafka_offset > $3 AND kafka_key = $4`,
		c.Topic, c.Partition, c.Offset, key).Scan(&later)
	if err != nil {
		return warehouse.ReplayOutcome{}, false, fmt.Errorf("read the landing table of %s: %w", t.name, w.classify(sqltext.FirstLine(err)))
	}
	if later.Valid {
		return warehouse.ReplayOutcome{Result: warehouse.ReplaySuperseded,
			Detail: fmt.Sprintf("a later event of its key (offset %d) removed its row", later.Int64)}, false, nil
	}
	if w.opts.LandingRetention <= 0 {
		return warehouse.ReplayOutcome{}, true, nil
	}
	err = conn.QueryRowContext(ctx, `SELECT max(kafka_offset) FROM `+store+` WHERE kafka_topic = $1 AND kafka_partition = $2 AND kafka_offset <= $3`,
		c.Topic, c.Partition, c.Offset).Scan(&oldest)
	if err != nil {
		return warehouse.ReplayOutcome{}, false, fmt.Errorf("read the landing table of %s: %w", t.name, w.classify(sqltext.FirstLine(err)))
	}
	if !oldest.Valid {
		return warehouse.ReplayOutcome{Result: warehouse.ReplayUnsure,
			Detail: "its key has no row and landing retention removed the history that would show whether a later change deleted it"}, false, nil
	}
	return warehouse.ReplayOutcome{}, true, nil
}

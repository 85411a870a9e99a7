package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// table is the catalog's view of one target table.
type table struct {
	name    string
	topic   string
	exists  bool
	cols    []warehouse.Column
	key     []string
	byName  map[string]int
	mark    *batch.Mark
	landing bool // landing table exists
	staged  bool // staging table matches cols
	plans   map[*change.Schema]*plan
}

// plan maps an event schema onto the table's columns.
type plan struct {
	cols   []int // schema column i → table column
	keys   []int // schema key column i → table column
	reason string
}

// The metadata columns every target table carries after its source
// columns, and the staging table's extra columns.
var metaColumns = []struct{ name, sql string }{
	{warehouse.ColOp, "VARCHAR"},
	{warehouse.ColPosition, "VARCHAR"},
	{warehouse.ColPartition, "INTEGER"},
	{warehouse.ColOffset, "BIGINT"},
	{warehouse.ColSourceTs, "TIMESTAMP WITH TIME ZONE"},
	{warehouse.ColRefreshedAt, "TIMESTAMP WITH TIME ZONE"},
}

func (w *Warehouse) table(ctx context.Context, name, topic string) (*table, error) {
	if t, ok := w.tables[name]; ok {
		return t, nil
	}
	t := &table{name: name, topic: topic, byName: map[string]int{}, plans: map[*change.Schema]*plan{}}
	if err := w.loadTable(ctx, t); err != nil {
		return nil, fmt.Errorf("read catalog of %s: %w", name, err)
	}
	w.tables[name] = t
	return t, nil
}

func (w *Warehouse) loadTable(ctx context.Context, t *table) error {
	t.cols, t.key, t.exists = nil, nil, false
	clear(t.byName)
	clear(t.plans)
	t.staged = false
	rows, err := w.conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, t.name)
	if err != nil {
		return oneLine(err)
	}
	for rows.Next() {
		var c warehouse.Column
		if err := rows.Scan(&c.Name, &c.SQL); err != nil {
			rows.Close()
			return err
		}
		t.exists = true
		if strings.HasPrefix(c.Name, warehouse.Prefix) {
			continue
		}
		c.Type = parseType(c.SQL)
		t.byName[c.Name] = len(t.cols)
		t.cols = append(t.cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if t.exists {
		krows, err := w.conn.QueryContext(ctx, `SELECT unnest(constraint_column_names) FROM duckdb_constraints()
			WHERE schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'`, t.name)
		if err != nil {
			return oneLine(err)
		}
		for krows.Next() {
			var k string
			if err := krows.Scan(&k); err != nil {
				krows.Close()
				return err
			}
			t.key = append(t.key, k)
		}
		krows.Close()
	}
	var part sql.NullInt32
	var off sql.NullInt64
	var pos sql.NullString
	err = w.conn.QueryRowContext(ctx, `SELECT truncate_partition, truncate_offset, truncate_position FROM `+q(warehouse.TablesTable)+` WHERE table_name = ?`, t.name).Scan(&part, &off, &pos)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return oneLine(err)
	case off.Valid:
		t.mark = &batch.Mark{Partition: part.Int32, Offset: off.Int64, Pos: change.Position(pos.String)}
	}
	var n int
	if err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?`, warehouse.LandingTable(t.name)).Scan(&n); err != nil {
		return oneLine(err)
	}
	t.landing = n > 0
	return nil
}

// tableWork is one table's share of a batch, prepared for the transaction.
type tableWork struct {
	t       *table
	tb      *batch.Table
	changes []*change.Change
	rows    [][]driver.Value // appender rows for the staging table
	special [][]driver.Value // rows with values only SQL casts can write
	// unchanged lists the columns some staged row keeps from the target.
	unchanged map[string]bool
	upserts   int
	deletes   int
}

// evolve creates the table or its new columns, widens columns, and turns
// the changes whose schema the table cannot take into dead letters. Row
// images go first, since they can create the table; deletes of a table that
// does not exist delete nothing and are dropped.
func (w *Warehouse) evolve(ctx context.Context, wk *tableWork, dead *[]batch.DeadLetter) error {
	t := wk.t
	drop := make([]bool, len(wk.changes))
	for pass := 0; pass < 2; pass++ {
		for i, c := range wk.changes {
			if (len(c.Schema.Columns) > 0) != (pass == 0) {
				continue
			}
			if !t.exists && len(c.Schema.Columns) == 0 {
				drop[i] = true
				continue
			}
			p, err := w.planFor(ctx, t, c.Schema)
			if err != nil {
				return err
			}
			if p.reason != "" {
				*dead = append(*dead, deadLetter(c, wk.tb, p.reason))
				drop[i] = true
			}
		}
	}
	kept := wk.changes[:0]
	for i, c := range wk.changes {
		if !drop[i] {
			kept = append(kept, c)
		}
	}
	wk.changes = kept
	return nil
}

// planFor checks a schema against the table, evolving the table first when
// the schema needs it. A schema the table cannot take gets a plan with a
// reason; the others a plan mapping their columns onto the table's.
func (w *Warehouse) planFor(ctx context.Context, t *table, s *change.Schema) (*plan, error) {
	if p, ok := t.plans[s]; ok {
		return p, nil
	}
	ev := warehouse.Evolve(t.cols, t.key, s, sqlType)
	if ev.Incompatible != "" {
		p := &plan{reason: ev.Incompatible}
		t.plans[s] = p
		return p, nil
	}
	if !ev.Empty() {
		if err := w.applyEvolution(ctx, t, s, ev); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			// DuckDB refused the change (e.g. a primary-key column cannot
			// change type): the events of this schema become dead letters.
			if lerr := w.loadTable(ctx, t); lerr != nil {
				return nil, lerr
			}
			p := &plan{reason: "schema change not applied: " + err.Error()}
			t.plans[s] = p
			return p, nil
		}
	}
	return t.plan(s), nil
}

// plan returns the mapping of a schema the table takes onto its columns.
func (t *table) plan(s *change.Schema) *plan {
	if p, ok := t.plans[s]; ok {
		return p
	}
	p := &plan{cols: make([]int, len(s.Columns)), keys: make([]int, len(s.Key))}
	for i, c := range s.Columns {
		p.cols[i] = t.byName[c.Name]
	}
	for i, c := range s.Key {
		p.keys[i] = t.byName[c.Name]
	}
	t.plans[s] = p
	return p
}

func (w *Warehouse) applyEvolution(ctx context.Context, t *table, s *change.Schema, ev warehouse.Evolution) error {
	var stmts []string
	if !t.exists {
		var b strings.Builder
		b.WriteString("CREATE TABLE IF NOT EXISTS " + q(t.name) + " (")
		isKey := map[string]bool{}
		for _, k := range s.Key {
			isKey[k.Name] = true
		}
		for _, c := range ev.Add {
			b.WriteString(q(c.Name) + " " + c.SQL)
			if isKey[c.Name] {
				b.WriteString(" NOT NULL")
			}
			b.WriteString(", ")
		}
		for _, m := range metaColumns {
			b.WriteString(q(m.name) + " " + m.sql + ", ")
		}
		keys := make([]string, len(s.Key))
		for i, k := range s.Key {
			keys[i] = q(k.Name)
		}
		b.WriteString("PRIMARY KEY (" + strings.Join(keys, ", ") + "))")
		stmts = append(stmts, b.String())
		stmts = append(stmts, `INSERT INTO `+q(warehouse.TablesTable)+` (table_name, topic, created_at) VALUES (`+lit(t.name)+`, `+lit(t.topic)+`, now()) ON CONFLICT DO NOTHING`)
	} else {
		for _, c := range ev.Add {
			stmts = append(stmts, "ALTER TABLE "+q(t.name)+" ADD COLUMN IF NOT EXISTS "+q(c.Name)+" "+c.SQL)
		}
		for _, c := range ev.Alter {
			stmts = append(stmts, "ALTER TABLE "+q(t.name)+" ALTER COLUMN "+q(c.Name)+" SET DATA TYPE "+c.SQL)
		}
	}
	for _, st := range stmts {
		if _, err := w.conn.ExecContext(ctx, st); err != nil {
			return oneLine(err)
		}
	}
	w.log.Info("table schema changed", "table", t.name, "created", !t.exists, "added", names(ev.Add), "widened", names(ev.Alter))
	return w.loadTable(ctx, t)
}

func names(cols []warehouse.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + " " + c.SQL
	}
	return out
}

// lit renders a string literal.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func deadLetter(c *change.Change, tb *batch.Table, reason string) batch.DeadLetter {
	raw := findRaw(tb, c.Partition, c.Offset)
	return batch.DeadLetter{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, Table: c.Table,
		Reason: reason, Key: raw.Key, Value: raw.Value}
}

// findRaw finds a change's record among the batch's landing rows, for the
// raw bytes of a dead letter. The landing rows are in consumption order.
func findRaw(tb *batch.Table, partition int32, offset int64) batch.Raw {
	for i := range tb.Landing {
		if r := tb.Landing[i]; r.Partition == partition && r.Offset == offset {
			return r
		}
	}
	return batch.Raw{}
}

// stage converts the changes to staging rows. A value that does not fit its
// column turns its change into a dead letter.
func (wk *tableWork) stage(dead *[]batch.DeadLetter) {
	t := wk.t
	ncols := len(t.cols)
	for _, c := range wk.changes {
		p := t.plan(c.Schema)
		vals := make([]any, ncols) // the change's values, by table column
		var unchanged []string
		if c.Op == change.OpUpsert {
			for i, v := range c.Row {
				if c.Unchanged != nil && c.Unchanged[i] {
					unchanged = append(unchanged, t.cols[p.cols[i]].Name)
					continue
				}
				vals[p.cols[i]] = v
			}
		}
		for i, v := range c.Key {
			vals[p.keys[i]] = v
		}
		row := make([]driver.Value, ncols+6)
		isSpecial := false
		var err error
		for i, v := range vals {
			col := t.cols[i]
			row[i], err = bind(v, col.Type, col.SQL)
			if errors.Is(err, errSpecial) {
				isSpecial, err = true, nil
			}
			if err != nil {
				err = fmt.Errorf("column %q: %w", col.Name, err)
				break
			}
		}
		if err == nil && isSpecial {
			for i, v := range vals {
				if v == nil {
					continue
				}
				col := t.cols[i]
				if row[i], err = specialText(v, col.Type, col.SQL); err != nil {
					err = fmt.Errorf("column %q: %w", col.Name, err)
					break
				}
			}
		}
		if err != nil {
			*dead = append(*dead, deadLetter(c, wk.tb, err.Error()))
			continue
		}
		op := string(c.SourceOp)
		if c.Op == change.OpDelete {
			op = "d"
			wk.deletes++
		} else {
			wk.upserts++
		}
		row[ncols] = op
		if len(unchanged) > 0 {
			row[ncols+1] = "," + strings.Join(unchanged, ",") + ","
			if wk.unchanged == nil {
				wk.unchanged = map[string]bool{}
			}
			for _, u := range unchanged {
				wk.unchanged[u] = true
			}
		}
		row[ncols+2] = nilIfEmpty(string(c.Pos))
		row[ncols+3] = c.Partition
		row[ncols+4] = c.Offset
		if c.SourceTs != 0 {
			row[ncols+5] = time.UnixMilli(c.SourceTs).UTC()
		}
		if isSpecial {
			wk.special = append(wk.special, row)
		} else {
			wk.rows = append(wk.rows, row)
		}
	}
}

// ensureStaging (re)creates the table's staging table when its columns
// changed.
func (w *Warehouse) ensureStaging(ctx context.Context, t *table) error {
	if t.staged {
		return nil
	}
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE TEMP TABLE " + q(warehouse.StagingPrefix+t.name) + " (")
	for _, c := range t.cols {
		b.WriteString(q(c.Name) + " " + stagingType(c.SQL) + ", ")
	}
	b.WriteString(q(warehouse.ColOp) + " VARCHAR, " + q(warehouse.ColUnchanged) + " VARCHAR, " +
		q(warehouse.ColPosition) + " VARCHAR, " + q(warehouse.ColPartition) + " INTEGER, " +
		q(warehouse.ColOffset) + " BIGINT, " + q(warehouse.ColSourceTs) + " TIMESTAMP WITH TIME ZONE)")
	if _, err := w.conn.ExecContext(ctx, b.String()); err != nil {
		return oneLine(err)
	}
	t.staged = true
	return nil
}

// applyTable runs one table's share of the batch inside the transaction.
func (w *Warehouse) applyTable(ctx context.Context, wk *tableWork, st *warehouse.Stats) error {
	t := wk.t
	if tr := wk.tb.Truncate; tr != nil {
		if err := w.truncate(ctx, t, tr); err != nil {
			return err
		}
		st.Truncates++
	}
	if len(wk.rows)+len(wk.special) > 0 {
		if err := w.upsert(ctx, wk); err != nil {
			return err
		}
		st.Upserts += wk.upserts
		st.Deletes += wk.deletes
	}
	if w.opts.Landing && len(wk.tb.Landing) > 0 {
		if err := w.land(ctx, t, wk.tb.Landing); err != nil {
			return err
		}
		st.Landed += len(wk.tb.Landing)
	}
	return nil
}

// truncate removes the rows whose last change precedes the truncate and
// records it, so that later events preceding it are ignored.
func (w *Warehouse) truncate(ctx context.Context, t *table, tr *change.Change) error {
	if t.exists {
		cond := "TRUE"
		var args []any
		if tr.Pos.Known() {
			// Rows of the truncate's own partition all precede it (offset
			// order); rows of other partitions precede it when their
			// position does, or is unknown (consumed before it).
			cond = q(warehouse.ColPartition) + " = ? OR " + q(warehouse.ColPosition) + " IS NULL OR " + q(warehouse.ColPosition) + " < ?"
			args = []any{tr.Partition, string(tr.Pos)}
		}
		if _, err := w.conn.ExecContext(ctx, "DELETE FROM "+q(t.name)+" WHERE "+cond, args...); err != nil {
			return fmt.Errorf("truncate: %w", oneLine(err))
		}
	}
	_, err := w.conn.ExecContext(ctx, `INSERT INTO `+q(warehouse.TablesTable)+` (table_name, topic, truncate_partition, truncate_offset, truncate_position, truncated_at, created_at)
		VALUES (?, ?, ?, ?, ?, now(), now())
		ON CONFLICT (table_name) DO UPDATE SET truncate_partition = excluded.truncate_partition,
		truncate_offset = excluded.truncate_offset, truncate_position = excluded.truncate_position, truncated_at = excluded.truncated_at`,
		t.name, t.topic, tr.Partition, tr.Offset, string(tr.Pos))
	if err != nil {
		return fmt.Errorf("record truncate: %w", oneLine(err))
	}
	return nil
}

// upsert stages the reduced changes and applies them: fill unchanged
// columns from the target, delete every staged key, insert the upserts.
func (w *Warehouse) upsert(ctx context.Context, wk *tableWork) error {
	t := wk.t
	if err := w.ensureStaging(ctx, t); err != nil {
		return err
	}
	stg := q(warehouse.StagingPrefix + t.name)
	if _, err := w.conn.ExecContext(ctx, "DELETE FROM "+stg); err != nil {
		return oneLine(err)
	}
	if len(wk.rows) > 0 {
		err := w.appendRowsIn(ctx, "temp", warehouse.StagingPrefix+t.name, func(a *duckdb.Appender) error {
			for _, r := range wk.rows {
				if err := a.AppendRow(r...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(wk.special) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)+6), ", ")
		for _, r := range wk.special {
			args := make([]any, len(r))
			for i, v := range r {
				args[i] = v
			}
			if _, err := w.conn.ExecContext(ctx, "INSERT INTO "+stg+" VALUES ("+ph+")", args...); err != nil {
				return fmt.Errorf("stage: %w", oneLine(err))
			}
		}
	}
	keyMatch := make([]string, len(t.key))
	for i, k := range t.key {
		keyMatch[i] = "t." + q(k) + " = s." + q(k)
	}
	match := strings.Join(keyMatch, " AND ")
	for col := range wk.unchanged {
		// The placeholder never overwrites: take the target's current value.
		sqlUpd := "UPDATE " + stg + " AS s SET " + q(col) + " = t." + q(col) + " FROM " + q(t.name) + " AS t WHERE " + match +
			" AND strpos(s." + q(warehouse.ColUnchanged) + ", " + lit(","+col+",") + ") > 0"
		if _, err := w.conn.ExecContext(ctx, sqlUpd); err != nil {
			return fmt.Errorf("keep unchanged column %s: %w", col, oneLine(err))
		}
	}
	failpoint.Hit("duckdb-staged")
	if _, err := w.conn.ExecContext(ctx, "DELETE FROM "+q(t.name)+" AS t USING "+stg+" AS s WHERE "+match); err != nil {
		return fmt.Errorf("delete changed keys: %w", oneLine(err))
	}
	cols := make([]string, 0, len(t.cols)+6)
	sel := make([]string, 0, len(t.cols)+6)
	for _, c := range t.cols {
		cols = append(cols, q(c.Name))
		if stagingType(c.SQL) != c.SQL {
			sel = append(sel, q(c.Name)+"::"+c.SQL)
		} else {
			sel = append(sel, q(c.Name))
		}
	}
	for _, m := range []string{warehouse.ColOp, warehouse.ColPosition, warehouse.ColPartition, warehouse.ColOffset, warehouse.ColSourceTs} {
		cols = append(cols, q(m))
		sel = append(sel, q(m))
	}
	cols = append(cols, q(warehouse.ColRefreshedAt))
	sel = append(sel, "now()")
	ins := "INSERT INTO " + q(t.name) + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM " + stg + " WHERE " + q(warehouse.ColOp) + " <> 'd'"
	if _, err := w.conn.ExecContext(ctx, ins); err != nil {
		return fmt.Errorf("insert upserts: %w", oneLine(err))
	}
	return nil
}

const landingStaging = warehouse.StagingPrefix + "landing"

// land appends the batch's raw records to the table's landing table.
func (w *Warehouse) land(ctx context.Context, t *table, raws []batch.Raw) error {
	if !t.landing {
		_, err := w.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+q(warehouse.LandingTable(t.name))+` (
			kafka_topic VARCHAR,
			kafka_partition INTEGER,
			kafka_offset BIGINT,
			kafka_timestamp_type VARCHAR,
			kafka_timestamp TIMESTAMP,
			kafka_key BLOB,
			kafka_value BLOB,
			kafka_headers JSON,
			refresh_time TIMESTAMP WITH TIME ZONE,
			payload JSON)`)
		if err != nil {
			return fmt.Errorf("create landing table: %w", oneLine(err))
		}
		t.landing = true
	}
	if !w.landingStaged {
		_, err := w.conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE `+q(landingStaging)+` (
			kafka_topic VARCHAR, kafka_partition INTEGER, kafka_offset BIGINT, kafka_timestamp_type VARCHAR,
			kafka_timestamp TIMESTAMP, kafka_key BLOB, kafka_value BLOB, kafka_headers VARCHAR, payload VARCHAR)`)
		if err != nil {
			return fmt.Errorf("create landing staging: %w", oneLine(err))
		}
		w.landingStaged = true
	}
	if _, err := w.conn.ExecContext(ctx, "DELETE FROM "+q(landingStaging)); err != nil {
		return oneLine(err)
	}
	err := w.appendRowsIn(ctx, "temp", landingStaging, func(a *duckdb.Appender) error {
		for i := range raws {
			r := &raws[i]
			var payload any
			if r.Payload != nil && utf8.Valid(r.Payload) {
				payload = string(r.Payload)
			}
			if err := a.AppendRow(r.Topic, r.Partition, r.Offset, string(r.TimestampType), r.Timestamp,
				r.Key, r.Value, headersJSON(r.Headers), payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = w.conn.ExecContext(ctx, `INSERT INTO `+q(warehouse.LandingTable(t.name))+`
		SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp_type, kafka_timestamp, kafka_key, kafka_value,
		kafka_headers::JSON, now(), payload::JSON FROM `+q(landingStaging))
	if err != nil {
		return fmt.Errorf("land: %w", oneLine(err))
	}
	return nil
}

// headersJSON renders Kafka headers as a JSON array of {key, value}; values
// that are not UTF-8 text are base64 under "value_base64".
func headersJSON(hs []batch.Header) any {
	if len(hs) == 0 {
		return nil
	}
	type h struct {
		Key    string  `json:"key"`
		Value  *string `json:"value,omitempty"`
		Base64 []byte  `json:"value_base64,omitempty"`
	}
	out := make([]h, len(hs))
	for i, x := range hs {
		out[i].Key = x.Key
		if utf8.Valid(x.Value) {
			s := string(x.Value)
			out[i].Value = &s
		} else {
			out[i].Base64 = x.Value
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return string(b)
}

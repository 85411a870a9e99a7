package sqlapply

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// table is the catalog's view of one target table.
type table struct {
	name    string // the warehouse's identifier (Identifiers.Table of source)
	source  string // the name the topic maps to
	topic   string // the topic that owns the table
	ids     warehouse.Identifiers
	exists  bool
	cols    []warehouse.Column
	key     []string
	byName  map[string]int // column index by catalog name
	byFold  map[string]int // column index by folded name, for source names
	mark    *batch.Mark
	landing bool // the landing table exists
	// keepsPayload: the landing store keeps the payload as JSON text, not
	// in kafka_value (see PayloadKeeping).
	keepsPayload bool
	staged       bool // the staging table matches cols on the current connection
	plans        map[*change.Schema]*plan
	// noPending: the moves table holds no pending moved value of this
	// table (see moved.go); false when unknown.
	noPending bool
}

// plan maps an event schema onto the table's columns.
type plan struct {
	cols   []int // schema column i → table column
	keys   []int // schema key column i → table column
	reason string
}

// metaColumns are cdcsync's columns on every target table, after the
// source columns.
var metaColumns = []struct {
	name string
	typ  change.Type
}{
	{warehouse.ColOp, change.String},
	{warehouse.ColPosition, change.String},
	{warehouse.ColPartition, change.Int32},
	{warehouse.ColOffset, change.Int64},
	{warehouse.ColSourceTs, change.TimestampTZ},
	{warehouse.ColRefreshedAt, change.TimestampTZ},
}

// nStagingMeta counts the staging columns after the table's columns: op,
// unchanged, position, partition, offset, source ts.
const nStagingMeta = 6

// table returns the target table a topic's source table maps to, checking
// the mapping first: the name must not be cdcsync's, and no other topic may
// own a table the warehouse takes for the same (case folding, identifier
// limits, two databases with one table name). The owner is recorded in
// the tables table the first time, so the check holds across restarts and
// for topics discovered later. A violation is a *warehouse.NameError.
func (w *Warehouse) table(ctx context.Context, source, topic string) (*table, error) {
	ids := w.d.Identifiers()
	if err := ids.CheckTable(topic, source); err != nil {
		return nil, err
	}
	name := ids.Table(source)
	key := ids.Fold(name)
	if t, ok := w.tables[key]; ok {
		if t.topic != topic {
			return nil, w.collision(t.topic, t.name, topic, name)
		}
		return t, nil
	}
	owner, ownedName, err := w.claim(ctx, name, topic)
	if err != nil {
		return nil, fmt.Errorf("record the owner of table %s: %w", name, err)
	}
	if owner != topic {
		return nil, w.collision(owner, ownedName, topic, name)
	}
	t := &table{name: name, source: source, topic: topic, ids: ids, byName: map[string]int{}, byFold: map[string]int{},
		plans: map[*change.Schema]*plan{}}
	if err := w.loadTable(ctx, t); err != nil {
		return nil, fmt.Errorf("read the catalog of %s: %w", name, err)
	}
	if name != source {
		w.log.Info("table renamed to fit the warehouse's identifiers", "topic", topic, "source_table", source,
			"table", name, "max_bytes", ids.MaxBytes)
	}
	w.tables[key] = t
	return t, nil
}

// collision is the error for a topic whose table another topic owns.
func (w *Warehouse) collision(owner, ownedName, topic, name string) error {
	ids := w.d.Identifiers()
	reason := "the same table name"
	switch {
	case ownedName == name:
	case ids.Fold(ownedName) == ids.Fold(name):
		reason = ids.Warehouse + " compares table names case-insensitively"
	default:
		reason = fmt.Sprintf("names cut to %s's %d-byte identifiers", ids.Warehouse, ids.MaxBytes)
	}
	return &warehouse.NameError{Topic: topic, Table: ownedName, Owner: owner, Reason: reason}
}

// addTablesColumns adds the tables table's columns that came after its
// first version: landing_table, the landing table's name as the
// warehouse's identifiers made it.
func (w *Warehouse) addTablesColumns(ctx context.Context) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	cols, err := w.d.Columns(ctx, conn, warehouse.TablesTable)
	if err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	for _, c := range cols {
		if c.Name == "landing_table" {
			return nil
		}
	}
	_, err = w.exec(ctx, w.d.AddColumn(w.qualify(warehouse.TablesTable), warehouse.Column{Name: "landing_table", Type: change.String, SQL: w.d.SQLType(change.String)}))
	return err
}

// claim returns the topic that owns a table, and the table's name as
// recorded, comparing names as the warehouse does; a table no topic owns
// yet is recorded as topic's. The claim is made outside the batch's
// transaction: it only reserves the name.
func (w *Warehouse) claim(ctx context.Context, name, topic string) (owner, ownedName string, err error) {
	// Under the DDL lock (or retried after a concurrent insert), so that
	// processes starting together agree on one owner.
	err = w.ddl(ctx, func() error {
		var err error
		owner, ownedName, err = w.claimOnce(ctx, name, topic)
		return err
	})
	return owner, ownedName, err
}

func (w *Warehouse) claimOnce(ctx context.Context, name, topic string) (owner, ownedName string, err error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return "", "", err
	}
	ids := w.d.Identifiers()
	rows, err := conn.QueryContext(ctx, `SELECT table_name, topic FROM `+w.qualify(warehouse.TablesTable))
	if err != nil {
		return "", "", w.classify(sqltext.FirstLine(err))
	}
	found := false
	for rows.Next() {
		var tn string
		var tp sql.NullString
		if err := rows.Scan(&tn, &tp); err != nil {
			rows.Close()
			return "", "", w.classify(sqltext.FirstLine(err))
		}
		if ids.Fold(tn) == ids.Fold(name) && (!found || tp.String != "") {
			found, owner, ownedName = true, tp.String, tn
		}
	}
	if err := rows.Close(); err != nil {
		return "", "", w.classify(sqltext.FirstLine(err))
	}
	if err := rows.Err(); err != nil {
		return "", "", w.classify(sqltext.FirstLine(err))
	}
	switch {
	case found && owner != "":
		return owner, ownedName, nil
	case found:
		_, err = w.exec(ctx, `UPDATE `+w.qualify(warehouse.TablesTable)+` SET topic = $1 WHERE table_name = $2`, topic, ownedName)
	default:
		_, err = w.exec(ctx, `INSERT INTO `+w.qualify(warehouse.TablesTable)+` (table_name, topic, created_at, landing_table) VALUES ($1, $2, `+w.d.Now()+`, $3)`,
			name, topic, ids.Landing(name))
	}
	if err != nil {
		return "", "", err
	}
	return topic, name, nil
}

// loadTable reads a table's catalog entry. It changes t only when every
// read succeeded: a half-read table (columns without their primary key,
// after a lost connection) would apply wrong SQL.
func (w *Warehouse) loadTable(ctx context.Context, t *table) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	all, err := w.d.Columns(ctx, conn, t.name)
	if err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	// cdcsync's columns are an exact set: every other column, whatever
	// its name, is a source column.
	var cols []warehouse.Column
	byName, byFold := map[string]int{}, map[string]int{}
	for _, c := range all {
		if t.ids.IsMetaColumn(c.Name) {
			continue
		}
		byName[c.Name] = len(cols)
		byFold[t.ids.Fold(c.Name)] = len(cols)
		cols = append(cols, c)
	}
	var key []string
	if len(all) > 0 {
		if key, err = w.d.PrimaryKey(ctx, conn, t.name); err != nil {
			return w.classify(sqltext.FirstLine(err))
		}
	}
	var mark *batch.Mark
	var part sql.NullInt32
	var off sql.NullInt64
	var pos sql.NullString
	err = conn.QueryRowContext(ctx, `SELECT truncate_partition, truncate_offset, truncate_position FROM `+w.qualify(warehouse.TablesTable)+` WHERE table_name = $1`, t.name).Scan(&part, &off, &pos)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return w.classify(sqltext.FirstLine(err))
	case off.Valid:
		mark = &batch.Mark{Partition: part.Int32, Offset: off.Int64, Pos: change.Position(pos.String)}
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
		w.d.Schema(), t.ids.Landing(t.name)).Scan(&n); err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	keeps := false
	if _, elide := w.d.(SchemaEliding); elide && n > 0 {
		if pk, ok := w.d.(PayloadKeeping); ok {
			if keeps, err = pk.KeepsPayload(ctx, conn, t.ids.LandingStore(t.name)); err != nil {
				return w.classify(sqltext.FirstLine(err))
			}
		}
	}
	t.cols, t.key, t.byName, t.byFold, t.exists, t.staged = cols, key, byName, byFold, len(all) > 0, false
	t.mark, t.landing, t.keepsPayload = mark, n > 0, keeps
	clear(t.plans)
	return nil
}

// tableWork is one table's share of a batch, prepared for the transaction.
type tableWork struct {
	t       *table
	tb      *batch.Table
	changes []*change.Change
	rows    [][]any // staging rows: table columns, then nStagingMeta
	// unchanged lists the columns some staged row keeps from the target.
	unchanged map[string]bool
	upserts   int
	deletes   int
	movedKeys bool // some staged row carries the old key of a primary-key change
	moves     int  // staged move rows (op 'm', see moved.go)
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
	// A later schema's DDL reloads the catalog and forgets earlier plans:
	// map every kept schema again (no DDL is left to do) for stage.
	for _, c := range kept {
		if _, err := w.planFor(ctx, t, c.Schema); err != nil {
			return err
		}
	}
	return nil
}

// planFor checks a schema against the table, evolving the table first when
// the schema needs it. A schema the table cannot take gets a plan with a
// reason; the others a plan mapping their columns onto the table's.
func (w *Warehouse) planFor(ctx context.Context, t *table, s *change.Schema) (*plan, error) {
	if p, ok := t.plans[s]; ok {
		return p, nil
	}
	ts, reason := t.targetSchema(s)
	if reason != "" {
		p := &plan{reason: reason}
		t.plans[s] = p
		return p, nil
	}
	ev := warehouse.Evolve(t.cols, t.key, ts, w.d.SQLType)
	if ev.Incompatible != "" {
		p := &plan{reason: ev.Incompatible}
		t.plans[s] = p
		return p, nil
	}
	if !ev.Empty() {
		if err := w.applyEvolution(ctx, t, ts, ev); err != nil {
			var refused *refusedChange
			if !errors.As(err, &refused) && !warehouse.IsRejected(err) && !w.d.Unsupported(err) {
				// The infrastructure or cdcsync failed, not the schema:
				// retried or fatal, never the events' fault.
				return nil, err
			}
			// The warehouse refused the change (e.g. a primary-key column
			// cannot change type): the events of this schema become dead
			// letters, the rest of the stream goes on.
			if lerr := w.loadTable(ctx, t); lerr != nil {
				return nil, lerr
			}
			p := &plan{reason: "schema change not applied: " + err.Error()}
			t.plans[s] = p
			return p, nil
		}
	}
	return t.mapping(s, ts)
}

// plan returns the mapping of a schema onto the table's columns, made by
// planFor during evolve for every change that reaches stage.
func (t *table) plan(s *change.Schema) *plan { return t.plans[s] }

// targetSchema returns s with each column named as the target column it
// lands in: Identifiers.Column of its name, spelled as the catalog spells
// it where the warehouse folds case (a source column renamed only in case
// is the same column there). A schema two of whose columns would land in
// one column cannot be applied: the reason says why.
func (t *table) targetSchema(s *change.Schema) (*change.Schema, string) {
	target := func(name string) string {
		n := t.ids.Column(name)
		if i, ok := t.byFold[t.ids.Fold(n)]; ok {
			return t.cols[i].Name
		}
		return n
	}
	same := true
	seen := make(map[string]string, len(s.Columns))
	cols := make([]change.Column, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = c
		cols[i].Name = target(c.Name)
		same = same && cols[i].Name == c.Name
		k := t.ids.Fold(cols[i].Name)
		if other, dup := seen[k]; dup {
			return nil, fmt.Sprintf("source columns %q and %q would land in one column %q (%s: %s)",
				other, c.Name, cols[i].Name, t.ids.Warehouse, t.ids.Describe())
		}
		seen[k] = c.Name
	}
	key := make([]change.Column, len(s.Key))
	for i, c := range s.Key {
		key[i] = c
		key[i].Name = target(c.Name)
		same = same && key[i].Name == c.Name
	}
	if same {
		return s, ""
	}
	return change.NewSchema(cols, key), ""
}

// mapping maps the columns of s, named as in ts (targetSchema), onto the
// table's columns. Every column must have one: a missing one is an error,
// never a silent default.
func (t *table) mapping(s, ts *change.Schema) (*plan, error) {
	p := &plan{cols: make([]int, len(ts.Columns)), keys: make([]int, len(ts.Key))}
	find := func(name, source string) (int, error) {
		i, ok := t.byFold[t.ids.Fold(name)]
		if !ok {
			return 0, fmt.Errorf("table %s has no column %q for source column %q after its schema change", t.name, name, source)
		}
		return i, nil
	}
	var err error
	for i, c := range ts.Columns {
		if p.cols[i], err = find(c.Name, s.Columns[i].Name); err != nil {
			return nil, err
		}
	}
	for i, c := range ts.Key {
		if p.keys[i], err = find(c.Name, s.Key[i].Name); err != nil {
			return nil, err
		}
	}
	t.plans[s] = p
	return p, nil
}

func (w *Warehouse) applyEvolution(ctx context.Context, t *table, s *change.Schema, ev warehouse.Evolution) error {
	var stmts []string
	if !t.exists {
		var b strings.Builder
		b.WriteString("CREATE TABLE IF NOT EXISTS " + w.qualify(t.name) + " (")
		isKey := map[string]bool{}
		for _, k := range s.Key {
			isKey[k.Name] = true
		}
		co, _ := w.d.(ColumnOptioner)
		for _, c := range ev.Add {
			b.WriteString(sqltext.Ident(c.Name) + " " + c.SQL)
			if co != nil {
				b.WriteString(co.ColumnOptions(s.KeyNames(), c.Name, c.Type))
			}
			if isKey[c.Name] {
				b.WriteString(" NOT NULL")
			}
			b.WriteString(", ")
		}
		for _, m := range metaColumns {
			b.WriteString(sqltext.Ident(m.name) + " " + w.d.SQLType(m.typ) + ", ")
		}
		keys := make([]string, len(s.Key))
		for i, k := range s.Key {
			keys[i] = sqltext.Ident(k.Name)
		}
		var recordKey []string
		if uk, ok := w.d.(Unkeyed); ok {
			def := strings.TrimSuffix(b.String(), ", ") + ")"
			b.Reset()
			b.WriteString(def)
			recordKey = uk.RecordKey(w.qualify(t.name), s.KeyNames())
		} else {
			b.WriteString("PRIMARY KEY (" + strings.Join(keys, ", ") + "))")
		}
		if o, ok := w.d.(TableOptioner); ok {
			b.WriteString(o.TableOptions(s.KeyNames()))
		}
		stmts = append(stmts, b.String())
		stmts = append(stmts, recordKey...)
	} else {
		for _, c := range ev.Add {
			stmts = append(stmts, w.d.AddColumn(w.qualify(t.name), c))
		}
		for _, c := range ev.Alter {
			st, ok := w.d.AlterColumn(w.qualify(t.name), c)
			if !ok {
				return &refusedChange{fmt.Sprintf("%s cannot widen column %q to %s", w.d.Name(), c.Name, c.SQL)}
			}
			stmts = append(stmts, st)
		}
	}
	err := w.ddl(ctx, func() error {
		for _, st := range stmts {
			failpoint.Hit("ddl")
			if _, err := w.exec(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.log.Info("table schema changed", "table", t.name, "created", !t.exists, "added", names(ev.Add), "widened", names(ev.Alter))
	return w.loadTable(ctx, t)
}

// refusedChange is a schema change the dialect cannot make.
type refusedChange struct{ reason string }

func (e *refusedChange) Error() string { return e.reason }

func names(cols []warehouse.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + " " + c.SQL
	}
	return out
}

func deadLetter(c *change.Change, tb *batch.Table, reason string) batch.DeadLetter {
	raw := findRaw(tb, c.Partition, c.Offset)
	return batch.DeadLetter{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, Table: c.Table,
		Reason: reason, Key: raw.Key, Value: raw.Value}
}

// findRaw finds a change's record among the batch's raw records, for the
// bytes of a dead letter.
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
func (wk *tableWork) stage(d Dialect, dead *[]batch.DeadLetter) {
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
		row := make([]any, ncols+nStagingMeta+len(t.key)+2)
		var err error
		for i, v := range vals {
			if v == nil {
				continue
			}
			col := t.cols[i]
			if row[i], err = d.Bind(v, col.Type, col.SQL); err != nil {
				err = fmt.Errorf("column %q: %w", col.Name, err)
				break
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
		row[len(row)-2] = keyIDText(c.KeyID)
		if len(c.OldKey) == len(p.keys) {
			// The row moved from an old key: its unchanged values are that
			// row's (see moved.go).
			for i, v := range c.OldKey {
				col := t.cols[p.keys[i]]
				if row[ncols+nStagingMeta+i], err = d.Bind(v, col.Type, col.SQL); err != nil {
					row[ncols+nStagingMeta+i] = nil
				}
			}
			row[len(row)-1] = keyIDText(c.OldKeyID)
			wk.movedKeys = true
		}
		wk.rows = append(wk.rows, row)
	}
	wk.stageMoves(d)
}

// stagingColumns returns the staging table's columns and their types.
func (w *Warehouse) stagingColumns(t *table) (names, types []string) {
	for _, c := range t.cols {
		st, _ := w.d.Staging(c.SQL)
		names, types = append(names, c.Name), append(types, st)
	}
	text, i32, i64, ts := w.d.SQLType(change.String), w.d.SQLType(change.Int32), w.d.SQLType(change.Int64), w.d.SQLType(change.TimestampTZ)
	names = append(names, warehouse.ColOp, warehouse.ColUnchanged, warehouse.ColPosition, warehouse.ColPartition, warehouse.ColOffset, warehouse.ColSourceTs)
	types = append(types, text, text, text, i32, i64, ts)
	for _, k := range t.key {
		c := t.cols[t.byName[k]]
		st, _ := w.d.Staging(c.SQL)
		names, types = append(names, oldKeyColumn(k)), append(types, st)
	}
	names, types = append(names, colKeyID, colOtherKeyID), append(types, text, text)
	return names, types
}

// oldKeyColumn is the staging column holding a key column's value before a
// primary-key change.
// Staging columns are never seen by users: they fit the smallest limit of
// the supported warehouses (PostgreSQL's 63 bytes).
func oldKeyColumn(k string) string {
	return warehouse.Identifiers{MaxBytes: 63}.Fit(warehouse.ColOldKeyPrefix + k)
}

// ensureStaging (re)creates the table's staging table on the connection
// when its columns changed.
func (w *Warehouse) ensureStaging(ctx context.Context, t *table) error {
	if t.staged {
		return nil
	}
	names, types := w.stagingColumns(t)
	defs := make([]string, len(names))
	for i := range names {
		defs[i] = sqltext.Ident(names[i]) + " " + types[i]
	}
	stg := sqltext.Ident(t.ids.Staging(t.name))
	if _, err := w.exec(ctx, "DROP TABLE IF EXISTS "+stg); err != nil {
		return err
	}
	if _, err := w.exec(ctx, "CREATE TEMP TABLE "+stg+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return err
	}
	if ix, ok := w.d.(Indexer); ok {
		for _, c := range []string{colKeyID, colOtherKeyID} {
			if _, err := w.exec(ctx, ix.CreateIndex("", stg, sqltext.Ident(c))); err != nil {
				return err
			}
		}
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
	if len(wk.rows) > 0 {
		if err := w.upsert(ctx, wk); err != nil {
			return err
		}
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

// truncate removes the rows whose last change precedes the truncate and
// records it, so that later events preceding it are ignored.
func (w *Warehouse) truncate(ctx context.Context, t *table, tr *change.Change) error {
	if t.exists {
		cond := ""
		var args []any
		if tr.Pos.Known() {
			// Rows of the truncate's own partition all precede it (offset
			// order); rows of other partitions precede it when their
			// position does, or is unknown (consumed before it).
			cond = " WHERE " + sqltext.Ident(warehouse.ColPartition) + " = $1 OR " + sqltext.Ident(warehouse.ColPosition) + " IS NULL OR " + sqltext.Ident(warehouse.ColPosition) + " < $2"
			args = []any{tr.Partition, string(tr.Pos)}
		}
		if _, err := w.exec(ctx, "DELETE FROM "+w.qualify(t.name)+cond, args...); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	// The table's row exists: the table was claimed (see claim) before
	// its batch was prepared.
	res, err := w.exec(ctx, `UPDATE `+w.qualify(warehouse.TablesTable)+` SET truncate_partition = $1, truncate_offset = $2,
		truncate_position = $3, truncated_at = `+w.d.Now()+` WHERE table_name = $4 AND topic = $5`,
		tr.Partition, tr.Offset, string(tr.Pos), t.name, t.topic)
	if err != nil {
		return fmt.Errorf("record truncate: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("record truncate: table %s is not recorded as topic %s's in %s", t.name, t.topic, warehouse.TablesTable)
	}
	return nil
}

// upsert stages the reduced changes and applies them: fill unchanged
// columns from the target, delete every staged key, insert the upserts.
func (w *Warehouse) upsert(ctx context.Context, wk *tableWork) error {
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
	if err := w.d.BulkLoad(ctx, conn, stgName, names, wk.rows); err != nil {
		return fmt.Errorf("stage: %w", w.classify(sqltext.FirstLine(err)))
	}
	tgt := w.qualify(t.name)
	keyMatch := make([]string, len(t.key))
	for i, k := range t.key {
		keyMatch[i] = tgt + "." + sqltext.Ident(k) + " = " + stg + "." + sqltext.Ident(k)
	}
	match := strings.Join(keyMatch, " AND ")
	oldMatch := make([]string, len(t.key))
	for i, k := range t.key {
		oldMatch[i] = tgt + "." + sqltext.Ident(k) + " = " + stg + "." + sqltext.Ident(oldKeyColumn(k))
	}
	if err := w.moveValues(ctx, wk); err != nil {
		return err
	}
	for col := range wk.unchanged {
		// The placeholder never overwrites: take the target's current value.
		st, _ := w.d.Staging(t.cols[t.byName[col]].SQL)
		value := tgt + "." + sqltext.Ident(col)
		if st != t.cols[t.byName[col]].SQL {
			value = "CAST(" + value + " AS " + st + ")"
		}
		isUnchanged := " AND strpos(" + stg + "." + sqltext.Ident(warehouse.ColUnchanged) + ", " + sqltext.Literal(","+col+",") + ") > 0 AND " +
			stg + "." + sqltext.Ident(warehouse.ColOp) + " <> " + sqltext.Literal(opMove)
		upd := "UPDATE " + stg + " SET " + sqltext.Ident(col) + " = " + value + " FROM " + tgt + " WHERE " + match + isUnchanged
		if _, err := w.exec(ctx, upd); err != nil {
			return fmt.Errorf("keep unchanged column %s: %w", col, err)
		}
		if wk.movedKeys {
			// A primary-key change: the value is the old key's row's, as
			// its delete left it when that was applied, else as the target
			// holds it now (and it follows the old key until its delete).
			upd := "UPDATE " + stg + " SET " + sqltext.Ident(col) + " = " + value + " FROM " + tgt + " WHERE " + strings.Join(oldMatch, " AND ") + isUnchanged
			if _, err := w.exec(ctx, upd); err != nil {
				return fmt.Errorf("keep unchanged column %s of a moved row: %w", col, err)
			}
			if err := w.movedValue(ctx, wk, col); err != nil {
				return err
			}
		}
	}
	if err := w.settleMoves(ctx, wk); err != nil {
		return err
	}
	failpoint.Hit("staged")
	if _, err := w.exec(ctx, "DELETE FROM "+tgt+" USING "+stg+" WHERE "+match+" AND "+stg+"."+sqltext.Ident(warehouse.ColOp)+" <> "+sqltext.Literal(opMove)); err != nil {
		return fmt.Errorf("delete changed keys: %w", err)
	}
	cols := make([]string, 0, len(t.cols)+6)
	sel := make([]string, 0, len(t.cols)+6)
	for _, c := range t.cols {
		cols = append(cols, sqltext.Ident(c.Name))
		_, conv := w.d.Staging(c.SQL)
		sel = append(sel, fmt.Sprintf(conv, sqltext.Ident(c.Name)))
	}
	for _, m := range []string{warehouse.ColOp, warehouse.ColPosition, warehouse.ColPartition, warehouse.ColOffset, warehouse.ColSourceTs} {
		cols = append(cols, sqltext.Ident(m))
		sel = append(sel, sqltext.Ident(m))
	}
	cols = append(cols, sqltext.Ident(warehouse.ColRefreshedAt))
	sel = append(sel, w.d.Now())
	ins := "INSERT INTO " + tgt + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM " + stg + " WHERE " + sqltext.Ident(warehouse.ColOp) + " NOT IN ('d', " + sqltext.Literal(opMove) + ")"
	if _, err := w.exec(ctx, ins); err != nil {
		return fmt.Errorf("insert upserts: %w", err)
	}
	return nil
}

// headersJSON renders Kafka headers as a JSON array of {key, value}; values
// that are not UTF-8 text are base64 under "value_base64".
func headersJSON(hs []batch.Header) string {
	if len(hs) == 0 {
		return ""
	}
	type h struct {
		Key    string  `json:"key"`
		Value  *string `json:"value,omitempty"`
		Base64 []byte  `json:"value_base64,omitempty"`
	}
	out := make([]h, len(hs))
	for i, x := range hs {
		out[i].Key = x.Key
		if utf8.Valid(x.Value) && bytes.IndexByte(x.Value, 0) < 0 { // jsonb refuses \u0000
			s := string(x.Value)
			out[i].Value = &s
		} else {
			out[i].Base64 = x.Value
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return ""
	}
	return string(b)
}

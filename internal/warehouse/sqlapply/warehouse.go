package sqlapply

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Warehouse is a SQL warehouse driven through a Dialect.
type Warehouse struct {
	d    Dialect
	db   *sql.DB
	conn *sql.Conn // nil after a lost connection; Apply opens a new one
	opts warehouse.Options
	log  *slog.Logger

	tables        map[string]*table
	topicIDs      map[string]string // Kafka topic IDs written with the offsets (SetTopicIDs)
	landingStaged bool              // the landing staging table exists on conn
	lastRetention time.Time
}

var (
	_ warehouse.Warehouse = (*Warehouse)(nil)
	_ warehouse.Replayer  = (*Warehouse)(nil)
)

// New returns a warehouse on db and creates cdcsync's own tables. The
// warehouse owns db and closes it.
func New(ctx context.Context, d Dialect, db *sql.DB, opts warehouse.Options, log *slog.Logger) (*Warehouse, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Warehouse{d: d, db: db, opts: opts, log: log, tables: map[string]*table{}, topicIDs: map[string]string{}}
	if err := w.setup(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// Dialect returns the warehouse's dialect.
func (w *Warehouse) Dialect() Dialect { return w.d }

// Close closes the connections.
func (w *Warehouse) Close() error {
	if w.conn != nil {
		w.conn.Close()
	}
	return w.db.Close()
}

// qualify names a table in the warehouse's schema.
func (w *Warehouse) qualify(table string) string {
	return sqltext.Ident(w.d.Schema()) + "." + sqltext.Ident(table)
}

// connection returns the connection batches run on, opening one after a
// loss. Session state (staging tables) is rebuilt on a new connection.
func (w *Warehouse) connection(ctx context.Context) (*sql.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	c, err := w.db.Conn(ctx)
	if err != nil {
		return nil, w.classify(err)
	}
	w.conn = c
	w.landingStaged = false
	for _, t := range w.tables {
		t.staged = false
	}
	return c, nil
}

// dropConn discards the batch connection: closed, not returned to the
// pool, where a transaction a failed statement left open on it would meet
// the next batch (database/sql leaves that check to the driver, and
// DuckDB's does not make it).
func (w *Warehouse) dropConn() {
	if w.conn == nil {
		return
	}
	_ = w.conn.Raw(func(any) error { return driver.ErrBadConn })
	w.conn.Close()
	w.conn = nil
}

// classify marks transient errors (dropping the connection they may have
// broken) and rejected values; other errors are returned as they are.
func (w *Warehouse) classify(err error) error {
	switch {
	case err == nil, warehouse.IsTransient(err), warehouse.IsRejected(err):
		return err
	case w.d.Transient(err):
		w.dropConn()
		return &warehouse.TransientError{Err: err}
	case w.d.Rejected(err):
		return &warehouse.RejectedError{Err: err}
	}
	return err
}

// forgetCatalog drops every picture of the warehouse this process holds —
// tables, their columns and keys, landing tables, truncate marks, staging
// tables — after a batch failed: the failed transaction may have created
// or changed some of them, and the next batch must start from what the
// warehouse holds.
func (w *Warehouse) forgetCatalog() {
	clear(w.tables)
	w.landingStaged = false
}

func (w *Warehouse) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, err
	}
	res, err := conn.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, w.classify(sqltext.FirstLine(err))
	}
	return res, nil
}

// setup creates cdcsync's own tables and brings older ones up to date, as
// one DDL unit (see ddl): several processes may start on one fresh schema.
func (w *Warehouse) setup(ctx context.Context) error {
	text, i32, i64 := w.d.SQLType(change.String), w.d.SQLType(change.Int32), w.d.SQLType(change.Int64)
	ts, blob := w.d.SQLType(change.TimestampTZ), w.d.SQLType(change.Bytes)
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + w.qualify(warehouse.OffsetsTable) + ` (
			consumer_group ` + text + ` NOT NULL,
			topic ` + text + ` NOT NULL,
			kafka_partition ` + i32 + ` NOT NULL,
			next_offset ` + i64 + ` NOT NULL,
			updated_at ` + ts + ` NOT NULL,
			topic_id ` + text + w.pk("consumer_group, topic, kafka_partition") + `)`,
		`CREATE TABLE IF NOT EXISTS ` + w.qualify(warehouse.DeadLettersTable) + ` (
			consumer_group ` + text + `,
			topic ` + text + `,
			kafka_partition ` + i32 + `,
			kafka_offset ` + i64 + `,
			table_name ` + text + `,
			reason ` + text + `,
			kafka_key ` + blob + `,
			kafka_value ` + blob + `,
			created_at ` + ts + `)`,
		`CREATE TABLE IF NOT EXISTS ` + w.qualify(warehouse.TablesTable) + ` (
			table_name ` + text + ` NOT NULL` + w.pk("") + `,
			topic ` + text + `,
			truncate_partition ` + i32 + `,
			truncate_offset ` + i64 + `,
			truncate_position ` + text + `,
			truncated_at ` + ts + `,
			created_at ` + ts + `,
			landing_table ` + text + `)`,
		`CREATE TABLE IF NOT EXISTS ` + w.qualify(warehouse.RunsTable) + ` (
			run_id ` + text + ` NOT NULL` + w.pk("") + `,
			consumer_group ` + text + `,
			mode ` + text + `,
			version ` + text + `,
			started_at ` + ts + `,
			finished_at ` + ts + `,
			status ` + text + `,
			events ` + i64 + `,
			batches ` + i64 + `,
			error ` + text + `)`,
	}
	err := w.ddl(ctx, func() error {
		for _, s := range stmts {
			if _, err := w.exec(ctx, s); err != nil {
				return err
			}
		}
		if err := w.migrateOffsets(ctx); err != nil {
			return err
		}
		if err := w.addTablesColumns(ctx); err != nil {
			return fmt.Errorf("upgrade %s: %w", warehouse.TablesTable, err)
		}
		if err := w.addDeadLetterColumns(ctx); err != nil {
			return fmt.Errorf("upgrade %s: %w", warehouse.DeadLettersTable, err)
		}
		if err := w.createMovesTable(ctx); err != nil {
			return err
		}
		return w.createSchemasTable(ctx)
	})
	if err != nil {
		return fmt.Errorf("create cdcsync tables in %s: %w", w.d.Name(), err)
	}
	return nil
}

// pk renders a primary key in CREATE TABLE: the table constraint
// ", PRIMARY KEY (cols)", or with no cols the column constraint
// " PRIMARY KEY"; nothing for an Unkeyed dialect.
func (w *Warehouse) pk(cols string) string {
	switch _, unkeyed := w.d.(Unkeyed); {
	case unkeyed:
		return ""
	case cols == "":
		return " PRIMARY KEY"
	}
	return ",\n\t\t\tPRIMARY KEY (" + cols + ")"
}

// migrateOffsets adds the topic_id column to an offsets table created by a
// version without it. Offsets stored without an ID take the topic's ID on
// their next write.
func (w *Warehouse) migrateOffsets(ctx context.Context) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	cols, err := w.d.Columns(ctx, conn, warehouse.OffsetsTable)
	if err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	for _, c := range cols {
		if c.Name == "topic_id" {
			return nil
		}
	}
	_, err = w.exec(ctx, w.d.AddColumn(w.qualify(warehouse.OffsetsTable),
		warehouse.Column{Name: "topic_id", Type: change.String, SQL: w.d.SQLType(change.String)}))
	return err
}

// ddl runs fn, which issues DDL outside a batch transaction, so that
// concurrent processes on one schema cannot collide: under the dialect's
// DDL lock in a transaction of its own when it has one (DDLLocker), else
// retrying a collision (a unique violation in the warehouse's catalog,
// which CREATE … IF NOT EXISTS raises when two sessions race) a few times.
func (w *Warehouse) ddl(ctx context.Context, fn func() error) error {
	l, ok := w.d.(DDLLocker)
	if !ok {
		var err error
		for attempt := 1; attempt <= 5; attempt++ {
			if err = fn(); err == nil || !w.d.UniqueViolation(err) || ctx.Err() != nil {
				return err
			}
			w.log.Info("concurrent DDL in the warehouse; retrying", "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		return err
	}
	if err := w.begin(ctx); err != nil {
		return err
	}
	committed := false
	defer w.rollbackUnless(&committed)
	if _, err := w.exec(ctx, l.DDLLock()); err != nil {
		return fmt.Errorf("take the DDL lock: %w", err)
	}
	if err := fn(); err != nil {
		return err
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return err
	}
	committed = true
	return nil
}

// lockDDL takes the dialect's DDL lock inside the open transaction, before
// DDL that runs in a batch's transaction (landing tables).
func (w *Warehouse) lockDDL(ctx context.Context) error {
	if l, ok := w.d.(DDLLocker); ok {
		if _, err := w.exec(ctx, l.DDLLock()); err != nil {
			return fmt.Errorf("take the DDL lock: %w", err)
		}
	}
	return nil
}

// Ping checks that the warehouse answers on the batches' connection.
func (w *Warehouse) Ping(ctx context.Context) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	if err := conn.PingContext(ctx); err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	return nil
}

// Offsets returns the stored next offsets of the group for topics.
func (w *Warehouse) Offsets(ctx context.Context, topics []string) (map[batch.TopicPartition]int64, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT topic, kafka_partition, next_offset FROM `+w.qualify(warehouse.OffsetsTable)+` WHERE consumer_group = $1`, w.opts.Group)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", w.classify(sqltext.FirstLine(err)))
	}
	defer rows.Close()
	want := make(map[string]bool, len(topics))
	for _, t := range topics {
		want[t] = true
	}
	out := map[batch.TopicPartition]int64{}
	for rows.Next() {
		var tp batch.TopicPartition
		var next int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &next); err != nil {
			return nil, fmt.Errorf("read offsets: %w", err)
		}
		if want[tp.Topic] {
			out[tp] = next
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read offsets: %w", w.classify(err))
	}
	return out, nil
}

// TopicIDs returns the Kafka topic ID stored with the offsets of each of
// topics that has stored offsets; "" for offsets stored without one.
func (w *Warehouse) TopicIDs(ctx context.Context, topics []string) (map[string]string, error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT topic, topic_id FROM `+w.qualify(warehouse.OffsetsTable)+` WHERE consumer_group = $1`, w.opts.Group)
	if err != nil {
		return nil, fmt.Errorf("read topic ids: %w", w.classify(sqltext.FirstLine(err)))
	}
	defer rows.Close()
	want := make(map[string]bool, len(topics))
	for _, t := range topics {
		want[t] = true
	}
	out := map[string]string{}
	for rows.Next() {
		var topic string
		var id sql.NullString
		if err := rows.Scan(&topic, &id); err != nil {
			return nil, fmt.Errorf("read topic ids: %w", err)
		}
		if want[topic] && (id.String != "" || out[topic] == "") {
			out[topic] = id.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read topic ids: %w", w.classify(err))
	}
	return out, nil
}

// SetTopicIDs sets the Kafka topic IDs that Apply stores with the offsets
// of these topics from now on.
func (w *Warehouse) SetTopicIDs(ids map[string]string) {
	for t, id := range ids {
		w.topicIDs[t] = id
	}
}

// ResetTopic deletes the stored offsets of topic and the truncate marks of
// the tables it feeds, in one transaction, so that the topic is read again
// from the start of its log. Target and landing tables keep their rows.
func (w *Warehouse) ResetTopic(ctx context.Context, topic string) error {
	if err := w.begin(ctx); err != nil {
		return fmt.Errorf("reset topic %s: %w", topic, err)
	}
	committed := false
	defer w.rollbackUnless(&committed)
	if _, err := w.exec(ctx, `DELETE FROM `+w.qualify(warehouse.OffsetsTable)+` WHERE consumer_group = $1 AND topic = $2`, w.opts.Group, topic); err != nil {
		return fmt.Errorf("reset topic %s: %w", topic, err)
	}
	if _, err := w.exec(ctx, `UPDATE `+w.qualify(warehouse.TablesTable)+` SET truncate_partition = NULL, truncate_offset = NULL, truncate_position = NULL, truncated_at = NULL WHERE topic = $1`, topic); err != nil {
		return fmt.Errorf("reset topic %s: %w", topic, err)
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("reset topic %s: %w", topic, err)
	}
	committed = true
	for name, t := range w.tables {
		if t.topic == topic {
			delete(w.tables, name) // read the catalog again: its mark is gone
		}
	}
	return nil
}

// RecordRun writes a run-history row. It is written at the end of a run
// that may have failed because of the warehouse connection: a failed
// attempt is retried once on a new connection.
func (w *Warehouse) RecordRun(ctx context.Context, r warehouse.Run) error {
	err := w.recordRun(ctx, r)
	if err == nil || ctx.Err() != nil {
		return err
	}
	w.dropConn()
	if err2 := w.recordRun(ctx, r); err2 != nil {
		return err2
	}
	return nil
}

func (w *Warehouse) recordRun(ctx context.Context, r warehouse.Run) error {
	var finished any
	if !r.FinishedAt.IsZero() {
		finished = r.FinishedAt
	}
	if err := w.begin(ctx); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	committed := false
	defer w.rollbackUnless(&committed)
	if _, err := w.exec(ctx, `DELETE FROM `+w.qualify(warehouse.RunsTable)+` WHERE run_id = $1`, r.ID); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if _, err := w.exec(ctx, `INSERT INTO `+w.qualify(warehouse.RunsTable)+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.Group, r.Mode, r.Version, r.StartedAt, finished, r.Status, r.Events, r.Batches, r.Error); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	committed = true
	return nil
}

func (w *Warehouse) begin(ctx context.Context) error {
	_, err := w.exec(ctx, "BEGIN")
	return err
}

// beginSnapshot begins a transaction that reads one snapshot and fails on
// a write conflict with a concurrent one (SnapshotBeginner where the
// dialect's default isolation is weaker).
func (w *Warehouse) beginSnapshot(ctx context.Context) error {
	stmt := "BEGIN"
	if s, ok := w.d.(SnapshotBeginner); ok {
		stmt = s.BeginSnapshot()
	}
	_, err := w.exec(ctx, stmt)
	return err
}

// rollbackUnless rolls the open transaction back unless it committed. It
// uses a fresh context: the batch's may be what was cancelled.
func (w *Warehouse) rollbackUnless(committed *bool) {
	if *committed || w.conn == nil {
		return
	}
	// Staging tables created in the transaction go with it.
	w.landingStaged = false
	for _, t := range w.tables {
		t.staged = false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		w.log.Warn("rollback failed; dropping the connection", "err", sqltext.FirstLine(err))
		w.dropConn()
	}
}

// Apply applies one batch in one transaction. After any failure the
// catalog is read again from the warehouse.
func (w *Warehouse) Apply(ctx context.Context, b *batch.Batch, from map[batch.TopicPartition]int64) (warehouse.Stats, error) {
	st, err := w.apply(ctx, b, from)
	if err != nil {
		w.forgetCatalog()
	}
	return st, err
}

func (w *Warehouse) apply(ctx context.Context, b *batch.Batch, from map[batch.TopicPartition]int64) (warehouse.Stats, error) {
	var st warehouse.Stats
	dead := append([]batch.DeadLetter(nil), b.DeadLetters...)

	// Prepare outside the transaction: catalog, DDL, value conversion.
	works := make([]*tableWork, 0, len(b.Tables))
	for _, tb := range b.Tables {
		t, err := w.table(ctx, tb.Name, tb.Topic)
		if err != nil {
			return st, err
		}
		if t.mark != nil {
			st.Ignored += tb.DropPreceding(*t.mark)
		}
		wk := &tableWork{t: t, tb: tb, changes: tb.Changes()}
		if err := w.evolve(ctx, wk, &dead); err != nil {
			return st, err
		}
		if err := w.landAhead(ctx, t, len(tb.Landing)); err != nil {
			return st, err
		}
		wk.stage(w.d, &dead)
		works = append(works, wk)
	}

	failpoint.Hit("before-begin")
	if err := w.begin(ctx); err != nil {
		return st, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer w.rollbackUnless(&committed)

	for _, wk := range works {
		if err := w.applyTable(ctx, wk, &st); err != nil {
			return st, fmt.Errorf("table %s: %w", wk.t.name, err)
		}
	}
	if err := w.appendDeadLetters(ctx, dead); err != nil {
		return st, err
	}
	st.DeadLetters = len(dead)
	for _, d := range dead {
		st.AddTable(d.Table, warehouse.TableStats{DeadLetters: 1, DeadLetterReason: d.Reason})
	}
	failpoint.Hit("offsets")
	if err := w.writeOffsets(ctx, b.Next, from); err != nil {
		return st, err
	}
	failpoint.Hit("before-commit")
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	committed = true
	failpoint.Hit("after-commit")
	for _, wk := range works {
		if wk.tb.Truncate != nil {
			m := batch.MarkOf(wk.tb.Truncate)
			wk.t.mark = &m
		}
	}
	w.retention(ctx)
	return st, nil
}

// writeOffsets stores each partition's next offset, fenced on the value the
// caller expects to replace: an UPDATE that must hit the expected row, or
// an INSERT that must find none.
func (w *Warehouse) writeOffsets(ctx context.Context, next, from map[batch.TopicPartition]int64) error {
	now := time.Now()
	for tp, n := range next {
		var res sql.Result
		var err error
		prev, had := from[tp]
		if had {
			res, err = w.exec(ctx, `UPDATE `+w.qualify(warehouse.OffsetsTable)+` SET next_offset = $1, updated_at = $2, topic_id = $7
				WHERE consumer_group = $3 AND topic = $4 AND kafka_partition = $5 AND next_offset = $6`,
				n, now, w.opts.Group, tp.Topic, tp.Partition, prev, nilIfEmpty(w.topicIDs[tp.Topic]))
		} else {
			res, err = w.exec(ctx, `INSERT INTO `+w.qualify(warehouse.OffsetsTable)+`
				(consumer_group, topic, kafka_partition, next_offset, updated_at, topic_id)
				SELECT $1, $2, $3, $4, $5, $9 WHERE NOT EXISTS (SELECT 1 FROM `+w.qualify(warehouse.OffsetsTable)+`
				WHERE consumer_group = $6 AND topic = $7 AND kafka_partition = $8)`,
				w.opts.Group, tp.Topic, tp.Partition, n, now, w.opts.Group, tp.Topic, tp.Partition, nilIfEmpty(w.topicIDs[tp.Topic]))
		}
		if err != nil {
			if w.d.UniqueViolation(err) {
				return fmt.Errorf("%s[%d]: %w", tp.Topic, tp.Partition, warehouse.ErrFenced)
			}
			return fmt.Errorf("write offsets: %w", err)
		}
		if k, err := res.RowsAffected(); err == nil && k != 1 {
			expected := "no stored offset"
			if had {
				expected = fmt.Sprintf("offset %d", prev)
			}
			return fmt.Errorf("%s[%d] expected %s: %w", tp.Topic, tp.Partition, expected, warehouse.ErrFenced)
		}
	}
	return nil
}

func (w *Warehouse) appendDeadLetters(ctx context.Context, dead []batch.DeadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	now := time.Now()
	// Dead letters are rare: plain inserts keep them dialect-neutral.
	for _, d := range dead {
		_, err := w.exec(ctx, `INSERT INTO `+w.qualify(warehouse.DeadLettersTable)+`
			(consumer_group, topic, kafka_partition, kafka_offset, table_name, reason, kafka_key, kafka_value, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			w.opts.Group, d.Topic, d.Partition, d.Offset, nilIfEmpty(d.Table), d.Reason, nonNil(d.Key), nonNil(d.Value), now)
		if err != nil {
			return fmt.Errorf("write dead letter: %w", err)
		}
	}
	return nil
}

func nonNil(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// retention deletes landing rows past their retention, at most once a
// minute, outside batch transactions.
func (w *Warehouse) retention(ctx context.Context) {
	if w.opts.LandingRetention <= 0 || time.Since(w.lastRetention) < time.Minute {
		return
	}
	w.lastRetention = time.Now()
	cutoff := time.Now().Add(-w.opts.LandingRetention)
	for _, t := range w.tables {
		if !t.landing {
			continue
		}
		if _, err := w.exec(ctx, `DELETE FROM `+w.qualify(w.landingStore(t.name))+` WHERE refresh_time < $1`, cutoff); err != nil {
			w.log.Warn("landing retention failed", "table", t.name, "err", err)
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

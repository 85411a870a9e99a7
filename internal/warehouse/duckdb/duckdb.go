// Package duckdb is the embedded warehouse: one DuckDB file.
//
// Every batch is one DuckDB transaction on one connection. Changes are
// bulk-loaded with DuckDB's appender into a temporary staging table per
// target table, then applied set-based: keys the batch touches are deleted
// from the target and the upserts re-inserted, after columns left unchanged
// by PostgreSQL TOAST are filled from the target's current rows. Landing
// rows, dead letters and the partitions' next offsets are written in the
// same transaction, so a crash at any point leaves either all of a batch or
// none of it.
//
// DDL (CREATE TABLE, ADD COLUMN, widening) runs before the batch's
// transaction, idempotently: a crash after it leaves a column that the
// replayed batch needs anyway.
//
// DuckDB allows one writing process per file; the offsets' fencing check
// still runs, so the contract is the same as on server warehouses.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Warehouse is a DuckDB file.
type Warehouse struct {
	path   string
	db     *sql.DB
	conn   *sql.Conn
	opts   warehouse.Options
	log    *slog.Logger
	tables map[string]*table
	// landing staging is created once per connection
	landingStaged bool
	lastRetention time.Time
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens (creating if needed) the DuckDB file at path and cdcsync's own
// tables in it.
func Open(ctx context.Context, path string, opts warehouse.Options, log *slog.Logger) (*Warehouse, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open DuckDB file %s: %w", path, oneLine(err))
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open DuckDB file %s: %w", path, oneLine(err))
	}
	w := &Warehouse{path: path, db: db, conn: conn, opts: opts, log: log, tables: map[string]*table{}}
	if err := w.setup(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("prepare DuckDB file %s: %w", path, err)
	}
	return w, nil
}

// Close closes the file.
func (w *Warehouse) Close() error {
	if w.conn != nil {
		w.conn.Close()
	}
	return w.db.Close()
}

// DB returns the underlying database, for queries (verify, tests, demo).
func (w *Warehouse) DB() *sql.DB { return w.db }

func (w *Warehouse) setup(ctx context.Context) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + q(warehouse.OffsetsTable) + ` (
			consumer_group VARCHAR NOT NULL,
			topic VARCHAR NOT NULL,
			kafka_partition INTEGER NOT NULL,
			next_offset BIGINT NOT NULL,
			updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
			PRIMARY KEY (consumer_group, topic, kafka_partition))`,
		`CREATE TABLE IF NOT EXISTS ` + q(warehouse.DeadLettersTable) + ` (
			consumer_group VARCHAR,
			topic VARCHAR,
			kafka_partition INTEGER,
			kafka_offset BIGINT,
			table_name VARCHAR,
			reason VARCHAR,
			kafka_key BLOB,
			kafka_value BLOB,
			created_at TIMESTAMP WITH TIME ZONE)`,
		`CREATE TABLE IF NOT EXISTS ` + q(warehouse.TablesTable) + ` (
			table_name VARCHAR PRIMARY KEY,
			topic VARCHAR,
			truncate_partition INTEGER,
			truncate_offset BIGINT,
			truncate_position VARCHAR,
			truncated_at TIMESTAMP WITH TIME ZONE,
			created_at TIMESTAMP WITH TIME ZONE)`,
		`CREATE TABLE IF NOT EXISTS ` + q(warehouse.RunsTable) + ` (
			run_id VARCHAR PRIMARY KEY,
			consumer_group VARCHAR,
			mode VARCHAR,
			version VARCHAR,
			started_at TIMESTAMP WITH TIME ZONE,
			finished_at TIMESTAMP WITH TIME ZONE,
			status VARCHAR,
			events BIGINT,
			batches BIGINT,
			error VARCHAR)`,
	}
	for _, s := range stmts {
		if _, err := w.conn.ExecContext(ctx, s); err != nil {
			return oneLine(err)
		}
	}
	return nil
}

// Offsets returns the stored next offsets of the group for topics.
func (w *Warehouse) Offsets(ctx context.Context, topics []string) (map[batch.TopicPartition]int64, error) {
	rows, err := w.conn.QueryContext(ctx, `SELECT topic, kafka_partition, next_offset FROM `+q(warehouse.OffsetsTable)+` WHERE consumer_group = ?`, w.opts.Group)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", oneLine(err))
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
	return out, rows.Err()
}

// RecordRun writes a run-history row.
func (w *Warehouse) RecordRun(ctx context.Context, r warehouse.Run) error {
	var finished any
	if !r.FinishedAt.IsZero() {
		finished = r.FinishedAt
	}
	_, err := w.conn.ExecContext(ctx, `INSERT INTO `+q(warehouse.RunsTable)+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status,
		events = excluded.events, batches = excluded.batches, error = excluded.error`,
		r.ID, r.Group, r.Mode, r.Version, r.StartedAt, finished, r.Status, r.Events, r.Batches, r.Error)
	if err != nil {
		return fmt.Errorf("record run: %w", oneLine(err))
	}
	return nil
}

// Apply applies one batch in one transaction.
func (w *Warehouse) Apply(ctx context.Context, b *batch.Batch, from map[batch.TopicPartition]int64) (warehouse.Stats, error) {
	var st warehouse.Stats
	dead := append([]batch.DeadLetter(nil), b.DeadLetters...)

	// Prepare outside the transaction: load the catalog, run DDL, convert
	// values. Nothing here touches data.
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
		wk.stage(&dead)
		works = append(works, wk)
	}

	failpoint.Hit("duckdb-before-begin")
	if _, err := w.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return st, fmt.Errorf("begin: %w", oneLine(err))
	}
	committed := false
	defer func() {
		if !committed {
			// Use a fresh context: the batch's may be what was cancelled.
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := w.conn.ExecContext(rctx, "ROLLBACK"); err != nil {
				w.log.Warn("rollback failed", "err", err)
			}
		}
	}()

	for _, wk := range works {
		if err := w.applyTable(ctx, wk, &st); err != nil {
			return st, fmt.Errorf("table %s: %w", wk.t.name, err)
		}
	}
	if err := w.appendDeadLetters(ctx, dead); err != nil {
		return st, err
	}
	st.DeadLetters = len(dead)
	if err := w.writeOffsets(ctx, b.Next, from); err != nil {
		return st, err
	}
	failpoint.Hit("duckdb-before-commit")
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return st, fmt.Errorf("commit: %w", oneLine(err))
	}
	committed = true
	failpoint.Hit("duckdb-after-commit")
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
// caller expects to replace.
func (w *Warehouse) writeOffsets(ctx context.Context, next, from map[batch.TopicPartition]int64) error {
	now := time.Now()
	for tp, n := range next {
		prev, had := from[tp]
		if had {
			res, err := w.conn.ExecContext(ctx, `UPDATE `+q(warehouse.OffsetsTable)+` SET next_offset = ?, updated_at = ?
				WHERE consumer_group = ? AND topic = ? AND kafka_partition = ? AND next_offset = ?`,
				n, now, w.opts.Group, tp.Topic, tp.Partition, prev)
			if err != nil {
				return fmt.Errorf("write offsets: %w", oneLine(err))
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return fmt.Errorf("%s[%d] expected at %d: %w", tp.Topic, tp.Partition, prev, warehouse.ErrFenced)
			}
			continue
		}
		_, err := w.conn.ExecContext(ctx, `INSERT INTO `+q(warehouse.OffsetsTable)+` VALUES (?, ?, ?, ?, ?)`,
			w.opts.Group, tp.Topic, tp.Partition, n, now)
		if err != nil {
			if strings.Contains(err.Error(), "onstraint") {
				return fmt.Errorf("%s[%d] expected no stored offset: %w", tp.Topic, tp.Partition, warehouse.ErrFenced)
			}
			return fmt.Errorf("write offsets: %w", oneLine(err))
		}
	}
	return nil
}

func (w *Warehouse) appendDeadLetters(ctx context.Context, dead []batch.DeadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	now := time.Now()
	return w.appendRows(ctx, warehouse.DeadLettersTable, func(a *duckdb.Appender) error {
		for _, d := range dead {
			if err := a.AppendRow(w.opts.Group, d.Topic, d.Partition, d.Offset, nilIfEmpty(d.Table), d.Reason, d.Key, d.Value, now); err != nil {
				return err
			}
		}
		return nil
	})
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
		if _, err := w.conn.ExecContext(ctx, `DELETE FROM `+q(warehouse.LandingTable(t.name))+` WHERE refresh_time < ?`, cutoff); err != nil {
			w.log.Warn("landing retention failed", "table", t.name, "err", oneLine(err))
		}
	}
}

// appendRows runs fill with an appender on table inside the current
// transaction and flushes it.
func (w *Warehouse) appendRows(ctx context.Context, table string, fill func(*duckdb.Appender) error) error {
	return w.appendRowsIn(ctx, "", table, fill)
}

func (w *Warehouse) appendRowsIn(ctx context.Context, catalog, table string, fill func(*duckdb.Appender) error) error {
	err := w.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		var a *duckdb.Appender
		var err error
		if catalog != "" {
			a, err = duckdb.NewAppender(conn, catalog, "main", table)
		} else {
			a, err = duckdb.NewAppenderFromConn(conn, "", table)
		}
		if err != nil {
			return err
		}
		if err := fill(a); err != nil {
			a.Close()
			return err
		}
		return a.Close()
	})
	if err != nil {
		return fmt.Errorf("append to %s: %w", table, oneLine(err))
	}
	return nil
}

// q quotes an identifier.
func q(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// oneLine keeps the first line of DuckDB's multi-line error messages.
func oneLine(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return errors.New(strings.TrimSpace(s[:i]))
	}
	return err
}

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/workload"
)

const demoFile = "cdcsync-demo.duckdb"

func demoCmd() *cobra.Command {
	var targetPath string
	cmd := &cobra.Command{
		Use:   "demo [--target FILE]",
		Short: "See cdcsync work: an in-process Kafka with a Debezium stream, synced into a DuckDB file",
		Long: `demo starts an in-process Kafka cluster, produces a realistic Debezium stream
for three tables (customers, orders, order_settings) — a snapshot, inserts,
updates, deletes with tombstones, a primary-key change and one bad record —
runs the pipeline in continuous mode into a DuckDB file, shows what the
tables hold, then changes a row and shows how fast it arrives.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo(cmd.Context(), cmd.OutOrStdout(), targetPath)
		},
	}
	cmd.Flags().StringVar(&targetPath, "target", demoFile, "DuckDB file to write (replaced if it is the default demo file)")
	return cmd
}

func demo(ctx context.Context, out io.Writer, path string) error {
	if _, err := os.Stat(path); err == nil {
		if path != demoFile {
			return fmt.Errorf("%s exists; remove it or choose another --target", path)
		}
		os.Remove(path)
		os.Remove(path + ".wal")
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// 1. A Debezium stream, as the MySQL connector writes it.
	w := workload.New(workload.Options{Seed: 2025, Prefix: "shop.inventory", Partitions: 3, Schemas: true,
		SnapshotRows: 4, Ops: 40, PKChanges: true, Tombstones: true})
	w.Do("customers", "pk-change")
	w.Do("orders", "delete")
	w.Do("orders", "poison")
	var topics []string
	for _, t := range w.Tables {
		topics = append(topics, w.Topic(t))
	}
	cluster, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		return err
	}
	defer cluster.Close()
	if err := kafkatest.Produce(ctx, cluster.Addr(), w.Events); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	say("cdcsync demo")
	say("")
	say("1. Started an in-process Kafka at %s and produced %d Debezium events (JSON with schemas) to:", cluster.Addr(), len(w.Events))
	for _, t := range w.Tables {
		say("   %-32s %s", w.Topic(t), describeOps(w.Ops[t.Name]))
	}

	// 2. The pipeline, continuous mode, into DuckDB.
	// The demo reads the file while the pipeline writes it: one database,
	// shared by the warehouse and the demo's queries.
	db, err := duckdb.Connect(ctx, path)
	if err != nil {
		return err
	}
	wh, err := sqlapply.New(ctx, duckdb.Dialect{}, db, warehouse.Options{Group: "cdcsync-demo", Landing: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer wh.Close()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	conf := config.Default()
	conf.Brokers, conf.Topics, conf.Group = []string{cluster.Addr()}, w.TopicRegex(), "cdcsync-demo"
	conf.Batch.MaxEvents, conf.Batch.Interval = 10000, config.Duration(100*time.Millisecond)
	conf.Kafka.MetadataRefresh, conf.Kafka.SessionTimeout = config.Duration(time.Second), config.Duration(6*time.Second)
	conf.Kafka.InstanceID = "cdcsync-demo"
	cfg, err := pipeline.ConfigFrom(conf, false)
	if err != nil {
		return err
	}
	cfg.Version = version
	p := pipeline.New(cfg, wh, slog.New(slog.DiscardHandler), nil)
	done := make(chan error, 1)
	started := time.Now()
	go func() {
		_, err := p.Run(pctx)
		done <- err
	}()
	if err := waitFor(ctx, done, func() (bool, error) { return offsetsReached(ctx, db, int64(len(w.Events))) }); err != nil {
		return err
	}
	say("")
	say("2. Ran `cdcsync run` (continuous mode) into %s: caught up in %s.", path, time.Since(started).Round(time.Millisecond))
	say("   Every table was created from the events' schemas, with the primary key from the record key.")

	// 3. What the tables hold.
	for _, t := range w.Tables {
		say("")
		if err := printQuery(ctx, out, db, fmt.Sprintf(`SELECT * EXCLUDE (_cdc_op, _cdc_position, _cdc_kafka_partition, _cdc_kafka_offset, _cdc_source_ts, _cdc_refreshed_at) FROM %s ORDER BY ALL LIMIT 8`, t.Name),
			fmt.Sprintf("   %s: %d rows (the source holds %d)", t.Name, count(ctx, db, t.Name), len(t.Expected()))); err != nil {
			return err
		}
	}
	say("")
	if err := printQuery(ctx, out, db, `SELECT topic, kafka_partition, kafka_offset, reason FROM _cdc_dead_letters`, "   _cdc_dead_letters: bad input never stops the pipeline and is never dropped"); err != nil {
		return err
	}

	// 4. A live change, end to end.
	before := len(w.Events)
	w.Do("customers", "update")
	changed := w.Events[before:]
	t0 := time.Now()
	if err := kafkatest.Produce(ctx, cluster.Addr(), changed); err != nil {
		return err
	}
	if err := waitFor(ctx, done, func() (bool, error) { return offsetsReached(ctx, db, int64(len(w.Events))) }); err != nil {
		return err
	}
	say("")
	say("3. Produced one more update; it was visible in DuckDB %s later (batches close every 100ms here, 250ms by default).", time.Since(t0).Round(time.Millisecond))
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}

	say("")
	say("Query the result:")
	say("   cdcsync query --target %s \"SELECT * FROM customers\"", path)
	say("   duckdb %s \"SELECT * FROM orders\"          (with the DuckDB CLI)", path)
	say("   python3 -c \"import duckdb; print(duckdb.connect('%s').sql('SELECT * FROM order_settings'))\"", path)
	say("cdcsync's own tables: _cdc_offsets (exactly-once positions), _cdc_landing_<table> (raw events), _cdc_dead_letters, _cdc_runs.")
	say("Next: cdcsync run --brokers HOST:PORT --topics 'dbserver1\\.inventory\\..*' --target warehouse.duckdb")
	return nil
}

func describeOps(ops map[string]int) string {
	order := []string{"snapshot", "insert", "update", "delete", "pk-change", "truncate", "poison"}
	names := map[string]string{"snapshot": "snapshot reads", "insert": "inserts", "update": "updates", "delete": "deletes",
		"pk-change": "primary-key change", "truncate": "truncates", "poison": "bad record"}
	var parts []string
	for _, k := range order {
		if n := ops[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, names[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// offsetsReached reports whether the stored offsets cover n records.
func offsetsReached(ctx context.Context, db *sql.DB, n int64) (bool, error) {
	var got sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT sum(next_offset) FROM _cdc_offsets`).Scan(&got); err != nil {
		return false, err
	}
	return got.Int64 >= n, nil
}

// waitFor polls cond until it holds, the pipeline fails, or ctx ends.
func waitFor(ctx context.Context, done <-chan error, cond func() (bool, error)) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(60 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("pipeline stopped")
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return errors.New("the demo pipeline did not catch up within a minute")
		case <-tick.C:
		}
	}
}

func count(ctx context.Context, db *sql.DB, table string) int {
	var n int
	db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n) //nolint:errcheck // 0 on error is fine for display
	return n
}

// printQuery prints a query result as an aligned table; with a title, as
// the demo does, indented and with long cells cut.
func printQuery(ctx context.Context, out io.Writer, db *sql.DB, query, title string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	return printRows(out, rows, title)
}

// printRows prints a result as a table, under title if any.
func printRows(out io.Writer, rows *sql.Rows, title string) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	table := [][]string{cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		line := make([]string, len(cols))
		for i, v := range vals {
			line[i] = formatValue(v)
		}
		table = append(table, line)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if title != "" {
		fmt.Fprintln(out, title)
		printTable(out, table, "   ", 28)
		return nil
	}
	printTable(out, table, "", 0)
	return nil
}

// formatValue renders a scanned value the way SQL shells do.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.Format("2006-01-02 15:04:05.999999")
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return fmt.Sprintf("\\x%x", x)
	}
	if s, ok := duckdb.Display(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// printTable prints rows with aligned columns, control characters escaped
// and, when maxWidth > 0, long cells cut.
func printTable(out io.Writer, rows [][]string, indent string, maxWidth int) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			c = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(c)
			if maxWidth > 0 && len([]rune(c)) > maxWidth {
				c = string([]rune(c)[:maxWidth-1]) + "…"
			}
			r[i] = c
			width[i] = max(width[i], len([]rune(r[i])))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			b.WriteString(c + strings.Repeat(" ", width[i]-len([]rune(c))+2))
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
		if n == 0 {
			var sep strings.Builder
			sep.WriteString(indent)
			for i := range r {
				sep.WriteString(strings.Repeat("─", width[i]) + "  ")
			}
			fmt.Fprintln(out, strings.TrimRight(sep.String(), " "))
		}
	}
}

package redshiftgen

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestProcedureOnPostgreSQL runs the generated procedures, rendered for
// PostgreSQL, over a seeded workload with truncates, primary-key changes,
// tombstones, same-millisecond updates, poison records and three
// partitions. The records are loaded into the stand-in views in increments,
// partitions unevenly (so that truncates and the events around them arrive
// out of source order), with a CALL after each; the targets must then hold
// the source's state row by row. Two increments bring nothing (the recipe's
// NULL watermark), and the last real one only deletes.
func TestProcedureOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	for _, schemas := range []bool{true, false} {
		for _, seed := range []int64{1, 5} {
			t.Run(fmt.Sprintf("schemas=%v/seed=%d", schemas, seed), func(t *testing.T) {
				testProcedure(t, dsn, schemas, seed)
			})
		}
	}
}

func testProcedure(t *testing.T, dsn string, schemas bool, seed int64) {
	opts := workload.Options{Seed: seed, Partitions: 3, Schemas: schemas, SnapshotRows: 20, Ops: 1500,
		Truncates: true, PKChanges: true, Tombstones: true, Poison: true}
	before := workload.New(opts) // the source after the stream
	w := workload.New(opts)      // the same stream, then deletes only
	for _, tb := range w.Tables {
		w.Do(tb.Name, "delete")
		w.Do(tb.Name, "delete")
	}
	declared := map[string]map[string]change.Type{"orders": {"total_amount": change.DecimalType(10, 2)}}
	if schemas {
		// Redshift-native needs decimal.handling.mode=string: rewrite the
		// workload's precise decimals as that mode writes them.
		for i := range w.Events {
			w.Events[i].Value = stringDecimal(t, w.Events[i].Value, "total_amount", 2)
		}
	} else {
		declared = declaredTypes(t, w)
	}
	tables := inspectWorkload(t, w, declared)

	db, schema := openSchema(t, dsn)
	out, err := Generate(Options{Dialect: PostgreSQL, Schema: schema}, tables)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, out.Setup)
	for _, ts := range out.Tables {
		exec(t, db, ts.SQL) // includes a first CALL, on empty views
	}

	recs := records(w.Events)
	n, all := len(before.Events), len(w.Events)
	for i, e := range w.Events[n:] {
		if e.Value != nil && !bytes.Contains(e.Value, []byte(`"op":"d"`)) {
			t.Fatalf("event %d of the last increment is not a delete", n+i)
		}
	}
	l := loader{t: t, db: db, schema: schema, recs: recs}
	steps := []struct {
		name string
		upTo func(partition int32) int // load events with index < upTo
		want *workload.Workload
	}{
		{"partitions at 50/35/20%", func(p int32) int { return n * int(50-15*p) / 100 }, nil},
		{"partition 1 lagging", func(p int32) int { return n * map[int32]int{0: 80, 1: 55, 2: 80}[p] / 100 }, nil},
		{"whole stream", func(int32) int { return n }, before},
		{"nothing new", func(int32) int { return n }, before},
		{"deletes only", func(int32) int { return all }, w},
		{"nothing new again", func(int32) int { return all }, w},
	}
	for _, step := range steps {
		l.load(step.upTo)
		for _, tb := range w.Tables {
			exec(t, db, "CALL "+rs.Ident(schema)+"."+rs.Ident("incremental_sync_"+tb.Name)+"()")
		}
		l.checkWatermarks()
		if step.want != nil {
			for _, tb := range step.want.Tables {
				assertTable(t, db, schema, tb, step.name)
			}
		}
	}
}

// record is a Kafka record as the stand-in view holds it.
type record struct {
	table     string
	partition int32
	offset    int64
	key       []byte
	value     []byte
	index     int // in the workload's events
}

// records assigns the events their Kafka offsets: in order, per topic and
// partition, as kafkatest.Produce writes them.
func records(events []workload.Event) []record {
	next := map[string]int64{}
	out := make([]record, len(events))
	for i, e := range events {
		tp := fmt.Sprint(e.Topic, "/", e.Partition)
		out[i] = record{table: e.Topic[strings.LastIndexByte(e.Topic, '.')+1:], partition: e.Partition,
			offset: next[tp], key: e.Key, value: e.Value, index: i}
		next[tp]++
	}
	return out
}

// loader inserts records into the stand-in views, in offset order per
// partition, as a streaming view's refresh would.
type loader struct {
	t      *testing.T
	db     *sql.DB
	schema string
	recs   []record
	loaded []bool
	last   map[string]int64 // table/partition → last offset loaded
}

func (l *loader) load(upTo func(partition int32) int) {
	if l.loaded == nil {
		l.loaded, l.last = make([]bool, len(l.recs)), map[string]int64{}
	}
	ctx := context.Background()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit
	for i, r := range l.recs {
		if l.loaded[i] || r.index >= upTo(r.partition) {
			continue
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO "+rs.Ident(l.schema)+"."+rs.Ident("mv_"+r.table)+
			` (kafka_partition, kafka_offset, kafka_timestamp_type, kafka_timestamp, kafka_key, kafka_value, refresh_time, payload, key_payload)
			VALUES ($1, $2, 'C', LOCALTIMESTAMP, $3, $4, LOCALTIMESTAMP, $5::JSONB, $6::JSONB)`,
			r.partition, r.offset, r.key, r.value, jsonOrNull(r.value), jsonOrNull(r.key))
		if err != nil {
			l.t.Fatalf("load %s %d/%d: %v", r.table, r.partition, r.offset, err)
		}
		l.loaded[i] = true
		l.last[fmt.Sprint(r.table, "/", r.partition)] = r.offset
	}
	if err := tx.Commit(); err != nil {
		l.t.Fatal(err)
	}
}

// jsonOrNull is what CASE WHEN CAN_JSON_PARSE(…) THEN JSON_PARSE(…) END
// gives: the JSON, or NULL.
func jsonOrNull(b []byte) any {
	if b == nil || !json.Valid(b) {
		return nil
	}
	return string(b)
}

// checkWatermarks checks that every partition loaded has exactly one
// watermark row, at its last offset.
func (l *loader) checkWatermarks() {
	rows, err := l.db.Query("SELECT table_name, kafka_partition, last_kafka_offset FROM " + rs.Ident(l.schema) + "." + WatermarksTable)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var table string
		var partition int32
		var offset int64
		if err := rows.Scan(&table, &partition, &offset); err != nil {
			l.t.Fatal(err)
		}
		tp := fmt.Sprint(table, "/", partition)
		if _, dup := got[tp]; dup {
			l.t.Errorf("two watermark rows for %s", tp)
		}
		got[tp] = offset
	}
	if err := rows.Err(); err != nil {
		l.t.Fatal(err)
	}
	for tp, off := range l.last {
		if got[tp] != off {
			l.t.Errorf("watermark of %s: %d, want %d", tp, got[tp], off)
		}
	}
	if len(got) != len(l.last) {
		l.t.Errorf("%d watermark rows for %d partitions loaded", len(got), len(l.last))
	}
}

// assertTable compares a target table with the source state, row by row.
func assertTable(t *testing.T, db *sql.DB, schema string, tb *workload.Table, step string) {
	t.Helper()
	cols := tb.Columns()
	sel := make([]string, len(cols))
	for i, c := range cols {
		if tb.IsTimestamp(c) {
			sel[i] = "CAST(EXTRACT(EPOCH FROM " + rs.Ident(c) + ") * 1000000 AS BIGINT)::TEXT"
		} else {
			sel[i] = rs.Ident(c) + "::TEXT"
		}
	}
	rows, err := db.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + rs.Ident(schema) + "." + rs.Ident(tb.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				row[i] = &v.String
			}
		}
		got = append(got, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	tb.SortRows(got)
	want := tb.Expected()
	if diff := warehousetest.DiffRows(cols, want, got); diff != "" {
		t.Errorf("after %q, table %s differs from the source (want %d rows, got %d):\n%s", step, tb.Name, len(want), len(got), diff)
	}
}

// openSchema connects and creates a schema of its own for this test.
func openSchema(t *testing.T, dsn string) (*sql.DB, string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	schema := fmt.Sprintf("redshiftgen_%d", time.Now().UnixNano())
	exec(t, db, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		if !t.Failed() {
			exec(t, db, "DROP SCHEMA "+schema+" CASCADE")
		} else {
			t.Logf("schema %s kept for inspection", schema)
		}
	})
	return db, schema
}

func exec(t *testing.T, db *sql.DB, sqlText string) {
	t.Helper()
	if _, err := db.Exec(sqlText); err != nil {
		t.Fatalf("%v\nin:\n%s", err, firstLines(sqlText, 5))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// connectObject matches a JSON object with objects at most one level down:
// a Connect field schema with its parameters.
var connectObject = regexp.MustCompile(`\{(?:[^{}]|\{[^{}]*\})*\}`)

// stringDecimal rewrites a precise decimal field (base64 two's-complement
// bytes, schema type bytes) as decimal.handling.mode=string writes it.
func stringDecimal(t *testing.T, value []byte, field string, scale int) []byte {
	t.Helper()
	if value == nil {
		return nil
	}
	value = connectObject.ReplaceAllFunc(value, func(m []byte) []byte {
		if !bytes.Contains(m, []byte(`"field":"`+field+`"`)) || !bytes.Contains(m, []byte(`"org.apache.kafka.connect.data.Decimal"`)) {
			return m
		}
		return []byte(`{"type":"string","optional":true,"field":"` + field + `"}`)
	})
	literal := regexp.MustCompile(`"` + regexp.QuoteMeta(field) + `":"([A-Za-z0-9+/=]*)"`)
	return literal.ReplaceAllFunc(value, func(m []byte) []byte {
		b, err := base64.StdEncoding.DecodeString(string(literal.FindSubmatch(m)[1]))
		if err != nil || len(b) == 0 {
			t.Fatalf("bad decimal %s", m)
		}
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return []byte(`"` + field + `":"` + (change.Decimal{Unscaled: n, Scale: scale}).String() + `"`)
	})
}

// TestCapturedPostgreSQLOnPostgreSQL runs the procedure over the events
// Debezium's PostgreSQL connector really wrote (snapshot, insert, update,
// delete, tombstone, truncate): LSN positions from source.sequence and
// source.lsn, and the connector's own encodings, end to end.
func TestCapturedPostgreSQLOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	const topic = "pgshop.public.customers"
	captured := capturedRecords(t, "postgres-schemas.customers.stream.jsonl", topic)
	recs := make([]record, len(captured))
	for i, r := range captured {
		recs[i] = record{table: "customers", offset: r.Offset, key: r.Key, value: stringDecimal(t, r.Value, "balance", 2), index: i}
		captured[i].Value = recs[i].value
	}
	opts := debezium.Options{Table: func(string) debezium.TableOptions {
		return debezium.TableOptions{Name: "customers", Columns: map[string]change.Type{"balance": change.DecimalType(10, 2)}}
	}}
	tab, err := Inspect(topic, captured, opts)
	if err != nil {
		t.Fatal(err)
	}
	db, schema := openSchema(t, dsn)
	out, err := Generate(Options{Dialect: PostgreSQL, Schema: schema}, []*Table{tab})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, out.Setup)
	exec(t, db, out.Tables[0].SQL)

	l := loader{t: t, db: db, schema: schema, recs: recs}
	state := func() string {
		rows, err := db.Query(`SELECT id, email, balance::TEXT, tier, encode(avatar, 'base64'), attrs::TEXT, _cdc_op, _cdc_position
			FROM ` + schema + `.customers ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id int
			var email, balance, tier, avatar, attrs, op, pos sql.NullString
			if err := rows.Scan(&id, &email, &balance, &tier, &avatar, &attrs, &op, &pos); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d %s %s %s %s %s %s %s", id, email.String, balance.String, tier.String, avatar.String, attrs.String, op.String, pos.String))
		}
		return strings.Join(out, "\n")
	}
	for _, step := range []struct {
		upTo int
		want string
	}{
		{3, `1 ada@example.com 1234.56 gold 3q2+7w== {"vip": true, "tags": ["a", "b"]} r 00000000000022193448/00000000000022193448
2  -0.01 bronze   r 00000000000022193448/00000000000022193448
3 alan@example.com 42.00 silver AP8= {"n": 1} c 00000000000022196384/00000000000022196384`},
		{6, `1 ada@lovelace.example 1334.81 silver 3q2+7w== {"vip": true, "tags": ["a", "b"]} u 00000000000022196712/00000000000022196712
3 alan@example.com 42.00 silver AP8= {"n": 1} c 00000000000022196384/00000000000022196384`},
		{7, ``},
	} {
		l.load(func(int32) int { return step.upTo })
		exec(t, db, "CALL "+schema+".incremental_sync_customers()")
		l.checkWatermarks()
		if got := state(); got != step.want {
			t.Errorf("after %d records:\n got:\n%s\n want:\n%s", step.upTo, got, step.want)
		}
	}
	var pos string
	if err := db.QueryRow("SELECT truncate_position FROM " + schema + "._cdc_truncates").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if want := "00000000000022197120/00000000000022200032"; pos != want {
		t.Errorf("truncate position %s, want %s (last commit LSN from source.sequence, then lsn)", pos, want)
	}
}

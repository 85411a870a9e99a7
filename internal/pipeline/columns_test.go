package pipeline_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// The column-rule tests run one small stream through the pipeline:
//
//	customers (id PK, email hashed, ssn excluded, name, notes hashed)
//	orders    (id PK, customer_email hashed, amount; card left out by columns_include)
//	people    (ssn PK hashed, name): updates, a delete, a key change
//
// The secrets below must never be found in clear anywhere in the target.
const (
	maskKey    = "0123456789abcdef-test-masking-key"
	secretSSN  = "SSN-111-22-3333"
	secretSSN2 = "SSN-999-88-7777"
	secretCard = "CARD-4111111111111111"
	secretPK1  = "PK-SECRET-ALPHA"
	secretPK2  = "PK-SECRET-BRAVO"
	secretPK3  = "PK-SECRET-CHARLIE"
	secretNote = "NOTE-PRIVATE-TEXT"
	aliceEmail = "alice@example.com"
	bobEmail   = "bob@example.com"
)

// hmacHex is HMAC-SHA-256(maskKey, text), hex: computed here, not by
// package mask, so the test checks the stored values independently.
func hmacHex(text string) string {
	m := hmac.New(sha256.New, []byte(maskKey))
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))
}

type field struct{ name, typ string }

// envelope writes a Debezium event as JsonConverter does (with schema).
func envelope(topic string, fields []field, op string, before, after map[string]any, pos int) []byte {
	var fs []map[string]any
	for _, f := range fields {
		fs = append(fs, map[string]any{"field": f.name, "type": f.typ, "optional": true})
	}
	row := func(name string) map[string]any {
		return map[string]any{"type": "struct", "optional": true, "field": name, "name": topic + ".Value", "fields": fs}
	}
	schema := map[string]any{"type": "struct", "optional": false, "name": topic + ".Envelope", "fields": []any{
		row("before"), row("after"),
		map[string]any{"type": "struct", "optional": false, "field": "source", "name": "io.debezium.connector.mysql.Source", "fields": []any{
			map[string]any{"type": "string", "optional": false, "field": "file"},
			map[string]any{"type": "int64", "optional": false, "field": "pos"},
			map[string]any{"type": "int32", "optional": false, "field": "row"},
		}},
		map[string]any{"type": "string", "optional": false, "field": "op"},
	}}
	payload := map[string]any{"before": before, "after": after, "op": op,
		"source": map[string]any{"file": "b.000001", "pos": pos, "row": 0}}
	b, err := json.Marshal(map[string]any{"schema": schema, "payload": payload})
	if err != nil {
		panic(err)
	}
	return b
}

// keyOf writes a record key with its schema.
func keyOf(topic string, f field, v any) []byte {
	b, err := json.Marshal(map[string]any{
		"schema":  map[string]any{"type": "struct", "optional": false, "name": topic + ".Key", "fields": []any{map[string]any{"field": f.name, "type": f.typ, "optional": false}}},
		"payload": map[string]any{f.name: v}})
	if err != nil {
		panic(err)
	}
	return b
}

var (
	customerFields = []field{{"id", "int32"}, {"email", "string"}, {"ssn", "string"}, {"name", "string"}, {"notes", "string"}}
	orderFields    = []field{{"id", "int32"}, {"customer_email", "string"}, {"amount", "int32"}, {"card", "string"}}
	peopleFields   = []field{{"ssn", "string"}, {"name", "string"}}
)

const (
	topicCustomers = "db.app.customers"
	topicOrders    = "db.app.orders"
	topicPeople    = "db.app.people"
)

// columnEvents is the stream; one partition per topic, so order is plain.
func columnEvents() []workload.Event {
	pos := 100
	ev := func(topic string, key []byte, value []byte, headers map[string]string) workload.Event {
		return workload.Event{Topic: topic, Key: key, Value: value, Headers: headers}
	}
	next := func() int { pos++; return pos }
	cust := func(op string, id int, email, ssn, name, notes any) workload.Event {
		after := map[string]any{"id": id, "email": email, "ssn": ssn, "name": name, "notes": notes}
		return ev(topicCustomers, keyOf(topicCustomers, field{"id", "int32"}, id), envelope(topicCustomers, customerFields, op, nil, after, next()), nil)
	}
	order := func(id int, email string, amount int) workload.Event {
		after := map[string]any{"id": id, "customer_email": email, "amount": amount, "card": secretCard}
		return ev(topicOrders, keyOf(topicOrders, field{"id", "int32"}, id), envelope(topicOrders, orderFields, "c", nil, after, next()), nil)
	}
	pkey := func(ssn string) []byte { return keyOf(topicPeople, field{"ssn", "string"}, ssn) }
	person := func(op, ssn, name string, before map[string]any, headers map[string]string) workload.Event {
		var after map[string]any
		if op != "d" {
			after = map[string]any{"ssn": ssn, "name": name}
		}
		return ev(topicPeople, pkey(ssn), envelope(topicPeople, peopleFields, op, before, after, next()), headers)
	}
	return []workload.Event{
		cust("r", 1, aliceEmail, secretSSN, "Alice", secretNote),
		cust("r", 2, bobEmail, secretSSN2, "Bob", nil),
		// A TOASTed hashed column stays as it was, unhashed placeholder never stored.
		cust("u", 1, aliceEmail, secretSSN, "Alice A.", "__debezium_unavailable_value"),
		order(10, aliceEmail, 5),
		order(11, aliceEmail, 7),
		order(12, bobEmail, 9),
		person("c", secretPK1, "one", nil, nil),
		person("c", secretPK2, "two", nil, nil),
		person("u", secretPK1, "one again", map[string]any{"ssn": secretPK1, "name": "one"}, nil),
		// delete of PK2
		person("d", secretPK2, "", map[string]any{"ssn": secretPK2, "name": "two"}, nil),
		ev(topicPeople, pkey(secretPK2), nil, nil), // its tombstone
		// key change PK1 -> PK3: delete with the new key, create with the old key
		person("d", secretPK1, "", map[string]any{"ssn": secretPK1, "name": "one again"}, map[string]string{"__debezium.newkey": string(pkey(secretPK3))}),
		person("c", secretPK3, "three", nil, map[string]string{"__debezium.oldkey": string(pkey(secretPK1))}),
		// A record that cannot be decoded: its excluded column's value is a
		// number the schema says, text in fact. Its bytes hold every secret.
		ev(topicCustomers, keyOf(topicCustomers, field{"id", "int32"}, 3),
			bytes.Replace(envelope(topicCustomers, customerFields, "c", nil,
				map[string]any{"id": 3, "email": "carol@example.com", "ssn": secretSSN, "name": "Carol", "notes": secretNote}, 999),
				[]byte(`{"field":"ssn","optional":true,"type":"string"}`), []byte(`{"field":"ssn","optional":true,"type":"int32"}`), 2), nil),
	}
}

// columnConfig is the configuration of the column-rule tests.
func columnConfig(t *testing.T, addr string) config.Config {
	t.Helper()
	cfg := testConfig(addr, `db\.app\..*`)
	t.Setenv("CDCSYNC_TEST_MASKING_KEY", maskKey)
	cfg.Masking.KeyEnv = "CDCSYNC_TEST_MASKING_KEY"
	cfg.Tables = map[string]config.Table{
		"customers": {ColumnsExclude: []string{"ssn"}, ColumnsHash: []string{"email", "notes"}},
		"orders":    {ColumnsInclude: []string{"id", "customer_email", "amount"}, ColumnsHash: []string{"customer_email"}},
		"people":    {ColumnsHash: []string{"ssn"}},
	}
	if err := cfg.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runColumns drains the stream into wh.
func runColumns(t *testing.T, wh warehouse.Warehouse, cfg config.Config, log *slog.Logger) pipeline.Summary {
	t.Helper()
	sum, err := pipeline.New(fromConfig(t, cfg, true), wh, log, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// queryStrings returns the rows of a one-column query as text.
func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertColumnRules checks the target tables of the stream; schema is the
// target schema's quoted name with a dot, or "".
func assertColumnRules(t *testing.T, db *sql.DB, schema, infoSchema string) {
	t.Helper()
	cols := func(table string) []string {
		got := queryStrings(t, db, `SELECT column_name FROM information_schema.columns WHERE table_schema = '`+infoSchema+
			`' AND table_name = '`+table+`' AND column_name NOT LIKE '\_cdc\_%' ESCAPE '\' ORDER BY column_name`)
		return got
	}
	if got, want := cols("customers"), []string{"email", "id", "name", "notes"}; !slices.Equal(got, want) {
		t.Errorf("customers columns %v, want %v", got, want)
	}
	if got, want := cols("orders"), []string{"amount", "customer_email", "id"}; !slices.Equal(got, want) {
		t.Errorf("orders columns %v, want %v", got, want)
	}
	got := queryStrings(t, db, `SELECT id || ' ' || email || ' ' || name || ' ' || COALESCE(notes, 'NULL') FROM `+schema+`customers ORDER BY id`)
	want := []string{"1 " + hmacHex(aliceEmail) + " Alice A. " + hmacHex(secretNote), "2 " + hmacHex(bobEmail) + " Bob NULL"}
	if !slices.Equal(got, want) {
		t.Errorf("customers:\n got %q\nwant %q", got, want)
	}
	// Joins on a hashed column work across tables: one key, one hash.
	got = queryStrings(t, db, `SELECT c.name || ':' || sum(o.amount) FROM `+schema+`customers c JOIN `+schema+
		`orders o ON o.customer_email = c.email GROUP BY c.name ORDER BY c.name`)
	if want := []string{"Alice A.:12", "Bob:9"}; !slices.Equal(got, want) {
		t.Errorf("join on hashed email: got %q, want %q", got, want)
	}
	// The hashed key: updates, the delete and the key change applied by hash.
	got = queryStrings(t, db, `SELECT ssn || ' ' || name FROM `+schema+`people ORDER BY name`)
	if want := []string{hmacHex(secretPK3) + " three"}; !slices.Equal(got, want) {
		t.Errorf("people: got %q, want %q", got, want)
	}
}

var columnSecrets = []string{secretSSN, secretSSN2, secretCard, secretPK1, secretPK2, secretPK3, secretNote, aliceEmail, bobEmail}

// assertNoSecretInDuckDB reads every row of every table and view of the
// DuckDB file as text and looks for the secrets.
func assertNoSecretInDuckDB(t *testing.T, db *sql.DB) {
	t.Helper()
	tables := queryStrings(t, db, `SELECT '"' || table_schema || '"."' || table_name || '"' FROM information_schema.tables`)
	if len(tables) < 6 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	seen := 0
	for _, tb := range tables {
		rows := queryStrings(t, db, `SELECT CAST(t AS VARCHAR) FROM `+tb+` AS t`)
		for _, r := range rows {
			seen++
			for _, s := range columnSecrets {
				if strings.Contains(r, s) || strings.Contains(r, hex.EncodeToString([]byte(s))) {
					t.Errorf("%s holds %q in clear: %s", tb, s, r)
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("read only %d rows", seen)
	}
}

// TestColumns_DuckDBMasksTargetLandingAndDeadLetters: with JSON input,
// the target tables hold exactly the kept columns, hashed values are
// HMAC(key, value) and join across tables, the hashed primary key takes
// updates, deletes and a key change, and no table of the DuckDB file —
// landing, dead letters, anything — holds an excluded or hashed value in
// clear.
func TestColumns_DuckDBMasksTargetLandingAndDeadLetters(t *testing.T) {
	events := columnEvents()
	c := startKafkaN(t, 1, events, topicCustomers, topicOrders, topicPeople)
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	cfg := columnConfig(t, c.Addr())
	sum := runColumns(t, wh, cfg, testLogger(t))
	if sum.Events != int64(len(events)) || sum.DeadLetters != 1 {
		t.Fatalf("events %d, dead letters %d; want %d, 1", sum.Events, sum.DeadLetters, len(events))
	}
	assertColumnRules(t, wh.DB, "", "main")
	assertNoSecretInDuckDB(t, wh.DB)
	// What the landing table keeps: the masked payload, not the record.
	var n int
	if err := wh.DB.QueryRow(`SELECT count(*) FROM _cdc_landing_people WHERE kafka_key IS NULL AND kafka_value IS NULL AND payload IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("%d of 7 people landing rows (a tombstone's too) hold the masked payload alone", n)
	}
	var after, key string
	if err := wh.DB.QueryRow(`SELECT CAST(payload->'after' AS VARCHAR), CAST(payload->'_cdc_key' AS VARCHAR) FROM _cdc_landing_customers ORDER BY kafka_offset LIMIT 1`).Scan(&after, &key); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(after, hmacHex(aliceEmail)) || strings.Contains(after, "ssn") || !strings.Contains(key, `"id":1`) {
		t.Errorf("landing payload after %s, key %s: want the hashed email, no ssn, the key", after, key)
	}
	// The before images of an update and of a delete: masked, not dropped.
	befores := queryStrings(t, wh.DB, `SELECT (payload->>'$.op') || ' ' || (payload->>'$.before.ssn') || ' ' || (payload->>'$.before.name')
		FROM _cdc_landing_people WHERE payload->>'$.before.ssn' IS NOT NULL ORDER BY kafka_offset`)
	if want := []string{"u " + hmacHex(secretPK1) + " one", "d " + hmacHex(secretPK2) + " two", "d " + hmacHex(secretPK1) + " one again"}; !slices.Equal(befores, want) {
		t.Errorf("landing before images:\n got %q\nwant %q", befores, want)
	}
	var reason string
	var dkey, dval []byte
	if err := wh.DB.QueryRow(`SELECT reason, kafka_key, kafka_value FROM _cdc_dead_letters`).Scan(&reason, &dkey, &dval); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, `column "ssn"`) || !strings.Contains(reason, "withheld") || dkey != nil || dval != nil {
		t.Errorf("dead letter: reason %q, key %q, value %q; want the column named, details and bytes withheld", reason, dkey, dval)
	}
	// A dead letter without bytes cannot be replayed, and says so.
	rep, err := pipeline.Replay(context.Background(), cfg, wh.Warehouse, warehouse.DeadLetterFilter{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Invalid != 1 || rep.Applied != 0 || !strings.Contains(rep.Letters[0].Outcome.Detail, "bytes were not kept") {
		t.Errorf("replay: %+v", rep)
	}
}

// TestColumns_AvroMasksLikeJSON: the same stream in Avro (Confluent wire
// format) gives the same target tables, and nothing in clear.
func TestColumns_AvroMasksLikeJSON(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	events := columnEvents()
	avro := 0
	for i := range events {
		e := &events[i]
		k, err1 := avrotest.FromJSON(fake, e.Topic+"-key", e.Key)
		var v []byte
		var err2 error
		if e.Value != nil { // a tombstone's value stays null
			v, err2 = avrotest.FromJSON(fake, e.Topic+"-value", e.Value)
		}
		if err1 != nil || err2 != nil {
			continue // the undecodable record stays JSON
		}
		e.Key, e.Value = k, v
		for h, hv := range e.Headers {
			kb, err := avrotest.FromJSON(fake, e.Topic+"-key", []byte(hv))
			if err != nil {
				t.Fatal(err)
			}
			e.Headers[h] = string(kb)
		}
		avro++
	}
	if avro != len(events)-1 {
		t.Fatalf("%d of %d events in Avro", avro, len(events))
	}
	c := startKafkaN(t, 1, events, topicCustomers, topicOrders, topicPeople)
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	cfg := columnConfig(t, c.Addr())
	cfg.SchemaRegistry.URL = fake.URL()
	runColumns(t, wh, cfg, testLogger(t))
	assertColumnRules(t, wh.DB, "", "main")
	assertNoSecretInDuckDB(t, wh.DB)
}

// TestColumns_PostgresMasksTarget: the same target tables in PostgreSQL,
// and no landing or dead-letter row holds a secret.
func TestColumns_PostgresMasksTarget(t *testing.T) {
	dsn := pgtest.DSN(t)
	events := columnEvents()
	c := startKafkaN(t, 1, events, topicCustomers, topicOrders, topicPeople)
	schema := fmt.Sprintf("columns_%d", time.Now().UnixNano()%1_000_000_000)
	wh := sqlapplytest.OpenPostgres(t, dsn, warehouse.Options{Group: "test", Landing: true, Schema: schema})
	defer wh.Close()
	runColumns(t, wh, columnConfig(t, c.Addr()), testLogger(t))
	assertColumnRules(t, wh.DB, sqltext.Ident(schema)+".", schema)
	for _, tb := range []string{"_cdc_landing_customers", "_cdc_landing_orders", "_cdc_landing_people", "_cdc_dead_letters"} {
		for _, r := range queryStrings(t, wh.DB, `SELECT CAST(t AS text) FROM `+sqltext.Ident(schema)+`.`+tb+` AS t`) {
			for _, s := range columnSecrets {
				if strings.Contains(r, s) || strings.Contains(r, hex.EncodeToString([]byte(s))) {
					t.Errorf("%s holds %q in clear: %s", tb, s, r)
				}
			}
		}
	}
}

// TestColumns_ExcludedKeyStopsRun: a primary-key column in
// columns_exclude is known to be one only from the events: the run stops
// with an error naming the column and the key, in both modes, and no
// record becomes a dead letter.
func TestColumns_ExcludedKeyStopsRun(t *testing.T) {
	for _, once := range []bool{true, false} {
		t.Run(fmt.Sprint("once=", once), func(t *testing.T) {
			c := startKafkaN(t, 1, columnEvents(), topicCustomers, topicOrders, topicPeople)
			wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
			defer wh.Close()
			cfg := columnConfig(t, c.Addr())
			cfg.Tables["people"] = config.Table{ColumnsExclude: []string{"ssn"}}
			// The deadline only bounds a broken run; the error ends a good one.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := pipeline.New(fromConfig(t, cfg, once), wh, testLogger(t), nil).Run(ctx)
			if err == nil || !strings.Contains(err.Error(), `column "ssn" is a primary-key column`) || !strings.Contains(err.Error(), "tables.people.columns_exclude") {
				t.Fatalf("err = %v, want the primary-key column named", err)
			}
			if n := countDeadLetters(t, wh); n != 0 {
				t.Fatalf("%d dead letters; a configuration error is no record's fault", n)
			}
		})
	}
}

// TestColumns_UnknownColumnWarnsOnce: a rule naming a column the table's
// events do not have is warned about once per table.
func TestColumns_UnknownColumnWarnsOnce(t *testing.T) {
	c := startKafkaN(t, 1, columnEvents(), topicCustomers, topicOrders, topicPeople)
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	cfg := columnConfig(t, c.Addr())
	cfg.Tables["people"] = config.Table{ColumnsHash: []string{"ssn", "no_such_column"}}
	var buf bytes.Buffer
	runColumns(t, wh, cfg, slog.New(slog.NewTextHandler(&buf, nil)))
	if n := strings.Count(buf.String(), "column rules name columns the table's events do not have"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "table=people") || !strings.Contains(buf.String(), "no_such_column") {
		t.Fatalf("the warning names neither the table nor the column:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), maskKey) {
		t.Fatal("the key is in the log")
	}
}

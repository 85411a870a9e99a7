package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/pgtest"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
)

const (
	landingSchema  = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"t.db.people.Value"}`
	landingPayload = `{"before":null,  "after":{"id":%d,"name":"ann \u00e9"},"op":"c"}`
)

// schemaBatch is PersonBatch with a raw record whose value embeds its
// schema, as JsonConverter writes it, and a payload jsonb would normalise
// (two spaces, an escaped é).
func schemaBatch(off, id int64) (*batch.Batch, []byte) {
	b := warehousetest.PersonBatch(0, off, id)
	payload := fmt.Sprintf(landingPayload, id)
	value := []byte(`{"schema":` + landingSchema + `,"payload":` + payload + `}`)
	r := &b.Tables[0].Landing[0]
	r.Value, r.Payload, r.Schema, r.SchemaID = value, []byte(payload), []byte(landingSchema), "schema-1"
	return b, value
}

func uniqueSchema(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// TestLanding_PostgresStoreKeepsPayloadOnceAsJSON: a new landing store
// keeps the payload once, as json (kept as given; jsonb parsed it into a
// tree, several times the server's time per row, and made the row keep the
// value's bytes beside it), and the landing view still gives back the
// record's exact bytes and the parsed payload.
func TestLanding_PostgresStoreKeepsPayloadOnceAsJSON(t *testing.T) {
	ctx := context.Background()
	schema := uniqueSchema("landjson")
	wh, ins := sqlapplytest.Postgres(t, pgtest.DSN(t), warehouse.Options{Group: "g", Landing: true, Schema: schema})
	b, value := schemaBatch(0, 1)
	if _, err := wh.Apply(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	ids := wh.Dialect().Identifiers()
	store := ins.Qualified(ids.LandingStore("people"))
	var typ string
	if err := ins.DB.QueryRowContext(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attname = 'payload'`, store).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := ins.DB.QueryRowContext(ctx, "SELECT kafka_value FROM "+store).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if typ != "json" || stored != nil {
		t.Errorf("store payload %s with kafka_value %q, want json and no value bytes", typ, stored)
	}
	var got []byte
	var name string
	if err := ins.DB.QueryRowContext(ctx, "SELECT kafka_value, payload->'after'->>'name' FROM "+ins.Qualified(ids.Landing("people"))).Scan(&got, &name); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, value) || name != "ann é" {
		t.Errorf("landing view gives kafka_value %q and name %q, want %q and %q", got, name, value, "ann é")
	}
}

// TestLanding_PostgresJSONBStoreOfEarlierVersionKeepsWorking: a landing
// store an earlier version created (payload jsonb, a view without the
// payload fallback) keeps its shape: rows landing in it keep their value
// bytes, and its view gives back the exact bytes of old and new rows.
func TestLanding_PostgresJSONBStoreOfEarlierVersionKeepsWorking(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := uniqueSchema("landjsonb")
	wh, ins := sqlapplytest.Postgres(t, dsn, warehouse.Options{Group: "g", Landing: true, Schema: schema})
	ids := wh.Dialect().Identifiers()
	q := func(n string) string { return sqltext.Ident(schema) + "." + sqltext.Ident(n) }
	store, view := q(ids.LandingStore("people")), q(ids.Landing("people"))
	// The shape the previous version created.
	for _, s := range []string{
		`CREATE TABLE ` + store + ` (kafka_topic text, kafka_partition integer, kafka_offset bigint, kafka_timestamp_type text,
			kafka_timestamp timestamp without time zone, kafka_key bytea, kafka_value bytea, kafka_headers jsonb,
			refresh_time timestamp with time zone, payload jsonb, kafka_value_schema text)`,
		`CREATE VIEW ` + view + ` AS SELECT r.kafka_topic, r.kafka_partition, r.kafka_offset, r.kafka_timestamp_type, r.kafka_timestamp, r.kafka_key,
			CASE WHEN r.kafka_value_schema IS NULL THEN r.kafka_value ELSE convert_to('{"schema":', 'UTF8') || s.schema || convert_to(',"payload":', 'UTF8') || r.kafka_value || convert_to('}', 'UTF8') END AS kafka_value,
			r.kafka_headers, r.refresh_time, r.payload FROM ` + store + ` AS r LEFT JOIN ` + q(warehouse.Prefix+"schemas") + ` AS s ON s.schema_id = r.kafka_value_schema`,
	} {
		if _, err := ins.DB.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var want [][]byte
	var from map[batch.TopicPartition]int64
	for i := range int64(2) {
		if i == 1 {
			// A new process reads the store's shape from the catalog.
			wh, _ = sqlapplytest.Postgres(t, dsn, warehouse.Options{Group: "g", Landing: true, Schema: schema})
		}
		b, value := schemaBatch(i, i+1)
		if _, err := wh.Apply(ctx, b, from); err != nil {
			t.Fatal(err)
		}
		from = b.Next
		want = append(want, value)
	}
	rows, err := ins.DB.QueryContext(ctx, "SELECT v.kafka_value, r.kafka_value IS NOT NULL FROM "+view+" v JOIN "+store+
		" r USING (kafka_offset) ORDER BY kafka_offset")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var got []byte
		var kept bool
		if err := rows.Scan(&got, &kept); err != nil {
			t.Fatal(err)
		}
		if n >= len(want) || !bytes.Equal(got, want[n]) || !kept {
			t.Errorf("row %d: kafka_value %q (bytes kept in the store: %v), want %q kept", n, got, kept, want[min(n, len(want)-1)])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d landing rows, want %d", n, len(want))
	}
}

// TestApply_PostgresIndexesMoveKeys: the moves table's keys are indexed,
// so joining it with a staging table probes an index instead of scanning
// the staging table once per pending move (see sqlapply.Indexer).
func TestApply_PostgresIndexesMoveKeys(t *testing.T) {
	ctx := context.Background()
	schema := uniqueSchema("moveidx")
	_, ins := sqlapplytest.Postgres(t, pgtest.DSN(t), warehouse.Options{Group: "g", Schema: schema})
	var cols string
	err := ins.DB.QueryRowContext(ctx, `SELECT coalesce(string_agg(a.attname, ' ' ORDER BY a.attname), '') FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = $1::regclass`, ins.Qualified(sqlapply.MovesTable)).Scan(&cols)
	if err != nil {
		t.Fatal(err)
	}
	if cols != "new_key old_key" {
		t.Fatalf("moves table indexes lead with %v, want [new_key old_key]", cols)
	}
}

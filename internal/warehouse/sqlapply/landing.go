package sqlapply

import (
	"context"
	"database/sql"
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

// SchemaEliding is implemented by dialects whose landing tables keep each
// Connect schema once instead of in every row. Events with embedded schemas
// are mostly schema (a few KB, the same for every event of a table), so
// their rows keep only the payload bytes and the schema's id; the landing
// table is a view that rebuilds kafka_value exactly from the two.
// BytesLiteral renders a string as a bytes literal for that view.
type SchemaEliding interface {
	BytesLiteral(s string) string
}

// PayloadKeeping is implemented by eliding dialects with a JSON type that
// keeps the text it is given byte for byte (DuckDB's JSON, PostgreSQL's
// json — not jsonb): landing rows then keep the payload once, as that JSON,
// and the view rebuilds kafka_value from it.
type PayloadKeeping interface {
	// PayloadBytes renders the UTF-8 bytes of a JSON column expression.
	PayloadBytes(expr string) string
	// TextJSON is the type of new landing stores' JSON columns (payload,
	// kafka_headers): the one keeping text as given, and cheap to write.
	TextJSON() string
	// KeepsPayload reports whether a landing store's payload column has
	// that type. Stores created by earlier versions may not (PostgreSQL's
	// had jsonb): they keep their shape, and their rows the value bytes.
	KeepsPayload(ctx context.Context, conn *sql.Conn, store string) (bool, error)
}

// DirectLoader is implemented by dialects whose bulk loader writes straight
// into a table of the schema inside the open transaction, converting each
// value to its column's type (PostgreSQL's COPY). Landing rows then go to
// the landing store in one statement, without a staging table and an
// INSERT … SELECT that would write every row twice.
type DirectLoader interface {
	BulkLoadTable(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error
}

const (
	landingStaging = warehouse.StagingPrefix + "landing"
	schemasTable   = warehouse.Prefix + "schemas"
	colSchemaID    = "kafka_value_schema"
)

// landingColumns are the landing table's columns, in order, with their
// types. refresh_time is set when applied.
var landingColumns = []struct {
	name string
	typ  change.Type
}{
	{"kafka_topic", change.String},
	{"kafka_partition", change.Int32},
	{"kafka_offset", change.Int64},
	{"kafka_timestamp_type", change.String},
	{"kafka_timestamp", change.TimestampType(change.UnitMillis)},
	{"kafka_key", change.Bytes},
	{"kafka_value", change.Bytes},
	{"kafka_headers", change.JSON},
	{"refresh_time", change.TimestampTZ},
	{"payload", change.JSON},
}

// landingStore is the table landing rows are inserted into: the landing
// table itself, or, where schemas are elided, the table under its view.
func (w *Warehouse) landingStore(table string) string {
	if _, ok := w.d.(SchemaEliding); ok {
		return w.d.Identifiers().LandingStore(table)
	}
	return w.d.Identifiers().Landing(table)
}

func (w *Warehouse) createSchemasTable(ctx context.Context) error {
	if _, ok := w.d.(SchemaEliding); !ok {
		return nil
	}
	_, err := w.exec(ctx, `CREATE TABLE IF NOT EXISTS `+w.qualify(schemasTable)+` (
		schema_id `+w.d.SQLType(change.String)+` NOT NULL`+w.pk("")+`,
		schema `+w.d.SQLType(change.Bytes)+`,
		created_at `+w.d.SQLType(change.TimestampTZ)+`)`)
	return err
}

// createLanding creates the landing table (and, eliding schemas, its store
// and view).
func (w *Warehouse) createLanding(ctx context.Context, t *table) error {
	el, elide := w.d.(SchemaEliding)
	pk, keeps := w.d.(PayloadKeeping)
	defs := make([]string, 0, len(landingColumns)+1)
	for _, c := range landingColumns {
		typ := w.d.SQLType(c.typ)
		if keeps && elide && c.typ.Kind == change.KindJSON {
			typ = pk.TextJSON()
		}
		defs = append(defs, sqltext.Ident(c.name)+" "+typ)
	}
	if elide {
		defs = append(defs, sqltext.Ident(colSchemaID)+" "+w.d.SQLType(change.String))
	}
	opts := ""
	if o, ok := w.d.(TableOptioner); ok {
		opts = o.TableOptions(nil)
	}
	store := w.qualify(w.landingStore(t.name))
	if err := w.lockDDL(ctx); err != nil { // in the batch's transaction
		return err
	}
	failpoint.Hit("ddl")
	if _, err := w.exec(ctx, "CREATE TABLE IF NOT EXISTS "+store+" ("+strings.Join(defs, ", ")+")"+opts); err != nil {
		return fmt.Errorf("create landing table: %w", err)
	}
	if !elide {
		return nil
	}
	if keeps {
		// A store another process created meanwhile, or an earlier
		// version, has the shape the catalog says.
		conn, err := w.connection(ctx)
		if err != nil {
			return err
		}
		if t.keepsPayload, err = pk.KeepsPayload(ctx, conn, w.landingStore(t.name)); err != nil {
			return w.classify(sqltext.FirstLine(err))
		}
	}
	sel := make([]string, len(landingColumns))
	for i, c := range landingColumns {
		sel[i] = "r." + sqltext.Ident(c.name)
		if c.name == "kafka_value" {
			payload := "r.kafka_value"
			if keeps {
				// Rows whose payload is kept as JSON have no value bytes.
				payload = "COALESCE(r.kafka_value, " + pk.PayloadBytes("r.payload") + ")"
			}
			sel[i] = "CASE WHEN r." + sqltext.Ident(colSchemaID) + " IS NULL THEN r.kafka_value ELSE " +
				el.BytesLiteral(`{"schema":`) + " || s.schema || " + el.BytesLiteral(`,"payload":`) +
				" || " + payload + " || " + el.BytesLiteral(`}`) + " END AS kafka_value"
		}
	}
	view := "CREATE OR REPLACE VIEW " + w.qualify(w.d.Identifiers().Landing(t.name)) + " AS SELECT " + strings.Join(sel, ", ") +
		" FROM " + store + " AS r LEFT JOIN " + w.qualify(schemasTable) + " AS s ON s.schema_id = r." + sqltext.Ident(colSchemaID)
	if _, err := w.exec(ctx, view); err != nil {
		return fmt.Errorf("create landing view: %w", err)
	}
	return nil
}

// landAhead creates a missing landing table before the batch's
// transaction, in a DDL transaction of its own, for a LandingAhead dialect.
func (w *Warehouse) landAhead(ctx context.Context, t *table, raws int) error {
	if _, ok := w.d.(LandingAhead); !ok || !w.opts.Landing || raws == 0 || t.landing {
		return nil
	}
	if err := w.ddl(ctx, func() error { return w.createLanding(ctx, t) }); err != nil {
		return err
	}
	t.landing = true
	return nil
}

// land appends the batch's raw records to the table's landing table.
func (w *Warehouse) land(ctx context.Context, t *table, raws []batch.Raw) error {
	_, elide := w.d.(SchemaEliding)
	failpoint.Hit("landing")
	if !t.landing {
		if err := w.createLanding(ctx, t); err != nil {
			return err
		}
		t.landing = true
	}
	dl, direct := w.d.(DirectLoader)
	var now any
	if direct {
		// refresh_time is the transaction's timestamp, as INSERT … SELECT
		// now() would write it.
		var ts time.Time
		if err := w.queryRow(ctx, "SELECT "+w.d.Now(), &ts); err != nil {
			return fmt.Errorf("land: %w", err)
		}
		now = ts
	}
	// Landing keeps every record's bytes. Raw key, value and schema bind
	// as bytes and headers as JSON that headersJSON makes bindable, so an
	// error there is cdcsync's and stops the batch rather than losing
	// them. A payload the warehouse's JSON refuses lands as NULL, its bytes
	// kept in kafka_value; a producer's Kafka timestamp outside the
	// warehouse's range lands as NULL.
	var bindErr error
	bindAs := func(v any, t change.Type) any {
		b, err := w.d.Bind(v, t, w.d.SQLType(t))
		if err != nil {
			if bindErr == nil && t.Kind == change.KindBytes {
				bindErr = fmt.Errorf("land: raw bytes do not bind: %w", err)
			}
			return nil
		}
		return b
	}
	schemas := map[string][]byte{}
	rows := make([][]any, len(raws))
	for i := range raws {
		r := &raws[i]
		var payload, key, value, headers, schemaID any
		if r.Payload != nil && utf8.Valid(r.Payload) {
			payload = bindAs(string(r.Payload), change.JSON)
		}
		if r.Key != nil {
			key = bindAs(r.Key, change.Bytes)
		}
		switch {
		case elide && r.Schema != nil:
			schemaID = r.SchemaID
			schemas[r.SchemaID] = r.Schema
			if !t.keepsPayload || payload == nil {
				value = bindAs(r.Payload, change.Bytes)
			}
		case r.Value != nil:
			value = bindAs(r.Value, change.Bytes)
		}
		if h := headersJSON(r.Headers); h != "" {
			var err error
			if headers, err = w.d.Bind(h, change.JSON, w.d.SQLType(change.JSON)); err != nil {
				return fmt.Errorf("land: headers do not bind: %w", err)
			}
		}
		row := make([]any, 0, len(landingColumns)+1)
		row = append(row, r.Topic, r.Partition, r.Offset, string(r.TimestampType),
			bindAs(r.Timestamp, change.TimestampType(change.UnitMillis)), key, value, headers)
		if direct {
			row = append(row, now)
		}
		row = append(row, payload)
		if elide {
			row = append(row, schemaID)
		}
		rows[i] = row
	}
	if bindErr != nil {
		return bindErr
	}
	for id, schema := range schemas {
		_, err := w.exec(ctx, `INSERT INTO `+w.qualify(schemasTable)+` SELECT $1, $2, `+w.d.Now()+
			` WHERE NOT EXISTS (SELECT 1 FROM `+w.qualify(schemasTable)+` WHERE schema_id = $3)`, id, bindAs(schema, change.Bytes), id)
		if err != nil {
			return fmt.Errorf("record schema: %w", err)
		}
	}
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	if direct {
		if err := dl.BulkLoadTable(ctx, conn, w.d.Schema(), w.landingStore(t.name), landingStoreColumns(elide), rows); err != nil {
			return fmt.Errorf("land: %w", w.classify(sqltext.FirstLine(err)))
		}
		return nil
	}
	if err := w.stageLanding(ctx, elide); err != nil {
		return err
	}
	var names, sel []string
	for _, c := range landingColumns {
		if c.name == "refresh_time" {
			sel = append(sel, w.d.Now())
			continue
		}
		names = append(names, c.name)
		_, conv := w.d.Staging(w.d.SQLType(c.typ))
		sel = append(sel, fmt.Sprintf(conv, sqltext.Ident(c.name)))
	}
	if elide {
		names, sel = append(names, colSchemaID), append(sel, sqltext.Ident(colSchemaID))
	}
	if err := w.d.BulkLoad(ctx, conn, landingStaging, names, rows); err != nil {
		return fmt.Errorf("land: %w", w.classify(sqltext.FirstLine(err)))
	}
	store := w.qualify(w.landingStore(t.name))
	insert := "INSERT INTO " + store + " (" + strings.Join(landingInsertColumns(elide), ", ") + ") SELECT " + strings.Join(sel, ", ") + " FROM " + sqltext.Ident(landingStaging)
	if _, err := w.exec(ctx, insert); err != nil {
		return fmt.Errorf("land: %w", err)
	}
	return nil
}

// stageLanding creates the landing staging table on the connection, or
// empties it.
func (w *Warehouse) stageLanding(ctx context.Context, elide bool) error {
	if _, ok := w.d.(StagingRecreating); ok {
		w.landingStaged = false
	}
	if !w.landingStaged {
		var defs []string
		for _, c := range landingColumns {
			if c.name == "refresh_time" {
				continue
			}
			st, _ := w.d.Staging(w.d.SQLType(c.typ))
			defs = append(defs, sqltext.Ident(c.name)+" "+st)
		}
		if elide {
			defs = append(defs, sqltext.Ident(colSchemaID)+" "+w.d.SQLType(change.String))
		}
		if _, err := w.exec(ctx, "DROP TABLE IF EXISTS "+sqltext.Ident(landingStaging)); err != nil {
			return err
		}
		if _, err := w.exec(ctx, "CREATE TEMP TABLE "+sqltext.Ident(landingStaging)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create landing staging: %w", err)
		}
		w.landingStaged = true
	}
	_, err := w.exec(ctx, "DELETE FROM "+sqltext.Ident(landingStaging))
	return err
}

// queryRow runs a one-row query on the batches' connection.
func (w *Warehouse) queryRow(ctx context.Context, query string, dest ...any) error {
	conn, err := w.connection(ctx)
	if err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, query).Scan(dest...); err != nil {
		return w.classify(sqltext.FirstLine(err))
	}
	return nil
}

// landingStoreColumns lists the store's columns, unquoted, in the order of
// the store and of land's rows loaded directly.
func landingStoreColumns(elide bool) []string {
	cols := make([]string, 0, len(landingColumns)+1)
	for _, c := range landingColumns {
		cols = append(cols, c.name)
	}
	if elide {
		cols = append(cols, colSchemaID)
	}
	return cols
}

// landingInsertColumns lists the store's columns in the order land selects
// them: the landing columns, refresh_time in its place, then the schema id.
func landingInsertColumns(elide bool) []string {
	cols := make([]string, 0, len(landingColumns)+1)
	for _, c := range landingColumns {
		cols = append(cols, sqltext.Ident(c.name))
	}
	if elide {
		cols = append(cols, sqltext.Ident(colSchemaID))
	}
	return cols
}

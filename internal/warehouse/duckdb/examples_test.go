package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
)

// examplesDir is ../shared/debezium-examples next to the repository.
const examplesDir = "../../../../shared/debezium-examples"

// exampleKeys pairs example values with the keys of their rows, as the
// documentation's key files give them (a value file alone has no key).
var exampleKeys = map[string]string{
	"mysql":          `{"id":1004}`,
	"mariadb":        `{"id":1004}`,
	"postgresql":     `{"id":1004}`,
	"tutorial-mysql": `{"id":1004}`,
	"test-resources": `{"id":1004}`,
}

// TestExamplesLand applies every complete example event that carries a
// row change to DuckDB, each in a fresh file, and checks what landed: an
// upsert leaves exactly its after image's key with its non-null values,
// the unavailable-value placeholder is never written, a delete leaves no
// row behind.
func TestExamplesLand(t *testing.T) {
	if _, err := os.Stat(examplesDir); err != nil {
		t.Skipf("no examples at %s", examplesDir)
	}
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*", "*.json"))
	landed := 0
	for _, f := range files {
		rel, _ := filepath.Rel(examplesDir, f)
		dir := filepath.Dir(rel)
		key, ok := exampleKeys[dir]
		if !ok || strings.Contains(rel, "key") {
			continue
		}
		value, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := debezium.NewDecoder(debezium.Options{}).Decode(debezium.Record{Topic: "srv.inventory.customers", Key: []byte(key), Value: value})
		if err != nil || res.Change == nil || res.Change.Op == change.OpTruncate {
			continue // not a row change; the decoder tests cover every file
		}
		t.Run(rel, func(t *testing.T) {
			c := res.Change
			wh, ins := sqlapplytest.DuckDB(t, filepath.Join(t.TempDir(), "x.duckdb"), warehouse.Options{Group: "x"})
			b := batch.New()
			if c.Op == change.OpDelete {
				// A delete needs a row to delete: land one first.
				seed := *c
				seed.Op, seed.SourceOp, seed.Offset, seed.Pos = change.OpUpsert, 'c', -1, ""
				seed.Schema = change.NewSchema(c.Schema.Key, c.Schema.Key)
				seed.Row = append([]any(nil), c.Key...)
				add(b, &seed, key, value)
				if _, err := wh.Apply(context.Background(), b, nil); err != nil {
					t.Fatal(err)
				}
				b = batch.New()
			}
			add(b, c, key, value)
			from := map[batch.TopicPartition]int64{}
			if c.Op == change.OpDelete {
				from[batch.TopicPartition{Topic: c.Topic}] = 0
			}
			st, err := wh.Apply(context.Background(), b, from)
			if err != nil {
				t.Fatal(err)
			}
			if st.DeadLetters != 0 {
				t.Fatalf("%d dead letters", st.DeadLetters)
			}
			var n int
			if err := ins.DB.QueryRow(`SELECT count(*) FROM customers WHERE id = 1004`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if c.Op == change.OpDelete {
				if n != 0 {
					t.Fatalf("the delete left %d rows", n)
				}
				return
			}
			if n != 1 {
				t.Fatalf("%d rows for id 1004, want 1", n)
			}
			for i, col := range c.Schema.Columns {
				var got sql.NullString
				if err := ins.DB.QueryRow(fmt.Sprintf(`SELECT %q::VARCHAR FROM customers`, col.Name)).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(got.String, debezium.DefaultPlaceholder) {
					t.Errorf("column %s holds the unavailable-value placeholder", col.Name)
				}
				unchanged := c.Unchanged != nil && c.Unchanged[i]
				if (c.Row[i] != nil) != got.Valid && !unchanged {
					t.Errorf("column %s: landed %v, event value %v", col.Name, got, c.Row[i])
				}
				if unchanged && got.Valid {
					t.Errorf("column %s was unchanged and had no earlier value, but landed %q", col.Name, got.String)
				}
			}
		})
		landed++
	}
	if landed < 10 {
		t.Fatalf("only %d example events landed: the examples moved?", landed)
	}
}

func add(b *batch.Batch, c *change.Change, key string, value []byte) {
	b.Record(c.Topic, c.Partition, c.Offset, len(value))
	tb := b.Table(c.Table, c.Topic)
	tb.Add(c)
	tb.Landing = append(tb.Landing, batch.Raw{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, Key: []byte(key), Value: value})
}

package debezium

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cdcsync/cdcsync/internal/workload"
)

// BenchmarkDecode decodes the doc's MySQL create event with its full
// envelope schema (mysql/create-with-schema.json) under a schema-carrying
// key, as a connector with schemas.enable=true writes every event: after
// the first event the schemas come from the decoder's cache.
func BenchmarkDecode(b *testing.B) {
	dir, ok := examplesDir(b)
	if !ok {
		b.Skipf("no Debezium examples at %s", dir)
	}
	read := func(rel string) []byte {
		v, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name       string
		key, value []byte
	}{
		{"mysql-create-with-schema", read("tutorial-mysql/01-snapshot-read-key.json"), read("mysql/create-with-schema.json")},
		{"mysql-create-without-schema", []byte(`{"id":1004}`), read("test-resources/serde-without-schema.json")},
		{"postgresql-create-with-schema", []byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"PostgreSQL_server.public.customers.Key"},"payload":{"id":1}}`), read("postgresql/create-with-schema.json")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(Options{})
			rec := Record{Topic: "mysql-server-1.inventory.customers", Key: c.key, Value: c.value}
			if res, err := d.Decode(rec); err != nil || res.Change == nil {
				b.Fatalf("decode: %+v %v", res, err)
			}
			b.SetBytes(int64(len(c.key) + len(c.value)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := d.Decode(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeWorkload decodes the events `make bench` produces (the
// seeded recipe workload with embedded schemas: snapshot, inserts, updates,
// deletes with tombstones, primary-key changes), one event per iteration,
// as the pipeline's decoding workers do.
func BenchmarkDecodeWorkload(b *testing.B) {
	w := workload.New(workload.Options{Seed: 1, Partitions: 4, Schemas: true, SnapshotRows: 300,
		Ops: 9000, PKChanges: true, Tombstones: true})
	recs := make([]Record, len(w.Events))
	var size int64
	for i, e := range w.Events {
		recs[i] = Record{Topic: e.Topic, Partition: e.Partition, Offset: int64(i), Key: e.Key, Value: e.Value,
			OldKey: headerBytes(e.Headers, "__debezium.oldkey"), NewKey: headerBytes(e.Headers, "__debezium.newkey")}
		size += int64(len(e.Key) + len(e.Value))
	}
	d := NewDecoder(Options{})
	for _, r := range recs {
		if res, err := d.Decode(r); err != nil || (res.Change == nil && res.Skip == "") {
			b.Fatalf("decode %s@%d: %+v %v", r.Topic, r.Offset, res, err)
		}
	}
	b.SetBytes(size / int64(len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func headerBytes(h map[string]string, k string) []byte {
	if v, ok := h[k]; ok {
		return []byte(v)
	}
	return nil
}

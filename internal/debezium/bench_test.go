package debezium

import (
	"os"
	"path/filepath"
	"testing"
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

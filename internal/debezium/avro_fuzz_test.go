package debezium

import (
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv"
	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
)

// FuzzAvro decodes arbitrary Avro data under the schemas of the
// example events (their Avro forms, registered in a registry served by the
// test): sel picks the value's schema, the key is decoded with its own.
// Like FuzzDecode it calls the decoder without Decode's recover() and
// checks every result (checkResult); a warm decoder must answer as a
// fresh one does. Run it with
//
//	go test -run='^$' -fuzz=FuzzAvro -fuzztime=60s ./internal/debezium/
func FuzzAvro(f *testing.F) {
	fake := srfake.New()
	defer fake.Close()
	reg, err := avroconv.New(avroconv.Options{URL: fake.URL()})
	if err != nil {
		f.Fatal(err)
	}
	type pair struct{ key, value int }
	var ids []pair
	for _, s := range fuzzSeeds(f) {
		key, okk := toAvro(f, fake, s.name+"-key", s.key)
		value, okv := toAvro(f, fake, s.name+"-value", s.value)
		if !okk || !okv || value == nil {
			continue
		}
		kid, _ := avroconv.SchemaID(key)
		vid, _ := avroconv.SchemaID(value)
		var kdata []byte
		if key != nil {
			kdata = key[5:]
		}
		f.Add(uint8(len(ids)), kdata, value[5:])
		ids = append(ids, pair{kid, vid})
	}
	for _, tc := range typeCases[:40] {
		key, _ := toAvro(f, fake, "srv.db.t-key", []byte(typedKey))
		value, ok := toAvro(f, fake, "srv.db.t-value", typedEvent(f, tc.f, tc.lit))
		if !ok {
			continue
		}
		kid, _ := avroconv.SchemaID(key)
		vid, _ := avroconv.SchemaID(value)
		f.Add(uint8(len(ids)), key[5:], value[5:])
		ids = append(ids, pair{kid, vid})
	}
	if len(ids) == 0 {
		f.Fatal("no seed has an Avro form")
	}
	var warmOnce sync.Once
	var warm *Decoder
	f.Fuzz(func(t *testing.T, sel uint8, key, value []byte) {
		warmOnce.Do(func() { warm = NewDecoder(Options{Wire: reg}) })
		p := ids[int(sel)%len(ids)]
		r := Record{Topic: fuzzTopicPlain, Value: avrotest.Wire(p.value, value)}
		if p.key != 0 {
			r.Key = avrotest.Wire(p.key, key)
		}
		res, err := warm.decodeWire(r)
		checkResult(t, res, err)
		fresh, errFresh := NewDecoder(Options{Wire: reg}).decodeWire(r)
		if a, b := describeResult(res, err), describeResult(fresh, errFresh); a != b {
			t.Fatalf("a warm decoder answers differently from a fresh one:\nwarm:  %s\nfresh: %s", a, b)
		}
	})
}

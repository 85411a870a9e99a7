package debezium

import "testing"

// TestTransactionMetadata reads BEGIN/END records (counts as numbers and,
// in old versions, as text) and the transaction block of events, with
// PostgreSQL's <xid>:<lsn> ids matched by xid.
func TestTransactionMetadata(t *testing.T) {
	d := NewDecoder(Options{})
	// Debezium's documented examples (PostgreSQL; the 1.1 blog's, with
	// counts as text).
	for _, c := range []struct {
		file  string
		id    string
		end   bool
		total int64
	}{
		{`{"status":"END","id":"571:53195832","ts_ms":1486500577691,"event_count":2,"data_collections":[{"data_collection":"s1.a","event_count":1},{"data_collection":"s2.a","event_count":1}]}`, "571", true, 2},
		{`{"status":"END","id":"571","event_count":"11","data_collections":[{"data_collection":"inventory.purchaseorder","event_count":"1"},{"data_collection":"inventory.orderline","event_count":"10"}]}`, "571", true, 11},
		{`{"status":"BEGIN","id":"571","event_count":null,"data_collections":null}`, "571", false, 0},
	} {
		res, err := d.Decode(Record{Topic: "srv.transaction", Value: []byte(c.file)})
		if err != nil || res.TxMark == nil {
			t.Fatalf("%s: %v, mark %v", c.file, err, res.TxMark)
		}
		var total int64
		for _, col := range res.TxMark.Collections {
			total += col.Events
		}
		if res.TxMark.ID != c.id || res.TxMark.End != c.end || total != c.total {
			t.Errorf("%s: mark %+v (total %d), want id %s end %v total %d", c.file, res.TxMark, total, c.id, c.end, c.total)
		}
	}
	for _, c := range []struct{ raw, want string }{
		{`"9172:77317144"`, "9172"}, // PostgreSQL: xid:lsn
		{`"0e4d5dcd-a33b-11ea-80f1-02010a22a99e:10"`, "0e4d5dcd-a33b-11ea-80f1-02010a22a99e:10"}, // MySQL GTID
		{`"0-1-42"`, "0-1-42"},                                 // MariaDB GTID
		{`"00000025:00000d10:0025"`, "00000025:00000d10:0025"}, // SQL Server
		{`"mysql-bin.000003:154"`, "mysql-bin.000003:154"},
	} {
		v := `{"before":null,"after":{"id":1},"source":{"file":"f.000001","pos":4,"row":0},"op":"c","ts_ms":1,"transaction":{"id":` + c.raw + `,"total_order":1,"data_collection_order":1}}`
		res, err := d.Decode(Record{Topic: "srv.db.t", Key: []byte(`{"id":1}`), Value: []byte(v)})
		if err != nil || res.TxID != c.want {
			t.Errorf("transaction id %s: got %q (%v), want %q", c.raw, res.TxID, err, c.want)
		}
	}
}

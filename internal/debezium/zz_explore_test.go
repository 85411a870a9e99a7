package debezium

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestZZExplore(t *testing.T) {
	root := "../../../shared/debezium-examples"
	key := func(p string) []byte { b, _ := os.ReadFile(filepath.Join(root, p)); return b }
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if info.IsDir() || filepath.Ext(p) != ".json" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, k := range [][]byte{nil, key("mysql/customers-key.json")} {
			d := NewDecoder(Options{})
			r, err := d.Decode(Record{Topic: "srv.inventory.customers", Key: k, Value: b})
			fmt.Printf("%s key=%v: err=%v skip=%q", p[len(root):], k != nil, err, r.Skip)
			if c := r.Change; c != nil {
				fmt.Printf(" op=%v src=%c table=%s key=%#v pos=%q ts=%d row=%#v unch=%v schema=%v", c.Op, c.SourceOp, c.Table, c.Key, c.Pos, c.SourceTs, c.Row, c.Unchanged, c.Schema)
			}
			fmt.Println()
		}
		return nil
	})
}

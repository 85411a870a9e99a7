package redshiftgen

import (
	"context"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/workload"
)

// Sample reads the last records of every partition, in partition and
// offset order.
func TestSampleReadsTheEndOfEachPartition(t *testing.T) {
	w := workload.New(workload.Options{Seed: 2, Partitions: 3, Schemas: false, SnapshotRows: 5, Ops: 60})
	addr := startKafka(t, w)
	topic := w.Topic(w.Table("customers"))
	ends := map[int32]int64{}
	for _, e := range w.Events {
		if e.Topic == topic {
			ends[e.Partition]++
		}
	}
	got, err := Sample(context.Background(), []kgo.Opt{kgo.SeedBrokers(addr)}, []string{topic}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for p := int32(0); p < 3; p++ {
		for off := max(ends[p]-2, 0); off < ends[p]; off++ {
			want = append(want, strconv.Itoa(int(p))+"/"+strconv.Itoa(int(off)))
		}
	}
	var have []string
	for _, r := range got[topic] {
		have = append(have, strconv.Itoa(int(r.Partition))+"/"+strconv.Itoa(int(r.Offset)))
	}
	if len(have) != len(want) || len(want) == 0 {
		t.Fatalf("sampled %v, want %v", have, want)
	}
	for i := range want {
		if have[i] != want[i] {
			t.Fatalf("sampled %v, want %v", have, want)
		}
	}
}

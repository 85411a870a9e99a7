package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestLatency_HistogramQuantiles checks the percentile estimate BenchmarkLatency
// reads from /metrics: buckets summed over tables, linear interpolation
// inside the bucket, the other label value ignored.
func TestLatency_HistogramQuantiles(t *testing.T) {
	text := `# HELP cdcsync_end_to_end_latency_seconds x
# TYPE cdcsync_end_to_end_latency_seconds histogram
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="a",le="0.1"} 10
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="a",le="0.2"} 40
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="a",le="+Inf"} 50
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="b",le="0.1"} 10
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="b",le="0.2"} 40
cdcsync_end_to_end_latency_seconds_bucket{from="kafka",table="b",le="+Inf"} 50
cdcsync_end_to_end_latency_seconds_bucket{from="source",table="a",le="0.1"} 100
cdcsync_end_to_end_latency_seconds_bucket{from="source",table="a",le="0.2"} 100
cdcsync_end_to_end_latency_seconds_bucket{from="source",table="a",le="+Inf"} 100
cdcsync_events_total{table="a"} 7
cdcsync_events_total{table="b"} 5
`
	m, err := parseProm(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("cdcsync_events_total"); got != 12 {
		t.Errorf("events: %v, want 12", got)
	}
	// kafka: 20 of 100 under 0.1, 80 under 0.2, 100 in all. p50 is rank 50:
	// 30 of the 60 between 0.1 and 0.2 -> 0.15; p99 is past the last
	// finite bound -> 0.2.
	got := m.quantiles("cdcsync_end_to_end_latency_seconds", "kafka", 0.5, 0.8, 0.99)
	want := [3]float64{0.15, 0.2, 0.2}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("kafka quantiles %v, want %v", got, want)
			break
		}
	}
	if got := m.quantiles("cdcsync_end_to_end_latency_seconds", "source", 0.5); math.Abs(got[0]-0.05) > 1e-9 {
		t.Errorf("source p50 %v, want 0.05", got[0])
	}
}

// TestLatency_StampSourceTs checks that the producer's stamp replaces both
// ts_ms of a workload envelope and nothing else.
func TestLatency_StampSourceTs(t *testing.T) {
	w := workload.New(workload.Options{Seed: 1, SnapshotRows: 1, Ops: 20, Tombstones: true})
	stamped := 0
	for _, e := range w.Events {
		if e.Value == nil {
			continue
		}
		before := string(e.Value)
		stampSourceTs(e.Value, 1_800_000_000_123)
		after := string(e.Value)
		if n := strings.Count(after, `"ts_ms":1800000000123`); n != 2 {
			t.Fatalf("%d ts_ms stamped in %s", n, after)
		}
		if len(before) != len(after) {
			t.Fatalf("length changed: %s -> %s", before, after)
		}
		stamped++
	}
	if stamped == 0 {
		t.Fatal("no event with a value")
	}
}

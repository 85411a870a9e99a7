package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// BenchmarkAvro drains one workload twice with the real binary: as JSON
// with schemas, and as Avro in the Confluent wire format (the same events
// as Connect's Avro converter writes them, schemas in a registry served by
// the test), and reports events/s of each and, for Avro, the ratio to
// JSON's (x_json_rate); -v logs the bytes per event of each format.
//
//	CDCSYNC_BENCH_EVENTS=200000 go test -run '^$' -bench BenchmarkAvro -benchtime 1x ./internal/bench/
func BenchmarkAvro(b *testing.B) {
	n := events()
	dir := b.TempDir()
	bin := filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cdcsync").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	fake := srfake.New()
	defer fake.Close()
	var all []workload.Event
	var topics []string
	size := map[string]int64{}
	for _, format := range []string{"json", "avro"} {
		w := workload.New(workload.Options{Seed: 1, Prefix: format + ".inventory", Partitions: 4, Schemas: true,
			SnapshotRows: n / 30, Ops: n - n/10, PKChanges: true, Tombstones: true})
		for _, t := range w.Tables {
			topics = append(topics, w.Topic(t))
		}
		for _, e := range w.Events {
			if format == "avro" {
				for _, p := range []*[]byte{&e.Key, &e.Value} {
					if *p != nil {
						out, err := avrotest.FromJSON(fake, e.Topic, *p)
						if err != nil {
							b.Fatalf("%s: %v", *p, err)
						}
						*p = out
					}
				}
				for h, v := range e.Headers {
					out, err := avrotest.FromJSON(fake, e.Topic+"-key", []byte(v))
					if err != nil {
						b.Fatal(err)
					}
					e.Headers[h] = string(out)
				}
			}
			size[format] += int64(len(e.Key) + len(e.Value))
			all = append(all, e)
		}
	}
	c, err := kafkatest.Start(4, topics...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), all); err != nil {
		b.Fatal(err)
	}
	total := len(all) / 2
	b.Logf("%d events per format: JSON with schemas %.0f bytes/event, Avro %.0f bytes/event",
		total, float64(size["json"])/float64(total), float64(size["avro"])/float64(total))
	runtime.GC()
	rate := map[string]float64{}
	for _, format := range []string{"json", "avro"} {
		b.Run(format, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cfg := filepath.Join(dir, "bench-"+format+".yaml")
				if err := os.WriteFile(cfg, []byte("schema_registry:\n  url: "+fake.URL()+"\n"), 0o600); err != nil {
					b.Fatal(err)
				}
				target := filepath.Join(dir, fmt.Sprintf("bench-%s-%d.duckdb", format, i))
				cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--brokers", c.Addr(),
					"--topics", format+`\.inventory\..*`, "--target", target)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("cdcsync: %v\n%s", err, stderr.String())
				}
				rate[format] = float64(total) / time.Since(t0).Seconds()
				b.ReportMetric(rate[format], "events/s")
				if format == "avro" && rate["json"] > 0 {
					b.ReportMetric(rate["avro"]/rate["json"], "x_json_rate")
				}
			}
		})
	}
	if rate["json"] > 0 {
		b.Logf("Avro/JSON events/s ratio: %.2f (Avro %.0f, JSON with schemas %.0f events/s)", rate["avro"]/rate["json"], rate["avro"], rate["json"])
	}
}

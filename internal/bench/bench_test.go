// Package bench measures cdcsync end to end: the real binary draining a
// backlog of schema-embedded Debezium events from an in-process Kafka into
// DuckDB with `run --once`. It reports events per second and the process's
// peak resident memory, with the landing table on and off, and events per
// second into DuckLake when CDCSYNC_DUCKDB_EXTENSIONS is set.
//
//	make bench                                   # 1,000,000 events
//	CDCSYNC_BENCH_EVENTS=200000 make bench       # a quicker look
//
// Figures are recorded in the README; nothing here asserts a timing.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

func events() int {
	if s := os.Getenv("CDCSYNC_BENCH_EVENTS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// drainOnly reads every record of the topics once and counts them.
func drainOnly(addr string, topics []string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		return 0, err
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	n := 0
	for int64(n) < want {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			return n, err
		}
		n += fs.NumRecords()
	}
	return n, nil
}

func BenchmarkPipeline(b *testing.B) {
	n := events()
	dir := b.TempDir()
	bin := filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cdcsync").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	start := time.Now()
	w := workload.New(workload.Options{Seed: 1, Partitions: 4, Schemas: true, SnapshotRows: n / 30,
		Ops: n - n/10, PKChanges: true, Tombstones: true, Truncates: false})
	var topics []string
	var size int64
	for _, t := range w.Tables {
		topics = append(topics, w.Topic(t))
	}
	for _, e := range w.Events {
		size += int64(len(e.Key) + len(e.Value))
	}
	c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), w.Events); err != nil {
		b.Fatal(err)
	}
	total := len(w.Events)
	b.Logf("produced %d events (%.0f MiB, %.0f bytes/event on average) in %s", total, float64(size)/(1<<20), float64(size)/float64(total), time.Since(start).Round(time.Millisecond))
	w = nil
	runtime.GC()

	// rates are the events/s of this run's figures, by sub-benchmark: the
	// goals are fractions of the consumer's rate measured in the same run.
	rates := map[string]float64{}
	defer func() { printRatios(total, rates) }()

	// The ceiling the machine puts on any consumer: draining the same
	// partitions with a bare franz-go client, decoding nothing.
	b.Run("consume-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			n, err := drainOnly(c.Addr(), topics)
			if err != nil {
				b.Fatal(err)
			}
			rates["consume-only"] = float64(n) / time.Since(t0).Seconds()
			b.ReportMetric(rates["consume-only"], "events/s")
		}
	})

	for _, landing := range []bool{true, false} {
		b.Run(fmt.Sprintf("landing=%v", landing), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cfg := filepath.Join(dir, fmt.Sprintf("bench-%v.yaml", landing))
				// CDCSYNC_BENCH_CONFIG adds YAML to the configuration, e.g.
				// "batch:\n  max_events: 100000\n" to try other batch sizes.
				if err := os.WriteFile(cfg, []byte(fmt.Sprintf("landing:\n  enabled: %v\n%s", landing, os.Getenv("CDCSYNC_BENCH_CONFIG"))), 0o644); err != nil {
					b.Fatal(err)
				}
				target := filepath.Join(dir, fmt.Sprintf("bench-%v-%d.duckdb", landing, i))
				// CDCSYNC_BENCH_DUCKDB_SETTINGS adds DuckDB settings to the
				// target, e.g. "threads=2&memory_limit=200MiB".
				dsn := target
				if q := os.Getenv("CDCSYNC_BENCH_DUCKDB_SETTINGS"); q != "" {
					dsn += "?" + q
				}
				cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--brokers", c.Addr(),
					"--topics", `shop\.inventory\..*`, "--target", dsn)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if prof := os.Getenv("CDCSYNC_BENCH_PROFILE"); prof != "" {
					cmd.Env = append(os.Environ(), "CDCSYNC_CPU_PROFILE="+prof+fmt.Sprintf("-%v.prof", landing))
				}
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("cdcsync: %v\n%s", err, stderr.String())
				}
				took := time.Since(t0)
				if path := os.Getenv("CDCSYNC_BENCH_STDERR"); path != "" {
					if err := os.WriteFile(fmt.Sprintf("%s-%v.log", path, landing), stderr.Bytes(), 0o644); err != nil {
						b.Fatal(err)
					}
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				// The process reports its own peak RSS (VmHWM): getrusage's
				// maxrss of a child counts the pages of the parent it was
				// forked from, here the in-process Kafka.
				m := regexp.MustCompile(`peak_rss_mib=(\d+)`).FindStringSubmatch(stderr.String())
				if m == nil {
					b.Fatalf("no peak_rss_mib in cdcsync's log:\n%s", stderr.String())
				}
				rss, _ := strconv.ParseFloat(m[1], 64)
				// The memory breakdown from the summary line: memory_limit's
				// split, and the peak with Go's part of it.
				split := regexp.MustCompile(`memory\.(memory_limit_mib.*batch_mib=\S+)`).FindStringSubmatch(stderr.String())
				parts := regexp.MustCompile(`peak_go_mib=(\d+) peak_other_mib=(\d+)`).FindStringSubmatch(stderr.String())
				if split != nil && parts != nil {
					b.Logf("landing=%v memory: %s; peak RSS %s MiB = Go %s + other (DuckDB, code) %s", landing, split[1], m[1], parts[1], parts[2])
				}
				rate := float64(total) / took.Seconds()
				rates[fmt.Sprintf("landing=%v", landing)] = rate
				b.ReportMetric(rate, "events/s")
				if c := rates["consume-only"]; c > 0 {
					b.ReportMetric(rate/c, "of_consumer")
				}
				b.ReportMetric(rss, "peak_RSS_MiB")
				b.ReportMetric(took.Seconds(), "seconds")
				b.ReportMetric(float64(ru.Utime.Sec)+float64(ru.Utime.Usec)/1e6+float64(ru.Stime.Sec)+float64(ru.Stime.Usec)/1e6, "cpu_seconds")
				if st, err := os.Stat(target); err == nil {
					b.ReportMetric(float64(st.Size())/(1<<20), "file_MiB")
				}
			}
		})
	}

	// DuckLake (catalog in a DuckDB file, Parquet files, landing off) next
	// to DuckDB, when DuckDB's extensions are at hand (svc.sh env
	// duckdb-extensions).
	if ext := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS"); ext != "" {
		b.Run("target=ducklake", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				lake := filepath.Join(dir, fmt.Sprintf("lake-%d", i))
				cfg := filepath.Join(dir, "bench-ducklake.yaml")
				if err := os.WriteFile(cfg, []byte("landing:\n  enabled: false\n"+os.Getenv("CDCSYNC_BENCH_CONFIG")), 0o644); err != nil {
					b.Fatal(err)
				}
				target := "ducklake:" + lake + ".ducklake?data_path=" + lake + "/&extension_directory=" + ext
				// CDCSYNC_BENCH_DUCKDB_SETTINGS adds DuckDB settings to the
				// target, e.g. "threads=2&memory_limit=200MiB".
				dsn := target
				if q := os.Getenv("CDCSYNC_BENCH_DUCKDB_SETTINGS"); q != "" {
					dsn += "?" + q
				}
				cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--brokers", c.Addr(),
					"--topics", `shop\.inventory\..*`, "--target", dsn)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("cdcsync: %v\n%s", err, stderr.String())
				}
				b.ReportMetric(float64(total)/time.Since(t0).Seconds(), "events/s")
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				b.ReportMetric(float64(ru.Utime.Sec)+float64(ru.Utime.Usec)/1e6+float64(ru.Stime.Sec)+float64(ru.Stime.Usec)/1e6, "cpu_seconds")
			}
		})
	}
}

// printRatios prints each DuckDB figure as a fraction of the bare
// consumer's rate measured in the same run, next to issue 10's goals.
func printRatios(events int, rates map[string]float64) {
	consumer := rates["consume-only"]
	if consumer == 0 || len(rates) < 2 {
		return // the consumer was not measured (a -bench filter): no ratio
	}
	rows := []struct{ name, key, goal string }{
		{"bare franz-go consumer (ceiling)", "consume-only", ""},
		{"cdcsync, landing on (default)", "landing=true", ">= 50%"},
		{"cdcsync, landing off", "landing=false", ">= 75%"},
	}
	fmt.Printf("\nDuckDB, %d events, one run: each rate as a fraction of the bare consumer's\n", events)
	fmt.Printf("%-34s %12s %12s %8s\n", "", "events/s", "of consumer", "goal")
	for _, r := range rows {
		if rate, ok := rates[r.key]; ok {
			fmt.Printf("%-34s %12.0f %11.1f%% %8s\n", r.name, rate, 100*rate/consumer, r.goal)
		}
	}
	fmt.Println()
}

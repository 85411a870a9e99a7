// Package bench measures cdcsync end to end: the real binary draining a
// backlog of schema-embedded Debezium events from an in-process Kafka into
// DuckDB with `run --once`. It reports events per second and the process's
// peak resident memory, with the landing table on and off, and the same
// figures for the lakehouse targets next to DuckDB's (DuckLake when
// CDCSYNC_DUCKDB_EXTENSIONS is set; see benchTargets).
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
	"io/fs"
	"net/url"
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
	skipped := map[string]string{} // why, by sub-benchmark
	defer func() { printRatios(total, rates, skipped) }()

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

	for _, bt := range benchTargets() {
		b.Run(bt.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				target, storage, skip := bt.dsn(b, dir, i)
				if skip != "" {
					skipped[bt.name] = skip
					b.Skip(skip)
				}
				rate := runOnce(b, bin, c.Addr(), dir, bt, target, storage, total, rates["consume-only"])
				rates[bt.name] = rate
			}
		})
	}
}

// benchTarget is one cdcsync run of BenchmarkPipeline: a target and its
// landing setting, a row of the printed table.
type benchTarget struct {
	name    string // sub-benchmark, key of the rates
	label   string // row of the printed table
	goal    string // issue 10's goal as a fraction of the consumer's rate
	landing bool
	// dsn returns the target DSN of run i under dir and the file or
	// directory holding its data, or why the target is skipped.
	dsn func(b testing.TB, dir string, i int) (dsn, storage, skip string)
}

// benchTargets are the targets BenchmarkPipeline drains the backlog into,
// in the order of the printed table. A new target is one more entry.
func benchTargets() []benchTarget {
	duckdbFile := func(landing bool) func(testing.TB, string, int) (string, string, string) {
		return func(_ testing.TB, dir string, i int) (string, string, string) {
			path := filepath.Join(dir, fmt.Sprintf("bench-%v-%d.duckdb", landing, i))
			// CDCSYNC_BENCH_DUCKDB_SETTINGS adds DuckDB settings to the
			// target, e.g. "threads=2&memory_limit=200MiB".
			dsn := path
			if q := os.Getenv("CDCSYNC_BENCH_DUCKDB_SETTINGS"); q != "" {
				dsn += "?" + q
			}
			return dsn, path, ""
		}
	}
	return []benchTarget{
		{"landing=true", "DuckDB, landing on (default)", ">= 50%", true, duckdbFile(true)},
		{"landing=false", "DuckDB, landing off", ">= 75%", false, duckdbFile(false)},
		// DuckLake: its catalog in a DuckDB file, Parquet files in a
		// directory, DuckDB's extensions offline (svc.sh env
		// duckdb-extensions).
		{"target=ducklake", "DuckLake, landing on (default)", "", true, func(b testing.TB, dir string, i int) (string, string, string) {
			ext := os.Getenv("CDCSYNC_DUCKDB_EXTENSIONS")
			if ext == "" {
				return "", "", "DuckLake skipped: CDCSYNC_DUCKDB_EXTENSIONS is not set (scripts/services/svc.sh fetch duckdb-extensions; eval \"$(scripts/services/svc.sh env duckdb-extensions)\")"
			}
			lake := filepath.Join(dir, fmt.Sprintf("lake-%d", i))
			if err := os.Mkdir(lake, 0o755); err != nil {
				b.Fatal(err)
			}
			return "ducklake:" + filepath.Join(lake, "catalog.ducklake") + "?data_path=" + url.QueryEscape(lake+"/data/") +
				"&extension_directory=" + url.QueryEscape(ext), lake, ""
		}},
	}
}

// runOnce drains the backlog into one target with `cdcsync run --once`,
// reports its figures and returns its events/s.
func runOnce(b *testing.B, bin, addr, dir string, bt benchTarget, target, storage string, total int, consumer float64) float64 {
	b.Helper()
	cfg := filepath.Join(dir, fmt.Sprintf("bench-%s.yaml", bt.name))
	// CDCSYNC_BENCH_CONFIG adds YAML to the configuration, e.g.
	// "batch:\n  max_events: 100000\n" to try other batch sizes.
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("landing:\n  enabled: %v\n%s", bt.landing, os.Getenv("CDCSYNC_BENCH_CONFIG"))), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--brokers", addr,
		"--topics", `shop\.inventory\..*`, "--target", target)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if prof := os.Getenv("CDCSYNC_BENCH_PROFILE"); prof != "" {
		cmd.Env = append(os.Environ(), "CDCSYNC_CPU_PROFILE="+prof+"-"+bt.name+".prof")
	}
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("cdcsync: %v\n%s", err, stderr.String())
	}
	took := time.Since(t0)
	if path := os.Getenv("CDCSYNC_BENCH_STDERR"); path != "" {
		if err := os.WriteFile(path+"-"+bt.name+".log", stderr.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	// The process reports its own peak RSS (VmHWM): getrusage's maxrss of
	// a child counts the pages of the parent it was forked from, here the
	// in-process Kafka.
	m := regexp.MustCompile(`peak_rss_mib=(\d+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		b.Fatalf("no peak_rss_mib in cdcsync's log:\n%s", stderr.String())
	}
	rss, _ := strconv.ParseFloat(m[1], 64)
	// The memory breakdown from the summary line: memory_limit's split,
	// and the peak with Go's part of it.
	split := regexp.MustCompile(`memory\.(memory_limit_mib.*batch_mib=\S+)`).FindStringSubmatch(stderr.String())
	parts := regexp.MustCompile(`peak_go_mib=(\d+) peak_other_mib=(\d+)`).FindStringSubmatch(stderr.String())
	if split != nil && parts != nil {
		b.Logf("%s memory: %s; peak RSS %s MiB = Go %s + other (DuckDB, code) %s", bt.name, split[1], m[1], parts[1], parts[2])
	}
	rate := float64(total) / took.Seconds()
	b.ReportMetric(rate, "events/s")
	if consumer > 0 {
		b.ReportMetric(rate/consumer, "of_consumer")
	}
	b.ReportMetric(rss, "peak_RSS_MiB")
	b.ReportMetric(took.Seconds(), "seconds")
	b.ReportMetric(float64(ru.Utime.Sec)+float64(ru.Utime.Usec)/1e6+float64(ru.Stime.Sec)+float64(ru.Stime.Usec)/1e6, "cpu_seconds")
	if n := diskSize(storage); n > 0 {
		b.ReportMetric(float64(n)/(1<<20), "file_MiB")
	}
	return rate
}

// diskSize is the size of a file, or of the files under a directory.
func diskSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error { //nolint:errcheck // a size, best effort
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// printRatios prints each target's rate as a fraction of the bare
// consumer's rate measured in the same run, next to issue 10's goals.
func printRatios(events int, rates map[string]float64, skipped map[string]string) {
	consumer := rates["consume-only"]
	if consumer == 0 || len(rates)+len(skipped) < 2 {
		return // the consumer was not measured (a -bench filter): no ratio
	}
	fmt.Printf("\n%d events, one run: each rate as a fraction of the bare consumer's\n", events)
	fmt.Printf("%-44s %12s %12s %8s\n", "", "events/s", "of consumer", "goal")
	fmt.Printf("%-44s %12.0f %11.1f%% %8s\n", "bare franz-go consumer (ceiling)", consumer, 100.0, "")
	for _, bt := range benchTargets() {
		rate, ok := rates[bt.name]
		switch {
		case skipped[bt.name] != "":
			fmt.Printf("%-44s %12s  %s\n", "cdcsync → "+bt.label, "skipped", skipped[bt.name])
		case !ok:
		default:
			fmt.Printf("%-44s %12.0f %11.1f%% %8s\n", "cdcsync → "+bt.label, rate, 100*rate/consumer, bt.goal)
		}
	}
	fmt.Println()
}

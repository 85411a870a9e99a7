package bench

// BenchmarkLatency measures end-to-end latency under a steady offered load:
// a paced producer writes a seeded workload into an in-process Kafka, with
// each change's source commit time (source.ts_ms) and Kafka timestamp set
// to the moment it is produced, while the real binary runs in continuous
// mode into DuckDB with the landing table on. At the end it reads the
// p50/p95/p99 of cdcsync_end_to_end_latency_seconds from /metrics and
// computes the same percentiles in SQL over the landing rows (Kafka
// timestamp and source.ts_ms against refresh_time, the time of the batch's
// transaction), side by side.
//
//	make bench-latency                                      # 5,000 and 20,000 events/s, 60 s each
//	CDCSYNC_LATENCY_SECONDS=20 CDCSYNC_LATENCY_RATES=5000 make bench-latency
//
// Figures are recorded in the README; nothing here asserts a timing.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the landing table is read back
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// latencySeconds is how long the producer offers load at each rate
// (CDCSYNC_LATENCY_SECONDS, default 60).
func latencySeconds() float64 {
	if s := os.Getenv("CDCSYNC_LATENCY_SECONDS"); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return n
		}
	}
	return 60
}

// latencyRates are the offered loads in events per second
// (CDCSYNC_LATENCY_RATES, comma-separated, default 5000,20000).
func latencyRates(b *testing.B) []int {
	s := os.Getenv("CDCSYNC_LATENCY_RATES")
	if s == "" {
		return []int{5000, 20000}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("CDCSYNC_LATENCY_RATES: %q is not a positive rate", f)
		}
		out = append(out, n)
	}
	return out
}

func BenchmarkLatency(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "cdcsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cdcsync").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	secs := latencySeconds()
	// CDCSYNC_LATENCY_WORKLOAD=bank offers bank transfers with Debezium's
	// transaction metadata instead, applied table by table and then whole
	// (transactions: per_table, consistent): the latency cost of
	// transaction-consistent apply, measured in one run.
	modes := []string{""}
	if os.Getenv("CDCSYNC_LATENCY_WORKLOAD") == "bank" {
		modes = []string{"per_table", "consistent"}
	}
	for _, rate := range latencyRates(b) {
		for _, mode := range modes {
			name := fmt.Sprintf("rate=%d", rate)
			if mode != "" {
				name += "/transactions=" + mode
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					runLatency(b, bin, filepath.Join(dir, fmt.Sprintf("r%d-%s-%d", rate, mode, i)), rate, secs, mode)
				}
			})
		}
	}
}

// latencyLoad is the workload a latency run offers.
type latencyLoad struct {
	events     []workload.Event
	topics     []string
	regex      string
	partitions int
	columns    map[string]map[string]string // declared column types by table
	// notLanded[i] counts the records before i that no landing table
	// gets (the transaction topic's); nil when every record is landed.
	notLanded []int32
}

// landedIn is how many of the first n records the landing tables get.
func (l latencyLoad) landedIn(n int) int {
	if l.notLanded == nil {
		return n
	}
	return n - int(l.notLanded[n])
}

// newLatencyLoad makes rate×secs records of the recipe's workload, or of
// bank transfers with transaction metadata (bank).
func newLatencyLoad(rate int, secs float64, bank bool) latencyLoad {
	n := int(float64(rate) * secs)
	if bank {
		// A transfer is six records: BEGIN, four events, END.
		bk := workload.NewBank(1, 500, n/6, 4)
		l := latencyLoad{events: bk.Stream(), topics: []string{workload.BankAccountsTopic, workload.BankLedgerTopic, workload.BankTxTopic},
			regex: workload.BankTopicRegex, partitions: 4, columns: workload.BankColumns}
		l.notLanded = make([]int32, len(l.events)+1)
		for i, e := range l.events {
			l.notLanded[i+1] = l.notLanded[i]
			if e.Topic == workload.BankTxTopic {
				l.notLanded[i+1]++
			}
		}
		return l
	}
	// Events without schemas (the recipe's setup) keep a minute of 20,000
	// events/s in memory twice (here and in kfake) within a few GiB.
	w := workload.New(workload.Options{Seed: 1, Partitions: 4, SnapshotRows: 500,
		Ops: n, PKChanges: true, Tombstones: true})
	l := latencyLoad{events: w.Events, regex: w.TopicRegex(), partitions: w.Opts.Partitions, columns: map[string]map[string]string{}}
	for _, t := range w.Tables {
		l.topics = append(l.topics, w.Topic(t))
		l.columns[t.Name] = t.DeclaredTypes()
	}
	return l
}

// latencyResult is one run's figures.
type latencyResult struct {
	produced       int
	offered        float64 // events/s the producer achieved
	produceSeconds float64
	drainSeconds   float64 // from the last produce to the last event applied
	applied        float64 // events/s, first produce to last event applied
	hist, sql      map[string][3]float64
	apply          [3]float64 // cdcsync_batch_apply_seconds
	landingRows    int
}

func runLatency(b *testing.B, bin, dir string, rate int, secs float64, txMode string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	w := newLatencyLoad(rate, secs, txMode != "")
	topics := w.topics
	metricsAddr := freeAddr(b)
	cfg := fmt.Sprintf("landing:\n  enabled: true\nmetrics_listen: %s\ntables:\n", metricsAddr)
	for table, cols := range w.columns {
		cfg += fmt.Sprintf("  %s:\n    columns:\n", table)
		for col, typ := range cols {
			cfg += fmt.Sprintf("      %s: %q\n", col, typ)
		}
	}
	if txMode != "" {
		cfg += "transactions: " + txMode + "\n"
	}
	cfg += os.Getenv("CDCSYNC_BENCH_CONFIG")
	cfgPath := filepath.Join(dir, "latency.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := kafkatest.Start(int32(w.partitions), topics...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	target := filepath.Join(dir, "latency.duckdb")
	logPath := filepath.Join(dir, "cdcsync.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--brokers", c.Addr(),
		"--topics", w.regex, "--target", target)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed: its exit status says nothing
		}
	}()
	failf := func(format string, args ...any) {
		log, _ := os.ReadFile(logPath)
		b.Fatalf(format+"\ncdcsync's log:\n%s", append(args, tail(log, 4000))...)
	}

	// Offer load only once the binary owns every partition, so that the
	// figures are not the group join's.
	partitions := len(topics) * w.partitions
	if err := waitFor(60*time.Second, exited, func() (bool, error) {
		m, err := scrape(metricsAddr)
		if err != nil {
			return false, nil // not listening yet
		}
		return len(m.samples("cdcsync_lag_records")) == partitions, nil
	}); err != nil {
		failf("waiting for cdcsync to own the partitions: %v", err)
	}

	var r latencyResult
	r.produced, r.produceSeconds, err = producePaced(c.Addr(), w.events, rate, secs)
	if err != nil {
		failf("produce: %v", err)
	}
	landed := w.landedIn(r.produced) // the producer may stop early
	w.events = nil
	producedAt := time.Now()
	r.offered = float64(r.produced) / r.produceSeconds
	b.Logf("offered %d events in %.1fs (%.0f/s); waiting for cdcsync to apply them", r.produced, r.produceSeconds, r.offered)

	var final *promText
	if err := waitFor(5*time.Minute, exited, func() (bool, error) {
		m, err := scrape(metricsAddr)
		if err != nil {
			return false, err
		}
		final = m
		return m.sum("cdcsync_events_total") >= float64(r.produced), nil
	}); err != nil {
		failf("waiting for cdcsync to apply %d events: %v", r.produced, err)
	}
	r.drainSeconds = time.Since(producedAt).Seconds()
	r.apply = final.quantiles("cdcsync_batch_apply_seconds", "", 0.5, 0.95, 0.99)
	r.hist = map[string][3]float64{}
	for _, from := range []string{"kafka", "source"} {
		r.hist[from] = final.quantiles("cdcsync_end_to_end_latency_seconds", from, 0.5, 0.95, 0.99)
	}

	stopped = true
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		failf("cdcsync: %v", err)
	}

	db, err := sql.Open("duckdb", target+"?access_mode=read_only")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var landedTopics []string
	for _, t := range topics {
		if t != workload.BankTxTopic {
			landedTopics = append(landedTopics, t)
		}
	}
	r.sql, r.landingRows, r.applied, err = landingLatency(db, landedTopics)
	if err != nil {
		b.Fatal(err)
	}
	if r.landingRows != landed {
		b.Errorf("landing tables hold %d rows, %d were produced for them", r.landingRows, landed)
	}

	b.ReportMetric(r.offered, "offered_events/s")
	b.ReportMetric(r.applied, "applied_events/s")
	b.ReportMetric(r.drainSeconds, "drain_s")
	for _, from := range []string{"kafka", "source"} {
		for i, q := range []string{"p50", "p95", "p99"} {
			b.ReportMetric(r.hist[from][i]*1000, fmt.Sprintf("%s_%s_hist_ms", q, from))
			b.ReportMetric(r.sql[from][i]*1000, fmt.Sprintf("%s_%s_sql_ms", q, from))
		}
	}
	for i, q := range []string{"p50", "p95", "p99"} {
		b.ReportMetric(r.apply[i]*1000, q+"_apply_ms")
	}
	if txMode != "" {
		fmt.Printf("\nbank transfers, transactions: %s", txMode)
	}
	fmt.Printf("\nrate %d events/s for %.0fs: offered %.0f events/s (%d events), applied %.0f events/s, drained %.1fs after the last produce; load average %s\n",
		rate, secs, r.offered, r.produced, r.applied, r.drainSeconds, loadAvg())
	fmt.Printf("%-36s %10s %10s %10s\n", "end-to-end latency", "p50", "p95", "p99")
	for _, from := range []string{"kafka", "source"} {
		for _, src := range []struct {
			name string
			q    [3]float64
		}{{"histogram", r.hist[from]}, {"landing SQL (to txn start)", r.sql[from]}} {
			fmt.Printf("%-36s %8.0fms %8.0fms %8.0fms\n", "from "+from+", "+src.name, src.q[0]*1000, src.q[1]*1000, src.q[2]*1000)
		}
	}
	fmt.Printf("%-36s %8.0fms %8.0fms %8.0fms\n", "batch apply, histogram", r.apply[0]*1000, r.apply[1]*1000, r.apply[2]*1000)
}

// producePaced produces the events at rate per second for at most secs
// seconds, paced by a token bucket holding one second of tokens: a
// producer the shared CPU delays catches up, as a source's backlog would,
// rather than offering less. Each event's
// Kafka timestamp and source.ts_ms are the moment it is produced. It
// returns how many events were produced and how long that took.
func producePaced(addr string, events []workload.Event, rate int, secs float64) (int, float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<16),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx := context.Background()
	var firstErr error
	done := func(_ *kgo.Record, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	burst := float64(rate)
	start := time.Now()
	deadline := start.Add(time.Duration(secs * float64(time.Second)))
	last, tokens := start, 1.0
	sent := 0
	for sent < len(events) {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		tokens = min(burst, tokens+float64(rate)*now.Sub(last).Seconds())
		last = now
		for ; tokens >= 1 && sent < len(events); tokens-- {
			e := &events[sent]
			stampSourceTs(e.Value, now.UnixMilli())
			r := &kgo.Record{Topic: e.Topic, Partition: e.Partition, Key: e.Key, Value: e.Value, Timestamp: now}
			for k, v := range e.Headers {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
			cl.Produce(ctx, r, done)
			events[sent] = workload.Event{} // kfake holds it now
			sent++
		}
		time.Sleep(time.Duration((1 - tokens) / float64(rate) * float64(time.Second)))
	}
	took := time.Since(start).Seconds()
	if err := cl.Flush(ctx); err != nil {
		return sent, took, err
	}
	return sent, took, firstErr
}

// stampSourceTs overwrites the envelope's two ts_ms values (source.ts_ms
// and the envelope's own) with ms, in place: the workload writes them as
// 13-digit milliseconds, as ms is.
func stampSourceTs(value []byte, ms int64) {
	digits := strconv.AppendInt(nil, ms, 10)
	key := []byte(`"ts_ms":`)
	for i := 0; ; {
		j := bytes.Index(value[i:], key)
		if j < 0 {
			return
		}
		i += j + len(key)
		if i+len(digits) <= len(value) && isDigits(value[i:i+len(digits)]) &&
			(i+len(digits) == len(value) || !isDigits(value[i+len(digits):i+len(digits)+1])) {
			copy(value[i:], digits)
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// landingLatency computes the latency percentiles over the landing rows of
// the topics' tables: refresh_time (the time of the batch's transaction)
// minus the Kafka timestamp, and minus source.ts_ms where the record has
// one. It also returns the rows and the events per second applied, from
// the first Kafka timestamp to the last refresh_time.
func landingLatency(db *sql.DB, topics []string) (map[string][3]float64, int, float64, error) {
	var parts []string
	for _, t := range topics {
		parts = append(parts, fmt.Sprintf(`SELECT epoch_ms(refresh_time) AS committed, epoch_ms(kafka_timestamp) AS kafka,
			TRY_CAST(json_extract(payload, '$.source.ts_ms') AS BIGINT) AS source FROM %s`,
			sqltext.Ident(warehouse.LandingTable(t[strings.LastIndex(t, ".")+1:]))))
	}
	q := `SELECT count(*),
		quantile_cont((committed - kafka) / 1000.0, [0.5, 0.95, 0.99]),
		quantile_cont((committed - source) / 1000.0, [0.5, 0.95, 0.99]) FILTER (WHERE source IS NOT NULL),
		count(*) / ((max(committed) - min(kafka)) / 1000.0)
		FROM (` + strings.Join(parts, " UNION ALL ") + `)`
	var n int
	var kafka, source []any
	var applied float64
	row := db.QueryRow(q)
	if err := row.Scan(&n, &kafka, &source, &applied); err != nil {
		return nil, 0, 0, fmt.Errorf("landing latency: %w", err)
	}
	out := map[string][3]float64{}
	for from, l := range map[string][]any{"kafka": kafka, "source": source} {
		var q [3]float64
		for i := range q {
			if i < len(l) {
				q[i], _ = l[i].(float64)
			}
		}
		out[from] = q
	}
	return out, n, applied, nil
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond every 100ms until it holds, it fails, the process
// exits or the timeout passes.
func waitFor(timeout time.Duration, exited <-chan error, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("cdcsync exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// loadAvg is the machine's 1, 5 and 15 minute load averages, for the
// record: the figures depend on what else runs.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// promText is a scrape in the Prometheus text format: each sample's name,
// labels and value.
type promText struct {
	all []promSample
}

type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

func scrape(addr string) (*promText, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseProm(resp.Body)
}

// parseProm parses the text format as client_golang writes it: label
// values without escaped quotes or commas, which holds for cdcsync's.
func parseProm(r io.Reader) (*promText, error) {
	m := &promText{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := promSample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				k, val, _ := strings.Cut(kv, "=")
				s.labels[k] = strings.Trim(val, `"`)
			}
			s.name = s.name[:i]
		}
		m.all = append(m.all, s)
	}
	return m, sc.Err()
}

func (m *promText) samples(name string) []promSample {
	var out []promSample
	for _, s := range m.all {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func (m *promText) sum(name string) float64 {
	var t float64
	for _, s := range m.samples(name) {
		t += s.value
	}
	return t
}

// quantiles estimates three quantiles of a histogram, summed over the
// series whose label from is from (all series when from is empty), as
// Prometheus's histogram_quantile does: linear interpolation within the
// bucket the rank falls in.
func (m *promText) quantiles(name, from string, qs ...float64) [3]float64 {
	cum := map[float64]float64{}
	for _, s := range m.samples(name + "_bucket") {
		if from != "" && s.labels["from"] != from {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		cum[le] += s.value
	}
	var bounds []float64
	for le := range cum {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	var out [3]float64
	if len(bounds) == 0 || cum[bounds[len(bounds)-1]] == 0 {
		return out
	}
	total := cum[bounds[len(bounds)-1]]
	for qi, q := range qs {
		if qi >= len(out) {
			break
		}
		rank := q * total
		lower, below := 0.0, 0.0
		for _, le := range bounds {
			if cum[le] >= rank {
				if math.IsInf(le, 1) {
					out[qi] = lower
				} else {
					out[qi] = lower + (le-lower)*(rank-below)/(cum[le]-below)
				}
				break
			}
			lower, below = le, cum[le]
		}
	}
	return out
}

package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// The metrics and health tests run a continuous pipeline on kfake into a
// real DuckDB and read its real HTTP endpoint. Events are written by hand,
// one change per key and phase, so every count is known: nothing is
// reduced away within a batch.

const (
	customersTopic = "shop.inventory.customers"
	ordersTopic    = "shop.inventory.orders"
)

// metricsConfig reads the two topics, 2 partitions each; rows have no
// schema and declare their types.
func metricsConfig(t *testing.T, addr string) pipeline.Config {
	cfg := testConfig(addr, `shop\.inventory\..*`)
	cfg.Tables = map[string]config.Table{
		"customers": {Columns: map[string]string{"id": "bigint", "name": "string"}},
		"orders":    {Columns: map[string]string{"id": "bigint", "name": "string"}},
	}
	return fromConfig(t, cfg, false)
}

// change is one Debezium event without schema: op c (insert) or d
// (delete) of key id, committed at the source at ts.
func change(topic string, id int64, op byte, ts time.Time) workload.Event {
	row := fmt.Sprintf(`{"id":%d,"name":"n%d"}`, id, id)
	before, after := "null", row
	if op == 'd' {
		before, after = row, "null"
	}
	ms := ts.UnixMilli()
	return workload.Event{Topic: topic, Partition: int32(id % 2), Key: fmt.Appendf(nil, `{"id":%d}`, id),
		Value: fmt.Appendf(nil, `{"before":%s,"after":%s,"source":{"ts_ms":%d,"db":"inventory"},"op":"%c","ts_ms":%d}`,
			before, after, ms, op, ms+5)}
}

// produced tallies events by table and partition, as the metrics must.
type produced struct {
	events, bytes map[string]int
	perPartition  map[string]int // "topic/partition"
}

func tally(events []workload.Event) produced {
	p := produced{events: map[string]int{}, bytes: map[string]int{}, perPartition: map[string]int{}}
	for _, e := range events {
		table := e.Topic[strings.LastIndexByte(e.Topic, '.')+1:]
		p.events[table]++
		p.bytes[table] += len(e.Key) + len(e.Value)
		p.perPartition[fmt.Sprintf("%s/%d", e.Topic, e.Partition)]++
	}
	return p
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func sec(d time.Duration) float64 { return d.Seconds() }
func unix(t time.Time) float64    { return float64(t.UnixNano()) / 1e9 }
func key(name string, kv ...string) string {
	pairs := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+kv[i+1])
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// scrape reads url's Prometheus text into name{label=value,…} → value;
// histograms as name_count and name_sum.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var kv []string
			for _, l := range m.GetLabel() {
				kv = append(kv, l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[key(name, kv...)] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key(name, kv...)] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key(name+"_count", kv...)] = float64(m.Histogram.GetSampleCount())
				out[key(name+"_sum", kv...)] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

// get returns the status and body of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually waits until cond holds, checking every few milliseconds, and
// fails after timeout with what the last check said.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronizing on time
	}
}

// caughtUpTo waits until every partition's lag is 0 and the events
// counted reach want.
func caughtUpTo(t *testing.T, url string, want int) map[string]float64 {
	t.Helper()
	var m map[string]float64
	eventually(t, 60*time.Second, func() (bool, string) {
		m = scrape(t, url)
		events, lag, series := 0.0, 0.0, 0
		for k, v := range m {
			switch {
			case strings.HasPrefix(k, "cdcsync_events_total{"):
				events += v
			case strings.HasPrefix(k, "cdcsync_lag_records{"):
				lag += v
				series++
			}
		}
		return int(events) == want && lag == 0 && series == 4, fmt.Sprintf("events %v of %d, lag %v over %d partitions", events, want, lag, series)
	})
	return m
}

// runPipeline starts a continuous pipeline and serves its endpoints; the
// returned stop ends it and reports its error.
func runPipeline(t *testing.T, cfg pipeline.Config, wh warehouse.Warehouse, clk *clock) (base string, stop func() error) {
	t.Helper()
	reg := prometheus.NewRegistry()
	met := pipeline.NewMetrics(reg)
	if clk != nil {
		pipeline.SetClock(met, clk.now)
	}
	p := pipeline.New(cfg, wh, testLogger(t), met)
	srv := httptest.NewServer(p.Handler(reg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Run(ctx)
		done <- err
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
			srv.Close()
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return srv.URL, stop
}

func TestMetrics_PerTableCountersLagAndFreshness(t *testing.T) {
	c := startKafka(t, nil, customersTopic, ordersTopic)
	ctx := context.Background()
	t0 := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(t0)

	// Phase 1: 30 customers and 20 orders inserted an hour before t0 (one
	// second apart), and one order that cannot be decoded.
	var phase1 []workload.Event
	var newestCustomer time.Time
	for i := int64(1); i <= 30; i++ {
		ts := t0.Add(-time.Hour + time.Duration(i)*time.Second)
		phase1 = append(phase1, change(customersTopic, i, 'c', ts))
		newestCustomer = ts
	}
	for i := int64(1); i <= 20; i++ {
		phase1 = append(phase1, change(ordersTopic, i, 'c', t0.Add(-time.Hour)))
	}
	phase1 = append(phase1, workload.Event{Topic: ordersTopic, Partition: 1, Key: []byte(`{"id":99}`), Value: []byte(`not json`)})
	if err := kafkatest.Produce(ctx, c.Addr(), phase1); err != nil {
		t.Fatal(err)
	}

	// The first batch is held before its transaction begins, so the
	// pipeline is scraped before it has committed anything.
	reached, release := make(chan struct{}), make(chan struct{})
	var hits atomic.Int32
	defer failpoint.Inject("before-begin", func() {
		if hits.Add(1) == 1 {
			close(reached)
			<-release
		}
	})()
	cfg := metricsConfig(t, c.Addr())
	cfg.MaxStall = 5 * time.Minute
	wh := openDuck(t, filepath.Join(t.TempDir(), "m.duckdb"))
	defer wh.Close()
	base, stop := runPipeline(t, cfg, wh, clk)
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatal("no batch reached the warehouse")
	}
	want := tally(phase1)
	m := scrape(t, base+"/metrics")
	for _, topic := range []string{customersTopic, ordersTopic} {
		table := topic[strings.LastIndexByte(topic, '.')+1:]
		for part := range 2 {
			k := key("cdcsync_lag_records", "topic", topic, "partition", fmt.Sprint(part), "table", table)
			if got, w := m[k], want.perPartition[fmt.Sprintf("%s/%d", topic, part)]; got != float64(w) || w == 0 {
				t.Errorf("before the first commit %s = %v, want %d (every record produced)", k, got, w)
			}
		}
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz within health.max_stall = %d %s, want 200", code, body)
	}
	// Past max_stall with records waiting: not ready, and says why.
	clk.set(t0.Add(6 * time.Minute))
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "health.max_stall") ||
		strings.Count(strings.TrimSpace(body), "\n") != 0 {
		t.Errorf("/readyz stalled with lag = %d %q, want 503 with a one-line reason naming health.max_stall", code, body)
	}
	if m := scrape(t, base+"/metrics"); m["cdcsync_ready{}"] != 0 {
		t.Errorf("cdcsync_ready = %v while /readyz fails, want 0", m["cdcsync_ready{}"])
	}
	commit1 := t0.Add(6 * time.Minute)
	close(release)

	m = caughtUpTo(t, base+"/metrics", len(phase1))
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz caught up = %d %s, want 200 (nothing to do)", code, body)
	}
	if m["cdcsync_ready{}"] != 1 {
		t.Errorf("cdcsync_ready = %v after catch-up, want 1", m["cdcsync_ready{}"])
	}
	expect := map[string]float64{
		key("cdcsync_events_total", "table", "customers"):                                       float64(want.events["customers"]),
		key("cdcsync_events_total", "table", "orders"):                                          float64(want.events["orders"]),
		key("cdcsync_bytes_total", "table", "customers"):                                        float64(want.bytes["customers"]),
		key("cdcsync_bytes_total", "table", "orders"):                                           float64(want.bytes["orders"]),
		key("cdcsync_rows_total", "table", "customers", "op", "upsert"):                         30,
		key("cdcsync_rows_total", "table", "orders", "op", "upsert"):                            20,
		key("cdcsync_dead_letters_total", "table", "orders"):                                    1,
		key("cdcsync_end_to_end_latency_seconds_count", "table", "customers", "from", "source"): 30,
		key("cdcsync_end_to_end_latency_seconds_count", "table", "customers", "from", "kafka"):  30,
		key("cdcsync_freshness_seconds", "table", "customers"):                                  sec(commit1.Sub(newestCustomer)),
		key("cdcsync_freshness_seconds", "table", "orders"):                                     sec(commit1.Sub(t0.Add(-time.Hour))),
		key("cdcsync_last_commit_timestamp_seconds", "table", "customers"):                      unix(commit1),
	}
	check := func(m map[string]float64, expect map[string]float64) {
		t.Helper()
		for k, w := range expect {
			if got, ok := m[k]; !ok || got != w {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, w)
			}
		}
	}
	check(m, expect)
	if got := m[key("cdcsync_rows_total", "table", "customers", "op", "delete")]; got != 0 {
		t.Errorf("customers deletes = %v, want 0", got)
	}

	// Phase 2: only orders change — 5 deleted, 10 inserted, at t0+8m —
	// while customers receive nothing: their freshness keeps growing.
	clk.set(t0.Add(10 * time.Minute))
	if m := scrape(t, base+"/metrics"); m[key("cdcsync_freshness_seconds", "table", "customers")] != sec(t0.Add(10*time.Minute).Sub(newestCustomer)) {
		t.Errorf("customers' freshness with nothing applied = %v, want %v (grown with the clock)",
			m[key("cdcsync_freshness_seconds", "table", "customers")], sec(t0.Add(10*time.Minute).Sub(newestCustomer)))
	}
	var phase2 []workload.Event
	for i := int64(1); i <= 5; i++ {
		phase2 = append(phase2, change(ordersTopic, i, 'd', t0.Add(8*time.Minute)))
	}
	for i := int64(21); i <= 30; i++ {
		phase2 = append(phase2, change(ordersTopic, i, 'c', t0.Add(8*time.Minute)))
	}
	if err := kafkatest.Produce(ctx, c.Addr(), phase2); err != nil {
		t.Fatal(err)
	}
	m = caughtUpTo(t, base+"/metrics", len(phase1)+len(phase2))
	commit2 := t0.Add(10 * time.Minute)
	want2 := tally(append(append([]workload.Event(nil), phase1...), phase2...))
	check(m, map[string]float64{
		key("cdcsync_events_total", "table", "customers"):                                    float64(want2.events["customers"]),
		key("cdcsync_events_total", "table", "orders"):                                       float64(want2.events["orders"]),
		key("cdcsync_bytes_total", "table", "orders"):                                        float64(want2.bytes["orders"]),
		key("cdcsync_rows_total", "table", "orders", "op", "upsert"):                         30,
		key("cdcsync_rows_total", "table", "orders", "op", "delete"):                         5,
		key("cdcsync_freshness_seconds", "table", "customers"):                               sec(commit2.Sub(newestCustomer)),
		key("cdcsync_freshness_seconds", "table", "orders"):                                  sec(2 * time.Minute),
		key("cdcsync_last_commit_timestamp_seconds", "table", "customers"):                   unix(commit1),
		key("cdcsync_last_commit_timestamp_seconds", "table", "orders"):                      unix(commit2),
		key("cdcsync_end_to_end_latency_seconds_count", "table", "orders", "from", "source"): 35,
	})
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestReadyz_StuckWarehouseFails fills the disk of the DuckDB file while
// events wait: /readyz answers 503 with the warehouse's error, transient
// errors are counted, and once the disk has room the pipeline catches up
// and is ready again.
func TestReadyz_StuckWarehouseFails(t *testing.T) {
	open, inject, clear := duckdbDiskFull(t)
	c := startKafka(t, nil, customersTopic, ordersTopic)
	ctx := context.Background()
	now := time.Now()
	var first, second []workload.Event
	for i := int64(1); i <= 10; i++ {
		first = append(first, change(customersTopic, i, 'c', now), change(ordersTopic, i, 'c', now))
		second = append(second, change(customersTopic, 100+i, 'c', now), change(ordersTopic, 100+i, 'c', now))
	}
	if err := kafkatest.Produce(ctx, c.Addr(), first); err != nil {
		t.Fatal(err)
	}
	wh := open()
	defer wh.Close()
	base, stop := runPipeline(t, metricsConfig(t, c.Addr()), wh, nil)
	caughtUpTo(t, base+"/metrics", len(first))
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz caught up = %d %s, want 200", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}

	inject()
	cleared := false
	defer func() {
		if !cleared {
			clear()
		}
	}()
	if err := kafkatest.Produce(ctx, c.Addr(), second); err != nil {
		t.Fatal(err)
	}
	var body string
	eventually(t, 60*time.Second, func() (bool, string) {
		var code int
		code, body = get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable, fmt.Sprintf("/readyz = %d %s with the disk full", code, body)
	})
	if !strings.Contains(body, `"reason":"warehouse error:`) || strings.Count(strings.TrimSpace(body), "\n") != 0 {
		t.Errorf("/readyz body = %q, want one line of JSON with the warehouse's error as the reason", body)
	}
	m := scrape(t, base+"/metrics")
	if m[key("cdcsync_warehouse_errors_total", "class", "transient")] < 1 || m["cdcsync_ready{}"] != 0 {
		t.Errorf("with the disk full: transient errors %v, ready %v; want ≥ 1 and 0",
			m[key("cdcsync_warehouse_errors_total", "class", "transient")], m["cdcsync_ready{}"])
	}
	var lag float64
	for k, v := range m {
		if strings.HasPrefix(k, "cdcsync_lag_records{") {
			lag += v
		}
	}
	if lag != float64(len(second)) {
		t.Errorf("lag with the warehouse stuck = %v, want %d", lag, len(second))
	}

	clear()
	cleared = true
	caughtUpTo(t, base+"/metrics", len(first)+len(second))
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the disk has room = %d %s, want 200", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Metrics are the pipeline's Prometheus metrics. Labels are bounded: table
// names (one per matched topic), topics and partitions, operations and
// error classes.
type Metrics struct {
	events         *prometheus.CounterVec // table
	bytes          *prometheus.CounterVec // table
	rows           *prometheus.CounterVec // table, op
	deadLetters    *prometheus.CounterVec // table
	batches        prometheus.Counter
	skipped        prometheus.Counter
	retries        prometheus.Counter
	registryErrors prometheus.Counter
	whErrors       *prometheus.CounterVec // class
	applyTime      prometheus.Histogram
	batchEvents    prometheus.Histogram
	latency        *prometheus.HistogramVec // table, from
	txHeld         prometheus.Gauge
	txForced       prometheus.Counter

	// The gauges are computed at scrape time (see Collect), so that
	// freshness keeps growing while nothing is applied.
	freshnessDesc, lastCommitDesc, lagDesc, readyDesc *prometheus.Desc

	now func() time.Time // the clock; tests set it (see export_test.go)

	mu      sync.Mutex
	tables  map[string]*tableTimes
	started time.Time // when the pipeline was made: the status page's series begin there

	p atomic.Pointer[Pipeline] // the pipeline the gauges describe
}

// tableTimes are what the scrape-time gauges and the status page need of
// a table.
type tableTimes struct {
	newestSourceMs int64       // source commit time of the newest change applied
	lastCommit     time.Time   // warehouse commit of the table's last batch
	status         tableStatus // what only the status page shows (status.go)
}

// latencyBuckets span 5ms to about 1.5 hours.
var latencyBuckets = prometheus.ExponentialBuckets(0.005, 2, 21)

// NewMetrics creates the metrics and registers them with reg, when reg is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_events_total",
			Help: "Kafka records consumed and committed, by table."}, []string{"table"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_bytes_total",
			Help: "Key and value bytes of the Kafka records consumed and committed, by table."}, []string{"table"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_rows_total",
			Help: "Target-table rows changed, by table and operation (upsert, delete)."}, []string{"table", "op"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_dead_letters_total",
			Help: "Records written to the dead-letter table, by table."}, []string{"table"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_batches_total",
			Help: "Batches committed to the warehouse."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_skipped_total",
			Help: "Records that carry no row change (schema changes, transaction metadata, heartbeats)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_warehouse_retries_total",
			Help: "Batches retried after a transient warehouse error."}),
		registryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_schema_registry_errors_total",
			Help: "Failed schema registry requests (the records wait and the request is retried)."}),
		whErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_warehouse_errors_total",
			Help: "Failed batch applies, by class: transient (retried), rejected (a value; the batch is applied in parts), fatal (stops), fenced (another consumer committed)."},
			[]string{"class"}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cdcsync_batch_apply_seconds",
			Help: "Time to apply one batch to the warehouse, retries included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cdcsync_batch_events",
			Help: "Records per batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cdcsync_end_to_end_latency_seconds",
			Help:    "Time from a change's source commit (from=source) or Kafka append (from=kafka) to the warehouse commit of its batch.",
			Buckets: latencyBuckets}, []string{"table", "from"}),
		txHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cdcsync_transactions_held_records",
			Help: "Records held back until their source transaction is whole (transactions: consistent)."}),
		txForced: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_transactions_incomplete_total",
			Help: "Source transactions applied before they were whole, because they waited transactions.max_wait or outgrew transactions.max_held_events/max_held_bytes."}),
		freshnessDesc: prometheus.NewDesc("cdcsync_freshness_seconds",
			"Now minus the source commit time of the newest change applied to the table; grows while nothing is applied.", []string{"table"}, nil),
		lastCommitDesc: prometheus.NewDesc("cdcsync_last_commit_timestamp_seconds",
			"Warehouse commit time of the table's last applied batch, in unix seconds.", []string{"table"}, nil),
		lagDesc: prometheus.NewDesc("cdcsync_lag_records",
			"Records between the committed offset and the partition's high watermark.", []string{"topic", "partition", "table"}, nil),
		readyDesc: prometheus.NewDesc("cdcsync_ready", "1 when /readyz answers 200.", nil, nil),
		now:       time.Now,
		tables:    map[string]*tableTimes{},
	}
	if reg != nil {
		reg.MustRegister(m.events, m.bytes, m.rows, m.deadLetters, m.batches, m.skipped, m.retries, m.registryErrors, m.whErrors,
			m.applyTime, m.batchEvents, m.latency, m.txHeld, m.txForced, m)
	}
	return m
}

// RegisterBuildInfo registers cdcsync_build_info{version,goversion} = 1.
func RegisterBuildInfo(reg prometheus.Registerer, version string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cdcsync_build_info",
		Help: "Always 1: the running build's version and Go version."}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(g)
}

// Describe implements prometheus.Collector for the scrape-time gauges.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.freshnessDesc
	ch <- m.lastCommitDesc
	ch <- m.lagDesc
	ch <- m.readyDesc
}

// Collect implements prometheus.Collector for the scrape-time gauges.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	now := m.now()
	m.mu.Lock()
	for name, t := range m.tables {
		if t.newestSourceMs > 0 {
			age := now.Sub(time.UnixMilli(t.newestSourceMs)).Seconds()
			ch <- prometheus.MustNewConstMetric(m.freshnessDesc, prometheus.GaugeValue, max(age, 0), name)
		}
		if !t.lastCommit.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.lastCommitDesc, prometheus.GaugeValue,
				float64(t.lastCommit.UnixNano())/1e9, name)
		}
	}
	m.mu.Unlock()
	p := m.p.Load()
	if p == nil {
		return
	}
	for _, l := range p.lags() {
		ch <- prometheus.MustNewConstMetric(m.lagDesc, prometheus.GaugeValue, float64(l.lag),
			l.tp.Topic, itoa(l.tp.Partition), p.asm.tableName(l.tp.Topic))
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	ready := 0.0
	if ok, _ := p.Ready(ctx); ok {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(m.readyDesc, prometheus.GaugeValue, ready)
}

// attach makes the scrape-time gauges describe p.
func (m *Metrics) attach(p *Pipeline) {
	m.mu.Lock()
	m.started = m.now()
	m.mu.Unlock()
	m.p.Store(p)
}

// batchTables is what the metrics keep of a batch's tables before the
// warehouse applies it (Apply may reorder and filter them).
type batchTables []*batch.Table

func tablesOf(b *batch.Batch) batchTables { return append(batchTables(nil), b.Tables...) }

// observe records a committed batch.
func (m *Metrics) observe(b *batch.Batch, tables batchTables, st warehouse.Stats, took time.Duration,
	committed time.Time, tableName func(topic string) string) {
	for topic, n := range b.Topics {
		name := tableName(topic)
		m.events.WithLabelValues(name).Add(float64(n.Events))
		m.bytes.WithLabelValues(name).Add(float64(n.Bytes))
	}
	for name, t := range st.Tables {
		if t.Upserts > 0 {
			m.rows.WithLabelValues(name, "upsert").Add(float64(t.Upserts))
		}
		if t.Deletes > 0 {
			m.rows.WithLabelValues(name, "delete").Add(float64(t.Deletes))
		}
		if t.DeadLetters > 0 {
			m.deadLetters.WithLabelValues(name).Add(float64(t.DeadLetters))
		}
	}
	m.batches.Inc()
	m.skipped.Add(float64(b.Skipped))
	m.applyTime.Observe(took.Seconds())
	m.batchEvents.Observe(float64(b.Events))

	newest := map[string]int64{}
	for _, tb := range tables {
		fromSource := m.latency.WithLabelValues(tb.Name, "source")
		fromKafka := m.latency.WithLabelValues(tb.Name, "kafka")
		n := newest[tb.Name]
		for i := range tb.Landing {
			r := &tb.Landing[i]
			if r.SourceTs > 0 {
				fromSource.Observe(max(committed.Sub(time.UnixMilli(r.SourceTs)).Seconds(), 0))
				n = max(n, r.SourceTs)
			}
			if !r.Timestamp.IsZero() {
				fromKafka.Observe(max(committed.Sub(r.Timestamp).Seconds(), 0))
			}
		}
		newest[tb.Name] = n
	}
	m.record(newest, tableEvents(b, tableName), st, committed)
}

// warehouseError counts a failed apply by its class.
func (m *Metrics) warehouseError(err error) {
	m.whErrors.WithLabelValues(string(warehouse.Classify(err))).Inc()
}

package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	events      prometheus.Counter
	batches     prometheus.Counter
	rows        *prometheus.CounterVec
	deadLetters prometheus.Counter
	skipped     prometheus.Counter
	retries     prometheus.Counter
	applyTime   prometheus.Histogram
	batchEvents prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg, when reg is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_events_total",
			Help: "Kafka records consumed and committed."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_batches_total",
			Help: "Batches committed to the warehouse."}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdcsync_rows_total",
			Help: "Target-table rows changed, by operation (upsert, delete, truncate, landed)."}, []string{"op"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_dead_letters_total",
			Help: "Records written to the dead-letter table."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_skipped_total",
			Help: "Records that carry no row change (schema changes, transaction metadata, heartbeats)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcsync_warehouse_retries_total",
			Help: "Batches retried after a transient warehouse error."}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cdcsync_batch_apply_seconds",
			Help: "Time to apply one batch to the warehouse.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cdcsync_batch_events",
			Help: "Records per batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.batches, m.rows, m.deadLetters, m.skipped, m.retries, m.applyTime, m.batchEvents)
	}
	return m
}

func (m *Metrics) observe(b *batch.Batch, st warehouse.Stats, took time.Duration) {
	m.events.Add(float64(b.Events))
	m.batches.Inc()
	m.rows.WithLabelValues("upsert").Add(float64(st.Upserts))
	m.rows.WithLabelValues("delete").Add(float64(st.Deletes))
	m.rows.WithLabelValues("truncate").Add(float64(st.Truncates))
	m.rows.WithLabelValues("landed").Add(float64(st.Landed))
	m.deadLetters.Add(float64(st.DeadLetters))
	m.skipped.Add(float64(b.Skipped))
	m.applyTime.Observe(took.Seconds())
	m.batchEvents.Observe(float64(b.Events))
}

package pipeline

import (
	"time"

	dto "github.com/prometheus/client_model/go"
)

// SetClock sets the clock the metrics' gauges and the readiness check
// read; before New.
func SetClock(m *Metrics, now func() time.Time) { m.now = now }

// IncompleteTransactions reads cdcsync_transactions_incomplete_total.
func IncompleteTransactions(m *Metrics) float64 {
	var d dto.Metric
	if err := m.txForced.Write(&d); err != nil {
		return -1
	}
	return d.GetCounter().GetValue()
}

package pipeline

import "time"

// SetClock sets the clock the metrics' gauges and the readiness check
// read; before New.
func SetClock(m *Metrics, now func() time.Time) { m.now = now }

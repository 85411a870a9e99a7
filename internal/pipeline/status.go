package pipeline

import (
	"context"
	_ "embed" // the status page
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// The status page (status.html, served at /) polls /status.json, which is
// computed from the state the scrape-time gauges read (Metrics.tables and
// the pipeline's lags), plus per-table counters and a ring of one-second
// samples kept beside them: the charts have the last historySeconds of
// history as soon as the page opens, whoever was looking before.

//go:embed status.html
var statusPage []byte

// historySeconds is how far back the status page's charts go.
const historySeconds = 300

// maxReasonLen bounds a dead-letter reason on the status page.
const maxReasonLen = 300

// tableStatus is what the status page shows of a table beyond the gauges.
type tableStatus struct {
	events, upserts, deletes, deadLetters int64
	lastReason                            string // of the newest dead letter
	lastReasonAt                          time.Time
	ring                                  [historySeconds]second
}

// second is one second of a table's history.
type second struct {
	unix int64 // the second; 0 for a slot never written
	rows int64 // rows upserted or deleted
	// before and after are the table's newest source commit time (unix
	// ms) at the second's start and end.
	before, after int64
}

// at returns the sample of the second of t, starting it with newest when
// the slot holds an older second.
func (s *tableStatus) at(t time.Time, newest int64) *second {
	u := t.Unix()
	sl := &s.ring[((u%historySeconds)+historySeconds)%historySeconds]
	if sl.unix != u {
		*sl = second{unix: u, before: newest, after: newest}
	}
	return sl
}

// table returns name's entry, creating it; m.mu is held.
func (m *Metrics) table(name string) *tableTimes {
	t := m.tables[name]
	if t == nil {
		t = &tableTimes{}
		m.tables[name] = t
	}
	return t
}

// record updates the per-table state of a committed batch: newest are the
// newest source commit times by table, events the records by table.
func (m *Metrics) record(newest map[string]int64, events map[string]int, st warehouse.Stats, committed time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, n := range newest {
		t := m.table(name)
		s := t.status.at(committed, t.newestSourceMs)
		t.newestSourceMs = max(t.newestSourceMs, n)
		t.lastCommit = committed
		s.after = t.newestSourceMs
	}
	for name, n := range events {
		m.table(name).status.events += int64(n)
	}
	for name, ts := range st.Tables {
		t := m.table(name)
		t.status.upserts += int64(ts.Upserts)
		t.status.deletes += int64(ts.Deletes)
		t.status.deadLetters += int64(ts.DeadLetters)
		if ts.DeadLetterReason != "" {
			t.status.lastReason = shortLine(ts.DeadLetterReason)
			t.status.lastReasonAt = committed
		}
		t.status.at(committed, t.newestSourceMs).rows += int64(ts.Upserts + ts.Deletes)
	}
}

// shortLine is s redacted, on one line, at most maxReasonLen bytes.
func shortLine(s string) string {
	s = strings.Join(strings.Fields(redact.Known(s)), " ")
	if len(s) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Status is the status page's data, served as /status.json.
type Status struct {
	Now   int64  `json:"now_ms"`
	Ready bool   `json:"ready"`
	Why   string `json:"reason,omitempty"` // why not ready
	// Start is the unix ms of the first point of every table's series,
	// one point a second, the last one now.
	Start  int64         `json:"series_start_ms"`
	Tables []TableStatus `json:"tables"`
}

// TableStatus is one table's row and series on the status page. Times are
// unix ms, 0 when unknown; a freshness of -1 means no change applied yet.
type TableStatus struct {
	Table        string    `json:"table"`
	Events       int64     `json:"events"`
	Upserts      int64     `json:"upserts"`
	Deletes      int64     `json:"deletes"`
	DeadLetters  int64     `json:"dead_letters"`
	LastCommit   int64     `json:"last_commit_ms"`
	Freshness    float64   `json:"freshness_seconds"`
	Lag          int64     `json:"lag_records"`
	LastError    string    `json:"last_error,omitempty"`
	LastErrorAt  int64     `json:"last_error_ms,omitempty"`
	RowsPerSec   []int64   `json:"rows_per_second"`  // -1 before the process started
	FreshnessSec []float64 `json:"freshness_series"` // -1 where unknown
}

// Status returns the pipeline's current status.
func (p *Pipeline) Status(ctx context.Context) Status {
	m := p.met
	now := m.now()
	ready, why := p.Ready(ctx)
	lag := map[string]int64{}
	for _, l := range p.lags() {
		lag[p.asm.tableName(l.tp.Topic)] += l.lag
	}
	out := Status{Now: now.UnixMilli(), Ready: ready, Why: why,
		Start: (now.Unix() - historySeconds + 1) * 1000}
	m.mu.Lock()
	for name, t := range m.tables {
		out.Tables = append(out.Tables, t.status.row(name, t, now, m.started, lag[name]))
	}
	for name, n := range lag { // tables with nothing applied yet
		if _, ok := m.tables[name]; !ok {
			out.Tables = append(out.Tables, (&tableStatus{}).row(name, &tableTimes{}, now, m.started, n))
		}
	}
	m.mu.Unlock()
	sort.Slice(out.Tables, func(i, j int) bool { return out.Tables[i].Table < out.Tables[j].Table })
	return out
}

// row is the table's status at now; the series are unknown (-1) before
// started. m.mu is held.
func (s *tableStatus) row(name string, t *tableTimes, now, started time.Time, lag int64) TableStatus {
	r := TableStatus{Table: name, Events: s.events, Upserts: s.upserts, Deletes: s.deletes,
		DeadLetters: s.deadLetters, Lag: lag, LastError: s.lastReason, Freshness: -1,
		RowsPerSec: make([]int64, historySeconds), FreshnessSec: make([]float64, historySeconds)}
	if !t.lastCommit.IsZero() {
		r.LastCommit = t.lastCommit.UnixMilli()
	}
	if !s.lastReasonAt.IsZero() {
		r.LastErrorAt = s.lastReasonAt.UnixMilli()
	}
	nowMs := now.UnixMilli()
	age := func(at, newest int64) float64 {
		if newest <= 0 {
			return -1
		}
		return math.Round(max(float64(at-newest)/1000, 0)*10) / 10
	}
	r.Freshness = age(nowMs, t.newestSourceMs)

	// The newest source time before the window is the first sample's
	// "before"; without samples in the window it is the current one.
	first := now.Unix() - historySeconds + 1
	newest, earliest := t.newestSourceMs, int64(math.MaxInt64)
	for i := range s.ring {
		if sl := &s.ring[i]; sl.unix >= first && sl.unix <= now.Unix() && sl.unix < earliest {
			earliest, newest = sl.unix, sl.before
		}
	}
	for i := range historySeconds {
		u := first + int64(i)
		if u < started.Unix() {
			r.RowsPerSec[i], r.FreshnessSec[i] = -1, -1
			continue
		}
		if sl := &s.ring[((u%historySeconds)+historySeconds)%historySeconds]; sl.unix == u {
			r.RowsPerSec[i] = sl.rows
			newest = sl.after
		}
		r.FreshnessSec[i] = age(min((u+1)*1000, nowMs), newest)
	}
	return r
}

// serveStatus serves the page at / and its data at /status.json.
func (p *Pipeline) serveStatus(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(statusPage)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, p.Status(r.Context()))
	})
}

// tableEvents counts a batch's records by table.
func tableEvents(b *batch.Batch, tableName func(topic string) string) map[string]int {
	out := map[string]int{}
	for topic, n := range b.Topics {
		out[tableName(topic)] += n.Events
	}
	return out
}

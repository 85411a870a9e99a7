// Package progress shows how far long work got — records or rows done,
// the total when it is known, the rate and the time left — as one live
// line on a terminal, or as periodic log lines when stderr is not one (a
// file, a pipe, the journal).
//
// A Reporter is fed counts (Update) by the work as often as it likes and
// decides itself when to draw: a terminal line at most Redraw apart, a log
// line at most Every apart. The rate is measured over the last Window, and
// the time left from how fast the remaining work shrinks over it, so that
// a total that grows while the work runs (a catch-up whose producers keep
// writing) gives an honest estimate. The clock is injected for tests.
package progress

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultEvery  = 10 * time.Second
	DefaultRedraw = 250 * time.Millisecond
	DefaultWindow = 10 * time.Second
)

// Options say where progress goes. The zero value reports nothing.
type Options struct {
	// Term, when set, is the terminal the live line is drawn on; Log is
	// then not used for progress.
	Term *Terminal
	// Log receives a progress line every Every when there is no terminal.
	Log *slog.Logger
	// Every is the interval of log lines (DefaultEvery when zero).
	Every time.Duration
	// Redraw is the least interval between two draws of the terminal
	// line (DefaultRedraw when zero).
	Redraw time.Duration
	// Window is how far back the rate is measured (DefaultWindow when
	// zero).
	Window time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Style is how a line states the amount of work.
type Style int

const (
	// OfTotal states done of total: "12.3k of 50k rows (24%)".
	OfTotal Style = iota
	// Behind states what is left: "1.2M records behind, 2.2M done" (a
	// catch-up, whose total is what was done plus what is left, and grows).
	Behind
)

// Reporter reports one piece of long work. It is safe for concurrent use.
type Reporter struct {
	opts  Options
	what  string // e.g. "draining", "verify orders"
	unit  string // e.g. "records"
	style Style

	mu       sync.Mutex
	start    time.Time
	samples  []sample // oldest first; samples[0] is the rate's baseline
	cur      sample
	lastDraw time.Time
	lastLog  time.Time
	logged   bool
	ended    bool
}

// sample is the work's state at one time; remaining is -1 when unknown.
type sample struct {
	t         time.Time
	done      int64
	remaining int64
}

// Start begins reporting work named what, counted in unit.
func (o Options) Start(what, unit string, style Style) *Reporter {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Redraw <= 0 {
		o.Redraw = DefaultRedraw
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	s := sample{t: now, remaining: -1}
	return &Reporter{opts: o, what: what, unit: unit, style: style, start: now, lastLog: now,
		samples: []sample{s}, cur: s}
}

// Update records that done units are done of total (total < 0: unknown),
// and draws or logs when it is time to.
func (r *Reporter) Update(done, total int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	now := r.opts.Now()
	rem := int64(-1)
	if total >= 0 {
		rem = max(total-done, 0)
	}
	r.cur = sample{t: now, done: done, remaining: rem}
	r.addSample(r.cur)
	switch {
	case r.opts.Term != nil:
		if now.Sub(r.lastDraw) >= r.opts.Redraw {
			r.lastDraw = now
			r.opts.Term.Show(r.line(now))
		}
	case r.opts.Log != nil:
		if now.Sub(r.lastLog) >= r.opts.Every {
			r.lastLog = now
			r.logged = true
			r.log(now)
		}
	}
}

// End stops reporting: it clears the terminal line, or, when progress
// was logged, logs the final state. Later calls do nothing.
func (r *Reporter) End() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.ended = true
	if r.opts.Term != nil {
		r.opts.Term.Clear()
		return
	}
	if r.logged && r.opts.Log != nil {
		r.log(r.opts.Now())
	}
}

// addSample keeps one sample per tenth of the window, and the newest one
// at least a window old as the baseline.
func (r *Reporter) addSample(s sample) {
	switch last := &r.samples[len(r.samples)-1]; {
	case !s.t.After(last.t):
		*last = s // at the same time: the newer counts
	case s.t.Sub(last.t) >= r.opts.Window/10:
		r.samples = append(r.samples, s)
	}
	cut := s.t.Add(-r.opts.Window)
	i := 0
	for i+1 < len(r.samples) && !r.samples[i+1].t.After(cut) {
		i++
	}
	r.samples = r.samples[i:]
}

// Stats is the state of the work and its speed.
type Stats struct {
	Done      int64
	Remaining int64         // -1: unknown
	Rate      float64       // units per second; 0: not measured yet
	ETA       time.Duration // -1: unknown
	Elapsed   time.Duration
}

// Stats returns the state as of now.
func (r *Reporter) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats(r.opts.Now())
}

func (r *Reporter) stats(now time.Time) Stats {
	return estimate(r.samples[0], r.cur, now.Sub(r.start))
}

// estimate measures the rate between a baseline and the current sample,
// and the time left from how fast the remaining work shrank between them
// (from the rate itself when the baseline's remaining work is unknown).
func estimate(base, cur sample, elapsed time.Duration) Stats {
	st := Stats{Done: cur.done, Remaining: cur.remaining, ETA: -1, Elapsed: elapsed}
	dt := cur.t.Sub(base.t).Seconds()
	if dt <= 0 {
		if cur.remaining == 0 {
			st.ETA = 0
		}
		return st
	}
	st.Rate = float64(cur.done-base.done) / dt
	closing := st.Rate
	if base.remaining >= 0 && cur.remaining >= 0 {
		closing = float64(base.remaining-cur.remaining) / dt
	}
	switch {
	case cur.remaining == 0:
		st.ETA = 0
	case cur.remaining > 0 && closing > 0:
		secs := float64(cur.remaining) / closing
		if secs < float64(math.MaxInt64/int64(time.Second)) {
			st.ETA = time.Duration(secs * float64(time.Second))
		}
	}
	return st
}

// line is the terminal line.
func (r *Reporter) line(now time.Time) string {
	return Line(r.what, r.unit, r.style, r.stats(now))
}

// Line formats a progress line, e.g.
//
//	draining: 1.2M of 3.4M records (35%), 85k/s, ETA 26s
//	catching up: 1.2M records behind, 2.2M done, 85k/s, ETA 14s
func Line(what, unit string, style Style, st Stats) string {
	s := what + ": "
	switch {
	case style == Behind && st.Remaining >= 0:
		s += fmt.Sprintf("%s %s behind, %s done", Count(st.Remaining), unit, Count(st.Done))
	case st.Remaining >= 0:
		total := st.Done + st.Remaining
		s += fmt.Sprintf("%s of %s %s (%d%%)", Count(st.Done), Count(total), unit, percent(st.Done, total))
	default:
		s += fmt.Sprintf("%s %s", Count(st.Done), unit)
	}
	if st.Rate > 0 {
		s += ", " + Count(int64(math.Round(st.Rate))) + "/s"
	}
	if st.ETA > 0 {
		s += ", ETA " + Duration(st.ETA)
	}
	return s
}

// log writes one log line with the state as attributes.
func (r *Reporter) log(now time.Time) {
	st := r.stats(now)
	attrs := []any{"done", st.Done}
	if st.Remaining >= 0 {
		if r.style == Behind {
			attrs = append(attrs, "behind", st.Remaining)
		}
		attrs = append(attrs, "total", st.Done+st.Remaining, "percent", percent(st.Done, st.Done+st.Remaining))
	}
	attrs = append(attrs, "unit", r.unit, "per_sec", int64(math.Round(st.Rate)))
	if st.ETA >= 0 {
		attrs = append(attrs, "eta", Duration(st.ETA))
	}
	attrs = append(attrs, "elapsed", Duration(st.Elapsed))
	r.opts.Log.Info(r.what, attrs...)
}

// percent is done/total in whole percent, 100 only when done.
func percent(done, total int64) int64 {
	if total <= 0 {
		return 100
	}
	p := done * 100 / total
	if p == 100 && done < total {
		p = 99
	}
	return p
}

// Count formats a count in three significant figures at most: 999,
// 1.2k, 12.3k, 123k, 1.2M, 3.4G.
func Count(n int64) string {
	neg := ""
	if n < 0 {
		neg, n = "-", -n
	}
	if n < 1000 {
		return fmt.Sprintf("%s%d", neg, n)
	}
	f := float64(n)
	for _, u := range []string{"k", "M", "G", "T", "P"} {
		f /= 1000
		// Round first, so that 999,950 is "1.0M", not "1000k".
		switch {
		case math.Round(f*10)/10 < 10:
			return fmt.Sprintf("%s%.1f%s", neg, math.Round(f*10)/10, u)
		case math.Round(f) < 1000:
			return fmt.Sprintf("%s%.0f%s", neg, math.Round(f), u)
		}
	}
	return fmt.Sprintf("%s%.0fE", neg, f/1000)
}

// Duration formats a time left or taken coarsely: 0s, 26s, 4m10s, 1h02m.
func Duration(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
}

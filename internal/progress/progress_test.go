package progress

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) advance(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                       { return &clock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)} }
func jsonLog(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(buf, nil)) }

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 999: "999", 1000: "1.0k", 1234: "1.2k", 9949: "9.9k", 9950: "10k", 12_345: "12k",
		123_456: "123k", 999_499: "999k", 999_500: "1.0M", 1_234_567: "1.2M", 3_400_000: "3.4M",
		85_000: "85k", 2_500_000_000: "2.5G", -1500: "-1.5k",
	} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 400 * time.Millisecond: "0s", 26 * time.Second: "26s", 59*time.Second + 600*time.Millisecond: "1m00s",
		250 * time.Second: "4m10s", time.Hour + 2*time.Minute + 30*time.Second: "1h02m", -time.Second: "?",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestLine(t *testing.T) {
	cases := []struct {
		what, unit string
		style      Style
		st         Stats
		want       string
	}{
		{"draining", "records", OfTotal, Stats{Done: 1_200_000, Remaining: 2_200_000, Rate: 85_000, ETA: 26 * time.Second},
			"draining: 1.2M of 3.4M records (35%), 85k/s, ETA 26s"},
		{"catching up", "records", Behind, Stats{Done: 2_200_000, Remaining: 1_200_000, Rate: 85_000, ETA: 14 * time.Second},
			"catching up: 1.2M records behind, 2.2M done, 85k/s, ETA 14s"},
		{"verify orders", "rows", OfTotal, Stats{Done: 0, Remaining: 50, ETA: -1},
			"verify orders: 0 of 50 rows (0%)"},
		{"draining", "records", OfTotal, Stats{Done: 999, Remaining: 1, Rate: 10, ETA: 100 * time.Millisecond},
			"draining: 999 of 1.0k records (99%), 10/s, ETA 0s"},
		{"reading", "records", OfTotal, Stats{Done: 42, Remaining: -1, ETA: -1}, "reading: 42 records"},
	}
	for _, c := range cases {
		if got := Line(c.what, c.unit, c.style, c.st); got != c.want {
			t.Errorf("Line = %q, want %q", got, c.want)
		}
	}
}

// TestEstimate_FixedTotal: rate over the window, and the time left from it.
func TestEstimate_FixedTotal(t *testing.T) {
	c := newClock()
	r := Options{Now: c.now}.Start("draining", "records", OfTotal)
	for range 5 {
		c.advance(time.Second)
		r.Update(r.Stats().Done+1000, 10_000)
	}
	st := r.Stats()
	if st.Done != 5000 || st.Remaining != 5000 || st.Rate != 1000 || st.ETA != 5*time.Second || st.Elapsed != 5*time.Second {
		t.Fatalf("stats = %+v, want 5000 done, 5000 remaining, 1000/s, ETA 5s after 5s", st)
	}
	// The rate follows the recent window, not the whole run: 10 s later at
	// 4000/s, only the new pace counts.
	for range 12 {
		c.advance(time.Second)
		r.Update(r.Stats().Done+4000, 1_000_000)
	}
	if st := r.Stats(); st.Rate != 4000 {
		t.Errorf("rate after the pace changed = %v, want 4000 (over the last window)", st.Rate)
	}
}

// TestEstimate_GrowingTotal: a catch-up whose producers keep writing
// closes the gap at the consumption rate minus the production rate; the
// time left follows that, not the consumption rate alone.
func TestEstimate_GrowingTotal(t *testing.T) {
	c := newClock()
	r := Options{Now: c.now}.Start("catching up", "records", Behind)
	done, behind := int64(0), int64(100_000)
	r.Update(done, done+behind)
	for range 4 {
		c.advance(time.Second)
		done += 10_000 // consumed 10k/s
		behind -= 5000 // while 5k/s were produced
		r.Update(done, done+behind)
	}
	st := r.Stats()
	if st.Rate != 10_000 {
		t.Errorf("rate = %v, want 10000", st.Rate)
	}
	if st.Remaining != 80_000 || st.ETA != 16*time.Second {
		t.Errorf("remaining %d, ETA %s; want 80000 and 16s (80k at a net 5k/s)", st.Remaining, st.ETA)
	}
	// A gap that does not close has no ETA.
	c.advance(time.Second)
	r.Update(done+10_000, done+10_000+behind+20_000)
	for range 10 {
		c.advance(time.Second)
		r.Update(done+10_000, done+10_000+behind+20_000)
	}
	if st := r.Stats(); st.ETA != -1 {
		t.Errorf("ETA of a gap that grows = %s, want unknown", st.ETA)
	}
}

func TestEstimate_NothingMeasuredYet(t *testing.T) {
	c := newClock()
	r := Options{Now: c.now}.Start("draining", "records", OfTotal)
	if st := r.Stats(); st.Rate != 0 || st.ETA != -1 || st.Remaining != -1 {
		t.Errorf("stats before any update = %+v, want no rate, no ETA, unknown remaining", st)
	}
	r.Update(0, 0)
	if st := r.Stats(); st.ETA != 0 {
		t.Errorf("ETA with nothing to do = %s, want 0", st.ETA)
	}
}

// TestLogMode_Interval: without a terminal, one log line per interval
// however often Update is called, with done and total, and a last line
// at End.
func TestLogMode_Interval(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	r := Options{Log: jsonLog(&buf), Every: 10 * time.Second, Now: c.now}.Start("draining", "records", OfTotal)
	for i := 1; i <= 100; i++ { // 25 s, 4 updates a second
		c.advance(250 * time.Millisecond)
		r.Update(int64(i)*100, 10_000)
	}
	r.End()
	r.End()
	r.Update(1, 1) // after End: nothing
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want 3 (at 10s, 20s, and End):\n%s", len(lines), buf.String())
	}
	first, last := lines[0], lines[2]
	if first["msg"] != "draining" || first["done"] != 4000.0 || first["total"] != 10_000.0 || first["unit"] != "records" ||
		first["per_sec"] != 400.0 || first["eta"] != "15s" || first["percent"] != 40.0 {
		t.Errorf("first line = %v", first)
	}
	if last["done"] != 10_000.0 || last["total"] != 10_000.0 || last["eta"] != "0s" || last["elapsed"] != "25s" {
		t.Errorf("last line = %v", last)
	}
}

// TestLogMode_ShortWorkLogsNothing: work shorter than one interval leaves
// no progress line (the command's own summary says what it did).
func TestLogMode_ShortWorkLogsNothing(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	r := Options{Log: jsonLog(&buf), Now: c.now}.Start("draining", "records", OfTotal)
	c.advance(time.Second)
	r.Update(10, 10)
	r.End()
	if buf.Len() != 0 {
		t.Errorf("logged %q", buf.String())
	}
}

// TestTerminal_LiveLine: the live line is rewritten in place, at most
// once per Redraw, log lines go above it, and End erases it.
func TestTerminal_LiveLine(t *testing.T) {
	c := newClock()
	var out bytes.Buffer
	term := NewTerminal(&out)
	var logBuf bytes.Buffer
	r := Options{Term: term, Log: jsonLog(&logBuf), Now: c.now}.Start("draining", "records", OfTotal)
	for i := 1; i <= 8; i++ { // 100 ms apart: drawn every 250 ms
		c.advance(100 * time.Millisecond)
		r.Update(int64(i)*10, 80)
	}
	if _, err := term.Write([]byte("level=INFO msg=hello\n")); err != nil {
		t.Fatal(err)
	}
	r.End()
	got := out.String()
	// Drawn at 100 ms, 400 ms and 700 ms.
	want := erase + "draining: 10 of 80 records (12%), 100/s, ETA 1s" +
		erase + "draining: 40 of 80 records (50%), 100/s, ETA 0s" +
		erase + "draining: 70 of 80 records (87%), 100/s, ETA 0s" +
		erase + "level=INFO msg=hello\n" + "draining: 70 of 80 records (87%), 100/s, ETA 0s" +
		erase
	if got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
	if logBuf.Len() != 0 {
		t.Errorf("a terminal reporter also logged: %q", logBuf.String())
	}
}

func TestTerminal_LongLineIsCut(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out)
	term.Show(strings.Repeat("x", 200))
	if got := strings.TrimPrefix(out.String(), erase); len([]rune(got)) != maxLine {
		t.Errorf("line of %d runes, want %d", len([]rune(got)), maxLine)
	}
}

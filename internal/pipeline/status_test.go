package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// statusJSON reads base/status.json.
func statusJSON(t *testing.T, base string) pipeline.Status {
	t.Helper()
	code, body := get(t, base+"/status.json")
	if code != 200 {
		t.Fatalf("/status.json = %d %s", code, body)
	}
	var s pipeline.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/status.json: %v in %s", err, body)
	}
	return s
}

func tableOf(s pipeline.Status, name string) (pipeline.TableStatus, bool) {
	for _, t := range s.Tables {
		if t.Table == name {
			return t, true
		}
	}
	return pipeline.TableStatus{}, false
}

// sum adds the known points of a series.
func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += max(x, 0)
	}
	return n
}

// TestStatusJSON_CountsFreshnessAndSeries checks the status page's data
// against what the test produced, on a settable clock: per-table counts,
// lag, the dead letter's reason, and the one-second series behind the
// charts (unknown before the pipeline started at t0, rows in the second of
// the commit, freshness growing after it).
func TestStatusJSON_CountsFreshnessAndSeries(t *testing.T) {
	c := startKafka(t, nil, customersTopic, ordersTopic)
	ctx := context.Background()
	t0 := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	var events []workload.Event
	for i := int64(1); i <= 30; i++ {
		events = append(events, change(customersTopic, i, 'c', t0.Add(-time.Minute)))
	}
	for i := int64(1); i <= 20; i++ {
		events = append(events, change(ordersTopic, i, 'c', t0.Add(-2*time.Minute)))
	}
	events = append(events, workload.Event{Topic: ordersTopic, Partition: 1, Key: []byte(`{"id":99}`), Value: []byte(`not json`)})
	if err := kafkatest.Produce(ctx, c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	wh := openDuck(t, filepath.Join(t.TempDir(), "s.duckdb"))
	defer wh.Close()
	base, stop := runPipeline(t, metricsConfig(t, c.Addr()), wh, clk)
	caughtUpTo(t, base+"/metrics", len(events))

	clk.set(t0.Add(10 * time.Second))
	s := statusJSON(t, base)
	if !s.Ready || s.Now != t0.Add(10*time.Second).UnixMilli() {
		t.Errorf("status ready %v (%s) at %d, want ready at %d", s.Ready, s.Why, s.Now, t0.Add(10*time.Second).UnixMilli())
	}
	for _, w := range []struct {
		table                 string
		events, upserts, dead int64
		freshness             float64
		newest                time.Time
		wantReason            bool
	}{
		{"customers", 30, 30, 0, 70, t0.Add(-time.Minute), false},
		{"orders", 21, 20, 1, 130, t0.Add(-2 * time.Minute), true},
	} {
		got, ok := tableOf(s, w.table)
		if !ok {
			t.Errorf("no %s in %+v", w.table, s.Tables)
			continue
		}
		if got.Events != w.events || got.Upserts != w.upserts || got.Deletes != 0 || got.DeadLetters != w.dead || got.Lag != 0 {
			t.Errorf("%s: events %d upserts %d deletes %d dead letters %d lag %d, want %d %d 0 %d 0",
				w.table, got.Events, got.Upserts, got.Deletes, got.DeadLetters, got.Lag, w.events, w.upserts, w.dead)
		}
		if got.LastCommit != t0.UnixMilli() || got.Freshness != w.freshness {
			t.Errorf("%s: last commit %d freshness %v, want %d and %v", w.table, got.LastCommit, got.Freshness, t0.UnixMilli(), w.freshness)
		}
		if (got.LastError != "") != w.wantReason || (w.wantReason && got.LastErrorAt != t0.UnixMilli()) {
			t.Errorf("%s: last error %q at %d, want one: %v", w.table, got.LastError, got.LastErrorAt, w.wantReason)
		}
		// The series: one point a second, the last one now (t0+10s); all
		// rows in t0's second; no freshness before it.
		n := len(got.RowsPerSec)
		if n != len(got.FreshnessSec) || n < 60 || s.Start != t0.Add(10*time.Second).UnixMilli()-int64(n-1)*1000 {
			t.Fatalf("%s: %d rate and %d freshness points from %d", w.table, n, len(got.FreshnessSec), s.Start)
		}
		atT0 := n - 11
		if got.RowsPerSec[atT0-1] != -1 || got.RowsPerSec[atT0] != w.upserts || sum(got.RowsPerSec) != w.upserts {
			t.Errorf("%s: rows per second before t0 %d, at t0 %d, in all %d; want -1 (before the start), %d, %[5]d",
				w.table, got.RowsPerSec[atT0-1], got.RowsPerSec[atT0], sum(got.RowsPerSec), w.upserts)
		}
		if got.FreshnessSec[atT0-1] != -1 || got.FreshnessSec[n-1] != w.freshness ||
			got.FreshnessSec[atT0] != sec(t0.Add(time.Second).Sub(w.newest)) {
			t.Errorf("%s: freshness before t0 %v, at t0 %v, now %v; want -1, %v, %v", w.table, got.FreshnessSec[atT0-1],
				got.FreshnessSec[atT0], got.FreshnessSec[n-1], sec(t0.Add(time.Second).Sub(w.newest)), w.freshness)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// browser drives headless Chromium from the command line: each call
// loads the page afresh, lets its script run for a bounded virtual time,
// and returns the DOM or writes a screenshot.
type browser struct {
	bin, profile string
}

// chromium returns the browser the status-page test drives: the binary in
// CDCSYNC_CHROMIUM (`make test` installs Debian's chromium with
// scripts/services/svc.sh and sets it). Without it the test is skipped,
// unless CDCSYNC_REQUIRE_CHROMIUM is set.
func chromium(t *testing.T) browser {
	t.Helper()
	bin := os.Getenv("CDCSYNC_CHROMIUM")
	if bin == "" {
		if os.Getenv("CDCSYNC_REQUIRE_CHROMIUM") != "" {
			t.Fatal("CDCSYNC_REQUIRE_CHROMIUM is set but CDCSYNC_CHROMIUM is not: install it with `scripts/services/svc.sh fetch chromium` and eval `svc.sh env chromium`")
		}
		t.Skip("CDCSYNC_CHROMIUM is not set: no headless Chromium to drive the status page (`scripts/services/svc.sh fetch chromium` installs it; `make test` sets it)")
	}
	return browser{bin: bin, profile: filepath.Join(t.TempDir(), "chromium-profile")}
}

func (b browser) run(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, append([]string{"--headless=new", "--disable-gpu", "--no-sandbox",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-dev-shm-usage", "--mute-audio", "--user-data-dir=" + b.profile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", b.bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// dom loads url and returns the DOM after the page's script has run
// through a few polls of virtual time.
func (b browser) dom(t *testing.T, url string) string {
	t.Helper()
	return string(b.run(t, "--virtual-time-budget=5000", "--dump-dom", url))
}

// screenshot saves a PNG of url at the window size w×h and returns its path.
func (b browser) screenshot(t *testing.T, url, path string, w, h int) {
	t.Helper()
	b.run(t, "--virtual-time-budget=5000", "--hide-scrollbars", fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+path, url)
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: %d bytes, not a PNG", path, len(png))
	}
	t.Logf("status page screenshot (%d×%d): %s", w, h, path)
}

// pageRow is one table's row as the page shows it.
type pageRow struct {
	upserts, deletes, lag, deadLetters int64
	lastError                          string
}

var (
	tbodyRE = regexp.MustCompile(`(?s)<tbody id="rows">.*?</tbody>`)
	rowRE   = regexp.MustCompile(`(?s)<tr data-table="([^"]*)">(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`<td data-label="[^"]*" class="([^"]*)">(.*?)</td>`)
	lineRE  = regexp.MustCompile(`<polyline data-table="([^"]*)"[^>]* points="[^"]+"`)
	svgRE   = regexp.MustCompile(`(?s)<svg id="(throughput|freshness)".*?</svg>`)
	pollsRE = regexp.MustCompile(`<body data-polls="(\d+)"`)
)

// parsePage reads the table rows, the charts' lines per table and the
// number of polls the page's script made.
func parsePage(dom string) (rows map[string]pageRow, charts map[string]int, polls int) {
	rows = map[string]pageRow{}
	charts = map[string]int{}
	number := func(s string) int64 {
		n, _ := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
		return n
	}
	for _, m := range rowRE.FindAllStringSubmatch(tbodyRE.FindString(dom), -1) {
		var r pageRow
		for _, c := range cellRE.FindAllStringSubmatch(m[2], -1) {
			switch classes := " " + c[1] + " "; {
			case strings.Contains(classes, " upserts "):
				r.upserts = number(c[2])
			case strings.Contains(classes, " deletes "):
				r.deletes = number(c[2])
			case strings.Contains(classes, " lag "):
				r.lag = number(c[2])
			case strings.Contains(classes, " deadletters "):
				r.deadLetters = number(c[2])
			case strings.Contains(classes, " err "):
				r.lastError = c[2]
			}
		}
		rows[m[1]] = r
	}
	for _, svg := range svgRE.FindAllStringSubmatch(dom, -1) {
		for _, l := range lineRE.FindAllStringSubmatch(svg[0], -1) {
			charts[svg[1]+"/"+l[1]]++
		}
	}
	if m := pollsRE.FindStringSubmatch(dom); m != nil {
		polls, _ = strconv.Atoi(m[1])
	}
	return rows, charts, polls
}

// pageShows loads the page until check accepts what it shows, or fails
// after a deadline with what it last showed.
func pageShows(t *testing.T, b browser, url string, check func(rows map[string]pageRow, charts map[string]int, polls int) string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for loads := 1; ; loads++ {
		dom := b.dom(t, url)
		why := check(parsePage(dom))
		if why == "" {
			t.Logf("the status page showed it on load %d", loads)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the status page does not show it: %s\nDOM:\n%s", why, dom)
		}
	}
}

// TestStatusPage_ChromiumShowsTablesAndCharts serves the status page of a
// continuous pipeline on kfake into DuckDB and loads it in headless
// Chromium: a row per table with the counts produced, a line per table in
// both charts, the page refreshing itself, and — after more events — the
// new counts. It saves a desktop and a phone screenshot under the test's
// temp dir.
func TestStatusPage_ChromiumShowsTablesAndCharts(t *testing.T) {
	b := chromium(t)
	c := startKafka(t, nil, customersTopic, ordersTopic)
	ctx := context.Background()
	now := time.Now()
	var first []workload.Event
	for i := int64(1); i <= 30; i++ {
		first = append(first, change(customersTopic, i, 'c', now.Add(-3*time.Second)))
	}
	for i := int64(1); i <= 20; i++ {
		first = append(first, change(ordersTopic, i, 'c', now.Add(-5*time.Second)))
	}
	first = append(first, workload.Event{Topic: ordersTopic, Partition: 1, Key: []byte(`{"id":99}`), Value: []byte(`not json`)})
	if err := kafkatest.Produce(ctx, c.Addr(), first); err != nil {
		t.Fatal(err)
	}
	wh := openDuck(t, filepath.Join(t.TempDir(), "page.duckdb"))
	defer wh.Close()
	base, stop := runPipeline(t, metricsConfig(t, c.Addr()), wh, nil)
	caughtUpTo(t, base+"/metrics", len(first))

	url := base + "/"
	pageShows(t, b, url, func(rows map[string]pageRow, charts map[string]int, polls int) string {
		cu, or := rows["customers"], rows["orders"]
		switch {
		case len(rows) != 2 || cu.upserts != 30 || or.upserts != 20 || or.deadLetters != 1 || cu.deadLetters != 0 || cu.lag != 0 || or.lag != 0:
			return fmt.Sprintf("rows %+v, want customers 30 upserted and orders 20 upserted with 1 dead letter, no lag", rows)
		case or.lastError == "" || cu.lastError != "":
			return fmt.Sprintf("last errors: customers %q, orders %q; want only orders' dead-letter reason", cu.lastError, or.lastError)
		case charts["throughput/customers"] == 0 || charts["throughput/orders"] == 0 ||
			charts["freshness/customers"] == 0 || charts["freshness/orders"] == 0:
			return fmt.Sprintf("chart lines %v, want a throughput and a freshness line per table", charts)
		case polls < 2:
			return fmt.Sprintf("the page polled %d times, want it to refresh itself", polls)
		}
		return ""
	})

	var second []workload.Event
	for i := int64(31); i <= 40; i++ {
		second = append(second, change(customersTopic, i, 'c', time.Now()))
	}
	for i := int64(1); i <= 5; i++ {
		second = append(second, change(ordersTopic, i, 'd', time.Now()))
	}
	if err := kafkatest.Produce(ctx, c.Addr(), second); err != nil {
		t.Fatal(err)
	}
	pageShows(t, b, url, func(rows map[string]pageRow, _ map[string]int, _ int) string {
		if cu, or := rows["customers"], rows["orders"]; cu.upserts != 40 || or.upserts != 20 || or.deletes != 5 || cu.lag+or.lag != 0 {
			return fmt.Sprintf("after more events rows %+v, want customers 40 upserted, orders 5 deleted, no lag", rows)
		}
		return ""
	})

	dir := t.TempDir()
	b.screenshot(t, url, filepath.Join(dir, "status-desktop.png"), 1280, 800)
	b.screenshot(t, url, filepath.Join(dir, "status-phone.png"), 400, 1100)
	if path := os.Getenv("CDCSYNC_STATUS_SCREENSHOT"); path != "" { // to refresh docs/status.png
		b.screenshot(t, url, path, 1100, 700)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

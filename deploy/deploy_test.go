// Package deploy holds deployment examples (a Grafana dashboard,
// Prometheus alert rules, a systemd unit); its tests check that they parse
// and use only metrics cdcsync exports.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cdcsync/cdcsync/internal/pipeline"
)

// metrics are the metrics cdcsync exports (README "Running in
// production"), by type: a histogram is also queried as _bucket, _sum and
// _count.
var metrics = map[string]string{
	"cdcsync_events_total":                  "counter",
	"cdcsync_rows_total":                    "counter",
	"cdcsync_dead_letters_total":            "counter",
	"cdcsync_bytes_total":                   "counter",
	"cdcsync_batches_total":                 "counter",
	"cdcsync_skipped_total":                 "counter",
	"cdcsync_warehouse_retries_total":       "counter",
	"cdcsync_warehouse_errors_total":        "counter",
	"cdcsync_lag_records":                   "gauge",
	"cdcsync_freshness_seconds":             "gauge",
	"cdcsync_last_commit_timestamp_seconds": "gauge",
	"cdcsync_ready":                         "gauge",
	"cdcsync_build_info":                    "gauge",
	"cdcsync_end_to_end_latency_seconds":    "histogram",
	"cdcsync_batch_apply_seconds":           "histogram",
	"cdcsync_batch_events":                  "histogram",
	"cdcsync_schema_registry_errors_total":  "counter",
	"cdcsync_transactions_held_records":     "gauge",
	"cdcsync_transactions_incomplete_total": "counter",
}

var metricName = regexp.MustCompile(`cdcsync_[a-z_]+`)

// known returns the exported metric a series name belongs to.
func known(name string) (string, bool) {
	if _, ok := metrics[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && metrics[base] == "histogram" {
			return base, true
		}
	}
	return "", false
}

// checkExpr checks one PromQL expression: every cdcsync_ name is an
// exported metric, a histogram is read through its series, brackets
// balance. It returns the metrics used.
func checkExpr(t *testing.T, where, expr string) []string {
	t.Helper()
	var used []string
	for _, name := range metricName.FindAllString(expr, -1) {
		base, ok := known(name)
		switch {
		case !ok:
			t.Errorf("%s: %s is not a metric cdcsync exports: %s", where, name, expr)
		case metrics[name] == "histogram":
			t.Errorf("%s: histogram %s used without _bucket, _sum or _count: %s", where, name, expr)
		}
		used = append(used, base)
	}
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				t.Errorf("%s: unbalanced %q: %s", where, r, expr)
				return used
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 || inString {
		t.Errorf("%s: unclosed brackets or quotes: %s", where, expr)
	}
	return used
}

// TestDeploy_GrafanaDashboard: the dashboard is valid JSON, its panels do
// not overlap, every query uses only exported metrics, and it shows what
// an operator needs.
func TestDeploy_GrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("grafana", "cdcsync.json"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		ID      int                      `json:"id"`
		Type    string                   `json:"type"`
		Title   string                   `json:"title"`
		Targets []target                 `json:"targets"`
		Grid    struct{ X, Y, W, H int } `json:"gridPos"`
	}
	var d struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana/cdcsync.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels")
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	cells := map[[2]int]string{} // grid cells taken, by panel
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Grid.W <= 0 || p.Grid.H <= 0 || p.Grid.X+p.Grid.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.Grid)
		}
		for x := p.Grid.X; x < p.Grid.X+p.Grid.W; x++ {
			for y := p.Grid.Y; y < p.Grid.Y+p.Grid.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range checkExpr(t, "panel "+p.Title, tg.Expr) {
				used[m] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, m := range checkExpr(t, "variable "+v.Name, v.Definition) {
			used[m] = true
		}
	}
	for _, m := range []string{"cdcsync_freshness_seconds", "cdcsync_lag_records", "cdcsync_rows_total",
		"cdcsync_dead_letters_total", "cdcsync_end_to_end_latency_seconds", "cdcsync_batch_apply_seconds",
		"cdcsync_warehouse_retries_total", "cdcsync_warehouse_errors_total", "cdcsync_ready"} {
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
	for _, q := range []string{"0.5", "0.95", "0.99"} {
		if !strings.Contains(string(raw), "histogram_quantile("+q+", sum by (le) (rate(cdcsync_end_to_end_latency_seconds_bucket") {
			t.Errorf("the dashboard does not show the end-to-end latency's %s quantile", q)
		}
	}
}

// TestDeploy_PrometheusAlerts: the rules are valid YAML in Prometheus's
// rule-file shape, every expression uses only exported metrics, and the
// alerts the README promises exist.
func TestDeploy_PrometheusAlerts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	var alerts []string
	uses := map[string][]string{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: no name or no rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("rule %q: want alert and expr", r.Alert)
				continue
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: want a severity label and a summary", r.Alert)
			}
			alerts = append(alerts, r.Alert)
			uses[r.Alert] = checkExpr(t, "alert "+r.Alert, r.Expr)
		}
	}
	for alert, metric := range map[string]string{
		"CdcsyncTableStale":      "cdcsync_freshness_seconds",
		"CdcsyncLagGrowing":      "cdcsync_lag_records",
		"CdcsyncDeadLetters":     "cdcsync_dead_letters_total",
		"CdcsyncNotReady":        "cdcsync_ready",
		"CdcsyncWarehouseErrors": "cdcsync_warehouse_errors_total",
		"CdcsyncRegistryErrors":  "cdcsync_schema_registry_errors_total",
		"CdcsyncPartTransaction": "cdcsync_transactions_incomplete_total",
	} {
		if !slices.Contains(alerts, alert) {
			t.Errorf("no alert %s", alert)
		} else if !slices.Contains(uses[alert], metric) {
			t.Errorf("alert %s does not use %s", alert, metric)
		}
	}
}

// TestDeploy_SystemdUnit: the unit runs cdcsync as its own user with its
// config, the password as a credential, restarts on failure and is
// hardened; systemd-analyze verify accepts it where systemd is installed.
func TestDeploy_SystemdUnit(t *testing.T) {
	path := filepath.Join("systemd", "cdcsync.service")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{"[Unit]", "[Service]", "[Install]", "\nUser=cdcsync\n",
		"ExecStart=/usr/local/bin/cdcsync run --config /etc/cdcsync/cdcsync.yaml\n",
		"\nLoadCredential=target-password:", "\nRestart=on-failure\n", "\nProtectSystem=strict\n",
		"\nNoNewPrivileges=yes\n", "\nStateDirectory=cdcsync\n", "\nCapabilityBoundingSet=\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit not verified by systemd")
		return
	}
	// The binary is not installed here: point ExecStart at one that is.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "cdcsync.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(unit, "/usr/local/bin/cdcsync", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// describer records the metric names of the collectors registered with it.
type describer struct{ names map[string]bool }

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := descName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c) // never fails
	}
}

func (d *describer) Unregister(prometheus.Collector) bool { return false }

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// TestDeploy_MetricsAreWhatThePipelineExports: the list the dashboard and
// the rules are checked against is exactly what the pipeline registers, so
// a renamed metric fails here rather than in someone's Grafana.
func TestDeploy_MetricsAreWhatThePipelineExports(t *testing.T) {
	d := &describer{names: map[string]bool{}}
	pipeline.NewMetrics(d)
	pipeline.RegisterBuildInfo(d, "test")
	for name := range metrics {
		if !d.names[name] {
			t.Errorf("%s is listed here but the pipeline does not export it", name)
		}
	}
	for name := range d.names {
		if _, ok := metrics[name]; !ok {
			t.Errorf("the pipeline exports %s, which the deploy examples do not know", name)
		}
	}
}

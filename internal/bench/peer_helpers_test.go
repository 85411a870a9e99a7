package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cdcsync/cdcsync/internal/workload"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat the benchmark reads, in
// seconds.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime float64
}

// parseStat parses a /proc/<pid>/stat line. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last
// ')'.
func parseStat(line string) (procStat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat %q: no command name", line)
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat %q: %d fields", line, len(f)+2)
	}
	var st procStat
	var err error
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("stat ppid: %w", err)
	}
	for j, p := range []*float64{&st.utime, &st.stime, &st.cutime, &st.cstime} {
		n, err := strconv.ParseInt(f[11+j], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", 14+j, err)
		}
		*p = float64(n) / clockTicks
	}
	return st, nil
}

func readStat(proc string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// procCPU is a process's user+system seconds (all its threads).
func procCPU(pid int) (float64, error) {
	st, err := readStat("/proc", pid)
	if err != nil {
		return 0, fmt.Errorf("CPU of pid %d: %w", pid, err)
	}
	return st.utime + st.stime, nil
}

func postgresCPU(postmaster int) (float64, error) { return treeCPU("/proc", postmaster) }

// treeCPU is the CPU seconds a server and its children used so far: the
// parent's own and its reaped children's (cutime, cstime), plus each live
// child's. A backend that exits between two readings moves from the second
// sum to the first, so the delta of two readings is the work done between
// them.
func treeCPU(proc string, parent int) (float64, error) {
	st, err := readStat(proc, parent)
	if err != nil {
		return 0, fmt.Errorf("CPU of pid %d: %w", parent, err)
	}
	total := st.utime + st.stime + st.cutime + st.cstime
	ents, err := os.ReadDir(proc)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		c, err := readStat(proc, pid)
		if err != nil || c.ppid != parent {
			continue // gone, or not a child
		}
		total += c.utime + c.stime + c.cutime + c.cstime
	}
	return total, nil
}

// statusKB reads one "Name: N kB" line of /proc/<pid>/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// sampleMax reads a /proc/<pid>/status field every 100 ms until the
// returned function is called, which returns the largest value seen (kB).
func sampleMax(pid int, field string) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
	)
	read := func() {
		if v, err := statusKB(pid, field); err == nil {
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
		}
	}
	read()
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() int64 {
		read()
		close(done)
		<-exited
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// connectError is an error status from Connect's REST API.
type connectError struct {
	code int
	msg  string
}

func (e *connectError) Error() string { return e.msg }

// connectClient speaks Kafka Connect's REST API.
type connectClient struct{ base string }

func (c connectClient) do(ctx context.Context, method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("Connect %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return &connectError{code: resp.StatusCode, msg: fmt.Sprintf("Connect %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c connectClient) create(ctx context.Context, name string, cfg map[string]string) error {
	return c.do(ctx, http.MethodPut, "/connectors/"+name+"/config", cfg, nil)
}

func (c connectClient) delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/connectors/"+name, nil, nil)
}

// healthy returns an error with the trace when the connector or one of its
// tasks has failed.
func (c connectClient) healthy(ctx context.Context, name string) error {
	var st struct {
		Connector struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"connector"`
		Tasks []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"tasks"`
	}
	if err := c.do(ctx, http.MethodGet, "/connectors/"+name+"/status", nil, &st); err != nil {
		var ce *connectError
		if errors.As(err, &ce) && ce.code == http.StatusNotFound {
			return nil // created, not started yet
		}
		return err
	}
	if st.Connector.State == "FAILED" {
		return fmt.Errorf("connector %s failed: %s", name, lastLines(st.Connector.Trace, 15))
	}
	for _, t := range st.Tasks {
		if t.State == "FAILED" {
			return fmt.Errorf("connector %s task %d failed: %s", name, t.ID, lastLines(t.Trace, 15))
		}
	}
	return nil
}

// TestPeer_ParseStat reads the fields the benchmark needs from a stat line
// whose command name holds spaces and a parenthesis.
func TestPeer_ParseStat(t *testing.T) {
	line := "4242 (java (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 30 5 20 0 42 0 1 2 3\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 17 || st.utime != 2.5 || st.stime != 0.75 || st.cutime != 0.3 || st.cstime != 0.05 {
		t.Errorf("parsed %+v, want ppid 17, utime 2.5, stime 0.75, cutime 0.3, cstime 0.05", st)
	}
	if _, err := parseStat("4242 java S 1"); err == nil {
		t.Error("a line without a command name parsed")
	}
}

// TestPeer_TreeCPU sums a server's own, its reaped children's and its live
// children's CPU, and not other processes'.
func TestPeer_TreeCPU(t *testing.T) {
	proc := t.TempDir()
	stat := func(pid, ppid int, u, s, cu, cs int) {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%d (postgres) S %d 1 1 0 -1 0 0 0 0 0 %d %d %d %d 20 0 1 0 1 2 3\n", pid, ppid, u, s, cu, cs)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stat(10, 1, 100, 50, 300, 20) // postmaster: 1.5 s own, 3.2 s reaped children
	stat(11, 10, 200, 100, 0, 0)  // a backend: 3 s
	stat(12, 10, 10, 0, 0, 0)     // the checkpointer: 0.1 s
	stat(13, 1, 9999, 9999, 0, 0) // not a child
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := treeCPU(proc, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1.5 + 3.2 + 3 + 0.1; fmt.Sprintf("%.2f", got) != fmt.Sprintf("%.2f", want) {
		t.Errorf("tree CPU %.2f s, want %.2f", got, want)
	}
}

// TestPeer_CaughtUp is the sink's completion: every partition with
// records has its end offset committed; an empty partition needs nothing.
func TestPeer_CaughtUp(t *testing.T) {
	ends := kadm.ListedOffsets{"a": {
		0: {Topic: "a", Partition: 0, Offset: 10},
		1: {Topic: "a", Partition: 1, Offset: 5},
		2: {Topic: "a", Partition: 2, Offset: 0},
	}}
	committed := func(p0, p1 int64) kadm.OffsetResponses {
		return kadm.OffsetResponses{"a": {
			0: {Offset: kadm.Offset{Topic: "a", Partition: 0, At: p0}},
			1: {Offset: kadm.Offset{Topic: "a", Partition: 1, At: p1}},
		}}
	}
	if !caughtUp(ends, committed(10, 5)) {
		t.Error("every end offset committed, but not caught up")
	}
	if caughtUp(ends, committed(10, 4)) {
		t.Error("partition 1 is one record behind, but caught up")
	}
	if caughtUp(ends, kadm.OffsetResponses{}) {
		t.Error("nothing committed, but caught up")
	}
	failed := committed(10, 5)
	failed["a"][1] = kadm.OffsetResponse{Offset: kadm.Offset{Topic: "a", Partition: 1, At: 5}, Err: kerr.UnknownTopicOrPartition}
	if caughtUp(ends, failed) {
		t.Error("an errored partition counts as caught up")
	}
}

// TestPeer_SinkRoutesTopicToTable checks the sink's RegexRouter (Java
// regex, same syntax here) names each workload table after the last part
// of its topic, as cdcsync does, and that the workload has no truncate.
func TestPeer_SinkRoutesTopicToTable(t *testing.T) {
	opts := peerWorkload(3000, "p1.inventory")
	w := workload.New(opts)
	cfg := sinkConfig("jdbc:postgresql://h/db", "u", "p", opts.Prefix, nil)
	re := regexp.MustCompile("^" + cfg["transforms.route.regex"] + "$")
	for _, tb := range w.Tables {
		if got := re.ReplaceAllString(w.Topic(tb), strings.ReplaceAll(cfg["transforms.route.replacement"], "$1", "${1}")); got != tb.Name {
			t.Errorf("topic %s routes to %q, want %q", w.Topic(tb), got, tb.Name)
		}
		if n := w.Ops[tb.Name]["truncate"]; n != 0 {
			t.Errorf("%d truncates in %s: the sink cannot order them across partitions", n, tb.Name)
		}
	}
	if cfg["header.converter"] != "org.apache.kafka.connect.storage.StringConverter" {
		t.Error("the sink fails on primary-key-change headers without the string header converter")
	}
}

// TestPeer_Summary prints each run and the ratios of the means.
func TestPeer_Summary(t *testing.T) {
	runs := []peerRun{
		{tool: "jdbc-sink", round: 1, seconds: 10, events: 100000, cpu: 80, rssMiB: 2000, pgCPU: 30},
		{tool: "cdcsync", round: 1, seconds: 2, events: 100000, cpu: 10, rssMiB: 200, pgCPU: 6},
		{tool: "jdbc-sink", round: 2, seconds: 10, events: 100000, cpu: 100, rssMiB: 2400, pgCPU: 34},
		{tool: "cdcsync", round: 2, seconds: 3, events: 100000, cpu: 12, rssMiB: 300, pgCPU: 8},
	}
	got := peerSummary(runs)
	for _, want := range []string{
		"| jdbc-sink 1 | 10000 | 10.0 | 80.0 | 2000 | 30.0 |",
		"| cdcsync 2 | 33333 | 3.0 | 12.0 | 300 | 8.0 |",
		"| cdcsync / sink | 4.00× | 0.25× | 0.12× | 0.11× | 0.22× |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

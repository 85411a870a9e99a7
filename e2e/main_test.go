package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// enabled reports whether the suite runs (CDCSYNC_E2E=1).
var enabled = os.Getenv("CDCSYNC_E2E") == "1"

var (
	binary string // the cdcsync binary built for this run
	runID  string // unique per run: names databases, topics, connectors
)

func TestMain(m *testing.M) {
	if !enabled {
		os.Exit(m.Run()) // every test skips
	}
	os.Exit(setupAndRun(m))
}

func setupAndRun(m *testing.M) int {
	if err := loadEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := checkServices(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: services not ready (start them with scripts/services/svc.sh start all, or run make e2e):", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "cdcsync-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "cdcsync")
	build := exec.Command("go", "build", "-o", binary, "./cmd/cdcsync")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build cdcsync: %v\n%s", err, out)
		return 1
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	runID = "e2e" + strings.ToLower(strconvBase36(time.Now().Unix()%1e6)) + hex.EncodeToString(b[:2])
	fmt.Fprintf(os.Stderr, "e2e: run %s\n", runID)
	return m.Run()
}

func strconvBase36(n int64) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 36 {
		s = append([]byte{digits[n%36]}, s...)
	}
	return string(s)
}

// requireE2E skips a test unless the suite is enabled.
func requireE2E(t *testing.T) {
	t.Helper()
	if !enabled {
		t.Skip("end-to-end test: needs real MariaDB/PostgreSQL/Kafka/Connect; run `make e2e` (or set CDCSYNC_E2E=1 with scripts/services/svc.sh started)")
	}
}

// env reads one CDCSYNC_TEST_* variable.
func env(name string) string { return os.Getenv("CDCSYNC_TEST_" + name) }

var exportRE = regexp.MustCompile(`([A-Z0-9_]+)=('([^']*)'|(\S*))`)

// loadEnv fills the CDCSYNC_TEST_* variables that are not set from
// `svc.sh env`, so the suite also runs without eval'ing it first.
func loadEnv() error {
	out, err := exec.Command("../scripts/services/svc.sh", "env").Output()
	if err != nil {
		return fmt.Errorf("scripts/services/svc.sh env: %w", err)
	}
	// DuckDB's extensions and Python's duckdb, for the DuckLake test.
	ext, err := exec.Command("../scripts/services/svc.sh", "env", "duckdb-extensions").Output()
	if err != nil {
		return fmt.Errorf("scripts/services/svc.sh env duckdb-extensions: %w", err)
	}
	out = append(out, ext...)
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "export ")
		for _, m := range exportRE.FindAllStringSubmatch(line, -1) {
			val := m[4]
			if strings.HasPrefix(m[2], "'") {
				val = m[3]
			}
			if _, ok := os.LookupEnv(m[1]); !ok {
				os.Setenv(m[1], val)
			}
		}
	}
	for _, v := range []string{"KAFKA", "CONNECT", "MARIADB_HOST", "MARIADB_PORT", "PG_HOST", "PG_PORT"} {
		if env(v) == "" {
			return fmt.Errorf("CDCSYNC_TEST_%s is not set", v)
		}
	}
	return nil
}

// checkServices fails fast when Kafka Connect does not answer: the
// suite must not time out test by test.
func checkServices() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env("CONNECT")+"/connector-plugins", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Kafka Connect: GET /connector-plugins: %s", resp.Status)
	}
	return nil
}

// result is the outcome of one cdcsync invocation.
type result struct {
	stdout, stderr string
	code           int
	maxRSS         int64 // bytes
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// cdcsync runs the binary to completion (at most timeout).
func cdcsync(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("cdcsync %s: timed out after %s\n%s", strings.Join(args, " "), timeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("cdcsync %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// syncOnce drains the topics matching topicsRE into a DuckDB file with
// `cdcsync run --once` and fails the test unless it exits 0.
func syncOnce(t *testing.T, duckPath, topicsRE string, extra ...string) {
	t.Helper()
	args := append([]string{"run", "--once", "--brokers", env("KAFKA"), "--topics", topicsRE, "--target", duckPath}, extra...)
	start := time.Now()
	r := cdcsync(t, 3*time.Minute, args...)
	if r.code != 0 {
		t.Fatalf("cdcsync run --once failed:\n%s", r)
	}
	t.Logf("cdcsync run --once: %s", since(start))
	if strings.Contains(r.stderr, "dead_letters=") && !strings.Contains(r.stderr, "dead_letters=0") {
		t.Errorf("cdcsync run --once wrote dead letters:\n%s", r.stderr)
	}
}

// verify runs `cdcsync verify`.
func verify(t *testing.T, source, duckPath string, extra ...string) result {
	t.Helper()
	return cdcsync(t, 3*time.Minute, append([]string{"verify", "--source", source, "--target", duckPath}, extra...)...)
}

// deadline is the context every wait of a test polls under.
func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

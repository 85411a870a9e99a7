package e2e

import (
	"bytes"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// continuous is a `cdcsync run` process in continuous mode.
type continuous struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

// startContinuous starts `cdcsync run` (no --once) with args; it is
// killed when the test ends if still running.
func startContinuous(t *testing.T, args ...string) *continuous {
	t.Helper()
	c := &continuous{cmd: exec.Command(binary, append([]string{"run"}, args...)...), done: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill() // it may have exited meanwhile
			<-c.done                 //nolint:errcheck // killed: the exit status says only that
		}
	})
	return c
}

// caughtUp waits until the group's committed offsets (cdcsync writes them
// after each warehouse commit) reach the end of every partition of topics.
func (c *continuous) caughtUp(t *testing.T, group string, topics []string) {
	t.Helper()
	ctx := deadline(t, 2*time.Minute)
	cl := kafkaClient(t)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			committed, err := adm.FetchOffsets(ctx, group)
			behind := err != nil
			ends.Each(func(e kadm.ListedOffset) {
				if o, ok := committed.Lookup(e.Topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset) {
					behind = true
				}
			})
			if !behind {
				return
			}
		}
		select {
		case err := <-c.done:
			t.Fatalf("cdcsync (continuous) exited before catching up: %v\n%s", err, c.stderr.String())
		case <-ctx.Done():
			t.Fatalf("cdcsync (continuous) did not catch up within 2 minutes\n%s", c.stderr.String())
		case <-time.After(200 * time.Millisecond): // poll the condition
		}
	}
}

// stop sends SIGTERM and requires a clean exit.
func (c *continuous) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop cdcsync: %v", err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("cdcsync (continuous) did not stop cleanly: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("cdcsync (continuous) did not stop within a minute of SIGTERM")
	}
}

// Package failpoint marks named points of the commit path, so that faults
// are tested at the moments that matter, not only where a timer happens to
// land.
//
// Two kinds of test use them. Crash tests set CDCSYNC_FAILPOINT to
// "name:n": the n-th time the named point is reached, the process sends
// itself SIGKILL. Fault-injection tests, in process, Inject a function that
// runs at the point — cutting the warehouse's connection, filling its disk —
// and so see what the code does with a real fault at exactly that step.
// Both are inert unless set.
//
// The points, in the order a batch reaches them: "ddl" (before each
// CREATE/ALTER of a target or landing table), "before-begin", "landing"
// (before a table's landing rows are written), "staged" (a table's changes
// are in its staging table), "offsets" (before the offsets write),
// "before-commit", "after-commit"; and "retry" (a failed batch is about to
// be retried).
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var (
	once   sync.Once
	target string
	after  int
	mu     sync.Mutex
	hits   int
	hooks  = map[string]map[int]func(){}
	nextID int
)

// Hit marks that the named point is reached.
func Hit(name string) {
	once.Do(func() {
		v := os.Getenv("CDCSYNC_FAILPOINT")
		if i := strings.LastIndexByte(v, ':'); i > 0 {
			target = v[:i]
			after, _ = strconv.Atoi(v[i+1:])
		}
	})
	mu.Lock()
	var run []func()
	for _, fn := range hooks[name] {
		run = append(run, fn)
	}
	kill := false
	if target != "" && name == target {
		hits++
		kill = hits == after
	}
	mu.Unlock()
	for _, fn := range run {
		fn()
	}
	if kill {
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the process is gone either way
		select {}
	}
}

// Inject runs fn each time the named point is reached in this process,
// on the goroutine that reaches it, until remove is called. Tests only.
func Inject(name string, fn func()) (remove func()) {
	mu.Lock()
	defer mu.Unlock()
	nextID++
	id := nextID
	if hooks[name] == nil {
		hooks[name] = map[int]func(){}
	}
	hooks[name][id] = fn
	return func() {
		mu.Lock()
		defer mu.Unlock()
		delete(hooks[name], id)
	}
}

// Package failpoint lets crash tests kill the process at named points of
// the commit path, so that "a kill -9 at any moment loses nothing and applies
// nothing twice" is tested at the moments that matter, not only where a
// timer happens to land.
//
// It is inert unless CDCSYNC_FAILPOINT is set to "name:n": the n-th time
// the named point is reached, the process sends itself SIGKILL.
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
	if target == "" || name != target {
		return
	}
	mu.Lock()
	hits++
	n := hits
	mu.Unlock()
	if n == after {
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the process is gone either way
		select {}
	}
}

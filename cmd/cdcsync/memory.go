package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/target"
)

// memoryOf returns the split of memory_limit for the configured target.
func memoryOf(cfg config.Config) config.Memory {
	k, _ := target.Lookup(cfg.Target)
	return cfg.Memory(k.Embedded)
}

// applyMemoryLimit gives Go's runtime its share of memory_limit as its soft
// limit, unless GOMEMLIMIT sets one, and returns the split as log
// attributes (the run's summary line carries them).
func applyMemoryLimit(mem config.Memory) []any {
	goLimit := mem.Go
	if os.Getenv("GOMEMLIMIT") != "" {
		goLimit = debug.SetMemoryLimit(-1) // as the environment set it
	} else {
		debug.SetMemoryLimit(goLimit)
	}
	return []any{"memory_limit_mib", mib(mem.Limit), "warehouse_mib", mib(mem.Warehouse), "go_mib", mib(goLimit),
		"fetch_mib", mib(mem.FetchMaxBytes * int64(mem.FetchConcurrency)), "batch_mib", mib(mem.BatchMaxBytes)}
}

func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) }

// memWatch samples the process's resident memory while it runs, keeping
// the peak and how much of it was Go's (heap, stacks, the runtime's own):
// the rest is the embedded warehouse's and the program's code. With
// CDCSYNC_HEAP_PROFILE set, a Go heap profile is written there at each new
// peak, for performance work.
type memWatch struct {
	mu       sync.Mutex
	peakRSS  int64
	goAtPeak int64
	profile  string
	profiled int64
	stop     context.CancelFunc
	done     chan struct{}
}

const memWatchEvery = 100 * time.Millisecond

func startMemWatch() *memWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &memWatch{profile: os.Getenv("CDCSYNC_HEAP_PROFILE"), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(memWatchEvery)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// goResident is the memory Go's runtime holds from the OS, less what it
// has returned.
func goResident() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

func (w *memWatch) sample() {
	rss := residentBytes()
	if rss < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if rss <= w.peakRSS {
		return
	}
	w.peakRSS, w.goAtPeak = rss, goResident()
	if w.profile != "" && rss > w.profiled+16<<20 {
		w.profiled = rss
		var buf bytes.Buffer
		if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
			_ = os.WriteFile(w.profile, buf.Bytes(), 0o644)
		}
	}
}

// end stops sampling and returns the peak resident memory seen and Go's
// part of it, in bytes.
func (w *memWatch) end() (peak, goPart int64) {
	w.stop()
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peakRSS, w.goAtPeak
}

// residentBytes reads the process's resident memory (VmRSS), or -1.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}

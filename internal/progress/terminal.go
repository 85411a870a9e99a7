package progress

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// EveryEnv names the environment variable that overrides the interval of
// progress log lines (a Go duration, e.g. "1s"), for tests and for people
// who want more or fewer lines.
const EveryEnv = "CDCSYNC_PROGRESS_EVERY"

// maxLine bounds the live line, so that it never wraps on an 80-column
// terminal: a wrapped line cannot be rewritten with \r.
const maxLine = 79

// Terminal is a terminal shared by log output and one live progress line
// at its bottom. Writes (log lines) erase the live line, go through, and
// draw it again below them, so the two never mix.
type Terminal struct {
	mu   sync.Mutex
	w    io.Writer
	line string
}

// NewTerminal returns a Terminal drawing on w.
func NewTerminal(w io.Writer) *Terminal { return &Terminal{w: w} }

// erase is carriage return, then erase to the end of the line.
const erase = "\r\x1b[K"

// Write writes p (whole log lines) above the live line.
func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line == "" {
		return t.w.Write(p)
	}
	if _, err := io.WriteString(t.w, erase); err != nil {
		return 0, err
	}
	n, err := t.w.Write(p)
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(t.w, t.line)
	return n, err
}

// Show replaces the live line with s.
func (t *Terminal) Show(s string) {
	if utf8.RuneCountInString(s) > maxLine {
		r := []rune(s)
		s = string(r[:maxLine-1]) + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.line = s
	_, _ = io.WriteString(t.w, erase+s) // progress is best effort
}

// Clear erases the live line.
func (t *Terminal) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line == "" {
		return
	}
	t.line = ""
	_, _ = io.WriteString(t.w, erase)
}

// stderr is the process's stderr as a Terminal, or nil when it is not a
// terminal (decided once: every user must share one Terminal).
var stderr = sync.OnceValue(func() *Terminal {
	if !IsTerminal(os.Stderr) {
		return nil
	}
	return NewTerminal(os.Stderr)
})

// IsTerminal reports whether f is a character device other than a dumb
// terminal (TERM=dumb, e.g. an editor's shell buffer, cannot erase a
// line).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return os.Getenv("TERM") != "dumb"
}

// Stderr is where a command's logs go: os.Stderr, wrapped in the shared
// Terminal when it is one so that log lines and the live line do not mix.
func Stderr() io.Writer {
	if t := stderr(); t != nil {
		return t
	}
	return os.Stderr
}

// ForStderr returns the options a command reports progress with: a live
// line when stderr is a terminal, else log lines through log, every
// DefaultEvery or as EveryEnv says.
func ForStderr(log *slog.Logger) Options {
	o := Options{Term: stderr(), Log: log}
	if v := os.Getenv(EveryEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			o.Every = d
		} else if log != nil {
			log.Warn("ignoring "+EveryEnv+": want a positive duration such as 10s", "value", v)
		}
	}
	return o
}

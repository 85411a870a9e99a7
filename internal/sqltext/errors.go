package sqltext

import "strings"

// FirstLine keeps the first line of a multi-line driver error (DuckDB adds
// hints, the statement and a caret on further lines) and the error chain,
// so errors.Is and errors.As still see the driver's typed error. A nil or
// one-line error is returned as it is.
func FirstLine(err error) error {
	if err == nil || !strings.ContainsAny(err.Error(), "\r\n") {
		return err
	}
	return firstLine{err}
}

type firstLine struct{ err error }

func (e firstLine) Error() string {
	s := strings.TrimLeft(e.err.Error(), " \t\r\n")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func (e firstLine) Unwrap() error { return e.err }

// JoinLines puts a message whose every line matters (errors.Join of
// several errors, each on a line) on one line: lines joined with "; ",
// runs of white space collapsed. It is for a final message, such as the
// command's last word on standard error.
func JoinLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

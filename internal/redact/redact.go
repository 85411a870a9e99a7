// Package redact keeps secrets out of messages. It is the one place that
// knows where a password hides in a DSN: every command and every error
// path that may show a DSN, or an error a driver built from one, goes
// through it.
//
// DSN hides the password of a connection string of any shape — a URL
// (postgres://, postgresql://, redshift://, mysql://, duckdb://), libpq's
// key=value form, or a string no parser accepts — erring on the side of
// hiding too much: the boundaries of a malformed DSN are ambiguous, and a
// message that hides part of the host is better than one that shows the
// password.
//
// Drivers echo what they were given inside their errors (pgx's
// ParseConfig, net/url's parse errors), so DSN alone is not enough: Error
// and Text remove every form of a known secret from an error's text, and
// Remember/Known do it for the secrets of the whole process, as a last
// line of defence where errors are printed and logged.
package redact

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "xxxxx"

var (
	// A password in a URL's query (pgx reads password and sslpassword
	// there): up to the next &key= or the end, so that a raw '&' or '#'
	// in the password stays hidden.
	queryPW = regexp.MustCompile(`(?i)[?&](?:ssl)?password=(.*?)(?:&[A-Za-z_]+=|$)`)
	// A password in libpq's key=value form: a quoted value (backslash
	// escapes, possibly unterminated) or a run of non-space characters.
	keyValuePW = regexp.MustCompile(`(?i)\b(?:ssl)?password\s*=\s*('(?:\\.|[^'\\])*(?:'|$)|\S*)`)
	// Query parameters after a key=value string (a DuckLake DSN,
	// ducklake:postgres:dbname=… password=…?data_path=…).
	queryAfterKeyValue = regexp.MustCompile(`\?[A-Za-z_]+=`)
)

// DSN returns dsn with every password it may hold replaced by xxxxx.
// Whatever the input, the result does not contain the password.
func DSN(dsn string) string {
	out, _ := split(dsn)
	return out
}

// replaceGroup replaces submatch 1 of every match of re in s by Mask and
// returns the replaced values too.
func replaceGroup(re *regexp.Regexp, s string) (string, []string) {
	var b strings.Builder
	var found []string
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		found = append(found, s[m[2]:m[3]])
		b.WriteString(s[last:m[2]])
		b.WriteString(Mask)
		last = m[3]
	}
	b.WriteString(s[last:])
	return b.String(), found
}

// split redacts dsn and returns the secrets it hid, as they appear in it.
func split(dsn string) (string, []string) {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	var secrets []string
	switch {
	case isURL:
		rest, secrets = replaceGroup(queryPW, rest)
	case strings.Contains(dsn, "="):
		// libpq's key=value form. A password may end where query
		// parameters start, too: both readings are secrets.
		out, secrets := replaceGroup(keyValuePW, dsn)
		if i := queryAfterKeyValue.FindStringIndex(dsn); i != nil {
			_, more := replaceGroup(keyValuePW, dsn[:i[0]])
			secrets = append(secrets, more...)
		}
		return out, secrets
	case strings.HasSuffix(dsn, ".duckdb"):
		return dsn, nil // a file path
	default:
		rest = dsn
	}
	// The userinfo's password is whatever lies between the first ':' and
	// the last '@': a password may hold '@', '/', '?', '#' or a space,
	// and a user name (Azure's user@server) may hold '@'.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
			secrets = append(secrets, rest[colon+1:at])
			rest = rest[:colon+1] + Mask + rest[at:]
		}
	}
	if isURL {
		return scheme + "://" + rest, secrets
	}
	return rest, secrets
}

// forms returns a secret in every form a message may show it: raw,
// quoted, percent-decoded and percent-encoded.
func forms(secret string) []string {
	bases := []string{secret, strings.Trim(secret, "'")}
	for _, s := range bases[:2] {
		if d, err := url.PathUnescape(s); err == nil {
			bases = append(bases, d)
		}
		if d, err := url.QueryUnescape(s); err == nil {
			bases = append(bases, d)
		}
	}
	var out []string
	add := func(s string) {
		if s != "" && s != Mask && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range bases {
		add(s)
		add(strings.Trim(strconv.Quote(s), `"`))
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(strings.TrimPrefix(url.UserPassword("", s).String(), ":"))
	}
	return out
}

// Secrets returns the secrets a DSN holds, in every form a message may
// show them, longest first.
func Secrets(dsn string) []string {
	_, raw := split(dsn)
	var out []string
	for _, s := range raw {
		for _, f := range forms(s) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	// Longest first, so that a secret is replaced whole before a part of it.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Text removes from s every DSN given (replaced by its redacted form) and
// every secret those DSNs hold.
func Text(s string, dsns ...string) string {
	for _, dsn := range dsns {
		if dsn == "" {
			continue
		}
		s = strings.ReplaceAll(s, dsn, DSN(dsn))
		for _, sec := range Secrets(dsn) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	return s
}

// Error returns err with its text passed through Text, or err itself when
// it shows no secret. The result unwraps to err, so errors.Is and
// errors.As still see the cause.
func Error(err error, dsns ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := Text(msg, dsns...); clean != msg {
		return &redacted{msg: clean, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// The process's known secrets, remembered so that the last line of
// defence — the error printed on exit, log attributes, the run's recorded
// error — removes them wherever they turn up. Each DSN is kept with its
// redacted form; secrets are kept in every form, longest first.
var (
	mu      sync.Mutex
	dsns    map[string]string
	secrets []string
)

// Remember records DSNs whose secrets Known removes.
func Remember(dsn ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, d := range dsn {
		if _, ok := dsns[d]; d == "" || ok {
			continue
		}
		if dsns == nil {
			dsns = map[string]string{}
		}
		dsns[d] = DSN(d)
		addSecrets(Secrets(d))
	}
}

// RememberPassword records a bare secret (a SASL password, say) that
// Known removes.
func RememberPassword(secret string) {
	mu.Lock()
	defer mu.Unlock()
	addSecrets(forms(secret))
}

func addSecrets(ss []string) {
	for _, s := range ss {
		if !slices.Contains(secrets, s) {
			secrets = append(secrets, s)
		}
	}
	slices.SortStableFunc(secrets, func(a, b string) int { return len(b) - len(a) })
}

// Known removes every remembered secret from s.
func Known(s string) string {
	mu.Lock()
	defer mu.Unlock()
	for d, r := range dsns {
		s = strings.ReplaceAll(s, d, r)
	}
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, Mask)
	}
	return s
}

// KnownError is Known for an error; the result unwraps to err.
func KnownError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := Known(msg); clean != msg {
		return &redacted{msg: clean, err: err}
	}
	return err
}

// ParseURL parses a URL-form DSN without ever echoing it: net/url's errors
// quote the input, or the part of the password it objected to. A DSN
// with an '@' after its host is refused too — it is a password holding
// '/', '?' or '#' that the parser took for the path, query or fragment,
// and the password would end up in the host or the database name, shown
// by every later message.
func ParseURL(dsn string) (*url.URL, error) {
	u, err := url.Parse(dsn)
	if err == nil {
		_, rest, _ := strings.Cut(dsn, "://")
		authority := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if strings.LastIndexByte(rest, '@') > strings.LastIndexByte(authority, '@') {
			u = nil
		}
	}
	if err != nil || u == nil {
		return nil, fmt.Errorf("%s is not a valid URL: percent-encode the user name and password (e.g. # as %%23, / as %%2F, ? as %%3F, @ as %%40, %% as %%25, space as %%20)", DSN(dsn))
	}
	return u, nil
}

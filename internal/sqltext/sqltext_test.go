package sqltext_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/cdcsync/cdcsync/internal/sqltext"
)

func TestIdentAndLiteral_NastyInputs(t *testing.T) {
	reserved := sqltext.NewWords("select Table user")
	cases := []struct {
		in                       string
		ident, ifNeeded, bt, lit string
	}{
		{"", `""`, `""`, "``", `''`},
		{"plain_name1", `"plain_name1"`, `plain_name1`, "`plain_name1`", `'plain_name1'`},
		{"Mixed", `"Mixed"`, `"Mixed"`, "`Mixed`", `'Mixed'`},
		{"1starts_with_digit", `"1starts_with_digit"`, `"1starts_with_digit"`, "`1starts_with_digit`", `'1starts_with_digit'`},
		{"select", `"select"`, `"select"`, "`select`", `'select'`},
		{"table", `"table"`, `"table"`, "`table`", `'table'`},
		{`a"b`, `"a""b"`, `"a""b"`, "`a\"b`", `'a"b'`},
		{`""`, `""""""`, `""""""`, "`\"\"`", `'""'`},
		{"it's", `"it's"`, `"it's"`, "`it's`", `'it''s'`},
		{"''", `"''"`, `"''"`, "`''`", `''''''`},
		{"a`b", "\"a`b\"", "\"a`b\"", "`a``b`", "'a`b'"},
		{`back\slash`, `"back\slash"`, `"back\slash"`, "`back\\slash`", `'back\slash'`},
		{"café", `"café"`, `"café"`, "`café`", `'café'`},
		{"日本語", `"日本語"`, `"日本語"`, "`日本語`", `'日本語'`},
		{"x; DROP TABLE t; --", `"x; DROP TABLE t; --"`, `"x; DROP TABLE t; --"`, "`x; DROP TABLE t; --`", `'x; DROP TABLE t; --'`},
		{"new\nline", "\"new\nline\"", "\"new\nline\"", "`new\nline`", "'new\nline'"},
		{"_", `"_"`, `_`, "`_`", `'_'`},
	}
	for _, c := range cases {
		if got := sqltext.Ident(c.in); got != c.ident {
			t.Errorf("Ident(%q) = %s, want %s", c.in, got, c.ident)
		}
		if got := sqltext.IdentIfNeeded(c.in, reserved); got != c.ifNeeded {
			t.Errorf("IdentIfNeeded(%q) = %s, want %s", c.in, got, c.ifNeeded)
		}
		if got := sqltext.BacktickIdent(c.in); got != c.bt {
			t.Errorf("BacktickIdent(%q) = %s, want %s", c.in, got, c.bt)
		}
		if got := sqltext.Literal(c.in); got != c.lit {
			t.Errorf("Literal(%q) = %s, want %s", c.in, got, c.lit)
		}
	}
	if sqltext.IdentIfNeeded("user", nil) != "user" {
		t.Error("IdentIfNeeded with no reserved words quoted a plain name")
	}
	if !reserved.Has("SELECT") || !reserved.Has("table") || reserved.Has("selects") {
		t.Error("Words.Has is not a case-insensitive exact match")
	}
}

// driverError stands for a typed driver error (pgconn.PgError,
// duckdb.Error) whose text runs over several lines.
type driverError struct{ code, msg string }

func (e *driverError) Error() string { return e.msg }

func TestFirstLine_KeepsChain(t *testing.T) {
	typed := &driverError{code: "23505", msg: "Constraint Error: Duplicate key \"id: 1\"\n\nLINE 1: INSERT INTO t ...\n        ^"}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"one line", errors.New("boom"), "boom"},
		{"typed multi-line", typed, `Constraint Error: Duplicate key "id: 1"`},
		{"wrapped multi-line", fmt.Errorf("stage: %w", typed), `stage: Constraint Error: Duplicate key "id: 1"`},
		{"CRLF", errors.New("first  \r\nsecond"), "first"},
		{"leading newline", errors.New("\n  hint first\nsecond"), "hint first"},
		{"joined", errors.Join(fs.ErrNotExist, errors.New("second")), fs.ErrNotExist.Error()},
	}
	for _, c := range cases {
		got := sqltext.FirstLine(c.err)
		if c.err == nil {
			if got != nil {
				t.Errorf("%s: FirstLine(nil) = %v", c.name, got)
			}
			continue
		}
		if got.Error() != c.want {
			t.Errorf("%s: FirstLine = %q, want %q", c.name, got.Error(), c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the chain is lost: errors.Is(FirstLine(err), err) is false", c.name)
		}
	}
	var de *driverError
	if !errors.As(sqltext.FirstLine(fmt.Errorf("stage: %w", typed)), &de) || de.code != "23505" {
		t.Error("errors.As does not find the typed driver error through FirstLine")
	}
	if !errors.Is(sqltext.FirstLine(errors.Join(fs.ErrNotExist, errors.New("x"))), fs.ErrNotExist) {
		t.Error("errors.Is does not see a joined error through FirstLine")
	}
}

func TestJoinLines(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"one line", "one line"},
		{"config: a is bad\nconfig: b is bad", "config: a is bad; config: b is bad"},
		{"a\r\nb", "a; b"},
		{"  spaced   out\n\tindented ", "spaced out; indented"},
	}
	for _, c := range cases {
		if got := sqltext.JoinLines(c.in); got != c.want {
			t.Errorf("JoinLines(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Package sqltext is the SQL text plumbing every SQL-speaking package
// shares: quoting identifiers, rendering string literals, sets of reserved
// words, and turning driver errors into one-line errors. It knows no
// dialect; a dialect's own words (Redshift's reserved words, say) live with
// the dialect and are passed in.
//
// Everything here is written once on purpose: two copies of a quoting or
// error helper drift apart, and the one that drifts leaks or breaks SQL.
package sqltext

import (
	"strings"
)

// Ident quotes an identifier the standard way ("a""b"), which DuckDB,
// PostgreSQL and Redshift all accept. Any name is safe: an embedded double
// quote is doubled, everything else is kept byte for byte.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// IdentIfNeeded renders an identifier bare when it is a plain lower-case
// name ([a-z_][a-z0-9_]*) that is not in reserved, and quoted with Ident
// otherwise. Generated SQL meant for people to read uses it.
func IdentIfNeeded(name string, reserved Words) string {
	if plain(name) && !reserved.Has(name) {
		return name
	}
	return Ident(name)
}

// plain reports whether name matches [a-z_][a-z0-9_]*.
func plain(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// BacktickIdent quotes a MySQL identifier (`a“b`).
func BacktickIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Literal renders a standard SQL string literal ('it”s'). Backslashes are
// kept as they are: every database cdcsync writes SQL for reads them
// literally in standard strings.
func Literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Words is a set of reserved words, in lower case.
type Words map[string]bool

// NewWords makes a set of the whitespace-separated words of list.
func NewWords(list string) Words {
	w := Words{}
	for _, s := range strings.Fields(list) {
		w[strings.ToLower(s)] = true
	}
	return w
}

// Has reports whether word, in any case, is in the set.
func (w Words) Has(word string) bool { return w[strings.ToLower(word)] }

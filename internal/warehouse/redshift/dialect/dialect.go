// Package dialect is everything cdcsync knows about Redshift's SQL, in one
// place: its types and their limits, column encodings, distribution and
// sort keys, reserved words, and the mapping of the few Redshift-only
// constructs to PostgreSQL's. The Redshift warehouse (warehouse/redshift)
// and the SQL generator (redshiftgen) both render Redshift through it; it
// opens no connection and imports no driver.
//
// Tests run Redshift's SQL on PostgreSQL, one way: the Target PostgreSQL
// renders SUPER as JSONB, VARBYTE as BYTEA, JSON_PARSE as a cast to JSONB,
// FROM_HEX as decode(…, 'hex'), SYSDATE as LOCALTIMESTAMP, and drops
// ENCODE, DISTKEY and SORTKEY. Everything else both accept.
package dialect

import (
	"strings"

	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// Target is the database the SQL is rendered for: Redshift, or PostgreSQL
// standing in for it in tests.
type Target uint8

// The targets.
const (
	Redshift Target = iota
	PostgreSQL
)

func (t Target) String() string {
	if t == PostgreSQL {
		return "postgresql"
	}
	return "redshift"
}

// Super is the semi-structured type: SUPER (JSONB on PostgreSQL).
func (t Target) Super() string {
	if t == PostgreSQL {
		return "JSONB"
	}
	return "SUPER"
}

// JSONParse parses JSON text into a SUPER (JSONB) value.
func (t Target) JSONParse(text string) string {
	if t == PostgreSQL {
		return "(" + text + ")::JSONB"
	}
	return "JSON_PARSE(" + text + ")"
}

// FromHex decodes hexadecimal text into bytes.
func (t Target) FromHex(text string) string {
	if t == PostgreSQL {
		return "decode(" + text + ", 'hex')"
	}
	return "FROM_HEX(" + text + ")"
}

// Now is the transaction's start time as a TIMESTAMP: SYSDATE on Redshift,
// LOCALTIMESTAMP on PostgreSQL.
func (t Target) Now() string {
	if t == PostgreSQL {
		return "LOCALTIMESTAMP"
	}
	return "SYSDATE"
}

// Encode renders a column's ENCODE clause; nothing on PostgreSQL or for
// no encoding.
func (t Target) Encode(enc string) string {
	if t == PostgreSQL || enc == "" {
		return ""
	}
	return " ENCODE " + enc
}

// KeyDistribution distributes a table on its key's first column and sorts
// it on the whole key (names as given, already quoted); sep goes before
// each clause. With no key, Redshift picks both. Nothing on PostgreSQL.
func (t Target) KeyDistribution(sep string, key []string) string {
	switch {
	case t == PostgreSQL:
		return ""
	case len(key) == 0:
		return sep + "DISTSTYLE AUTO" + sep + "SORTKEY AUTO"
	}
	return sep + "DISTSTYLE KEY" + sep + "DISTKEY (" + key[0] + ")" + sep + "COMPOUND SORTKEY (" + strings.Join(key, ", ") + ")"
}

// AllDistribution keeps a copy of a small table on every node.
func (t Target) AllDistribution(sep string) string {
	if t == PostgreSQL {
		return ""
	}
	return sep + "DISTSTYLE ALL"
}

// Ident renders an identifier for SQL people read: bare when it is a plain
// lower-case name that is no reserved word, double-quoted otherwise.
func Ident(name string) string { return sqltext.IdentIfNeeded(name, Reserved) }

// Reserved holds Amazon Redshift's reserved words (SQL reference,
// "Reserved words") and the PostgreSQL ones missing from it, so that a
// name left bare is a name in both.
var Reserved = sqltext.NewWords(`aes128 aes256 all allowoverwrite analyse analyze and any array as asc authorization az64
backup between binary blanksasnull both bytedict bzip2 case cast check collate column constraint create
credentials cross current_date current_time current_timestamp current_user current_user_id default
deferrable deflate defrag delta delta32k desc disable distinct do else emptyasnull enable encode encrypt
encryption end except explicit false for foreign freeze from full globaldict256 globaldict64k grant group
gzip having identity ignore ilike in initially inner intersect interval into is isnull join language
leading left like limit localtime localtimestamp lun luns lzo lzop minus mostly13 mostly32 mostly8
natural new not notnull null nulls off offline offset oid old on only open or order outer overlaps
parallel partition percent permissions placing primary raw readratio recover references rejectlog
resort respect restore right select session_user similar snapshot some sysdate system table tag tdes
text255 text32k then timestamp to top trailing true truncatecolumns union unique user using verbose
wallet when where with without
current_catalog current_role current_schema fetch lateral returning symmetric tablesample variadic window`)

package warehouse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Identifiers describes how a warehouse treats identifiers. Names are a
// mapping with rules, applied the same way on every start: a source table
// or column name becomes the identifier Identifiers.Table or
// Identifiers.Column returns, and two names the warehouse would take for
// one (Fold) are one name.
type Identifiers struct {
	// Warehouse names the warehouse in errors ("DuckDB").
	Warehouse string
	// MaxBytes is the longest identifier the warehouse keeps, in bytes;
	// 0 means no limit. PostgreSQL silently truncates longer names to 63
	// bytes, Redshift refuses names over 127.
	MaxBytes int
	// CaseInsensitive says names that differ only in case name one object
	// (DuckDB, even quoted; Redshift).
	CaseInsensitive bool
	// Lowercase says the warehouse stores names lowercased (Redshift).
	Lowercase bool
}

// Fold returns the key under which the warehouse compares two names: equal
// keys name one object.
func (id Identifiers) Fold(name string) string {
	if id.CaseInsensitive || id.Lowercase {
		return strings.ToLower(name)
	}
	return name
}

// Fit returns the identifier the warehouse keeps for name: lowercased where
// the warehouse lowercases, and, when longer than MaxBytes, cut to the
// longest prefix (at a UTF-8 boundary) that fits with "_" and 8 hex digits
// of the SHA-256 of the folded name. The same name always gives the same
// identifier; distinct names give distinct ones (up to a 32-bit hash).
func (id Identifiers) Fit(name string) string {
	if id.Lowercase {
		name = strings.ToLower(name)
	}
	if id.MaxBytes <= 0 || len(name) <= id.MaxBytes {
		return name
	}
	sum := sha256.Sum256([]byte(id.Fold(name)))
	suffix := "_" + hex.EncodeToString(sum[:4])
	cut := id.MaxBytes - len(suffix)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + suffix
}

// Table returns the identifier of the target table a source table name maps
// to. Reserved names are checked by CheckTable, not renamed.
func (id Identifiers) Table(name string) string { return id.Fit(name) }

// Landing returns the identifier of a target table's landing table, and
// Staging that of its staging table; each fits the limit on its own.
func (id Identifiers) Landing(table string) string { return id.Fit(LandingTable(table)) }

// LandingStore returns the identifier of the table under a landing view
// (warehouses that elide schemas).
func (id Identifiers) LandingStore(table string) string { return id.Fit(LandingTable(table) + "_raw") }

// Staging returns the identifier of a target table's staging table.
func (id Identifiers) Staging(table string) string { return id.Fit(StagingPrefix + table) }

// Column returns the identifier of the target column a source column lands
// in. cdcsync's own column names are an exact set (MetaColumns, and the
// staging columns ColUnchanged, ColKeyID, ColOtherKeyID and
// ColOldKeyPrefix…): a source column with
// one of those names lands in SourceColumnPrefix + name instead, so
// `_cdc_op` lands in `src_cdc_op`. Every other name is the source's, made
// to Fit.
func (id Identifiers) Column(name string) string {
	if f := id.Fold(name); id.IsMetaColumn(name) || f == ColUnchanged || f == ColKeyID || f == ColOtherKeyID || strings.HasPrefix(f, ColOldKeyPrefix) {
		name = SourceColumnPrefix + name
	}
	return id.Fit(name)
}

// IsMetaColumn reports whether a target column is one of cdcsync's.
func (id Identifiers) IsMetaColumn(name string) bool {
	f := id.Fold(name)
	for _, m := range MetaColumns {
		if f == m {
			return true
		}
	}
	return false
}

// CheckTable returns an error when a topic may not map to a table: the name
// is cdcsync's (it starts with Prefix, whatever the case), or is empty.
func (id Identifiers) CheckTable(topic, table string) error {
	switch {
	case table == "":
		return &NameError{Topic: topic, Table: table, Reason: "an empty table name"}
	case strings.HasPrefix(strings.ToLower(table), Prefix):
		return &NameError{Topic: topic, Table: table, Reason: "a name reserved for cdcsync's own tables (prefix " + Prefix + ")"}
	}
	return nil
}

// NameError reports a topic that cannot map to its table: the name is
// reserved, or another topic's table has it (as the warehouse compares
// names). It is a configuration problem, never a record's: the pipeline
// stops with it, nothing becomes a dead letter and no offset moves.
type NameError struct {
	Topic  string
	Table  string
	Owner  string // the other topic, for a collision
	Reason string
}

func (e *NameError) Error() string {
	fix := "map the topic to another table with tables.<name>.topic, or leave it out of topics"
	if e.Owner != "" {
		return fmt.Sprintf("topics %q and %q both map to table %q (%s): map one of them to another table with tables.<name>.topic",
			e.Owner, e.Topic, e.Table, e.Reason)
	}
	return fmt.Sprintf("topic %q maps to table %q, %s: %s", e.Topic, e.Table, e.Reason, fix)
}

// Describe says in a few words how the warehouse treats names, for errors.
func (id Identifiers) Describe() string {
	var parts []string
	switch {
	case id.Lowercase:
		parts = append(parts, "names are lowercased")
	case id.CaseInsensitive:
		parts = append(parts, "names are compared case-insensitively")
	default:
		parts = append(parts, "names are case-sensitive")
	}
	if id.MaxBytes > 0 {
		parts = append(parts, fmt.Sprintf("longer than %d bytes are cut and given a hash suffix", id.MaxBytes))
	}
	parts = append(parts, "a name of cdcsync's own columns gets the prefix "+SourceColumnPrefix)
	return strings.Join(parts, "; ")
}

package redshiftgen

import (
	"regexp"
	"strings"
)

// Dialect selects the SQL flavour. Redshift is what the command writes;
// PostgreSQL exists only so that tests can run the generated procedure on a
// real database. Every construct that differs between the two is rendered
// by a method of this file; everything else in the templates is SQL both
// accept.
type Dialect uint8

// The dialects.
const (
	Redshift Dialect = iota
	PostgreSQL
)

func (d Dialect) String() string {
	if d == PostgreSQL {
		return "postgresql"
	}
	return "redshift"
}

// jpath addresses a JSON value inside a parsed column: base is a SUPER
// (jsonb) expression such as m.payload, parents the fixed attributes below
// it, leaf the attribute read.
type jpath struct {
	base    string
	parents []string
	leaf    string
}

func (p jpath) child(parent string) jpath {
	return jpath{base: p.base, parents: append(append([]string(nil), p.parents...), parent)}
}

func (p jpath) field(leaf string) jpath {
	return jpath{base: p.base, parents: p.parents, leaf: leaf}
}

// json renders the JSON value at p: SUPER navigation on Redshift
// (m.payload.after."id"), jsonb operators on PostgreSQL.
func (d Dialect) json(p jpath) string {
	if d == PostgreSQL {
		return d.parent(p) + "->" + literal(p.leaf)
	}
	return d.parent(p) + `."` + strings.ReplaceAll(p.leaf, `"`, `""`) + `"`
}

// scalar renders the JSON scalar at p cast to a SQL type. Redshift casts
// the SUPER value itself; PostgreSQL casts its text (->>).
func (d Dialect) scalar(p jpath, sqlType string) string {
	if d == PostgreSQL {
		return "(" + d.parent(p) + "->>" + literal(p.leaf) + ")::" + sqlType
	}
	return d.json(p) + "::" + sqlType
}

// parent renders the base and the fixed attributes of p.
func (d Dialect) parent(p jpath) string {
	var b strings.Builder
	b.WriteString(p.base)
	for _, s := range p.parents {
		if d == PostgreSQL {
			b.WriteString("->" + literal(s))
		} else {
			b.WriteString("." + s)
		}
	}
	return b.String()
}

// parseJSON parses JSON text into a SUPER (jsonb) value.
func (d Dialect) parseJSON(text string) string {
	if d == PostgreSQL {
		return "(" + text + ")::JSONB"
	}
	return "JSON_PARSE(" + text + ")"
}

// serializeJSON renders a SUPER (jsonb) value as JSON text.
func (d Dialect) serializeJSON(j string) string {
	if d == PostgreSQL {
		return "(" + j + ")::TEXT"
	}
	return "JSON_SERIALIZE(" + j + ")"
}

// fromBase64 decodes base64 text into bytes.
func (d Dialect) fromBase64(text string) string {
	if d == PostgreSQL {
		return "DECODE(" + text + ", 'base64')"
	}
	return "TO_VARBYTE(" + text + ", 'base64')"
}

// trailingDigits extracts the number a name ends with (mysql-bin.000003).
func (d Dialect) trailingDigits(text string) string {
	if d == PostgreSQL {
		return "SUBSTRING(" + text + " FROM '[0-9]+$')"
	}
	return "REGEXP_SUBSTR(" + text + ", '[0-9]+$')"
}

// firstArrayElement reads element 0 of a JSON array held in text, NULL
// when the text is not a JSON array.
func (d Dialect) firstArrayElement(text string) string {
	if d == PostgreSQL {
		return "((" + text + ")::JSONB->>0)"
	}
	return "JSON_EXTRACT_ARRAY_ELEMENT_TEXT(" + text + ", 0, TRUE)"
}

// now is the transaction's timestamp.
func (d Dialect) now() string {
	if d == PostgreSQL {
		return "LOCALTIMESTAMP"
	}
	return "SYSDATE"
}

func (d Dialect) superType() string {
	if d == PostgreSQL {
		return "JSONB"
	}
	return "SUPER"
}

func (d Dialect) varbyteType() string {
	if d == PostgreSQL {
		return "BYTEA"
	}
	return "VARBYTE"
}

// encode renders a column's compression encoding.
func (d Dialect) encode(enc string) string {
	if d == PostgreSQL || enc == "" {
		return ""
	}
	return " ENCODE " + enc
}

// tableAttributes distributes a table on its key's first column and sorts
// it on the whole key.
func (d Dialect) tableAttributes(distKey string, sortKey []string) string {
	if d == PostgreSQL {
		return ""
	}
	return "\nDISTSTYLE KEY\nDISTKEY (" + distKey + ")\nCOMPOUND SORTKEY (" + strings.Join(sortKey, ", ") + ")"
}

// smallTableAttributes is for cdcsync's bookkeeping tables: a copy on every
// node.
func (d Dialect) smallTableAttributes() string {
	if d == PostgreSQL {
		return ""
	}
	return "\nDISTSTYLE ALL"
}

// columnName is how a source name becomes a table column: Redshift folds
// identifiers to lower case (unless enable_case_sensitive_identifier is on),
// so the columns are created lower case and always found.
func (d Dialect) columnName(name string) string {
	if d == PostgreSQL {
		return name
	}
	return strings.ToLower(name)
}

// materializedView renders the streaming view over a topic. On PostgreSQL
// it is a plain table with the same columns, which tests fill with Kafka
// records.
func (d Dialect) materializedView(name, source string) string {
	if d == PostgreSQL {
		return "CREATE TABLE " + name + ` (
    kafka_partition INTEGER NOT NULL,
    kafka_offset BIGINT NOT NULL,
    kafka_timestamp_type CHAR(1),
    kafka_timestamp TIMESTAMP,
    kafka_key BYTEA,
    kafka_value BYTEA,
    kafka_headers JSONB,
    refresh_time TIMESTAMP,
    payload JSONB,
    key_payload JSONB
);`
	}
	return "CREATE MATERIALIZED VIEW " + name + ` AUTO REFRESH YES AS
SELECT
    kafka_partition,
    kafka_offset,
    kafka_timestamp_type,
    kafka_timestamp,
    kafka_key,
    kafka_value,
    kafka_headers,
    refresh_time,
    CASE WHEN CAN_JSON_PARSE(kafka_value) THEN JSON_PARSE(kafka_value) END AS payload,
    CASE WHEN CAN_JSON_PARSE(kafka_key) THEN JSON_PARSE(kafka_key) END AS key_payload
FROM ` + source + ";"
}

// externalSchema maps the MSK cluster into the database.
func (d Dialect) externalSchema(name, iamRole, clusterARN string) string {
	if d == PostgreSQL {
		return "-- (PostgreSQL test rendering: no external schema; the stand-in views are plain tables.)"
	}
	return "CREATE EXTERNAL SCHEMA " + name + `
FROM MSK
IAM_ROLE ` + literal(iamRole) + `
AUTHENTICATION IAM
CLUSTER_ARN ` + literal(clusterARN) + ";"
}

// procedureOptions renders the options after LANGUAGE plpgsql: SUPER
// navigation only finds mixed-case attributes with case-sensitive
// identifiers, which a procedure can switch on for its own run.
func (d Dialect) procedureOptions(caseSensitive bool) string {
	if d == PostgreSQL || !caseSensitive {
		return ""
	}
	return "\nSET enable_case_sensitive_identifier TO true"
}

// caseSensitiveSession renders the session setting a mixed-case topic name
// needs before the view is created.
func (d Dialect) caseSensitiveSession() string {
	if d == PostgreSQL {
		return ""
	}
	return "SET enable_case_sensitive_identifier TO true;\n"
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// quote renders an identifier, double-quoted unless it is a plain lower-case
// name that is no reserved word in Redshift or PostgreSQL.
func quote(name string) string {
	if plainIdent.MatchString(name) && !reserved[name] {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// literal renders a SQL string literal.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// reserved holds Amazon Redshift's reserved words (SQL reference, "Reserved
// words") and the PostgreSQL ones missing from it.
var reserved = func() map[string]bool {
	words := `aes128 aes256 all allowoverwrite analyse analyze and any array as asc authorization az64
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
current_catalog current_role current_schema fetch lateral returning symmetric tablesample variadic window`
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}()

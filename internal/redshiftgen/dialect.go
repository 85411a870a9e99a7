package redshiftgen

import (
	"strings"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// Dialect selects the SQL flavour. Redshift is what the command writes;
// PostgreSQL exists only so that tests can run the generated procedure on a
// real database. Every construct that differs between the two is rendered
// by a method of this file, most through the shared Redshift dialect
// (warehouse/redshift/dialect); everything else in the templates is SQL
// both accept.
type Dialect rs.Target

// The dialects.
const (
	Redshift   = Dialect(rs.Redshift)
	PostgreSQL = Dialect(rs.PostgreSQL)
)

func (d Dialect) String() string { return d.sql().String() }

// sql is the shared rendering of Redshift's constructs.
func (d Dialect) sql() rs.Target { return rs.Target(d) }

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
		return d.parent(p) + "->" + sqltext.Literal(p.leaf)
	}
	return d.parent(p) + "." + sqltext.Ident(p.leaf)
}

// scalar renders the JSON scalar at p cast to a SQL type. Redshift casts
// the SUPER value itself; PostgreSQL casts its text (->>).
func (d Dialect) scalar(p jpath, sqlType string) string {
	if d == PostgreSQL {
		return "(" + d.parent(p) + "->>" + sqltext.Literal(p.leaf) + ")::" + sqlType
	}
	return d.json(p) + "::" + sqlType
}

// parent renders the base and the fixed attributes of p.
func (d Dialect) parent(p jpath) string {
	var b strings.Builder
	b.WriteString(p.base)
	for _, s := range p.parents {
		if d == PostgreSQL {
			b.WriteString("->" + sqltext.Literal(s))
		} else {
			b.WriteString("." + s)
		}
	}
	return b.String()
}

// parseJSON parses JSON text into a SUPER (jsonb) value.
func (d Dialect) parseJSON(text string) string { return d.sql().JSONParse(text) }

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
func (d Dialect) now() string { return d.sql().Now() }

func (d Dialect) superType() string { return d.sql().Super() }

func (d Dialect) varbyteType() string { return d.sql().BytesType(rs.Varbyte) }

// encode renders a column's compression encoding.
func (d Dialect) encode(enc string) string { return d.sql().Encode(enc) }

// tableAttributes distributes a table on its key's first column and sorts
// it on the whole key.
func (d Dialect) tableAttributes(key []string) string { return d.sql().KeyDistribution("\n", key) }

// smallTableAttributes is for cdcsync's bookkeeping tables: a copy on every
// node.
func (d Dialect) smallTableAttributes() string { return d.sql().AllDistribution("\n") }

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
IAM_ROLE ` + sqltext.Literal(iamRole) + `
AUTHENTICATION IAM
CLUSTER_ARN ` + sqltext.Literal(clusterARN) + ";"
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

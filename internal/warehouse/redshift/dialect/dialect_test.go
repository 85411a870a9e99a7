package dialect_test

import (
	"testing"

	"github.com/cdcsync/cdcsync/internal/change"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// TestEncoding_OnlyDocumentedPairs: every encoding picked is one Redshift
// documents for the column's type ("Compression encodings"), so CREATE
// TABLE cannot fail on it. The warehouse used to put AZ64 on TIME, TIMETZ
// and text decimals, and ZSTD on SUPER and VARBYTE.
func TestEncoding_OnlyDocumentedPairs(t *testing.T) {
	documented := map[string][]string{
		"az64":     {"SMALLINT", "INTEGER", "BIGINT", "DECIMAL", "DATE", "TIMESTAMP", "TIMESTAMPTZ"},
		"zstd":     {"SMALLINT", "INTEGER", "BIGINT", "DECIMAL", "REAL", "DOUBLE PRECISION", "BOOLEAN", "VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMPTZ"},
		"lzo":      {"SMALLINT", "INTEGER", "BIGINT", "DECIMAL", "VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "SUPER"},
		"bytedict": {"SMALLINT", "INTEGER", "BIGINT", "DECIMAL", "REAL", "DOUBLE PRECISION", "VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMPTZ"},
	}
	base := func(typ string) string {
		for _, p := range []string{"DECIMAL", "VARCHAR"} {
			if len(typ) >= len(p) && typ[:len(p)] == p {
				return p
			}
		}
		return typ
	}
	types := []string{"BOOLEAN", "SMALLINT", "INTEGER", "BIGINT", "REAL", "DOUBLE PRECISION", "DECIMAL(10,2)",
		rs.InexactDecimal, "VARCHAR(36)", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "SUPER", rs.MaxVarbyte, rs.Varbyte}
	for _, typ := range types {
		for _, low := range []bool{false, true} {
			enc, err := rs.Encoding(typ, false, low)
			if err != nil {
				continue // refused, not rendered
			}
			if enc == "raw" {
				continue
			}
			ok := false
			for _, d := range documented[enc] {
				ok = ok || d == base(typ)
			}
			if !ok {
				t.Errorf("Encoding(%s, low cardinality %v) = %s, which Redshift does not document for %s", typ, low, enc, typ)
			}
		}
		if enc, _ := rs.Encoding(typ, true, false); enc != "raw" {
			t.Errorf("sort key column of %s: %s, want raw", typ, enc)
		}
	}
}

// TestTypes_InexactDecimalHoldsAnyDigits: a decimal without a fixed scale,
// or wider than 38 digits, is text as wide as a VARCHAR gets (the
// generator used VARCHAR(128), which refuses a numeric(1000) value and
// fails its whole procedure); exact decimals are DECIMAL(p,s).
func TestTypes_InexactDecimalHoldsAnyDigits(t *testing.T) {
	if rs.InexactDecimal != "VARCHAR(65535)" {
		t.Errorf("InexactDecimal = %s", rs.InexactDecimal)
	}
	for _, c := range []struct {
		t    change.Type
		want string
		ok   bool
	}{
		{change.DecimalType(10, 2), "DECIMAL(10,2)", true},
		{change.DecimalType(38, 0), "DECIMAL(38,0)", true},
		{change.DecimalType(39, 0), "", false},
		{change.DecimalType(0, 0), "", false},
		{change.DecimalType(5, 7), "", false},
	} {
		if got, ok := rs.ScalarType(c.t); got != c.want || ok != c.ok {
			t.Errorf("ScalarType(%s) = %q, %v; want %q, %v", c.t, got, ok, c.want, c.ok)
		}
	}
}

func TestTargets_PostgreSQLStandIn(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{rs.Redshift.Super(), "SUPER"}, {rs.PostgreSQL.Super(), "JSONB"},
		{rs.Redshift.JSONParse("x"), "JSON_PARSE(x)"}, {rs.PostgreSQL.JSONParse("x"), "(x)::JSONB"},
		{rs.Redshift.FromHex("x"), "FROM_HEX(x)"}, {rs.PostgreSQL.FromHex("x"), "decode(x, 'hex')"},
		{rs.Redshift.Now(), "SYSDATE"}, {rs.PostgreSQL.Now(), "LOCALTIMESTAMP"},
		{rs.Redshift.BytesType(rs.MaxVarbyte), "VARBYTE(1024000)"}, {rs.PostgreSQL.BytesType(rs.MaxVarbyte), "BYTEA"},
		{rs.Redshift.Encode("az64"), " ENCODE az64"}, {rs.PostgreSQL.Encode("az64"), ""},
		{rs.Redshift.KeyDistribution(" ", []string{"a", "b"}), " DISTSTYLE KEY DISTKEY (a) COMPOUND SORTKEY (a, b)"},
		{rs.Redshift.KeyDistribution(" ", nil), " DISTSTYLE AUTO SORTKEY AUTO"},
		{rs.PostgreSQL.KeyDistribution(" ", []string{"a"}), ""},
		{rs.Ident("order_id"), "order_id"}, {rs.Ident("user"), `"user"`}, {rs.Ident("Order"), `"Order"`}, {rs.Ident(`a"b`), `"a""b"`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

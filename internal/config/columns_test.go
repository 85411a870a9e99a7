package config

import (
	"strings"
	"testing"
)

const testMaskingKey = "a-masking-key-of-32-bytes-length"

// TestColumns_ValidateRules: one case per rule of the column rules and
// the masking key, each naming its key.
func TestColumns_ValidateRules(t *testing.T) {
	cases := []struct {
		name, key, text string
		table           Table
		masking         Masking
	}{
		{"include and exclude", "tables.t.columns_include", "not both",
			Table{ColumnsInclude: []string{"a"}, ColumnsExclude: []string{"b"}}, Masking{}},
		{"hashed and excluded", "tables.t.columns_hash", `"b" is excluded too`,
			Table{ColumnsExclude: []string{"b"}, ColumnsHash: []string{"b"}}, Masking{KeyEnv: "K"}},
		{"hashed but not included", "tables.t.columns_hash", `"b" is not in columns_include`,
			Table{ColumnsInclude: []string{"a"}, ColumnsHash: []string{"b"}}, Masking{KeyEnv: "K"}},
		{"listed twice", "tables.t.columns_exclude", "listed twice", Table{ColumnsExclude: []string{"a", "a"}}, Masking{}},
		{"empty name", "tables.t.columns_include", "must not be empty", Table{ColumnsInclude: []string{""}}, Masking{}},
		{"cdcsync's own column", "tables.t.columns_hash", "cdcsync's own", Table{ColumnsHash: []string{"_cdc_op"}}, Masking{KeyEnv: "K"}},
		{"hash without a key", "masking", "a key is required for columns_hash (tables t)", Table{ColumnsHash: []string{"a"}}, Masking{}},
		{"env and file", "masking.key_env", "not both", Table{ColumnsHash: []string{"a"}}, Masking{KeyEnv: "K", KeyFile: "/k"}},
		{"bad env name", "masking.key_env", "not an environment variable name", Table{}, Masking{KeyEnv: "1-K"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			c.Tables = map[string]Table{"t": tc.table}
			c.Masking = tc.masking
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key+":") || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want one naming %s: %s", err, tc.key, tc.text)
			}
		})
	}
	c := valid()
	c.Tables = map[string]Table{"t": {ColumnsInclude: []string{"id", "email"}, ColumnsHash: []string{"email"}}}
	c.Masking.KeyEnv = "K"
	if err := c.Validate(); err != nil {
		t.Fatalf("valid rules refused: %v", err)
	}
}

// TestColumns_LoadRules: the keys are read from YAML.
func TestColumns_LoadRules(t *testing.T) {
	path := writeFile(t, "c.yaml", "masking:\n  key_env: CDC_MASK\ntables:\n  customers:\n    columns_exclude: [ssn]\n    columns_hash: [email]\n", 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tb := c.Tables["customers"]; c.Masking.KeyEnv != "CDC_MASK" || len(tb.ColumnsExclude) != 1 || tb.ColumnsHash[0] != "email" {
		t.Fatalf("loaded %+v", c)
	}
}

// TestColumns_KeyFromEnv: the key is the variable's value; an unset
// variable is an error naming it, never a key.
func TestColumns_KeyFromEnv(t *testing.T) {
	c := valid()
	c.Masking.KeyEnv = "CDCSYNC_TEST_MASK_KEY"
	t.Setenv("CDCSYNC_TEST_MASK_KEY", testMaskingKey)
	if err := c.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	if string(c.MaskingKey()) != testMaskingKey {
		t.Fatalf("key %q", c.MaskingKey())
	}
	c = valid()
	c.Masking.KeyEnv = "CDCSYNC_TEST_MASK_KEY_UNSET"
	err := c.ResolveSecrets()
	if err == nil || !strings.Contains(err.Error(), "masking.key_env: environment variable CDCSYNC_TEST_MASK_KEY_UNSET is not set") {
		t.Fatalf("err = %v", err)
	}
}

// TestColumns_KeyTooShort: a short key is refused, and the error does not
// show it.
func TestColumns_KeyTooShort(t *testing.T) {
	c := valid()
	c.Masking.KeyFile = writeFile(t, "k", "short-key\n", 0o600)
	err := c.ResolveSecrets()
	if err == nil || !strings.Contains(err.Error(), "masking: the key is 9 bytes; use at least 16") || strings.Contains(err.Error(), "short-key") {
		t.Fatalf("err = %v", err)
	}
}

// TestColumns_KeyFileReadableWarns: a key file its group or others can
// read gets the warning the other secret files get; the key is read
// (trailing newline dropped) and never shown.
func TestColumns_KeyFileReadableWarns(t *testing.T) {
	c := valid()
	c.Masking.KeyFile = writeFile(t, "mask.key", testMaskingKey+"\n", 0o644)
	if err := c.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	if string(c.MaskingKey()) != testMaskingKey {
		t.Fatalf("key %q", c.MaskingKey())
	}
	if got := warnings(&c); !strings.Contains(got, c.Masking.KeyFile) || strings.Contains(got, testMaskingKey) {
		t.Fatalf("warning %q, want one naming the key file", got)
	}
	c = valid()
	c.Masking.KeyFile = writeFile(t, "mask.key", testMaskingKey, 0o600)
	if err := c.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	if got := warnings(&c); got != "" {
		t.Fatalf("warning %q for a private key file", got)
	}
}

package iceberg_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
)

// TestIceberg_DSN: the endpoint, namespace and auth are read from the DSN,
// DuckDB settings are told apart, and an extension directory turns
// automatic installs off.
func TestIceberg_DSN(t *testing.T) {
	c, err := iceberg.Parse("iceberg:http://127.0.0.1:8181/api?warehouse=lake&namespace=Inv&threads=2&extension_directory=/opt/ext")
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "http://127.0.0.1:8181/api" || c.Warehouse != "lake" || c.Namespace != "Inv" || c.Auth != iceberg.AuthNone {
		t.Errorf("config %+v", c)
	}
	if c.Settings.Get("threads") != "2" || c.Settings.Get("autoinstall_known_extensions") != "false" ||
		c.Settings.Get("warehouse") != "" || c.Settings.Get("namespace") != "" {
		t.Errorf("settings %v", c.Settings)
	}
	if c, err := iceberg.Parse("iceberg:http://h:1"); err != nil || c.Namespace != iceberg.DefaultNamespace {
		t.Errorf("default namespace: %+v, %v", c, err)
	}
	if c, err := iceberg.Parse("iceberg:?endpoint_type=s3_tables&warehouse=arn:aws:s3tables:x"); err != nil || c.Auth != iceberg.AuthSigV4 {
		t.Errorf("S3 Tables: %+v, %v", c, err)
	}
	if k, ok := target.Lookup("iceberg:http://h:1"); !ok || k.Name != "iceberg" {
		t.Errorf("the registry does not route iceberg: DSNs to Iceberg")
	}
}

// TestIceberg_DSNErrors: a DSN that cannot work is refused with a one-line
// error naming the problem.
func TestIceberg_DSNErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"iceberg:":                                   "no REST catalog endpoint",
		"iceberg:ftp://h":                            "http:// or https://",
		"iceberg:http://u:pw@h":                      "must not hold credentials",
		"iceberg:http://h?auth=kerberos":             "is not none, oauth2, bearer or sigv4",
		"iceberg:http://h?auth=oauth2":               "needs client_id",
		"iceberg:http://h?client_id=c":               "exactly one of client_secret_env",
		"iceberg:http://h?auth=bearer":               "exactly one of token_env",
		"iceberg:http://h?token_env=CDCSYNC_NO_SUCH": "is not set",
		"iceberg:http://h?token_file=/no/such/file":  "token_file",
		"iceberg:?endpoint_type=hive":                "is not glue or s3_tables",
	} {
		_, err := iceberg.Parse(dsn)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\\n") {
			t.Errorf("Parse(%q) = %v, want an error with %q", dsn, err, want)
		}
	}
}

// TestIceberg_SecretsNeverShow: a client secret or token — inline, from the
// environment or from a file — never appears in a redacted DSN or in an
// error, even one the catalog's connection produced.
func TestIceberg_SecretsNeverShow(t *testing.T) {
	t.Setenv("CDCSYNC_TEST_ICEBERG_SECRET", "s3cr3t-from-env")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("t0ken-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for dsn, secret := range map[string]string{
		"iceberg:http://h?client_id=c&client_secret=hunter2&x=1":                     "hunter2",
		"iceberg:http://h?token=hunter3":                                             "hunter3",
		"iceberg:http://h?client_id=c&client_secret_env=CDCSYNC_TEST_ICEBERG_SECRET": "s3cr3t-from-env",
		"iceberg:http://h?auth=bearer&token_file=" + file:                            "t0ken-from-file",
		"iceberg:http://h?s3_secret_access_key=hunter4&s3_region=x":                  "hunter4",
	} {
		if _, err := iceberg.Parse(dsn); err != nil {
			t.Fatalf("Parse(%q): %v", dsn, err)
		}
		if r := target.Redact(dsn); strings.Contains(r, secret) {
			t.Errorf("Redact(%q) = %q", dsn, r)
		}
		if e := redact.KnownError(errors.New("catalog said: bad credentials " + secret)); strings.Contains(e.Error(), secret) {
			t.Errorf("an error holding the secret of %q shows it: %v", dsn, e)
		}
	}
}

// TestIceberg_AuthOAuth2AndBearer: cdcsync authenticates to the REST
// catalog with OAuth2 client credentials (the secret from the environment)
// and with a bearer token (from a file), and opens its tables there.
func TestIceberg_AuthOAuth2AndBearer(t *testing.T) {
	t.Setenv("CDCSYNC_TEST_ICEBERG_CLIENT_SECRET", "s3cr3t")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]url.Values{
		"oauth2": {"client_id": {"cdcsync"}, "client_secret_env": {"CDCSYNC_TEST_ICEBERG_CLIENT_SECRET"}},
		"bearer": {"auth": {"bearer"}, "token_file": {file}},
	} {
		t.Run(name, func(t *testing.T) {
			dsn := DSN(t, "auth_"+name, auth)
			wh, err := target.Open(context.Background(), dsn, warehouse.Options{Group: "g"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer wh.Close()
			if _, err := wh.Offsets(context.Background(), []string{"t"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

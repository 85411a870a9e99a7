package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// nasty is a password no URL parser accepts raw: '#' starts a fragment,
// %zz is a bad escape, '/' and '?' end the authority, ' ' is invalid.
const nasty = "s3cr#t%zz/?x y"

// TestDSNNeverShowsThePassword feeds DSN the shapes a password takes.
func TestDSNNeverShowsThePassword(t *testing.T) {
	cases := []struct {
		name, dsn, password, want string
	}{
		{"postgres URL", "postgres://cdc:hunter2@db:5432/app?sslmode=disable", "hunter2", "postgres://cdc:xxxxx@db:5432/app?sslmode=disable"},
		{"postgresql URL", "postgresql://cdc:hunter2@db/app", "hunter2", "postgresql://cdc:xxxxx@db/app"},
		{"redshift URL", "redshift://cdc:hunter2@c.abc.us-east-1.redshift.amazonaws.com:5439/dev?schema=x", "hunter2", "redshift://cdc:xxxxx@c.abc.us-east-1.redshift.amazonaws.com:5439/dev?schema=x"},
		{"mysql URL", "mysql://root:hunter2@127.0.0.1:3306/inv", "hunter2", "mysql://root:xxxxx@127.0.0.1:3306/inv"},
		{"no password", "postgres://cdc@db/app", "", "postgres://cdc@db/app"},
		{"no userinfo", "postgres://db:5432/app", "", "postgres://db:5432/app"},
		{"duckdb path", "/data/w.duckdb", "", "/data/w.duckdb"},
		{"duckdb URL", "duckdb:///data/w.duckdb", "", "duckdb:///data/w.duckdb"},
		{"hash", "postgres://cdc:pa#ss@db/app", "pa#ss", "postgres://cdc:xxxxx@db/app"},
		{"bad escape", "postgres://cdc:pa%zzss@db/app", "pa%zzss", "postgres://cdc:xxxxx@db/app"},
		{"slash", "postgres://cdc:pa/ss@db/app", "pa/ss", "postgres://cdc:xxxxx@db/app"},
		{"slash and digits", "postgres://cdc:1/23@db/app", "1/23", "postgres://cdc:xxxxx@db/app"},
		{"question mark", "postgres://cdc:pa?ss@db/app", "pa?ss", "postgres://cdc:xxxxx@db/app"},
		{"at", "postgres://cdc:pa@ss@db/app", "pa@ss", "postgres://cdc:xxxxx@db/app"},
		{"space", "postgres://cdc:pa ss@db/app", "pa ss", "postgres://cdc:xxxxx@db/app"},
		{"colon", "postgres://cdc:pa:ss@db/app", "pa:ss", "postgres://cdc:xxxxx@db/app"},
		{"all at once", "postgres://cdc:" + nasty + "@db:5432/app", nasty, "postgres://cdc:xxxxx@db:5432/app"},
		{"all at once, redshift", "redshift://cdc:" + nasty + "@c:5439/dev", nasty, "redshift://cdc:xxxxx@c:5439/dev"},
		{"user with at", "postgres://me@server:pa#ss@db/app", "pa#ss", "postgres://me@server:xxxxx@db/app"},
		{"password in the query", "postgres://cdc@db/app?password=pa#ss&sslmode=disable", "pa#ss", "postgres://cdc@db/app?password=xxxxx&sslmode=disable"},
		{"password with & in the query", "postgres://db/app?sslmode=disable&password=pa&ss", "pa&ss", "postgres://db/app?sslmode=disable&password=xxxxx"},
		{"sslpassword in the query", "postgres://db/app?sslpassword=keypass", "keypass", "postgres://db/app?sslpassword=xxxxx"},
		{"key=value", "host=db user=cdc password=hunter2 dbname=app", "hunter2", "host=db user=cdc password=xxxxx dbname=app"},
		{"key=value quoted", `host=db password='pa ss\' #x' dbname=app`, `pa ss\' #x`, "host=db password=xxxxx dbname=app"},
		{"key=value unterminated quote", `host=db password='pa ss`, "pa ss", "host=db password=xxxxx"},
		{"key=value spaced", "host=db password = hunter2", "hunter2", "host=db password = xxxxx"},
		{"driver form", "cdc:pa#ss@tcp(db:3306)/app", "pa#ss", "cdc:xxxxx@tcp(db:3306)/app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DSN(tc.dsn)
			if got != tc.want {
				t.Errorf("DSN(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
			if tc.password != "" && strings.Contains(got, tc.password) {
				t.Errorf("DSN(%q) = %q shows the password", tc.dsn, got)
			}
		})
	}
}

// TestErrorScrubsDriverEchoes checks that the errors parsers build from a
// DSN no longer hold its password once through Error.
func TestErrorScrubsDriverEchoes(t *testing.T) {
	for _, pw := range []string{nasty, "pa#ss", "pa%zz", "p/w", "p?w", "p@w", "p w", "h\u00e9llo#"} {
		for _, scheme := range []string{"postgres", "postgresql", "redshift"} {
			dsn := scheme + "://cdc:" + pw + "@127.0.0.1:1/app"
			var errs []error
			if _, err := url.Parse(dsn); err != nil {
				errs = append(errs, fmt.Errorf("target %s: %w", dsn, err))
			}
			if _, err := pgx.ParseConfig(strings.Replace(dsn, scheme, "postgres", 1)); err != nil {
				errs = append(errs, err)
			}
			errs = append(errs, fmt.Errorf("open %q: %s", dsn, url.QueryEscape(pw)))
			for _, err := range errs {
				got := Error(err, dsn)
				if strings.Contains(got.Error(), pw) || strings.Contains(got.Error(), url.QueryEscape(pw)) {
					t.Errorf("Error(%v) = %q shows the password %q", err, got, pw)
				}
				if !errors.Is(got, err) {
					t.Errorf("Error(%v) does not unwrap to it", err)
				}
			}
		}
	}
	if err := errors.New("plain"); Error(err, "postgres://a:b@c/d") != err {
		t.Error("an error without secrets must come back as it is")
	}
}

func TestKnownRemovesRememberedSecrets(t *testing.T) {
	Remember("postgres://cdc:" + nasty + "@db/app")
	RememberPassword("sasl-pa55")
	msg := Known(`boom: parse "postgres://cdc:` + nasty + `@db/app": sasl-pa55 s3cr%23t%25zz%2F%3Fx+y`)
	for _, s := range []string{nasty, "sasl-pa55", url.QueryEscape(nasty)} {
		if strings.Contains(msg, s) {
			t.Errorf("Known left %q in %q", s, msg)
		}
	}
}

// TestError_DuckLakeCatalogPassword: a DuckLake DSN holds a libpq string
// and then query parameters; DuckDB echoes the libpq string alone in its
// errors, which must not show the password (they did: the password was
// taken to run to the end of the parameters).
func TestError_DuckLakeCatalogPassword(t *testing.T) {
	for _, pw := range []string{"secret", "p@ss", "'q uoted'"} {
		dsn := "ducklake:postgres:dbname=lake host=db user=cdc password=" + pw + "?data_path=/d/&extension_directory=/x"
		err := fmt.Errorf(`IO Error: Unable to connect to Postgres at "dbname=lake host=db user=cdc password=%s": FATAL`, pw)
		if got := Error(err, dsn).Error(); strings.Contains(got, strings.Trim(pw, "'")) {
			t.Errorf("Error(%q) = %q shows the password", err, got)
		}
		if got := DSN(dsn); strings.Contains(got, strings.Trim(pw, "'")) {
			t.Errorf("DSN(%q) = %q shows the password", dsn, got)
		}
	}
}

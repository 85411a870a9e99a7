package config

import (
	"bytes"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

const nastyPassword = "s3cr#t%zz/?x y@"

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func warnings(c *Config) string {
	var buf bytes.Buffer
	c.WarnReadableSecrets(slog.New(slog.NewTextHandler(&buf, nil)))
	return buf.String()
}

func TestEnvExpandsValues(t *testing.T) {
	t.Setenv("CDC_TEST_BROKER", "kafka-1:9092")
	t.Setenv("CDC_TEST_MAX", "100")
	t.Setenv("CDC_TEST_PW", nastyPassword)
	path := writeFile(t, "c.yaml", "brokers: [\"${CDC_TEST_BROKER}\"]\ntopics: 'a\\..*$'\nbatch:\n  max_events: ${CDC_TEST_MAX}\n"+
		"kafka:\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: \"${CDC_TEST_PW}\"\n", 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Brokers[0] != "kafka-1:9092" || c.Batch.MaxEvents != 100 || c.Kafka.SASL.Password != nastyPassword || c.Topics != `a\..*$` {
		t.Fatalf("loaded %+v", c)
	}
}

func TestEnvMissingIsAnError(t *testing.T) {
	path := writeFile(t, "c.yaml", "kafka:\n  sasl:\n    password: ${CDC_TEST_SURELY_UNSET}\n", 0o600)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "CDC_TEST_SURELY_UNSET") || !strings.Contains(err.Error(), "kafka.sasl.password") {
		t.Fatalf("error %v, want one naming the variable and the key", err)
	}
}

func TestEnvMalformedReferenceIsAnError(t *testing.T) {
	path := writeFile(t, "c.yaml", "target: ${1BAD}.duckdb\n", 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("error %v, want one naming the key", err)
	}
}

func TestEnvEscapeIsLiteral(t *testing.T) {
	path := writeFile(t, "c.yaml", "group: g-$${HOME}\n", 0o600)
	c, err := Load(path)
	if err != nil || c.Group != "g-${HOME}" {
		t.Fatalf("group %q, %v; want the literal g-${HOME}", c.Group, err)
	}
}

func TestEnvNotExpandedInKeys(t *testing.T) {
	t.Setenv("CDC_TEST_KEY", "group")
	path := writeFile(t, "c.yaml", "${CDC_TEST_KEY}: x\n", 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "unknown key ${CDC_TEST_KEY}") {
		t.Fatalf("error %v, want an unknown key", err)
	}
}

func TestUnknownKeysNamedWithLine(t *testing.T) {
	path := writeFile(t, "c.yaml", "# comment\n\nbatch:\n  max_evnts: 10\n", 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "line 4: unknown key batch.max_evnts") {
		t.Fatalf("error %v, want line 4 and the key", err)
	}
}

func TestSASLPasswordFile(t *testing.T) {
	pw := writeFile(t, "pw", nastyPassword+"\n", 0o600)
	c := valid()
	c.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: pw}
	if err := c.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Password != nastyPassword {
		t.Fatalf("password %q, want the file's line", c.Kafka.SASL.Password)
	}
}

func TestSASLPasswordAndPasswordFileConflict(t *testing.T) {
	c := valid()
	c.Kafka.SASL = SASL{Password: "x", PasswordFile: writeFile(t, "pw", "y", 0o600)}
	if err := c.ResolveSecrets(); err == nil || !strings.Contains(err.Error(), "kafka.sasl.password_file") {
		t.Fatalf("error %v, want one naming kafka.sasl.password_file", err)
	}
}

func TestPasswordFileMissingOrEmpty(t *testing.T) {
	c := valid()
	c.Kafka.SASL.PasswordFile = filepath.Join(t.TempDir(), "nope")
	c.Target, c.TargetPasswordFile = "postgres://u@db/app", writeFile(t, "empty", "\n", 0o600)
	err := c.ResolveSecrets()
	for _, want := range []string{"kafka.sasl.password_file", "nope", "target_password_file", "empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one naming %s", err, want)
		}
	}
}

func TestTargetPasswordFileGoesIntoTheDSN(t *testing.T) {
	for _, target := range []string{"postgres://cdc@db:5432/app?schema=s", "redshift://cdc@c.x.us-east-1.redshift.amazonaws.com:5439/dev"} {
		c := valid()
		c.Target, c.TargetPasswordFile = target, writeFile(t, "pw", nastyPassword+"\r\n", 0o600)
		if err := c.ResolveSecrets(); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(c.Target)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := u.User.Password(); pw != nastyPassword || u.User.Username() != "cdc" {
			t.Fatalf("target %q carries password %q", c.Target, pw)
		}
		if strings.HasPrefix(target, "postgres") {
			cfg, err := pgx.ParseConfig(c.Target)
			if err != nil || cfg.Password != nastyPassword {
				t.Fatalf("pgx reads password %q, %v", cfg.Password, err)
			}
		}
	}
}

func TestTargetPasswordFileRefusesASecondPassword(t *testing.T) {
	for _, target := range []string{"postgres://cdc:0ldpw@db/app", "postgres://cdc@db/app?password=0ldpw"} {
		c := valid()
		c.Target, c.TargetPasswordFile = target, writeFile(t, "pw", "new", 0o600)
		err := c.ResolveSecrets()
		if err == nil || !strings.Contains(err.Error(), "target_password_file") || strings.Contains(err.Error(), "0ldpw") {
			t.Fatalf("%s: error %v, want one naming target_password_file without the password", target, err)
		}
	}
}

func TestTargetPasswordFileNeedsAServerTarget(t *testing.T) {
	c := valid() // w.duckdb
	c.TargetPasswordFile = writeFile(t, "pw", "x", 0o600)
	if err := c.ResolveSecrets(); err == nil || !strings.Contains(err.Error(), "target_password_file") {
		t.Fatalf("error %v, want one naming target_password_file", err)
	}
}

func TestReadableSecretFileWarns(t *testing.T) {
	t.Setenv("CDC_TEST_PW", "from-env")
	const secret = "hunter2-in-file"
	cases := []struct {
		name, content string
		mode          os.FileMode
		warn          bool
	}{
		{"SASL password, group-readable", "kafka:\n  sasl:\n    password: " + secret + "\n", 0o640, true},
		{"DSN password, world-readable", "target: postgres://u:" + secret + "@db/app\n", 0o604, true},
		{"SASL password, owner only", "kafka:\n  sasl:\n    password: " + secret + "\n", 0o600, false},
		{"password from the environment", "kafka:\n  sasl:\n    password: ${CDC_TEST_PW}\ntarget: postgres://u:${CDC_TEST_PW}@db/app\n", 0o644, false},
		{"no secret", "group: g\ntarget: postgres://u@db/app\n", 0o644, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "c.yaml", tc.content, tc.mode)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			got := warnings(&c)
			if tc.warn != strings.Contains(got, path) {
				t.Fatalf("warning %q for mode %o, want a warning: %v", got, tc.mode, tc.warn)
			}
			if strings.Contains(got, secret) || strings.Contains(got, "from-env") {
				t.Fatalf("the warning shows the secret: %s", got)
			}
			if again := warnings(&c); again != "" {
				t.Fatalf("warned twice: %s", again)
			}
		})
	}
}

func TestReadablePasswordFileWarns(t *testing.T) {
	c := valid()
	c.Kafka.SASL.PasswordFile = writeFile(t, "pw", "hunter2", 0o644)
	if err := c.ResolveSecrets(); err != nil {
		t.Fatal(err)
	}
	if got := warnings(&c); !strings.Contains(got, c.Kafka.SASL.PasswordFile) || strings.Contains(got, "hunter2") {
		t.Fatalf("warning %q, want one naming the password file", got)
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func valid() Config {
	c := Default()
	c.Brokers = []string{"localhost:9092"}
	c.Topics = `shop\..*`
	c.Target = "w.duckdb"
	return c
}

func TestDefaultsAreValid(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Batch.Interval != Duration(250*time.Millisecond) || c.Group != "cdcsync" || !c.LandingEnabled() {
		t.Fatalf("defaults: %+v", c)
	}
}

// One case per rule, each naming the key its error must name.
func TestValidateRules(t *testing.T) {
	cases := []struct {
		name, key string
		mutate    func(*Config)
	}{
		{"no brokers", "brokers", func(c *Config) { c.Brokers = nil }},
		{"broker without port", "brokers", func(c *Config) { c.Brokers = []string{"localhost"} }},
		{"broker with a bad port", "brokers", func(c *Config) { c.Brokers = []string{"localhost:99999"} }},
		{"no topics", "topics", func(c *Config) { c.Topics = "" }},
		{"bad regex", "topics", func(c *Config) { c.Topics = "(" }},
		{"no target", "target", func(c *Config) { c.Target = "" }},
		{"empty group", "group", func(c *Config) { c.Group = "" }},
		{"zero max events", "batch.max_events", func(c *Config) { c.Batch.MaxEvents = 0 }},
		{"tiny max bytes", "batch.max_bytes", func(c *Config) { c.Batch.MaxBytes = 10 }},
		{"zero interval", "batch.interval", func(c *Config) { c.Batch.Interval = 0 }},
		{"negative retention", "landing.retention", func(c *Config) { c.Landing.Retention = -1 }},
		{"metadata refresh below 1s", "kafka.metadata_refresh", func(c *Config) { c.Kafka.MetadataRefresh = Duration(time.Millisecond) }},
		{"session timeout below 1s", "kafka.session_timeout", func(c *Config) { c.Kafka.SessionTimeout = 0 }},
		{"max stall below 1s", "health.max_stall", func(c *Config) { c.Health.MaxStall = Duration(time.Millisecond) }},
		{"tiny fetch", "kafka.fetch_max_bytes", func(c *Config) { c.Kafka.FetchMaxBytes = 1 }},
		{"unknown SASL mechanism", "kafka.sasl.mechanism", func(c *Config) { c.Kafka.SASL.Mechanism = "KERBEROS" }},
		{"SCRAM without user", "kafka.sasl.username", func(c *Config) { c.Kafka.SASL.Mechanism = "SCRAM-SHA-512" }},
		{"cert without key", "kafka.tls", func(c *Config) { c.Kafka.TLS.CertFile = "c.pem" }},
		{"reserved table name", "tables._cdc_x", func(c *Config) { c.Tables = map[string]Table{"_cdc_x": {}} }},
		{"topic mapped twice", "topic", func(c *Config) {
			c.Tables = map[string]Table{"a": {Topic: "t"}, "b": {Topic: "t"}}
		}},
		{"unknown column type", "tables.customers.columns.x", func(c *Config) {
			c.Tables = map[string]Table{"customers": {Columns: map[string]string{"x": "varchar2"}}}
		}},
		{"unknown decimal mode", "decimal_handling_mode", func(c *Config) { c.DecimalHandlingMode = "exact" }},
		{"unknown log level", "log.level", func(c *Config) { c.Log.Level = "loud" }},
		{"unknown log format", "log.format", func(c *Config) { c.Log.Format = "xml" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	c := valid()
	c.Brokers, c.Topics, c.Batch.MaxEvents = nil, "", 0
	err := c.Validate()
	for _, key := range []string{"brokers", "topics", "batch.max_events"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("brokers: [a:1]\nbatch:\n  max_bytes: 8MiB\n  interval: 100ms\nlanding:\n  enabled: false\ntables:\n  t:\n    columns:\n      d: decimal(10,2)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Batch.MaxBytes != 8<<20 || c.Batch.Interval != Duration(100*time.Millisecond) || c.LandingEnabled() ||
		c.Batch.MaxEvents != DefaultMaxEvents || c.Tables["t"].ColumnTypes()["d"].Scale != 2 {
		t.Fatalf("loaded %+v", c)
	}
	if err := os.WriteFile(path, []byte("batch:\n  interval: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("a bad duration must fail, got %v", err)
	}
	if err := os.WriteFile(path, []byte("landing:\n  enable: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "enable") {
		t.Fatalf("an unknown key must fail, got %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "64MiB": 64 << 20, "512KB": 512e3, "1GiB": 1 << 30, "2 MB": 2e6} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "lots", "1.5MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) must fail", in)
		}
	}
}

// Package config declares cdcsync's configuration once: every key with its
// type, default and meaning. The file (YAML) and the command-line flags
// fill one Config; Validate checks it once and reports every problem
// together, each naming its key.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Config is the whole configuration.
type Config struct {
	// Brokers are the Kafka bootstrap servers, HOST:PORT.
	Brokers []string `yaml:"brokers"`
	// Topics selects topics by a regular expression matched against the
	// whole topic name. Topics created later that match are picked up.
	Topics string `yaml:"topics"`
	// Target is the warehouse DSN: a path ending in .duckdb, or postgres://…
	Target string `yaml:"target"`
	// TargetPasswordFile names a file holding the target's password, put
	// into the DSN's user information (postgres:// and redshift:// only).
	TargetPasswordFile string `yaml:"target_password_file"`
	// Group is the consumer group; offsets are stored per group.
	Group string `yaml:"group"`
	// MemoryLimit bounds the whole process's memory; Memory splits it
	// among the fetch buffers, the batches, DuckDB and Go's heap.
	MemoryLimit ByteSize `yaml:"memory_limit"`

	Batch   Batch            `yaml:"batch"`
	Landing Landing          `yaml:"landing"`
	Kafka   Kafka            `yaml:"kafka"`
	Tables  map[string]Table `yaml:"tables"`
	// SchemaRegistry is where the schemas of Avro records (the Confluent
	// wire format) come from; records in JSON need none.
	SchemaRegistry SchemaRegistry `yaml:"schema_registry"`
	// ToastPlaceholder is Debezium's unavailable.value.placeholder.
	ToastPlaceholder string `yaml:"toast_placeholder"`
	// DecimalHandlingMode mirrors the connector's decimal.handling.mode for
	// events without schemas: precise (base64 bytes, Debezium's default)
	// or string. It decides how digits-only strings of declared decimal
	// columns are read.
	DecimalHandlingMode string `yaml:"decimal_handling_mode"`
	Log                 Log    `yaml:"log"`
	// MetricsListen serves Prometheus metrics on /metrics at this address
	// (e.g. 127.0.0.1:9464); empty disables the endpoint.
	MetricsListen string `yaml:"metrics_listen"`
	Health        Health `yaml:"health"`
	// Transactions says whether batches hold whole source transactions.
	Transactions Transactions `yaml:"transactions"`
	// Masking holds the key of the tables' columns_hash.
	Masking Masking `yaml:"masking"`

	// readableSecrets are the files holding a secret that others can read.
	readableSecrets []string
	// maskingKey is the HMAC key of columns_hash, read by ResolveSecrets.
	maskingKey []byte
}

// Masking says where the key of columns_hash comes from: an environment
// variable or a file (its content, one trailing newline dropped). The key
// is never written anywhere.
type Masking struct {
	KeyEnv  string `yaml:"key_env"`
	KeyFile string `yaml:"key_file"`
}

// MinMaskingKey is the shortest masking key taken, in bytes.
const MinMaskingKey = 16

// Batch bounds a micro-batch. A batch closes when any bound is reached.
// MaxBytes 0 means the share of memory_limit (see Memory).
type Batch struct {
	MaxEvents int      `yaml:"max_events"`
	MaxBytes  ByteSize `yaml:"max_bytes"`
	Interval  Duration `yaml:"interval"`
}

// Landing configures the landing tables (raw events).
type Landing struct {
	Enabled *bool `yaml:"enabled"`
	// Retention deletes landing rows older than this; 0 keeps them all.
	Retention Duration `yaml:"retention"`
}

// Kafka configures the client.
type Kafka struct {
	ClientID string `yaml:"client_id"`
	// MetadataRefresh is how often topics are listed again, to pick up new
	// topics that match.
	MetadataRefresh Duration `yaml:"metadata_refresh"`
	// FetchMaxBytes bounds one fetch response, and with it the memory the
	// client buffers; 0 means the share of memory_limit (see Memory).
	FetchMaxBytes ByteSize `yaml:"fetch_max_bytes"`
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to others.
	SessionTimeout Duration `yaml:"session_timeout"`
	// InstanceID makes this process a static group member: restarted with
	// the same id, it gets its partitions back at once instead of after
	// the session timeout. Defaults to an id derived from the DuckDB file
	// (one file, one writer); empty for server warehouses.
	InstanceID string `yaml:"instance_id"`
	// UnreachableTimeout is how long cdcsync waits for brokers that do not
	// answer before it stops with an error: at start in both modes, and
	// while --once reads. Continuous mode, once started, keeps waiting.
	UnreachableTimeout Duration `yaml:"unreachable_timeout"`
	TLS                TLS      `yaml:"tls"`
	SASL               SASL     `yaml:"sasl"`
}

// TLS configures encryption to the brokers.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures authentication to the brokers.
type SASL struct {
	// Mechanism is one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
	// AWS_MSK_IAM; empty disables SASL.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
	// PasswordFile names a file holding the password instead.
	PasswordFile string `yaml:"password_file"`
	// AWSRegion is the region for AWS_MSK_IAM; the AWS SDK's default
	// chain is used for credentials.
	AWSRegion string `yaml:"aws_region"`
}

// SchemaRegistry configures the Confluent-compatible schema registry
// (Confluent, Apicurio's /apis/ccompat/v7, Karapace, Redpanda) the
// schemas of Avro records are fetched from, by id.
type SchemaRegistry struct {
	// URL is the registry's base URL; empty when no topic carries Avro.
	URL string `yaml:"url"`
	// Username and Password authenticate with HTTP basic auth.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile names a file holding the password instead.
	PasswordFile string `yaml:"password_file"`
	// BearerToken authenticates with a bearer token instead.
	BearerToken string `yaml:"bearer_token"`
	// BearerTokenFile names a file holding the token instead.
	BearerTokenFile string `yaml:"bearer_token_file"`
	TLS             TLS    `yaml:"tls"`
}

// Table configures one target table, keyed by the table's name.
type Table struct {
	// Topic maps this exact topic to the table, overriding the default
	// naming (the topic's last dot-separated segment).
	Topic string `yaml:"topic"`
	// Columns declares column types, for events without schemas.
	Columns map[string]string `yaml:"columns"`
	// Flattened accepts rows flattened by ExtractNewRecordState without
	// __op/__deleted markers.
	Flattened bool `yaml:"flattened"`
	// ColumnsInclude keeps only these columns, ColumnsExclude all but
	// these (not both); ColumnsHash replaces these columns' values with
	// their HMAC-SHA-256 under the masking key (package mask).
	ColumnsInclude []string `yaml:"columns_include"`
	ColumnsExclude []string `yaml:"columns_exclude"`
	ColumnsHash    []string `yaml:"columns_hash"`
}

// Health configures the readiness check (/readyz on metrics_listen).
type Health struct {
	// MaxStall is how long the pipeline may go without committing a
	// batch while records wait before it is reported not ready.
	MaxStall Duration `yaml:"max_stall"`
}

// Transaction modes.
const (
	TxAuto       = "auto"       // consistent when a transaction topic is matched
	TxConsistent = "consistent" // batches hold whole source transactions
	TxPerTable   = "per_table"  // every event applies as soon as it is read
)

// Transactions configures transaction-consistent apply. It is written as
// a mode alone (`transactions: consistent`) or as a mapping.
type Transactions struct {
	Mode string `yaml:"mode"`
	// MaxWait bounds how long events wait for their transaction to be
	// whole (its END, its other events) before they are applied as they
	// are, with a warning.
	MaxWait Duration `yaml:"max_wait"`
	// MaxHeldEvents and MaxHeldBytes bound the events held back; a
	// transaction larger than that is applied in parts, with a warning.
	MaxHeldEvents int      `yaml:"max_held_events"`
	MaxHeldBytes  ByteSize `yaml:"max_held_bytes"`
}

// UnmarshalYAML accepts a mode alone or the mapping.
func (t *Transactions) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Mode = n.Value
		return nil
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if _, ok := fieldByTag(reflect.TypeOf(*t), n.Content[i].Value); !ok {
				return fmt.Errorf("line %d: unknown key transactions.%s", n.Content[i].Line, n.Content[i].Value)
			}
		}
	}
	type plain Transactions
	return n.Decode((*plain)(t))
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Defaults.
const (
	DefaultGroup     = "cdcsync"
	DefaultMaxEvents = 50000
	// DefaultMemoryLimit is memory_limit's default: with it the process's
	// peak resident memory stays under 300 MB (README, "Performance").
	DefaultMemoryLimit = 256 << 20
	// MinMemoryLimit is the smallest memory_limit taken.
	MinMemoryLimit   = 128 << 20
	DefaultInterval  = 250 * time.Millisecond
	DefaultRefresh   = 10 * time.Second
	DefaultSession   = 30 * time.Second
	DefaultKafkaWait = time.Minute
	DefaultMaxStall  = 5 * time.Minute
	DefaultTxMaxWait = 30 * time.Second
)

// Default returns a configuration with every default filled.
func Default() Config {
	on := true
	return Config{
		Group:       DefaultGroup,
		MemoryLimit: DefaultMemoryLimit,
		Batch:       Batch{MaxEvents: DefaultMaxEvents, Interval: Duration(DefaultInterval)},
		Landing:     Landing{Enabled: &on},
		Kafka: Kafka{ClientID: "cdcsync", MetadataRefresh: Duration(DefaultRefresh),
			SessionTimeout:     Duration(DefaultSession),
			UnreachableTimeout: Duration(DefaultKafkaWait)},
		Log:    Log{Level: "info", Format: "text"},
		Health: Health{MaxStall: Duration(DefaultMaxStall)},
		Transactions: Transactions{Mode: TxAuto, MaxWait: Duration(DefaultTxMaxWait),
			MaxHeldEvents: DefaultMaxEvents},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are errors;
// ${NAME} in a value is the environment variable NAME (see ResolveSecrets
// for the rest of secret handling).
func Load(path string) (Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	fail := func(err error) (Config, error) {
		return cfg, fmt.Errorf("config %s: %s", path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fail(err)
	}
	if len(root.Content) == 0 {
		return cfg, nil // empty file
	}
	var errs []error
	checkKeys(&root, reflect.TypeOf(cfg), "", &errs)
	raw := map[string]string{}
	expandNode(&root, "", raw, &errs)
	if len(errs) > 0 {
		return fail(errors.Join(errs...))
	}
	if err := root.Decode(&cfg); err != nil {
		return fail(err)
	}
	if holdsSecret(raw) && readableByOthers(path) {
		cfg.readableSecrets = append(cfg.readableSecrets, path)
	}
	return cfg, nil
}

// LandingEnabled reports whether landing tables are kept.
func (c *Config) LandingEnabled() bool { return c.Landing.Enabled == nil || *c.Landing.Enabled }

// TopicRegexp compiles Topics, anchored to match whole topic names.
func (c *Config) TopicRegexp() (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + c.Topics + ")$")
}

// Validate checks the whole configuration and returns every problem, each
// naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "at least one HOST:PORT is required")
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("brokers", "%q is not HOST:PORT", b)
		} else if _, err := strconv.ParseUint(b[i+1:], 10, 16); err != nil {
			bad("brokers", "%q has no valid port", b)
		}
	}
	if c.Topics == "" {
		bad("topics", "a regular expression is required")
	} else if _, err := regexp.Compile(c.Topics); err != nil {
		bad("topics", "invalid regular expression %q: %v", c.Topics, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	} else if _, err := c.TopicRegexp(); err != nil {
		bad("topics", "invalid regular expression %q: %v", c.Topics, err)
	}
	if c.Target == "" {
		bad("target", "a DSN is required (a path ending in .duckdb)")
	}
	if c.Group == "" {
		bad("group", "must not be empty")
	}
	if c.Batch.MaxEvents < 1 {
		bad("batch.max_events", "must be at least 1")
	}
	if c.MemoryLimit < MinMemoryLimit {
		bad("memory_limit", "must be at least 128MiB")
	}
	if c.Batch.MaxBytes != 0 && c.Batch.MaxBytes < 1024 {
		bad("batch.max_bytes", "must be at least 1KiB (or 0: a share of memory_limit)")
	}
	if c.Batch.Interval <= 0 {
		bad("batch.interval", "must be positive")
	}
	switch c.Transactions.Mode {
	case TxAuto, TxConsistent, TxPerTable:
	default:
		bad("transactions.mode", "%q is not auto, consistent or per_table", c.Transactions.Mode)
	}
	if c.Transactions.MaxWait <= 0 {
		bad("transactions.max_wait", "must be positive")
	}
	if c.Transactions.MaxHeldEvents < 1 {
		bad("transactions.max_held_events", "must be at least 1")
	}
	if c.Transactions.MaxHeldBytes != 0 && c.Transactions.MaxHeldBytes < 1024 {
		bad("transactions.max_held_bytes", "must be at least 1KiB (0: a share of memory_limit)")
	}
	if c.Landing.Retention < 0 {
		bad("landing.retention", "must not be negative")
	}
	if c.Kafka.MetadataRefresh < Duration(time.Second) {
		bad("kafka.metadata_refresh", "must be at least 1s")
	}
	if c.Kafka.SessionTimeout < Duration(time.Second) {
		bad("kafka.session_timeout", "must be at least 1s")
	}
	if c.Kafka.UnreachableTimeout < Duration(time.Second) {
		bad("kafka.unreachable_timeout", "must be at least 1s")
	}
	if c.Health.MaxStall < Duration(time.Second) {
		bad("health.max_stall", "must be at least 1s")
	}
	if c.Kafka.FetchMaxBytes != 0 && c.Kafka.FetchMaxBytes < 1024 {
		bad("kafka.fetch_max_bytes", "must be at least 1KiB (or 0: a share of memory_limit)")
	}
	switch strings.ToUpper(c.Kafka.SASL.Mechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.Kafka.SASL.Username == "" {
			bad("kafka.sasl.username", "required for %s", c.Kafka.SASL.Mechanism)
		}
	case "AWS_MSK_IAM":
	default:
		bad("kafka.sasl.mechanism", "%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM", c.Kafka.SASL.Mechanism)
	}
	if (c.Kafka.TLS.CertFile == "") != (c.Kafka.TLS.KeyFile == "") {
		bad("kafka.tls", "cert_file and key_file go together")
	}
	c.validateSchemaRegistry(bad)
	topics := map[string]string{}
	for name, t := range c.Tables {
		if name == "" {
			bad("tables", "a table needs a name")
		}
		if strings.HasPrefix(strings.ToLower(name), warehouse.Prefix) {
			bad("tables."+name, "names starting with "+warehouse.Prefix+" are reserved for cdcsync's own tables")
		}
		if t.Topic != "" {
			if other, dup := topics[t.Topic]; dup {
				bad("tables."+name+".topic", "topic %q is already mapped to table %q", t.Topic, other)
			}
			topics[t.Topic] = name
		}
		for col, typ := range t.Columns {
			if _, err := change.ParseType(typ); err != nil {
				bad("tables."+name+".columns."+col, "%v", err)
			}
		}
		c.validateColumnRules(name, t, bad)
	}
	c.validateMasking(bad)
	switch c.DecimalHandlingMode {
	case "", "precise", "string", "double":
	default:
		bad("decimal_handling_mode", "%q is not precise, string or double", c.DecimalHandlingMode)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// validateColumnRules checks a table's columns_include, columns_exclude
// and columns_hash. Whether a left-out column is a primary-key column is
// known only from the events (package mask stops the run then).
func (c *Config) validateColumnRules(name string, t Table, bad func(key, format string, args ...any)) {
	prefix := "tables." + name + "."
	if len(t.ColumnsInclude) > 0 && len(t.ColumnsExclude) > 0 {
		bad(prefix+"columns_include", "set columns_include or columns_exclude, not both")
	}
	for _, l := range []struct {
		key  string
		cols []string
	}{{"columns_include", t.ColumnsInclude}, {"columns_exclude", t.ColumnsExclude}, {"columns_hash", t.ColumnsHash}} {
		seen := map[string]bool{}
		for _, col := range l.cols {
			switch {
			case col == "":
				bad(prefix+l.key, "a column name must not be empty")
			case seen[col]:
				bad(prefix+l.key, "column %q is listed twice", col)
			case strings.HasPrefix(strings.ToLower(col), warehouse.Prefix):
				bad(prefix+l.key, "column %q: names starting with %s are cdcsync's own", col, warehouse.Prefix)
			}
			seen[col] = true
		}
	}
	for _, col := range t.ColumnsHash {
		if slices.Contains(t.ColumnsExclude, col) {
			bad(prefix+"columns_hash", "column %q is excluded too (columns_exclude); a column is hashed or left out", col)
		}
		if len(t.ColumnsInclude) > 0 && !slices.Contains(t.ColumnsInclude, col) {
			bad(prefix+"columns_hash", "column %q is not in columns_include; list the hashed columns there too", col)
		}
	}
}

// validateMasking checks the masking key's configuration: needed when a
// table hashes a column, from one place.
func (c *Config) validateMasking(bad func(key, format string, args ...any)) {
	m := c.Masking
	if m.KeyEnv != "" && m.KeyFile != "" {
		bad("masking.key_env", "set key_env or key_file, not both")
	}
	if m.KeyEnv != "" && !envName.MatchString(m.KeyEnv) {
		bad("masking.key_env", "%q is not an environment variable name", m.KeyEnv)
	}
	var hashing []string
	for name, t := range c.Tables {
		if len(t.ColumnsHash) > 0 {
			hashing = append(hashing, name)
		}
	}
	if len(hashing) > 0 && m.KeyEnv == "" && m.KeyFile == "" {
		slices.Sort(hashing)
		bad("masking", "a key is required for columns_hash (tables %s): set masking.key_env or masking.key_file", strings.Join(hashing, ", "))
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// MaskingKey returns the key of columns_hash, read by ResolveSecrets; nil
// when none is configured.
func (c *Config) MaskingKey() []byte { return c.maskingKey }

// validateSchemaRegistry checks schema_registry. Credentials go in their
// own keys, never in the URL, which errors and logs show.
func (c *Config) validateSchemaRegistry(bad func(key, format string, args ...any)) {
	r := c.SchemaRegistry
	if r.URL == "" {
		if r.Username != "" || r.Password != "" || r.BearerToken != "" || r.TLS != (TLS{}) {
			bad("schema_registry.url", "required with the other schema_registry keys")
		}
		return
	}
	u, err := url.Parse(r.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("schema_registry.url", "is not an http:// or https:// URL")
	case u.User != nil:
		bad("schema_registry.url", "must not hold credentials; use schema_registry.username and password (or bearer_token)")
	}
	if r.BearerToken != "" && (r.Username != "" || r.Password != "") {
		bad("schema_registry.bearer_token", "set either a bearer token or a username and password")
	}
	if r.Password != "" && r.Username == "" {
		bad("schema_registry.username", "required with a password")
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		bad("schema_registry.tls", "cert_file and key_file go together")
	}
}

// ColumnTypes returns the declared column types of a table, parsed.
// Validate has checked them.
func (t Table) ColumnTypes() map[string]change.Type {
	if len(t.Columns) == 0 {
		return nil
	}
	out := make(map[string]change.Type, len(t.Columns))
	for col, s := range t.Columns {
		if typ, err := change.ParseType(s); err == nil {
			out[col] = typ
		}
	}
	return out
}

// Duration is a time.Duration written as "250ms", "10s", "168h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 250ms, 10s, 168h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes, written as a number or with a unit: 64MiB,
// 512KB, 1GiB.
type ByteSize int64

// UnmarshalYAML parses a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// ParseByteSize parses "67108864", "64MiB", "64MB", "512KiB", "1GiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 64MiB)", s)
	}
	return ByteSize(n * mult), nil
}

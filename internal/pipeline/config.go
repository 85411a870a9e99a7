package pipeline

import (
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/avroconv"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkaconn"
	"github.com/cdcsync/cdcsync/internal/mask"
	"github.com/cdcsync/cdcsync/internal/progress"
)

// Config is what a pipeline needs.
type Config struct {
	Topics *regexp.Regexp // matches whole topic names
	Group  string
	Once   bool

	MaxEvents int
	MaxBytes  int
	Interval  time.Duration

	// Decoder configures event decoding (table naming, declared types).
	Decoder debezium.Options
	// Kafka are the client options (seed brokers, TLS, SASL, …).
	Kafka []kgo.Opt
	// MetadataRefresh is how often new matching topics are looked for.
	MetadataRefresh time.Duration
	// FetchMaxBytes bounds one fetch, and so the client's buffered memory.
	FetchMaxBytes int32
	// FetchConcurrency bounds the fetches in flight or buffered at once;
	// 0 leaves franz-go's default (one per broker).
	FetchConcurrency int
	// SessionTimeout and InstanceID configure group membership; an
	// InstanceID makes the member static.
	SessionTimeout time.Duration
	InstanceID     string
	// KafkaTimeout bounds how long the brokers may stay unreachable: at
	// start in both modes, and while one-pass mode drains; continuous mode
	// keeps retrying after start. Zero means DefaultKafkaTimeout.
	KafkaTimeout time.Duration
	// ResetTopics are topics allowed to restart from the beginning of
	// their log when their stored offsets belong to an earlier topic of
	// the same name (deleted and recreated).
	ResetTopics []string
	// Version is the program's version, recorded in the run history.
	Version string
	// Progress says where the progress of a drain or a catch-up goes (a
	// terminal line, or log lines); by default, the pipeline's log.
	Progress progress.Options
	// MaxStall is how long the pipeline may go without committing a batch
	// while records wait before it is not ready (/readyz). Zero means
	// DefaultMaxStall.
	MaxStall time.Duration
	// Transactions configures transaction-consistent apply.
	Transactions Transactions
}

// Transactions configures transaction-consistent apply (see txgate.go).
type Transactions struct {
	Mode     string // config.TxAuto, TxConsistent or TxPerTable
	MaxWait  time.Duration
	MaxHeld  int
	MaxBytes int
}

// DefaultKafkaTimeout is Config.KafkaTimeout's default.
const DefaultKafkaTimeout = time.Minute

func (c Config) maxStall() time.Duration {
	if c.MaxStall > 0 {
		return c.MaxStall
	}
	return DefaultMaxStall
}

func (c Config) kafkaTimeout() time.Duration {
	if c.KafkaTimeout > 0 {
		return c.KafkaTimeout
	}
	return DefaultKafkaTimeout
}

// ConfigFrom derives a pipeline's settings from cdcsync's configuration:
// the one place `run`, `topics`, `generate`, the demo, the tests and the
// benchmark get them from. cfg has been validated. What is not
// configuration is left for the caller: ResetTopics and Version (flags and
// build), and an InstanceID derived from the target (InstanceID is
// kafka.instance_id as configured).
func ConfigFrom(cfg config.Config, once bool) (Config, error) {
	re, err := cfg.TopicRegexp()
	if err != nil {
		return Config{}, err
	}
	kopts, err := kafkaconn.Options(cfg.Brokers, cfg.Kafka)
	if err != nil {
		return Config{}, err
	}
	dopts, err := DecoderOptions(cfg)
	if err != nil {
		return Config{}, err
	}
	// The batch and fetch bounds are Go's; a caller that knows its target
	// is embedded sets MaxBytes from cfg.Memory(true) (cmd/cdcsync does).
	mem := cfg.Memory(false)
	return Config{
		Topics:           re,
		Group:            cfg.Group,
		Once:             once,
		MaxEvents:        cfg.Batch.MaxEvents,
		MaxBytes:         int(mem.BatchMaxBytes),
		Interval:         time.Duration(cfg.Batch.Interval),
		Decoder:          dopts,
		Kafka:            kopts,
		MetadataRefresh:  time.Duration(cfg.Kafka.MetadataRefresh),
		FetchMaxBytes:    int32(min(mem.FetchMaxBytes, 1<<30)),
		FetchConcurrency: mem.FetchConcurrency,
		SessionTimeout:   time.Duration(cfg.Kafka.SessionTimeout),
		InstanceID:       cfg.Kafka.InstanceID,
		KafkaTimeout:     time.Duration(cfg.Kafka.UnreachableTimeout),
		MaxStall:         time.Duration(cfg.Health.MaxStall),
		Transactions: Transactions{Mode: cfg.Transactions.Mode, MaxWait: time.Duration(cfg.Transactions.MaxWait),
			MaxHeld: cfg.Transactions.MaxHeldEvents, MaxBytes: int(mem.TxMaxHeldBytes)},
	}, nil
}

// DecoderOptions are decoderOptions with the schema registry's client,
// when one is configured, to read Avro records.
func DecoderOptions(cfg config.Config) (debezium.Options, error) {
	opts := decoderOptions(cfg)
	reg, err := avroconv.FromConfig(cfg.SchemaRegistry)
	if err != nil {
		return opts, err
	}
	if reg != nil {
		opts.Wire = reg
	}
	return opts, nil
}

// decoderOptions maps topics to tables (tables.<name>.topic, else the
// topic's last segment) and gives each table its declared column types.
func decoderOptions(cfg config.Config) debezium.Options {
	decimalStrings := cfg.DecimalHandlingMode == "string"
	byTopic := map[string]string{}
	byName := map[string]debezium.TableOptions{}
	rules := map[string]mask.Rules{}
	for name, t := range cfg.Tables {
		rules[name] = mask.Rules{Include: t.ColumnsInclude, Exclude: t.ColumnsExclude, Hash: t.ColumnsHash}
		if t.Topic != "" {
			byTopic[t.Topic] = name
		}
		byName[name] = debezium.TableOptions{Name: name, Columns: t.ColumnTypes(), Flattened: t.Flattened,
			DecimalStrings: decimalStrings}
	}
	tables := func(topic string) debezium.TableOptions {
		name, ok := byTopic[topic]
		if !ok {
			name = debezium.TableName(topic)
		}
		if t, ok := byName[name]; ok {
			return t
		}
		return debezium.TableOptions{Name: name, DecimalStrings: decimalStrings}
	}
	return debezium.Options{Table: tables, Placeholder: cfg.ToastPlaceholder, Mask: mask.New(cfg.MaskingKey(), rules)}
}

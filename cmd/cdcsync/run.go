package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/progress"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// commonFlags are the flags that override the config file.
type commonFlags struct {
	config  string
	brokers string
	topics  string
	target  string
	group   string
	once    bool
	reset   []string
}

func (f *commonFlags) register(fs *pflag.FlagSet, withTarget bool) {
	fs.StringVar(&f.config, "config", "", "YAML configuration file (flags override it)")
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, HOST:PORT[,HOST:PORT]")
	fs.StringVar(&f.topics, "topics", "", "regular expression selecting topics (matched against the whole name)")
	if withTarget {
		fs.StringVar(&f.target, "target", "", "warehouse DSN: "+target.Supported())
		fs.StringVar(&f.group, "group", "", "consumer group name (default \"cdcsync\")")
		fs.BoolVar(&f.once, "once", false, "drain every matched topic to its end as of start, apply, commit and exit")
		fs.StringArrayVar(&f.reset, "reset-topic", nil, "read TOPIC again from the beginning if it was deleted and recreated since its offsets were stored (repeatable)")
	}
}

// load builds the configuration: defaults, then the file, then the flags.
func (f *commonFlags) load(fs *pflag.FlagSet) (config.Config, error) {
	cfg := config.Default()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return cfg, err
		}
	}
	if fs.Changed("brokers") {
		cfg.Brokers = nil
		for _, b := range strings.Split(f.brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Brokers = append(cfg.Brokers, b)
			}
		}
	}
	if fs.Changed("topics") {
		cfg.Topics = f.topics
	}
	if fs.Lookup("target") != nil && fs.Changed("target") {
		cfg.Target = f.target
	}
	if fs.Lookup("group") != nil && fs.Changed("group") {
		cfg.Group = f.group
	}
	if err := cfg.ResolveSecrets(); err != nil {
		return cfg, err
	}
	redact.Remember(cfg.Target)
	redact.RememberPassword(cfg.Kafka.SASL.Password)
	redact.RememberPassword(cfg.SchemaRegistry.Password)
	redact.RememberPassword(cfg.SchemaRegistry.BearerToken)
	redact.RememberPassword(string(cfg.MaskingKey()))
	return cfg, nil
}

func runCmd() *cobra.Command {
	var f commonFlags
	cmd := &cobra.Command{
		Use:   "run [--config FILE] --brokers HOST:PORT[,HOST:PORT] --topics REGEX --target DSN [--group NAME] [--once]",
		Short: "Consume Debezium topics and keep the target tables current",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := target.Check(cfg.Target); err != nil {
				return err
			}
			log := newLogger(cfg.Log)
			cfg.WarnReadableSecrets(log)
			return run(cmd.Context(), cfg, runOptions{once: f.once, resetTopics: f.reset}, log)
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(progress.Stderr(), opts))
	}
	return slog.New(slog.NewTextHandler(progress.Stderr(), opts))
}

// redactAttr removes the process's known secrets from logged strings and
// errors.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		a.Value = slog.StringValue(redact.Known(v))
	case error:
		a.Value = slog.AnyValue(redact.KnownError(v))
	}
	return a
}

// runOptions are the run's flags that are not configuration.
type runOptions struct {
	once        bool
	resetTopics []string
}

// peakRSSMiB reads the process's peak resident memory (VmHWM) in MiB, or
// -1 where /proc is unavailable. Unlike getrusage, it does not count the
// memory of the parent the process was forked from.
func peakRSSMiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb); err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// instanceID is the static group member id: the configured one, else the
// one the target implies (a DuckDB file's, derived from its path: one file
// has one writer, and a restarted writer should get its partitions back at
// once).
func instanceID(cfg config.Config) string {
	if cfg.Kafka.InstanceID != "" {
		return cfg.Kafka.InstanceID
	}
	return target.InstanceID(cfg.Target)
}

func run(ctx context.Context, cfg config.Config, ro runOptions, log *slog.Logger) error {
	once := ro.once
	pcfg, err := pipeline.ConfigFrom(cfg, once)
	if err != nil {
		return err
	}
	pcfg.MaxBytes = int(memoryOf(cfg).BatchMaxBytes) // an embedded target's batches are smaller
	pcfg.InstanceID = instanceID(cfg)
	pcfg.ResetTopics = ro.resetTopics
	pcfg.Version = version
	pcfg.Progress = progress.ForStderr(log)
	memory := applyMemoryLimit(memoryOf(cfg))
	watch := startMemWatch()
	// The target first: it fails at once when it is unreachable, while
	// the brokers are waited for up to kafka.unreachable_timeout.
	wh, err := target.Open(ctx, cfg.Target, warehouseOptions(cfg), log)
	if err != nil {
		return err
	}
	defer wh.Close()
	if err := pipeline.Ping(ctx, pcfg.Kafka, pcfg.KafkaTimeout, log); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pipeline.RegisterBuildInfo(reg, version)
	met := pipeline.NewMetrics(reg)
	p := pipeline.New(pcfg, wh, log, met)
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		srv := &http.Server{Handler: p.Handler(reg), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // closed on return
		defer srv.Close()
	}

	mode := "continuous"
	if once {
		mode = "once"
	}
	// The pipeline records the run in the warehouse's run history.
	start := time.Now()
	sum, runErr := p.Run(ctx)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	took := time.Since(start)
	peak, goPart := watch.end()
	log.Info("done", "mode", mode, "events", sum.Events, "batches", sum.Batches, "upserts", sum.Upserts,
		"deletes", sum.Deletes, "truncates", sum.Truncates, "dead_letters", sum.DeadLetters,
		"skipped", sum.Skipped, "took", took.Round(time.Millisecond),
		"events_per_sec", int64(float64(sum.Events)/max(took.Seconds(), 1e-9)), "peak_rss_mib", peakRSSMiB(),
		"peak_go_mib", goPart>>20, "peak_other_mib", (peak-goPart)>>20, slog.Group("memory", memory...))
	return nil
}

// warehouseOptions are the settings every command that writes the target
// gives the warehouse.
func warehouseOptions(cfg config.Config) warehouse.Options {
	return warehouse.Options{
		Group:            cfg.Group,
		Landing:          cfg.LandingEnabled(),
		LandingRetention: time.Duration(cfg.Landing.Retention),
		MemoryLimit:      memoryOf(cfg).Warehouse,
	}
}

// needTarget reports a command run without a target.
func needTarget(command string, cfg config.Config) error {
	if cfg.Target == "" {
		return fmt.Errorf("%s: no target: give --target or target: in --config", command)
	}
	return nil
}

// openReadOnly opens the configured target read-only, for the commands
// that only look.
func openReadOnly(ctx context.Context, command string, cfg config.Config) (*warehouse.ReadOnly, error) {
	if err := needTarget(command, cfg); err != nil {
		return nil, err
	}
	return target.OpenReadOnly(ctx, cfg.Target, nil)
}

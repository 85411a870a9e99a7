package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/redshiftgen"
	"github.com/cdcsync/cdcsync/internal/sqltext"
)

func generateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write warehouse-native SQL that does cdcsync's job without cdcsync running",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(generateRedshiftCmd())
	return cmd
}

// redshiftFlags are generate redshift's own flags.
type redshiftFlags struct {
	out            string
	lowCardinality string
	sample         int
	opts           redshiftgen.Options
}

func generateRedshiftCmd() *cobra.Command {
	var f commonFlags
	var r redshiftFlags
	cmd := &cobra.Command{
		Use: "redshift [--config FILE] --brokers HOST:PORT[,...] --topics REGEX [--cluster-arn ARN --iam-role ARN] " +
			"[--external-schema NAME] [--database NAME] [--schema NAME] [--low-cardinality TABLE.COL,...] [--out DIR]",
		Short: "Write Redshift streaming-ingestion SQL (views, tables, stored procedures) for every matched topic",
		Long: `Reads the last records of every matched topic, types each table from its Debezium
events (and the configuration's declared column types), and writes the SQL of the
Redshift-native pipeline: the external schema over MSK, and per table a streaming
materialized view, typed staging and target tables, and the procedure
incremental_sync_<table>() to schedule. Without --out everything goes to stdout;
with it, one file per table plus 00_setup.sql. A topic without a row event is
reported on stderr and skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			cfg.Target = "unused.duckdb"
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := r.validate(); err != nil {
				return err
			}
			pcfg, err := pipeline.ConfigFrom(cfg, true)
			if err != nil {
				return err
			}
			return generateRedshift(cmd.Context(), pcfg, r, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd.Flags(), false)
	fs := cmd.Flags()
	fs.StringVar(&r.opts.ClusterARN, "cluster-arn", "", "ARN of the MSK cluster (placeholder when empty)")
	fs.StringVar(&r.opts.IAMRole, "iam-role", "", "ARN of the IAM role Redshift assumes to read MSK (placeholder when empty)")
	fs.StringVar(&r.opts.ExternalSchema, "external-schema", redshiftgen.DefaultExternalSchema, "name of the external schema over the MSK cluster")
	fs.StringVar(&r.opts.Database, "database", "", "Redshift database that qualifies the topics' external tables (e.g. dev)")
	fs.StringVar(&r.opts.Schema, "schema", "public", "schema of the generated views, tables and procedures")
	fs.StringVar(&r.lowCardinality, "low-cardinality", "", "columns to encode BYTEDICT, as TABLE.COLUMN[,TABLE.COLUMN]")
	fs.IntVar(&r.sample, "sample", redshiftgen.DefaultSample, "records read from the end of each partition to learn a table")
	fs.StringVar(&r.out, "out", "", "directory to write 00_setup.sql and <table>.sql to (default: stdout)")
	return cmd
}

// validate checks the flags and parses --low-cardinality.
func (r *redshiftFlags) validate() error {
	var errs []error
	for flag, arn := range map[string]string{"--cluster-arn": r.opts.ClusterARN, "--iam-role": r.opts.IAMRole} {
		if arn != "" && !strings.HasPrefix(arn, "arn:") {
			errs = append(errs, fmt.Errorf("%s: %q is not an ARN", flag, arn))
		}
	}
	if r.sample <= 0 {
		errs = append(errs, fmt.Errorf("--sample: %d is not a positive number of records", r.sample))
	}
	r.opts.LowCardinality = map[string][]string{}
	for _, item := range strings.Split(r.lowCardinality, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		table, col, ok := strings.Cut(item, ".")
		if !ok || table == "" || col == "" {
			errs = append(errs, fmt.Errorf("--low-cardinality: %q is not TABLE.COLUMN", item))
			continue
		}
		r.opts.LowCardinality[table] = append(r.opts.LowCardinality[table], col)
	}
	return errors.Join(errs...)
}

func generateRedshift(ctx context.Context, pcfg pipeline.Config, r redshiftFlags, stdout, stderr io.Writer) error {
	if err := pipeline.Ping(ctx, pcfg.Kafka, pcfg.KafkaTimeout, nil); err != nil {
		return err
	}
	topics, err := matchTopics(ctx, pcfg.Kafka, pcfg)
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		return fmt.Errorf("no topic matches %s", pcfg.Topics)
	}
	samples, err := redshiftgen.Sample(ctx, pcfg.Kafka, topics, r.sample)
	if err != nil {
		return err
	}
	var tables []*redshiftgen.Table
	generated := map[string]bool{}
	for _, topic := range topics {
		if strings.Contains(debezium.TopicFormat(samples[topic]), debezium.FormatAvro) {
			fmt.Fprintf(stderr, "cdcsync: generate: topic %s skipped: its records are Avro, which Redshift streaming ingestion cannot decode; cdcsync run can apply it (schema_registry), or write it as JSON\n", topic)
			continue
		}
		if name := pcfg.Decoder.Table(topic).Name; pcfg.Decoder.Mask.For(name) != nil {
			// The generated SQL reads the raw records in Redshift: it
			// would land the columns the rules leave out or hash in clear.
			fmt.Fprintf(stderr, "cdcsync: generate: topic %s skipped: table %s has column rules (columns_include, columns_exclude, columns_hash), which the Redshift-native SQL cannot apply; cdcsync run applies them\n", topic, name)
			continue
		}
		t, err := redshiftgen.Inspect(topic, samples[topic], pcfg.Decoder)
		if err != nil {
			fmt.Fprintf(stderr, "cdcsync: generate: topic %s skipped: %s\n", topic, sqltext.JoinLines(err.Error()))
			continue
		}
		for _, w := range t.Warnings {
			fmt.Fprintf(stderr, "cdcsync: generate: table %s: warning: %s\n", t.Name, w)
		}
		tables = append(tables, t)
		generated[t.Name] = true
	}
	if len(tables) == 0 {
		return errors.New("generate: no table could be generated (see the lines above)")
	}
	for table := range r.opts.LowCardinality {
		if !generated[table] {
			fmt.Fprintf(stderr, "cdcsync: generate: --low-cardinality names table %s, which was not generated\n", table)
			delete(r.opts.LowCardinality, table)
		}
	}
	out, err := redshiftgen.Generate(r.opts, tables)
	if err != nil {
		return err
	}
	if r.out == "" {
		_, err := io.WriteString(stdout, out.String())
		return err
	}
	return writeFiles(r.out, out.Files(), stderr)
}

// matchTopics lists the topics the configuration selects.
func matchTopics(ctx context.Context, kopts []kgo.Opt, pcfg pipeline.Config) ([]string, error) {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	_, names, err := pipeline.MatchTopics(ctx, kadm.NewClient(cl), pcfg.Topics)
	return names, err
}

func writeFiles(dir string, files []redshiftgen.File, stderr io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	fmt.Fprintf(stderr, "cdcsync: generate: wrote %d files to %s\n", len(files), dir)
	return nil
}

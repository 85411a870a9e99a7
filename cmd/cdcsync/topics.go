package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkaconn"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/redshiftgen"
)

func topicsCmd() *cobra.Command {
	var f commonFlags
	cmd := &cobra.Command{
		Use:   "topics [--config FILE] --brokers HOST:PORT[,HOST:PORT] --topics REGEX",
		Short: "List the matched topics, the table each maps to, partitions and message counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			cfg.Target = "unused.duckdb"
			if err := cfg.Validate(); err != nil {
				return err
			}
			cfg.WarnReadableSecrets(newLogger(cfg.Log))
			pcfg, err := pipeline.ConfigFrom(cfg, true)
			if err != nil {
				return err
			}
			kopts, err := kafkaconn.Options(cfg.Brokers, cfg.Kafka)
			if err != nil {
				return err
			}
			return listTopics(cmd.Context(), kopts, pcfg)
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

func listTopics(ctx context.Context, kopts []kgo.Opt, pcfg pipeline.Config) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		return fmt.Errorf("cannot reach Kafka brokers: %w", err)
	}
	adm := kadm.NewClient(cl)
	details, names, err := pipeline.MatchTopics(ctx, adm, pcfg.Topics)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Printf("no topic matches %s\n", pcfg.Topics)
		return nil
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	// The format of a topic is the converter's that wrote its last records.
	formats := map[string]string{}
	if samples, err := redshiftgen.Sample(ctx, kopts, names, 1); err == nil {
		for _, name := range names {
			formats[name] = debezium.TopicFormat(samples[name])
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tTABLE\tPARTITIONS\tMESSAGES\tFORMAT")
	for _, name := range names {
		var msgs int64
		ends.Each(func(e kadm.ListedOffset) {
			if e.Topic != name || e.Err != nil {
				return
			}
			s, _ := starts.Lookup(e.Topic, e.Partition)
			msgs += e.Offset - s.Offset
		})
		format := formats[name]
		if format == "" {
			format = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", name, pcfg.Decoder.Table(name).Name, len(details[name].Partitions), msgs, format)
	}
	return tw.Flush()
}

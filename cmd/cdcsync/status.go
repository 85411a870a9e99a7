package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/kafkaconn"
	"github.com/cdcsync/cdcsync/internal/status"
	"github.com/cdcsync/cdcsync/internal/target"
)

// registerRead registers the flags of the commands that read a target
// with a configuration: --config, --target, --brokers, --topics, --group.
func (f *commonFlags) registerRead(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML configuration file (flags override it)")
	fs.StringVar(&f.target, "target", "", "target DSN: "+target.Supported())
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, HOST:PORT[,HOST:PORT]")
	fs.StringVar(&f.topics, "topics", "", "regular expression selecting topics (matched against the whole name)")
	fs.StringVar(&f.group, "group", "", "consumer group name (default \"cdcsync\")")
}

func statusCmd() *cobra.Command {
	var f commonFlags
	var asJSON bool
	var runs int
	cmd := &cobra.Command{
		Use:   "status --target DSN [--brokers HOST:PORT --topics REGEX] [--json]",
		Short: "Show each table's rows, freshness, dead letters, the last runs and, with --brokers, the lag per partition",
		Long: `Show the per-table picture from the warehouse alone, read-only: rows, last
commit (the newest _cdc_refreshed_at), last source time (the newest
_cdc_source_ts), dead letters (pending ones and the newest reason) and the
last runs of the group. With --brokers, also each partition's lag: records
between the offset stored in the warehouse and the high watermark.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			h, err := openReadOnly(ctx, "status", cfg)
			if err != nil {
				return err
			}
			defer h.Close()
			opts := status.Options{Group: cfg.Group, Runs: runs}
			if len(cfg.Brokers) > 0 {
				kopts, err := kafkaconn.Options(cfg.Brokers, cfg.Kafka)
				if err != nil {
					return err
				}
				cl, err := kgo.NewClient(kopts...)
				if err != nil {
					return fmt.Errorf("kafka client: %w", err)
				}
				defer cl.Close()
				opts.Admin = kadm.NewClient(cl)
				if cfg.Topics != "" {
					if opts.Topics, err = cfg.TopicRegexp(); err != nil {
						return err
					}
				}
			}
			st, err := status.Read(ctx, h, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(out, st, time.Now())
			return nil
		},
	}
	f.registerRead(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.Flags().IntVar(&runs, "runs", 5, "how many of the latest runs to show")
	return cmd
}

// printStatus prints the status as aligned text.
func printStatus(out io.Writer, st *status.Status, now time.Time) {
	withLag := st.Partitions != nil
	head := []string{"table", "topic", "rows", "last commit", "last source time", "dead letters", "pending", "last dead-letter reason"}
	if withLag {
		head = append(head, "lag")
	}
	rows := [][]string{head}
	for _, t := range st.Tables {
		r := []string{t.Name, dash(t.Topic), "-", ago(t.LastCommit, now), ago(t.LastSourceTime, now),
			strconv.FormatInt(t.DeadLetters, 10), strconv.FormatInt(t.Pending, 10), dash(t.LastReason)}
		if t.Rows != nil {
			r[2] = strconv.FormatInt(*t.Rows, 10)
		}
		if withLag {
			r = append(r, "-")
			if t.Lag != nil {
				r[len(r)-1] = strconv.FormatInt(*t.Lag, 10)
			}
		}
		rows = append(rows, r)
	}
	fmt.Fprintf(out, "group %s\n\n", st.Group)
	printTable(out, rows, "", 60)
	if withLag {
		rows := [][]string{{"topic", "partition", "table", "stored offset", "high watermark", "lag"}}
		for _, p := range st.Partitions {
			stored := "-"
			if p.Stored != nil {
				stored = strconv.FormatInt(*p.Stored, 10)
			}
			rows = append(rows, []string{p.Topic, strconv.Itoa(int(p.Partition)), dash(p.Table), stored,
				strconv.FormatInt(p.HighWatermark, 10), strconv.FormatInt(p.Lag, 10)})
		}
		fmt.Fprintln(out)
		printTable(out, rows, "", 0)
	}
	rows = [][]string{{"run", "mode", "version", "started", "finished", "status", "events", "batches", "error"}}
	for _, r := range st.Runs {
		rows = append(rows, []string{r.ID, r.Mode, r.Version, stamp(r.StartedAt), stamp(r.FinishedAt), r.Status,
			strconv.FormatInt(r.Events, 10), strconv.FormatInt(r.Batches, 10), dash(r.Error)})
	}
	fmt.Fprintln(out)
	printTable(out, rows, "", 60)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago renders a time with how long ago it was.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(t) + " (" + since(now.Sub(*t)) + " ago)"
}

// since renders an age the way people read one: seconds to hours as Go
// writes them (1m30s, 5h2m0s), two days and more in days and hours.
func since(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Second).String()
	}
	days := int64(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%dh", days, int64((d-time.Duration(days)*24*time.Hour)/time.Hour))
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/status"
	"github.com/cdcsync/cdcsync/internal/target"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

func deadLettersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dead-letters list|replay",
		Short: "List dead letters, or apply them again once their cause is fixed",
	}
	cmd.AddCommand(deadLettersListCmd(), deadLettersReplayCmd())
	return cmd
}

// letterFlags select dead letters.
type letterFlags struct {
	table, reasonLike string
}

func (l *letterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&l.table, "table", "", "only the dead letters of this target table")
	cmd.Flags().StringVar(&l.reasonLike, "reason-like", "", "only the dead letters whose reason matches this SQL LIKE pattern (% and _)")
}

func deadLettersListCmd() *cobra.Command {
	var f commonFlags
	var l letterFlags
	var asJSON, pending bool
	cmd := &cobra.Command{
		Use:   "list --target DSN [--table T] [--reason-like PATTERN] [--pending] [--json]",
		Short: "List the group's dead letters, read-only",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			h, err := openReadOnly(ctx, "dead-letters list", cfg)
			if err != nil {
				return err
			}
			defer h.Close()
			letters, err := status.DeadLetters(ctx, h, cfg.Group, warehouse.DeadLetterFilter{Table: l.table, ReasonLike: l.reasonLike, Pending: pending})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(letters)
			}
			printLetters(out, letters)
			return nil
		},
	}
	f.registerRead(cmd.Flags())
	l.register(cmd)
	cmd.Flags().BoolVar(&pending, "pending", false, "only the dead letters not replayed yet")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text, with each letter's raw key and value")
	return cmd
}

func printLetters(out io.Writer, letters []status.DeadLetter) {
	rows := [][]string{{"topic", "partition", "offset", "table", "created", "reason", "replayed", "replay result"}}
	for _, d := range letters {
		rows = append(rows, []string{d.Topic, strconv.Itoa(int(d.Partition)), strconv.FormatInt(d.Offset, 10), dash(d.Table),
			stamp(d.CreatedAt), d.Reason, stamp(d.ReplayedAt), dash(d.ReplayResult)})
	}
	printTable(out, rows, "", 80)
	fmt.Fprintf(out, "%d dead letters\n", len(letters))
}

func deadLettersReplayCmd() *cobra.Command {
	var f commonFlags
	var l letterFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay [--config FILE] --target DSN [--table T] [--reason-like PATTERN] [--json]",
		Short: "Decode pending dead letters with the current config and apply those now valid, never over a newer change",
		Long: `Decode each pending dead letter again with the current configuration (after a
declared type in tables.<t>.columns was fixed, say) and apply the changes that
are now valid, one transaction per letter. A change is applied only when it
is newer than what the target row holds (Kafka offset within a partition,
source position across partitions); when the row holds a newer change it is
skipped as superseded, and when nothing proves it is the newest (its row is
gone and no landing history shows why) it is left pending. Offsets never
move. Applied and superseded letters are marked (replayed_at,
replay_result), not deleted; still-invalid ones stay pending with the new
reason in replay_result.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return err
			}
			if err := needTarget("dead-letters replay", cfg); err != nil {
				return err
			}
			if err := target.Check(cfg.Target); err != nil {
				return err
			}
			ctx := cmd.Context()
			log := newLogger(cfg.Log)
			wh, err := target.Open(ctx, cfg.Target, warehouseOptions(cfg), log)
			if err != nil {
				return err
			}
			defer wh.Close()
			r, ok := wh.(warehouse.Replayer)
			if !ok {
				return fmt.Errorf("dead-letters replay: the %s warehouse cannot replay dead letters", target.Redact(cfg.Target))
			}
			rep, err := pipeline.Replay(ctx, cfg, r, warehouse.DeadLetterFilter{Table: l.table, ReasonLike: l.reasonLike}, log)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(replayJSON(rep)); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				printReplay(out, rep)
			}
			return err
		},
	}
	f.registerRead(cmd.Flags())
	l.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

type replayedJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Table     string `json:"table"`
	Result    string `json:"result"`
	Detail    string `json:"detail,omitempty"`
}

func replayJSON(rep pipeline.ReplayReport) any {
	letters := make([]replayedJSON, len(rep.Letters))
	for i, l := range rep.Letters {
		letters[i] = replayedJSON{l.Letter.Topic, l.Letter.Partition, l.Letter.Offset, l.Letter.Table, string(l.Outcome.Result), l.Outcome.Detail}
	}
	return struct {
		Applied    int            `json:"applied"`
		Superseded int            `json:"superseded"`
		Invalid    int            `json:"still_invalid"`
		Unsure     int            `json:"unsure"`
		Left       int            `json:"left"`
		Letters    []replayedJSON `json:"letters"`
	}{rep.Applied, rep.Superseded, rep.Invalid, rep.Unsure, rep.Left(), letters}
}

func printReplay(out io.Writer, rep pipeline.ReplayReport) {
	if len(rep.Letters) > 0 {
		rows := [][]string{{"topic", "partition", "offset", "table", "result", "detail"}}
		for _, l := range rep.Letters {
			rows = append(rows, []string{l.Letter.Topic, strconv.Itoa(int(l.Letter.Partition)), strconv.FormatInt(l.Letter.Offset, 10),
				dash(l.Letter.Table), string(l.Outcome.Result), dash(l.Outcome.Detail)})
		}
		printTable(out, rows, "", 100)
	}
	fmt.Fprintf(out, "applied %d, skipped as superseded %d, still invalid %d, left unsure %d; %d left pending\n",
		rep.Applied, rep.Superseded, rep.Invalid, rep.Unsure, rep.Left())
}

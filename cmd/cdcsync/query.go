package main

import (
	"database/sql"
	"fmt"
	"strings"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

func kafkaOpts(addr string) []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(addr)} }

func queryCmd() *cobra.Command {
	var targetPath string
	cmd := &cobra.Command{
		Use:   "query --target FILE.duckdb SQL",
		Short: "Run a SQL query on a DuckDB target (read-only) and print the result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasSuffix(targetPath, ".duckdb") {
				return fmt.Errorf("target: %q is not a DuckDB file path ending in .duckdb", targetPath)
			}
			connector, err := duckdbdrv.NewConnector(targetPath+"?access_mode=read_only", nil)
			if err != nil {
				return fmt.Errorf("open %s: %w", targetPath, err)
			}
			db := sql.OpenDB(connector)
			defer db.Close()
			return printQuery(cmd.Context(), cmd.OutOrStdout(), db, args[0], "")
		},
	}
	cmd.Flags().StringVar(&targetPath, "target", "", "DuckDB file")
	cmd.MarkFlagRequired("target") //nolint:errcheck // the flag exists
	return cmd
}

package main

import (
	"database/sql"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/target"
)

func queryCmd() *cobra.Command {
	var targetDSN string
	cmd := &cobra.Command{
		Use:   "query --target DSN SQL",
		Short: "Run one read-only SQL statement on a target and print the result",
		Long: `Run one SQL statement on a target and print the result. Nothing can write:

A DuckDB file is opened read-only, with external access off (no other file
is read, written or attached, no COPY … TO, EXPORT DATABASE or read_csv),
extension installs and autoloading off, and the configuration locked.
A DuckLake is attached READ_ONLY, file access limited to its data path, and
only a SELECT or an EXPLAIN runs. On PostgreSQL and Redshift the statement
runs alone (the extended protocol takes one statement) in a READ ONLY
transaction that is rolled back, with the DSN's schema first on the search
path.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			redact.Remember(targetDSN)
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			h, err := target.OpenReadOnly(ctx, targetDSN, nil)
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.Run(ctx, args[0], func(rows *sql.Rows) error { return printRows(out, rows, "") }); err != nil {
				return fmt.Errorf("query: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&targetDSN, "target", "", "target DSN: "+target.Supported())
	cmd.MarkFlagRequired("target") //nolint:errcheck // the flag exists
	return cmd
}

package main

import "github.com/spf13/cobra"

func demoCmd() *cobra.Command {
	return &cobra.Command{Use: "demo", Short: "Run the pipeline on a built-in Debezium stream into a DuckDB file"}
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/mask"
	"github.com/cdcsync/cdcsync/internal/progress"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/verify"
)

func verifyCmd() *cobra.Command {
	var source, targetDSN, tables, configFile string
	var opts verify.Options
	cmd := &cobra.Command{
		Use:   "verify --source DSN --target DSN [--tables t1,t2]",
		Short: "Compare the source's tables with the target's, row by row; exit 1 if they differ",
		Long: `Compare the source's tables with the tables cdcsync keeps in the target.

Source: mysql://USER:PASS@HOST:PORT/DB (MySQL, MariaDB) or
postgres://USER:PASS@HOST:PORT/DB[?schema=S] (PostgreSQL, schema public by default).
Target: a path ending in .duckdb (opened read-only), postgres://…[?schema=S],
or a DuckLake, ducklake:CATALOG[?extension_directory=DIR…] (attached read-only).

Every base table of the source that exists in the target is compared
(--tables restricts): counts, then hashes of primary-key ranges, narrowing to
the rows that differ. Values are compared after cdcsync's type mapping; the
target's _cdc_ columns are ignored. Prints missing rows (in the source, not the
target), extra rows (in the target, not the source) and different rows with the
differing columns. Exits 0 only when every table is equal.

With --config, the tables' column rules (columns_include, columns_exclude,
columns_hash) apply: only the kept columns are compared, and hashed ones by
hashing the source's values with the masking key. A table whose primary key
is hashed is compared as a whole (equal or not, without listing rows).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source == "" || targetDSN == "" {
				return errors.New("verify: --source and --target are required")
			}
			for _, t := range strings.Split(tables, ",") {
				if t = strings.TrimSpace(t); t != "" {
					opts.Tables = append(opts.Tables, t)
				}
			}
			if strings.HasPrefix(targetDSN, "mysql://") || strings.HasPrefix(targetDSN, "mariadb://") {
				return fmt.Errorf("target: %q: MySQL is not a cdcsync target; want a .duckdb path, a postgres:// URL or a ducklake:CATALOG DSN", redact.DSN(targetDSN))
			}
			if strings.HasSuffix(source, ".duckdb") || strings.HasPrefix(source, "duckdb://") {
				return fmt.Errorf("source: %q: DuckDB is not a source; want mysql:// or postgres://", redact.DSN(source))
			}
			redact.Remember(source, targetDSN)
			if configFile != "" {
				cols, err := verifyColumnRules(configFile)
				if err != nil {
					return err
				}
				opts.Columns = cols
			}
			ctx := cmd.Context()
			src, err := verify.Open(ctx, source)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer src.Close()
			tgt, err := verify.OpenTarget(ctx, targetDSN)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			defer tgt.Close()
			out := cmd.OutOrStdout()
			opts.Out = out
			popts := progress.ForStderr(slog.New(slog.NewTextHandler(progress.Stderr(), nil)))
			tables := &tableProgress{opts: popts}
			defer tables.TableDone("")
			opts.Progress = tables
			res, err := verify.Compare(ctx, src, tgt, opts)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if !res.Equal() {
				return errors.New("verify: " + res.Summary())
			}
			fmt.Fprintln(out, "verify: "+res.Summary())
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&source, "source", "", "source DSN: mysql://USER:PASS@HOST:PORT/DB or postgres://USER:PASS@HOST:PORT/DB[?schema=S]")
	fs.StringVar(&targetDSN, "target", "", "target DSN: a path ending in .duckdb, postgres://USER:PASS@HOST:PORT/DB[?schema=S] or ducklake:CATALOG[?…]")
	fs.StringVar(&tables, "tables", "", "comma-separated tables to compare (default: every source table in the target)")
	fs.StringVar(&configFile, "config", "", "cdcsync's YAML configuration: compare with its tables' column rules (columns_include, columns_exclude, columns_hash)")
	fs.IntVar(&opts.PageSize, "page-size", 10000, "source keys per range of the first pass (bounds memory)")
	fs.IntVar(&opts.MaxRows, "max-rows", 100, "differing rows listed per table (all are counted)")
	return cmd
}

// verifyColumnRules reads the tables' column rules and the masking key
// from cdcsync's configuration file.
func verifyColumnRules(path string) (map[string]verify.ColumnRules, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.ResolveSecrets(); err != nil {
		return nil, err
	}
	redact.RememberPassword(string(cfg.MaskingKey()))
	out := map[string]verify.ColumnRules{}
	for name, t := range cfg.Tables {
		r := mask.Rules{Include: t.ColumnsInclude, Exclude: t.ColumnsExclude, Hash: t.ColumnsHash}
		if r.Empty() {
			continue
		}
		if len(r.Hash) > 0 && cfg.MaskingKey() == nil {
			return nil, fmt.Errorf("config %s: tables.%s.columns_hash needs masking.key_env or masking.key_file", path, name)
		}
		out[name] = verify.ColumnRules{Rules: r, Key: cfg.MaskingKey()}
	}
	return out, nil
}

// tableProgress reports verify's progress table by table: rows compared
// of the source's rows.
type tableProgress struct {
	opts  progress.Options
	table string
	r     *progress.Reporter
}

func (t *tableProgress) Compared(table string, done, total int64) {
	if t.r == nil || t.table != table {
		t.r.End()
		t.table, t.r = table, t.opts.Start("verify "+table, "rows", progress.OfTotal)
	}
	t.r.Update(done, total)
}

func (t *tableProgress) TableDone(string) {
	t.r.End()
	t.r = nil
}

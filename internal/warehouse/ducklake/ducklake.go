// Package ducklake is the DuckLake warehouse: tables as Parquet files on a
// local disk or S3, their catalog in a DuckDB file or in PostgreSQL, written
// through DuckDB's ducklake extension.
//
// It is DuckDB's dialect (package duckdb) on a DuckLake catalog attached as
// the default database, applied by package sqlapply like every SQL
// warehouse: each batch is staged in temporary tables of the embedded
// DuckDB and applied set-based — DELETE … USING the staged keys, then
// INSERT … SELECT the upserts — together with the dead letters and the
// fenced offsets, in one transaction, which DuckLake commits as one
// snapshot of the catalog: every table and the offsets move together or
// not at all.
//
// DuckLake has no PRIMARY KEY or UNIQUE constraints, so the dialect is
// sqlapply.Unkeyed: a table's key is recorded as comments on its key
// columns. DuckLake's MERGE INTO takes a single UPDATE or DELETE action, so
// an upsert would be a MERGE and a separate DELETE; sqlapply's DELETE then
// INSERT is the same two statements in the same snapshot (DuckLake writes
// an update as a delete plus an insert in any case).
package ducklake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Prefix starts every DuckLake DSN.
const Prefix = "ducklake:"

// Catalog is the name the DuckLake is attached under, and the default
// database of cdcsync's connections (and of cdcsync query).
const Catalog = "lake"

// attachOptions are the DSN parameters that are options of DuckLake's
// ATTACH rather than DuckDB settings.
var attachOptions = []string{"data_path", "data_inlining_row_limit", "metadata_schema", "encrypted"}

// Config is a parsed DuckLake DSN:
//
//	ducklake:CATALOG[?data_path=DIR&data_inlining_row_limit=N&extension_directory=DIR&SETTING=VALUE…]
//
// CATALOG is what DuckLake's ATTACH takes after "ducklake:": the path of a
// DuckDB file (/data/lake.ducklake) or "postgres:" and a libpq connection
// string (postgres:dbname=lake host=db user=cdcsync). data_path is where
// the Parquet files go (a directory or s3://bucket/prefix/); it is stored
// in the catalog when it is created and may be omitted afterwards.
// extension_directory is DuckDB's directory of installed extensions, for
// hosts that cannot reach DuckDB's extension repository: extensions are
// INSTALLed from it and never downloaded. Every other parameter is a
// DuckDB setting (memory_limit, threads, s3_region, …).
type Config struct {
	Catalog  string            // after "ducklake:", before "?"
	Attach   map[string]string // ATTACH options, by lower-case name
	Settings url.Values        // DuckDB settings
}

// Parse parses a DuckLake DSN.
func Parse(dsn string) (Config, error) {
	rest, ok := strings.CutPrefix(dsn, Prefix)
	if !ok {
		return Config{}, fmt.Errorf("not a DuckLake DSN: it must start with %q", Prefix)
	}
	catalog, rawQuery, _ := strings.Cut(rest, "?")
	if catalog == "" {
		return Config{}, fmt.Errorf("DuckLake DSN: no catalog after %q (a DuckDB file path or postgres:…)", Prefix)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("DuckLake DSN: parameters: %w", err)
	}
	c := Config{Catalog: catalog, Attach: map[string]string{}, Settings: url.Values{}}
	for k, v := range q {
		lk := strings.ToLower(k)
		if slices.Contains(attachOptions, lk) {
			c.Attach[lk] = v[len(v)-1]
			continue
		}
		c.Settings[lk] = v
	}
	if n, ok := c.Attach["data_inlining_row_limit"]; ok {
		if _, err := strconv.ParseUint(n, 10, 32); err != nil {
			return Config{}, fmt.Errorf("DuckLake DSN: data_inlining_row_limit %q is not a row count", n)
		}
	}
	if c.Settings.Get("extension_directory") != "" {
		// Offline: never download an extension, never load one implicitly.
		c.Settings.Set("autoinstall_known_extensions", "false")
		c.Settings.Set("autoload_known_extensions", "false")
	}
	if c.Settings.Get("memory_limit") == "" {
		c.Settings.Set("memory_limit", duckdb.DefaultMemoryLimit)
	}
	return c, nil
}

// postgresCatalog reports a catalog in PostgreSQL.
func (c Config) postgresCatalog() bool { return strings.HasPrefix(c.Catalog, "postgres:") }

// extensions are the DuckDB extensions the DuckLake needs, in load order.
func (c Config) extensions() []string {
	ext := []string{"ducklake"}
	if c.postgresCatalog() {
		ext = append(ext, "postgres")
	}
	if p := c.Attach["data_path"]; strings.Contains(p, "://") && !strings.HasPrefix(p, "file://") {
		ext = append(ext, "httpfs")
	}
	return ext
}

// attach is the ATTACH statement of the DuckLake.
func (c Config) attach(readOnly bool) string {
	var opts []string
	for _, k := range attachOptions {
		v, ok := c.Attach[k]
		if !ok {
			continue
		}
		if k == "data_inlining_row_limit" || k == "encrypted" {
			opts = append(opts, strings.ToUpper(k)+" "+v)
		} else {
			opts = append(opts, strings.ToUpper(k)+" "+sqltext.Literal(v))
		}
	}
	if readOnly {
		opts = append(opts, "READ_ONLY")
	}
	s := "ATTACH IF NOT EXISTS " + sqltext.Literal(Prefix+c.Catalog) + " AS " + Catalog
	if len(opts) > 0 {
		s += " (" + strings.Join(opts, ", ") + ")"
	}
	return s
}

// Connect opens an embedded DuckDB with the DuckLake attached as the
// default database of every connection, INSTALLing and LOADing the
// extensions it needs. readOnly attaches it READ_ONLY and then locks the
// database down like duckdb.ReadOnlySettings (no file access outside the
// lake, no configuration changes).
func Connect(ctx context.Context, c Config, readOnly bool) (*sql.DB, error) {
	var setup []string
	for _, e := range c.extensions() {
		setup = append(setup, "INSTALL "+e, "LOAD "+e)
	}
	setup = append(setup, c.attach(readOnly))
	var mu sync.Mutex
	locked := false
	connector, err := duckdbdrv.NewConnector("?"+c.Settings.Encode(), func(ex driver.ExecerContext) error {
		mu.Lock()
		defer mu.Unlock()
		stmts := []string{"USE " + Catalog}
		if !locked {
			// The first connection sets the database up; the others see it.
			stmts = append(slices.Clone(setup), stmts...)
			if readOnly {
				stmts = append(stmts, lockdown, "SET lock_configuration = true")
			}
		}
		for _, s := range stmts {
			if s == lockdown {
				// Reading stays allowed under the lake's data path.
				dir, err := dataPath(ctx, ex)
				if err != nil {
					return err
				}
				if _, err := ex.ExecContext(ctx, "SET allowed_directories = ["+sqltext.Literal(dir)+"]", nil); err != nil {
					return fmt.Errorf("allow the data path: %w", err)
				}
			}
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("%s: %w", firstWords(s), err)
			}
		}
		locked = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open DuckLake %s: %w", Redact(Prefix+c.Catalog), sqltext.FirstLine(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open DuckLake %s: %w", Redact(Prefix+c.Catalog), sqltext.FirstLine(err))
	}
	return db, nil
}

// lockdown forbids file access outside allowed_directories.
const lockdown = "SET enable_external_access = false"

// dataPath reads the attached lake's data path from its catalog.
func dataPath(ctx context.Context, ex driver.ExecerContext) (string, error) {
	q, ok := ex.(driver.QueryerContext)
	if !ok {
		return "", fmt.Errorf("read the data path: not a DuckDB connection")
	}
	rows, err := q.QueryContext(ctx, "SELECT value FROM "+Catalog+".options() WHERE option_name = 'data_path'", nil)
	if err != nil {
		return "", fmt.Errorf("read the data path: %w", err)
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		return "", fmt.Errorf("read the data path: %w", err)
	}
	dir, ok := v[0].(string)
	if !ok || dir == "" {
		return "", fmt.Errorf("read the data path: the catalog has none")
	}
	return dir, nil
}

// firstWords names a setup statement in errors without its arguments
// (ATTACH's carries the catalog's connection string).
func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// Open opens (creating if needed) the DuckLake a DSN names and cdcsync's
// own tables in it.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	c, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	db, err := Connect(ctx, c, false)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, Dialect{}, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("DuckLake %s: %w", Redact(dsn), err)
	}
	return w, nil
}

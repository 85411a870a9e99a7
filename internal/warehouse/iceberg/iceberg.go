// Package iceberg is the Apache Iceberg warehouse: tables in an Iceberg REST
// catalog (Polaris, Lakekeeper, Nessie, Gravitino, AWS Glue, S3 Tables, …),
// written through DuckDB's iceberg extension in an embedded DuckDB.
//
// It is DuckDB's SQL (package duckdb) on the REST catalog attached to the
// embedded DuckDB, applied by package sqlapply like every SQL warehouse:
// each batch is staged in temporary tables of the embedded DuckDB and
// applied set-based — DELETE … USING the staged keys, then INSERT … SELECT
// the upserts — together with the dead letters and the fenced offsets, all
// of them Iceberg tables in one namespace, in one DuckDB transaction. DuckDB
// commits a transaction that wrote several Iceberg tables with one call of
// the catalog's multi-table commit (POST /v1/{prefix}/transactions/commit),
// whose table requirements (each table still at the snapshot the
// transaction read) are checked for every table before any is updated: the
// target tables and the offsets table move together or not at all, as far
// as the catalog implements that endpoint atomically.
//
// Iceberg has no PRIMARY KEY constraints and DuckDB cannot set a table's
// identifier fields, so the dialect is sqlapply.Unkeyed: a table's key is
// recorded in cdcsync's own table _cdc_keys, in the transaction creating
// the table. Iceberg has no views, so landing tables keep each record's
// bytes whole (no sqlapply.SchemaEliding), and no JSON, SMALLINT, TINYINT,
// INTERVAL or TIME WITH TIME ZONE type: see SQLType.
package iceberg

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Prefix starts every Iceberg DSN.
const Prefix = "iceberg:"

// Catalog is the name the REST catalog is attached under, and the default
// database of cdcsync's connections (and of cdcsync query).
const Catalog = "ice"

// DefaultNamespace is the namespace cdcsync's tables go to when the DSN
// names none.
const DefaultNamespace = "cdcsync"

// secretName is the DuckDB secret holding the catalog's credentials.
const secretName = "cdcsync_iceberg"

// Auth says how cdcsync authenticates to the REST catalog.
type Auth string

// The ways to authenticate.
const (
	AuthNone   Auth = "none"   // no credentials (a test catalog)
	AuthOAuth2 Auth = "oauth2" // OAuth2 client credentials
	AuthBearer Auth = "bearer" // a bearer token
	AuthSigV4  Auth = "sigv4"  // AWS Signature V4 (Glue, S3 Tables): DuckDB's AWS credentials
)

// params are the DSN parameters that are not DuckDB settings.
var params = []string{
	"warehouse", "namespace", "auth", "endpoint_type",
	"client_id", "client_secret", "client_secret_env", "client_secret_file",
	"oauth2_server_uri", "oauth2_scope",
	"token", "token_env", "token_file",
	"access_delegation_mode",
}

// Config is a parsed Iceberg DSN:
//
//	iceberg:ENDPOINT?warehouse=W&namespace=N&auth=none|oauth2|bearer|sigv4&…
//
// ENDPOINT is the REST catalog's URL (http://127.0.0.1:8181,
// https://catalog.example.com/api/catalog); it may be empty when
// endpoint_type names an AWS catalog (glue, s3_tables), whose warehouse is
// then the account ID or the table bucket's ARN. warehouse is the catalog's
// warehouse name (the REST "warehouse" parameter; empty for a catalog
// without). namespace holds cdcsync's tables (created when missing;
// default "cdcsync").
//
// auth=oauth2 takes client_id, the client secret from client_secret_env
// (the name of an environment variable) or client_secret_file (a file
// holding it), and optionally oauth2_server_uri and oauth2_scope.
// auth=bearer takes a token from token_env or token_file. The secrets
// themselves never appear in the DSN (client_secret= and token= are
// accepted, and redacted, but the environment and files are preferred).
//
// extension_directory is DuckDB's directory of installed extensions, for
// hosts that cannot reach DuckDB's extension repository: extensions are
// INSTALLed from it and never downloaded. Every other parameter is a DuckDB
// setting (memory_limit, threads, s3_region, …).
type Config struct {
	Endpoint     string
	Warehouse    string
	Namespace    string
	Auth         Auth
	EndpointType string
	ClientID     string
	OAuth2URI    string
	OAuth2Scope  string
	Delegation   string
	secret       string // the client secret or bearer token, read
	Settings     url.Values
}

// Parse parses an Iceberg DSN, reading a secret it names from the
// environment or a file.
func Parse(dsn string) (Config, error) {
	rest, ok := strings.CutPrefix(dsn, Prefix)
	if !ok {
		return Config{}, fmt.Errorf("not an Iceberg DSN: it must start with %q", Prefix)
	}
	endpoint, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("iceberg DSN: parameters: %w", redact.Error(err, dsn))
	}
	p := map[string]string{}
	c := Config{Endpoint: endpoint, Settings: url.Values{}}
	for k, v := range q {
		lk := strings.ToLower(k)
		if slices.Contains(params, lk) {
			p[lk] = v[len(v)-1]
			continue
		}
		c.Settings[lk] = v
	}
	c.Warehouse, c.Namespace, c.EndpointType = p["warehouse"], p["namespace"], strings.ToLower(p["endpoint_type"])
	c.ClientID, c.OAuth2URI, c.OAuth2Scope, c.Delegation = p["client_id"], p["oauth2_server_uri"], p["oauth2_scope"], p["access_delegation_mode"]
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Endpoint == "" && c.EndpointType == "" {
		return Config{}, fmt.Errorf("iceberg DSN: no REST catalog endpoint after %q (http://host:port) and no endpoint_type", Prefix)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("iceberg DSN: the endpoint must be an http:// or https:// URL")
		}
		if u.User != nil {
			return Config{}, fmt.Errorf("iceberg DSN: the endpoint must not hold credentials: use auth=oauth2 or auth=bearer")
		}
	}
	switch c.EndpointType {
	case "", "glue", "s3_tables":
	default:
		return Config{}, fmt.Errorf("iceberg DSN: endpoint_type %q is not glue or s3_tables", c.EndpointType)
	}
	c.Auth = Auth(strings.ToLower(p["auth"]))
	if c.Auth == "" {
		c.Auth = AuthNone
		switch {
		case c.EndpointType != "":
			c.Auth = AuthSigV4
		case p["client_id"] != "":
			c.Auth = AuthOAuth2
		case p["token"] != "" || p["token_env"] != "" || p["token_file"] != "":
			c.Auth = AuthBearer
		}
	}
	switch c.Auth {
	case AuthNone, AuthSigV4:
	case AuthOAuth2:
		if c.ClientID == "" {
			return Config{}, fmt.Errorf("iceberg DSN: auth=oauth2 needs client_id")
		}
		if c.secret, err = secret(p, "client_secret"); err != nil {
			return Config{}, err
		}
	case AuthBearer:
		if c.secret, err = secret(p, "token"); err != nil {
			return Config{}, err
		}
	default:
		return Config{}, fmt.Errorf("iceberg DSN: auth %q is not none, oauth2, bearer or sigv4", c.Auth)
	}
	for _, k := range []string{"s3_secret_access_key", "s3_session_token"} {
		if v := c.Settings.Get(k); v != "" {
			redact.RememberPassword(v)
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

// secret reads the secret named name from the DSN parameters: given
// inline (name=), in an environment variable (name_env=) or in a file
// (name_file=, trailing newlines dropped). Exactly one must be given. The
// secret is remembered by package redact, so that no message shows it.
func secret(p map[string]string, name string) (string, error) {
	var given []string
	for _, k := range []string{name, name + "_env", name + "_file"} {
		if p[k] != "" {
			given = append(given, k)
		}
	}
	if len(given) != 1 {
		return "", fmt.Errorf("iceberg DSN: give exactly one of %s_env, %s_file or %s", name, name, name)
	}
	var s string
	switch k := given[0]; k {
	case name:
		s = p[name]
	case name + "_env":
		var ok bool
		if s, ok = os.LookupEnv(p[k]); !ok || s == "" {
			return "", fmt.Errorf("iceberg DSN: %s: environment variable %s is not set", k, p[k])
		}
	case name + "_file":
		b, err := os.ReadFile(p[k])
		if err != nil {
			return "", fmt.Errorf("iceberg DSN: %s: %w", k, err)
		}
		s = strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("iceberg DSN: %s: %s is empty", k, p[k])
		}
	}
	redact.RememberPassword(s)
	return s, nil
}

// extensions are the DuckDB extensions the catalog needs, in load order.
func (Config) extensions() []string { return []string{"avro", "httpfs", "iceberg"} }

// createSecret is the statement creating the catalog's credentials, or ""
// when it needs none.
func (c Config) createSecret() string {
	var opts []string
	switch c.Auth {
	case AuthOAuth2:
		opts = append(opts, "CLIENT_ID "+sqltext.Literal(c.ClientID), "CLIENT_SECRET "+sqltext.Literal(c.secret))
		if c.OAuth2URI != "" {
			opts = append(opts, "OAUTH2_SERVER_URI "+sqltext.Literal(c.OAuth2URI))
		} else if c.Endpoint != "" {
			opts = append(opts, "OAUTH2_SERVER_URI "+sqltext.Literal(strings.TrimRight(c.Endpoint, "/")+"/v1/oauth/tokens"))
		}
		if c.OAuth2Scope != "" {
			opts = append(opts, "OAUTH2_SCOPE "+sqltext.Literal(c.OAuth2Scope))
		}
	case AuthBearer:
		opts = append(opts, "TOKEN "+sqltext.Literal(c.secret))
	default:
		return ""
	}
	return "CREATE OR REPLACE TEMPORARY SECRET " + secretName + " (TYPE iceberg, " + strings.Join(opts, ", ") + ")"
}

// attach is the ATTACH statement of the catalog.
func (c Config) attach(readOnly bool) string {
	var opts []string
	opts = append(opts, "TYPE iceberg")
	if c.Endpoint != "" {
		opts = append(opts, "ENDPOINT "+sqltext.Literal(c.Endpoint))
	}
	if c.EndpointType != "" {
		opts = append(opts, "ENDPOINT_TYPE "+sqltext.Literal(c.EndpointType))
	}
	switch c.Auth {
	case AuthNone:
		opts = append(opts, "AUTHORIZATION_TYPE 'none'")
	case AuthSigV4:
		opts = append(opts, "AUTHORIZATION_TYPE 'sigv4'")
	default:
		opts = append(opts, "SECRET "+secretName)
	}
	if c.Delegation != "" {
		opts = append(opts, "ACCESS_DELEGATION_MODE "+sqltext.Literal(c.Delegation))
	}
	if readOnly {
		opts = append(opts, "READ_ONLY")
	}
	return "ATTACH IF NOT EXISTS " + sqltext.Literal(c.Warehouse) + " AS " + Catalog + " (" + strings.Join(opts, ", ") + ")"
}

// Connect opens an embedded DuckDB with the catalog attached and its
// namespace the default schema of every connection, INSTALLing and
// LOADing the extensions it needs and creating the namespace and
// cdcsync's keys table when missing. readOnly attaches the catalog
// READ_ONLY and creates nothing.
func Connect(ctx context.Context, c Config, readOnly bool) (*sql.DB, error) {
	var setup []string
	for _, e := range c.extensions() {
		setup = append(setup, "INSTALL "+e, "LOAD "+e)
	}
	if s := c.createSecret(); s != "" {
		setup = append(setup, s)
	}
	ns := sqltext.Ident(c.Namespace)
	setup = append(setup, c.attach(readOnly))
	if !readOnly {
		setup = append(setup, "CREATE SCHEMA IF NOT EXISTS "+Catalog+"."+ns,
			"CREATE TABLE IF NOT EXISTS "+Catalog+"."+ns+"."+sqltext.Ident(KeysTable)+
				" (table_name VARCHAR NOT NULL, key_position INTEGER NOT NULL, column_name VARCHAR NOT NULL)")
	}
	var mu sync.Mutex
	done := false
	connector, err := duckdbdrv.NewConnector("?"+c.Settings.Encode(), func(ex driver.ExecerContext) error {
		mu.Lock()
		defer mu.Unlock()
		stmts := []string{"USE " + Catalog + "." + ns}
		if !done {
			// The first connection sets the database up; the others see it.
			stmts = append(slices.Clone(setup), stmts...)
		}
		for _, s := range stmts {
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("%s: %w", firstWords(s), redact.Error(err, c.secret))
			}
		}
		done = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open Iceberg catalog %s: %w", c.name(), sqltext.FirstLine(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open Iceberg catalog %s: %w", c.name(), sqltext.FirstLine(err))
	}
	return db, nil
}

// name names the catalog in messages.
func (c Config) name() string {
	n := c.Endpoint
	if n == "" {
		n = c.EndpointType
	}
	if c.Warehouse != "" {
		n += " warehouse " + c.Warehouse
	}
	return n + " namespace " + c.Namespace
}

// firstWords names a setup statement in errors without its arguments
// (CREATE SECRET's carry credentials).
func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// Open opens the Iceberg catalog a DSN names and cdcsync's own tables in
// its namespace (creating them if needed).
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	c, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	db, err := Connect(ctx, c, false)
	if err != nil {
		return nil, err
	}
	w, err := sqlapply.New(ctx, Dialect{Namespace: c.Namespace}, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("iceberg %s: %w", Redact(dsn), err)
	}
	return w, nil
}

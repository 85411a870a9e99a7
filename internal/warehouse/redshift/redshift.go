// Package redshift is the Amazon Redshift warehouse.
//
// Redshift speaks PostgreSQL's wire protocol but not all of its SQL: no
// ON CONFLICT, no COPY FROM STDIN, SUPER instead of jsonb, VARBYTE instead
// of bytea, VARCHAR lengths in bytes, no type changes but VARCHAR growth,
// and distribution and sort keys. This dialect keeps sqlapply's portable
// path — stage, DELETE … USING, INSERT … SELECT, fenced offsets — and loads
// staging tables with multi-row INSERTs over the simple query protocol.
// Target tables get DISTKEY on the first primary-key column, SORTKEY on the
// primary key, and az64/zstd column encodings as Redshift recommends.
//
// Authentication: a password in the DSN, or IAM (`?iam=true`): temporary
// credentials from GetClusterCredentials (provisioned clusters) or
// Redshift Serverless GetCredentials, fetched before every connection with
// the AWS SDK's default credential chain.
//
// The conformance suite runs this dialect against PostgreSQL with the few
// Redshift-only constructs mapped to PostgreSQL's (Compat); what only a
// real cluster can check — distribution styles, encodings, IAM — is
// covered by golden tests of the generated statements.
package redshift

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsredshift "github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply"
)

// Open connects to the Redshift database a redshift:// DSN names:
//
//	redshift://USER:PASSWORD@HOST:5439/DB?schema=S
//	redshift://USER@HOST:5439/DB?iam=true[&cluster_id=ID][&region=R]          provisioned, IAM
//	redshift://HOST:5439/DB?iam=true&workgroup=WG[&region=R]                  Serverless, IAM
//
// sslmode defaults to require.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ *sqlapply.Warehouse, err error) {
	// Drivers echo the DSN in their errors.
	defer func() { err = redact.Error(err, dsn) }()
	cfg, schema, before, err := parseDSN(ctx, dsn, false)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg, before, &Dialect{schema: schemaOr(opts.Schema, schema)}, dsn, opts, log)
}

// OpenCompat opens a PostgreSQL database (postgres:// DSN) with the
// Redshift dialect in compatibility mode: the conformance suite's way of
// running Redshift's SQL where a cluster is not available.
func OpenCompat(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ *sqlapply.Warehouse, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	connStr, schema, err := postgres.SplitSchema(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return open(ctx, cfg, nil, &Dialect{schema: schemaOr(opts.Schema, schema), compat: true}, dsn, opts, log)
}

func schemaOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func open(ctx context.Context, cfg *pgx.ConnConfig, before beforeConnect, d *Dialect, dsn string, opts warehouse.Options, log *slog.Logger) (*sqlapply.Warehouse, error) {
	var dbOpts []stdlib.OptionOpenDB
	if before != nil {
		dbOpts = append(dbOpts, stdlib.OptionBeforeConnect(before))
	}
	db := stdlib.OpenDB(*cfg, dbOpts...)
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqltext.Ident(d.schema)); err != nil {
		db.Close()
		return nil, fmt.Errorf("target %s: create schema %s: %w", redact.DSN(dsn), d.schema, err)
	}
	w, err := sqlapply.New(ctx, d, db, opts, log)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	return w, nil
}

// ParseDSN turns a redshift:// DSN into a pgx configuration and the target
// schema. With iam=true, a BeforeConnect hook fetches temporary
// credentials; unless dryRun, the AWS configuration is loaded now so that a
// missing region or credentials fail at start.
func ParseDSN(ctx context.Context, dsn string, dryRun bool) (*pgx.ConnConfig, string, error) {
	cfg, schema, _, err := parseDSN(ctx, dsn, dryRun)
	return cfg, schema, redact.Error(err, dsn)
}

// beforeConnect sets fresh credentials on a connection's configuration.
type beforeConnect func(context.Context, *pgx.ConnConfig) error

func parseDSN(ctx context.Context, dsn string, dryRun bool) (*pgx.ConnConfig, string, beforeConnect, error) {
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return nil, "", nil, fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "redshift" {
		return nil, "", nil, fmt.Errorf("target: %q is not a redshift:// URL", redact.DSN(dsn))
	}
	q := u.Query()
	schema := q.Get("schema")
	if schema == "" {
		schema = "public"
	}
	iam, _ := strconv.ParseBool(q.Get("iam"))
	clusterID, workgroup, region := q.Get("cluster_id"), q.Get("workgroup"), q.Get("region")
	for _, k := range []string{"schema", "iam", "cluster_id", "workgroup", "region"} {
		q.Del(k)
	}
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "require")
	}
	u.Scheme, u.RawQuery = "postgres", q.Encode()
	if u.Port() == "" {
		u.Host += ":5439"
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, "", nil, fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	// Redshift prepares statements poorly; the simple protocol sends
	// every statement as text, with values quoted by pgx.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	if !iam {
		return cfg, schema, nil, nil
	}
	host := u.Hostname()
	parts := strings.Split(host, ".")
	serverless := workgroup != "" || strings.Contains(host, "redshift-serverless")
	if serverless && workgroup == "" && len(parts) > 0 {
		workgroup = parts[0]
	}
	if !serverless && clusterID == "" && len(parts) > 0 {
		clusterID = parts[0]
	}
	if region == "" {
		for i, p := range parts {
			if (p == "redshift" || p == "redshift-serverless") && i > 0 {
				region = parts[i-1]
			}
		}
	}
	if dryRun {
		return cfg, schema, nil, nil
	}
	var loadOpts []func(*awsconfig.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("target %s: AWS configuration for IAM authentication: %w", redact.DSN(dsn), err)
	}
	dbUser, dbName := cfg.User, cfg.Database
	before := func(ctx context.Context, cc *pgx.ConnConfig) error {
		user, password, err := credentials(ctx, awsCfg, serverless, clusterID, workgroup, dbUser, dbName)
		if err != nil {
			return fmt.Errorf("IAM credentials: %w", err)
		}
		cc.User, cc.Password = user, password
		return nil
	}
	return cfg, schema, before, nil
}

// credentials fetches temporary database credentials.
func credentials(ctx context.Context, cfg aws.Config, serverless bool, clusterID, workgroup, dbUser, dbName string) (string, string, error) {
	dur := int32(3600)
	if serverless {
		out, err := redshiftserverless.NewFromConfig(cfg).GetCredentials(ctx, &redshiftserverless.GetCredentialsInput{
			WorkgroupName: &workgroup, DbName: &dbName, DurationSeconds: &dur})
		if err != nil {
			return "", "", err
		}
		return deref(out.DbUser), deref(out.DbPassword), nil
	}
	if clusterID == "" || dbUser == "" {
		return "", "", errors.New("provisioned clusters need a user and a cluster id (from the host name or ?cluster_id=)")
	}
	out, err := awsredshift.NewFromConfig(cfg).GetClusterCredentials(ctx, &awsredshift.GetClusterCredentialsInput{
		ClusterIdentifier: &clusterID, DbUser: &dbUser, DbName: &dbName, DurationSeconds: &dur})
	if err != nil {
		return "", "", err
	}
	return deref(out.DbUser), deref(out.DbPassword), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Dialect is Redshift's dialect. In compat mode it renders the few
// Redshift-only constructs as PostgreSQL's, for the conformance suite.
type Dialect struct {
	schema string
	compat bool
}

var (
	_ sqlapply.Dialect        = (*Dialect)(nil)
	_ sqlapply.TableOptioner  = (*Dialect)(nil)
	_ sqlapply.ColumnOptioner = (*Dialect)(nil)
)

// Name names the warehouse.
func (d *Dialect) Name() string {
	if d.compat {
		return "Redshift (PostgreSQL compatibility mode)"
	}
	return "Redshift"
}

// Schema is the target schema.
func (d *Dialect) Schema() string { return d.schema }

// Identifiers: Redshift lowercases names (quoted too, unless
// enable_case_sensitive_identifier is set) and takes at most 127 bytes.
// Compatibility mode lowercases too, within PostgreSQL's 63 bytes.
func (d *Dialect) Identifiers() warehouse.Identifiers {
	ids := warehouse.Identifiers{Warehouse: "Redshift", MaxBytes: 127, CaseInsensitive: true, Lowercase: true}
	if d.compat {
		ids.MaxBytes = 63
	}
	return ids
}

// Now is the transaction's start time (SYSDATE in Redshift).
func (d *Dialect) Now() string {
	if d.compat {
		return "now()"
	}
	return "SYSDATE"
}

// EpochMicros converts a timestamp to epoch microseconds.
func (d *Dialect) EpochMicros(expr string) string {
	if d.compat {
		return "CAST(EXTRACT(EPOCH FROM " + expr + ") * 1000000 AS BIGINT)"
	}
	return "CAST(DATE_PART(epoch, " + expr + ") * 1000000 AS BIGINT)"
}

const (
	maxVarchar = "VARCHAR(65535)" // bytes; Redshift's maximum
	maxVarbyte = "VARBYTE(1024000)"
)

// SQLType renders a type in Redshift's dialect.
func (d *Dialect) SQLType(t change.Type) string {
	switch t.Kind {
	case change.KindBool:
		return "BOOLEAN"
	case change.KindInt16:
		return "SMALLINT"
	case change.KindInt32:
		return "INTEGER"
	case change.KindInt64:
		return "BIGINT"
	case change.KindFloat32:
		return "REAL"
	case change.KindFloat64:
		return "DOUBLE PRECISION"
	case change.KindDecimal:
		if t.Precision == 0 || t.Precision > 38 {
			return maxVarchar // no fixed scale, or wider than Redshift's 38 digits: exact text
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case change.KindBytes:
		if d.compat {
			return "BYTEA"
		}
		return maxVarbyte
	case change.KindDate:
		return "DATE"
	case change.KindTime:
		return "TIME"
	case change.KindTimeTZ:
		return "TIMETZ"
	case change.KindTimestamp:
		return "TIMESTAMP"
	case change.KindTimestampTZ:
		return "TIMESTAMPTZ"
	case change.KindJSON, change.KindGeometry, change.KindList:
		if d.compat {
			return "JSONB"
		}
		return "SUPER"
	case change.KindUUID:
		return "VARCHAR(36)"
	case change.KindInterval:
		return "VARCHAR(100)"
	}
	return maxVarchar
}

// Columns reads a table's columns from information_schema.
func (d *Dialect) Columns(ctx context.Context, conn *sql.Conn, table string) ([]warehouse.Column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, d.schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		var typ string
		var length, prec, scale sql.NullInt64
		if err := rows.Scan(&c.Name, &typ, &length, &prec, &scale); err != nil {
			return nil, err
		}
		c.Type = d.parseType(typ, prec.Int64, scale.Int64)
		switch {
		case c.Type.Kind == change.KindUnknown:
			c.SQL = typ
		case c.Type.Kind == change.KindString && length.Valid:
			// Our own UUID and interval columns are VARCHARs of their own
			// lengths: keep the length, so they compare equal.
			c.SQL = fmt.Sprintf("VARCHAR(%d)", length.Int64)
		default:
			c.SQL = d.SQLType(c.Type)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func (d *Dialect) parseType(typ string, prec, scale int64) change.Type {
	switch strings.ToLower(typ) {
	case "boolean":
		return change.Bool
	case "smallint":
		return change.Int16
	case "integer":
		return change.Int32
	case "bigint":
		return change.Int64
	case "real":
		return change.Float32
	case "double precision":
		return change.Float64
	case "numeric":
		if prec == 0 {
			return change.DecimalType(0, 0)
		}
		return change.DecimalType(int(prec), int(scale))
	case "character varying", "character", "text":
		return change.String
	case "binary varying", "varbyte", "bytea":
		return change.Bytes
	case "date":
		return change.Date
	case "time without time zone":
		return change.TimeType(change.UnitMicros)
	case "time with time zone":
		return change.TimeTZ
	case "timestamp without time zone":
		return change.TimestampType(change.UnitMicros)
	case "timestamp with time zone":
		return change.TimestampTZ
	case "super", "jsonb", "json":
		return change.JSON
	}
	return change.Type{}
}

// PrimaryKey reads a table's primary key from information_schema.
func (d *Dialect) PrimaryKey(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	return sqlapply.QueryStrings(ctx, conn, `SELECT k.column_name FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name
			AND k.table_schema = c.table_schema AND k.table_name = c.table_name
		WHERE c.table_schema = $1 AND c.table_name = $2 AND c.constraint_type = 'PRIMARY KEY'
		ORDER BY k.ordinal_position`, d.schema, table)
}

// AddColumn adds a column (Redshift has no IF NOT EXISTS; the catalog was
// read just before).
func (d *Dialect) AddColumn(table string, c warehouse.Column) string {
	return "ALTER TABLE " + table + " ADD COLUMN " + sqltext.Ident(c.Name) + " " + c.SQL
}

// AlterColumn widens a column. Redshift alters no column type but VARCHAR
// lengths, so other widenings copy the column: add a column of the new
// type, copy, drop the old one, rename — in one implicit transaction (the
// statements go as one simple-protocol query). The column moves to the end
// of the table; key columns (distribution and sort keys) cannot be dropped,
// so widening them fails and their events become dead letters.
func (d *Dialect) AlterColumn(table string, c warehouse.Column) (string, bool) {
	col := sqltext.Ident(c.Name)
	if strings.HasPrefix(c.SQL, "VARCHAR(") && !d.compat {
		return "ALTER TABLE " + table + " ALTER COLUMN " + col + " TYPE " + c.SQL, true
	}
	tmp := sqltext.Ident(c.Name + "__cdc_widen")
	return "ALTER TABLE " + table + " ADD COLUMN " + tmp + " " + c.SQL + "; " +
		"UPDATE " + table + " SET " + tmp + " = " + col + "; " +
		"ALTER TABLE " + table + " DROP COLUMN " + col + "; " +
		"ALTER TABLE " + table + " RENAME COLUMN " + tmp + " TO " + col, true
}

// TableOptions distributes on the first key column and sorts on the key.
func (d *Dialect) TableOptions(key []string) string {
	if d.compat {
		return ""
	}
	if len(key) == 0 {
		return " DISTSTYLE AUTO SORTKEY AUTO"
	}
	q := make([]string, len(key))
	for i, k := range key {
		q[i] = sqltext.Ident(k)
	}
	return " DISTSTYLE KEY DISTKEY (" + q[0] + ") COMPOUND SORTKEY (" + strings.Join(q, ", ") + ")"
}

// ColumnOptions picks an encoding: az64 for numbers, dates and times, zstd
// for text and semi-structured data, raw for the sort key's first column.
func (d *Dialect) ColumnOptions(key []string, name string, t change.Type) string {
	if d.compat {
		return ""
	}
	if len(key) > 0 && key[0] == name {
		return " ENCODE raw"
	}
	switch t.Kind {
	case change.KindInt16, change.KindInt32, change.KindInt64, change.KindDecimal, change.KindDate,
		change.KindTime, change.KindTimeTZ, change.KindTimestamp, change.KindTimestampTZ:
		if t.Kind == change.KindDecimal && t.Precision > 38 {
			return " ENCODE zstd"
		}
		return " ENCODE az64"
	case change.KindBool, change.KindFloat32, change.KindFloat64:
		return " ENCODE raw"
	}
	return " ENCODE zstd"
}

// Staging stages SUPER as text parsed with JSON_PARSE and VARBYTE as hex.
func (d *Dialect) Staging(sqlType string) (string, string) {
	switch sqlType {
	case "SUPER":
		return maxVarchar, "JSON_PARSE(%s)"
	case maxVarbyte:
		return maxVarchar, "FROM_HEX(%s)"
	case "JSONB":
		return "TEXT", "CAST(%s AS JSONB)"
	case "BYTEA":
		return "TEXT", "decode(%s, 'hex')"
	}
	return sqlType, "%s"
}

// Bind renders values the simple protocol quotes as literals Redshift
// casts to the column type.
func (d *Dialect) Bind(v any, t change.Type, sqlType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if inf, ok := v.(change.Infinity); ok {
		return nil, fmt.Errorf("%v: Redshift has no infinite dates or timestamps", inf)
	}
	if val, ok, err := sqlapply.BindScalar(v, t, sqlType); ok {
		return val, err
	}
	switch t.Kind {
	case change.KindDecimal:
		dec, ok := change.AsDecimal(v)
		if !ok {
			break
		}
		if t.Precision > 0 {
			var err error
			if dec, err = dec.Fit(t.Precision, t.Scale); err != nil {
				return nil, err
			}
		}
		return dec.String(), nil
	case change.KindString, change.KindUUID, change.KindTimeTZ, change.KindJSON, change.KindGeometry:
		switch x := v.(type) {
		case string:
			// Redshift's (and PostgreSQL's) text cannot hold NUL: refused
			// here, it is a dead letter with a reason rather than a batch
			// the warehouse fails and cdcsync bisects.
			if i := strings.IndexByte(x, 0); i >= 0 {
				return nil, fmt.Errorf("text with a NUL character (at byte %d) does not fit %s: Redshift text cannot hold NUL", i, sqlType)
			}
			if (t.Kind == change.KindJSON || t.Kind == change.KindGeometry) && strings.Contains(x, `\u0000`) {
				return nil, fmt.Errorf(`JSON text with \u0000 does not fit %s`, sqlType)
			}
			return x, nil
		case change.Decimal:
			return x.String(), nil
		}
	case change.KindBytes:
		if b, ok := v.([]byte); ok {
			return hex.EncodeToString(b), nil
		}
	case change.KindDate:
		if ts, ok := v.(time.Time); ok {
			return ts.Format("2006-01-02"), nil
		}
	case change.KindTimestamp:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC().Format("2006-01-02 15:04:05.999999"), nil
		}
	case change.KindTimestampTZ:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC().Format("2006-01-02 15:04:05.999999+00"), nil
		}
	case change.KindTime:
		if tod, ok := v.(change.TimeOfDay); ok {
			ns := int64(tod)
			return fmt.Sprintf("%02d:%02d:%02d.%06d", ns/3600e9, ns/60e9%60, ns/1e9%60, ns/1e3%1e6), nil
		}
	case change.KindInterval:
		if iv, ok := v.(change.IntervalValue); ok {
			return fmt.Sprintf("%d months %d days %d microseconds", iv.Months, iv.Days, iv.Micros), nil
		}
	case change.KindList:
		if l, ok := v.([]any); ok {
			b, err := json.Marshal(l)
			if err != nil {
				return nil, err
			}
			return string(b), nil
		}
	}
	return nil, fmt.Errorf("a %T value does not fit %s", v, sqlType)
}

// maxParams bounds the parameters of one INSERT (the protocol's limit is
// 32767), and maxStatement its approximate size in bytes.
const (
	maxParams    = 30000
	maxStatement = 8 << 20
)

// BulkLoad inserts rows with multi-row INSERTs, in statements of bounded
// size, inside the transaction open on conn.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = sqltext.Ident(c)
	}
	head := "INSERT INTO " + sqltext.Ident(table) + " (" + strings.Join(q, ", ") + ") VALUES "
	for len(rows) > 0 {
		var b strings.Builder
		b.WriteString(head)
		var args []any
		size, n := 0, 0
		for n < len(rows) && (n+1)*len(cols) <= maxParams && size < maxStatement {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for i, v := range rows[n] {
				if i > 0 {
					b.WriteString(", ")
				}
				args = append(args, v)
				b.WriteString("$" + strconv.Itoa(len(args)))
				size += valueSize(v)
			}
			b.WriteByte(')')
			n++
		}
		if _, err := conn.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func valueSize(v any) int {
	if s, ok := v.(string); ok {
		return len(s) + 4
	}
	return 16
}

// Transient adds Redshift's serializable isolation violation (error 1023)
// to PostgreSQL's transient errors.
func (d *Dialect) Transient(err error) bool {
	return postgres.Transient(err) || (err != nil && strings.Contains(err.Error(), "Serializable isolation violation"))
}

// Rejected reports Redshift refusing a value; its SQLSTATEs follow
// PostgreSQL's.
func (d *Dialect) Rejected(err error) bool { return postgres.Rejected(err) }

// UniqueViolation reports a unique violation; its SQLSTATE follows
// PostgreSQL's (23505).
func (d *Dialect) UniqueViolation(err error) bool { return postgres.UniqueViolation(err) }

// Unsupported reports Redshift refusing a schema change, as PostgreSQL's
// SQLSTATEs say it (a distribution or sort key column cannot be dropped:
// 0A000).
func (d *Dialect) Unsupported(err error) bool { return postgres.Unsupported(err) }

// NewDialect returns the dialect for a schema (for tests and tools).
func NewDialect(schema string) *Dialect { return &Dialect{schema: schema} }

// OpenReadOnly connects to the cluster a redshift:// DSN names for running
// untrusted statements with postgres.QueryReadOnly (one statement, in a
// READ ONLY transaction), and returns the DSN's schema.
func OpenReadOnly(ctx context.Context, dsn string) (_ *sql.DB, schema string, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	cfg, schema, before, err := parseDSN(ctx, dsn, false)
	if err != nil {
		return nil, "", err
	}
	var opts []stdlib.OptionOpenDB
	if before != nil {
		opts = append(opts, stdlib.OptionBeforeConnect(before))
	}
	db, err := postgres.ReadOnlyDB(ctx, cfg, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("target %s: %w", redact.DSN(dsn), err)
	}
	return db, schema, nil
}

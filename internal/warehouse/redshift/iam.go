package redshift

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsredshift "github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/jackc/pgx/v5"

	"github.com/cdcsync/cdcsync/internal/redact"
)

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

// Package target is the registry of warehouses: the one list of the kinds
// of warehouse cdcsync writes, and the one place a DSN is matched to its
// kind. run, query and verify open targets through it; nothing else looks
// at a DSN's scheme.
//
// Adding a warehouse is one package exporting a warehouse.Kind and one line
// in kinds.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/duckdb"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
	"github.com/cdcsync/cdcsync/internal/warehouse/iceberg"
	"github.com/cdcsync/cdcsync/internal/warehouse/postgres"
	"github.com/cdcsync/cdcsync/internal/warehouse/redshift"
)

// kinds are the warehouses cdcsync writes, in the order Supported lists
// them.
var kinds = []warehouse.Kind{duckdb.Kind, postgres.Kind, redshift.Kind, ducklake.Kind, iceberg.Kind}

// Lookup returns the kind of warehouse a DSN names, and false when it
// names none cdcsync knows.
func Lookup(dsn string) (warehouse.Kind, bool) {
	for _, k := range kinds {
		if k.Claims(dsn) {
			return k, true
		}
	}
	return warehouse.Kind{}, false
}

// Supported describes the DSNs Open accepts, for help and errors: "a
// DuckDB file path ending in .duckdb, a postgres:// URL or a redshift://
// URL".
func Supported() string {
	var b strings.Builder
	for i, k := range kinds {
		switch {
		case i == 0:
		case i == len(kinds)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(k.DSNs)
	}
	return b.String()
}

// Check returns a one-line error when a DSN names no warehouse cdcsync
// knows.
func Check(dsn string) error {
	_, err := lookup(dsn)
	return err
}

func lookup(dsn string) (warehouse.Kind, error) {
	if k, ok := Lookup(dsn); ok {
		return k, nil
	}
	return warehouse.Kind{}, fmt.Errorf("target: %q is not %s", redact.DSN(dsn), Supported())
}

// Open opens the warehouse a DSN names for writing. Its errors never show
// the DSN's password.
func Open(ctx context.Context, dsn string, opts warehouse.Options, log *slog.Logger) (_ warehouse.Warehouse, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	k, err := lookup(dsn)
	if err != nil {
		return nil, err
	}
	return k.Open(ctx, dsn, opts, log)
}

// OpenReadOnly opens the warehouse a DSN names read-only (see
// warehouse.Kind.OpenReadOnly). Its errors never show the DSN's password.
func OpenReadOnly(ctx context.Context, dsn string, settings map[string]string) (_ *warehouse.ReadOnly, err error) {
	defer func() { err = redact.Error(err, dsn) }()
	k, err := lookup(dsn)
	if err != nil {
		return nil, err
	}
	if k.OpenReadOnly == nil {
		return nil, fmt.Errorf("target %q: a %s warehouse cannot be opened read-only", Redact(dsn), k.Name)
	}
	return k.OpenReadOnly(ctx, dsn, settings)
}

// InstanceID returns the static consumer-group member ID a DSN implies
// (one derived from a DuckDB file's path), or "".
func InstanceID(dsn string) string {
	if k, ok := Lookup(dsn); ok && k.InstanceID != nil {
		return k.InstanceID(dsn)
	}
	return ""
}

// Redact returns dsn with its secrets masked: the kind's own redaction,
// redact.DSN for a DSN of no known kind.
func Redact(dsn string) string {
	if k, ok := Lookup(dsn); ok && k.Redact != nil {
		return k.Redact(dsn)
	}
	return redact.DSN(dsn)
}

// Package warehouse defines what cdcsync asks of a warehouse, and the
// logic every warehouse shares: how a table's columns evolve with the
// events' schemas, and how cdcsync names its own tables and columns.
//
// Each warehouse (DuckDB, PostgreSQL, Redshift) is one implementation of
// Warehouse in a package of its own, which exports one Kind describing it;
// package target lists the kinds. The conformance suite in warehousetest
// is the definition of "correct": a new warehouse is added by passing it
// and adding its Kind to that list.
package warehouse

import (
	"context"
	"errors"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
)

// Warehouse stores always-current tables and the offsets they reflect.
//
// Implementations are used by one goroutine at a time: the pipeline calls
// them sequentially. Every method honours ctx cancellation.
type Warehouse interface {
	// Offsets returns the next offset stored for each partition of the
	// given topics that has one. Consumption resumes there.
	Offsets(ctx context.Context, topics []string) (map[batch.TopicPartition]int64, error)

	// TopicIDs returns the Kafka topic ID stored with the offsets of each
	// of topics that has stored offsets ("" for offsets stored without
	// one). A different ID now means the topic was deleted and recreated:
	// its stored offsets belong to the earlier topic.
	TopicIDs(ctx context.Context, topics []string) (map[string]string, error)

	// SetTopicIDs sets the topic IDs Apply stores with the offsets of
	// these topics from now on.
	SetTopicIDs(ids map[string]string)

	// ResetTopic forgets the stored offsets of topic, and the truncate
	// marks of the tables it feeds, so that it is read again from the
	// start of its log. Target and landing tables keep their rows.
	ResetTopic(ctx context.Context, topic string) error

	// Apply applies a batch in one transaction: landing rows, target
	// tables (truncates, then the last change per key: deletes and
	// upserts), dead letters, and the partitions' next offsets. Either all
	// of it commits or none of it does.
	//
	// from holds, for each partition of the batch, the next offset the
	// caller last read or wrote; a partition absent from from has no
	// stored offset yet. If the stored offsets differ — another consumer
	// committed these partitions meanwhile — nothing is applied and the
	// error wraps ErrFenced.
	//
	// Events the warehouse cannot apply (a schema change the table cannot
	// take, a value that does not fit its column) become dead letters in
	// the same transaction; they never fail the batch.
	//
	// Any error rolls the whole batch back, and the warehouse's picture of
	// its catalog with it: the next Apply starts from what the warehouse
	// holds. Errors are of three kinds, and only one of them may ever be
	// blamed on a record:
	//   - IsTransient: the infrastructure failed (connection, I/O, disk
	//     full, locks, serialization); the same batch may succeed when
	//     retried.
	//   - IsRejected: the warehouse refused a value of the batch (a data
	//     exception). The caller may apply the batch in parts to find the
	//     record at fault; a record is at fault only when it is rejected on
	//     its own while the rest of the batch applies.
	//   - anything else: cdcsync cannot go on safely; the caller stops.
	//
	// Apply may reorder and filter the batch's tables in place; the batch
	// is not reused afterwards.
	Apply(ctx context.Context, b *batch.Batch, from map[batch.TopicPartition]int64) (Stats, error)

	// RecordRun inserts or updates a row of the run history.
	RecordRun(ctx context.Context, r Run) error

	// Close releases the warehouse's connections.
	Close() error
}

// Options are the settings every warehouse takes.
type Options struct {
	// Group is the consumer group: offsets are stored per group.
	Group string
	// Landing keeps every consumed event in a landing table per table.
	Landing bool
	// LandingRetention deletes landing rows older than this; 0 keeps them.
	LandingRetention time.Duration
	// Schema is the schema (namespace) of the target tables, where the
	// warehouse has schemas; empty means the warehouse's default.
	Schema string
	// MemoryLimit bounds an embedded warehouse's memory (Kind.Embedded),
	// in bytes; 0 leaves its default. Server warehouses ignore it.
	MemoryLimit int64
}

// Stats counts what one Apply did.
type Stats struct {
	Upserts     int // rows inserted or replaced
	Deletes     int // keys deleted
	Truncates   int // tables truncated
	Landed      int // landing rows appended
	DeadLetters int // dead-letter rows appended
	Ignored     int // changes dropped because an applied truncate follows them
	// Tables breaks Upserts, Deletes and DeadLetters down by target table
	// (a dead letter with no table is under ""); nil when there are none.
	Tables map[string]TableStats
}

// TableStats is one table's share of Stats.
type TableStats struct {
	Upserts, Deletes, DeadLetters int
	// DeadLetterReason is the reason of the table's last dead letter in
	// the batch ("" when it has none).
	DeadLetterReason string
}

// AddTable adds one table's counts to its breakdown.
func (s *Stats) AddTable(table string, add TableStats) {
	if s.Tables == nil {
		s.Tables = map[string]TableStats{}
	}
	t := s.Tables[table]
	t.Upserts += add.Upserts
	t.Deletes += add.Deletes
	t.DeadLetters += add.DeadLetters
	if add.DeadLetterReason != "" {
		t.DeadLetterReason = add.DeadLetterReason
	}
	s.Tables[table] = t
}

// Pinger is implemented by warehouses that can check, cheaply, that they
// answer: the readiness check uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Run is one row of the run history.
type Run struct {
	ID         string
	Group      string
	Mode       string // "once" or "continuous"
	Version    string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Status     string    // "running", "ok", "failed"
	Events     int64
	Batches    int64
	Error      string
}

// ErrFenced reports that the stored offsets are not the ones the caller
// expected: another consumer took over the partitions and committed.
var ErrFenced = errors.New("stored offsets moved: another consumer committed these partitions")

// TransientError marks an error worth retrying: a dropped connection, a
// serialization failure, a server restart.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}

// ErrorClass is the kind of an Apply error, which decides what the caller
// does with it.
type ErrorClass string

// The classes of Apply errors (see Warehouse.Apply).
const (
	ClassFenced    ErrorClass = "fenced"    // another consumer committed: resume from the stored offsets
	ClassTransient ErrorClass = "transient" // retry the same batch
	ClassRejected  ErrorClass = "rejected"  // a value was refused: isolate the record at fault
	ClassFatal     ErrorClass = "fatal"     // stop
)

// Classify returns the class of an Apply error.
func Classify(err error) ErrorClass {
	switch {
	case errors.Is(err, ErrFenced):
		return ClassFenced
	case IsTransient(err):
		return ClassTransient
	case IsRejected(err):
		return ClassRejected
	}
	return ClassFatal
}

// RejectedError marks an error the warehouse raised for a value it refuses
// to store (a data exception: an invalid character, a number out of range,
// a constraint): one record of the batch may be at fault.
type RejectedError struct{ Err error }

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

// IsRejected reports whether err is the warehouse refusing a value, the only
// kind of error a record can be blamed for.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// Names of cdcsync's own tables and columns. One prefix for all of them.
// Tables with the prefix are cdcsync's: no topic may map to one
// (Identifiers.CheckTable). cdcsync's columns are the exact names below;
// a source column with one of them lands renamed (Identifiers.Column).
const (
	Prefix           = "_cdc_"
	OffsetsTable     = Prefix + "offsets"
	DeadLettersTable = Prefix + "dead_letters"
	TablesTable      = Prefix + "tables"
	RunsTable        = Prefix + "runs"
	LandingPrefix    = Prefix + "landing_"
	StagingPrefix    = Prefix + "stg_"
	ColOp            = Prefix + "op"
	ColPosition      = Prefix + "position"
	ColPartition     = Prefix + "kafka_partition"
	ColOffset        = Prefix + "kafka_offset"
	ColSourceTs      = Prefix + "source_ts"
	ColRefreshedAt   = Prefix + "refreshed_at"
	ColUnchanged     = Prefix + "unchanged" // staging only
	ColOldKeyPrefix  = Prefix + "old_"      // staging only: a key column's value before a key change
	ColKeyID         = Prefix + "key_id"    // staging only: the row key's ID, as text
	ColOtherKeyID    = Prefix + "other_id"  // staging only: the other key of a primary-key change

	// SourceColumnPrefix is put before a source column named like one of
	// cdcsync's columns.
	SourceColumnPrefix = "src"
)

// MetaColumns are cdcsync's columns on every target table.
var MetaColumns = []string{ColOp, ColPosition, ColPartition, ColOffset, ColSourceTs, ColRefreshedAt}

// LandingTable is the landing table of a target table.
func LandingTable(table string) string { return LandingPrefix + table }

package warehouse

import (
	"context"
	"time"

	"github.com/cdcsync/cdcsync/internal/batch"
)

// Replayer is implemented by warehouses that can apply dead letters again
// once their cause is fixed (cdcsync dead-letters replay). It is optional:
// callers check for it with a type assertion.
//
// A replayed change never overwrites a newer one: ApplyReplay compares the
// change with the source position the target row holds and skips it as
// superseded when the row's change is as new or newer, or when nothing
// proves it is not (see ReplaySuperseded, ReplayUnsure). Replay never
// moves the stored offsets and never lands raw events.
type Replayer interface {
	// ListDeadLetters returns the group's stored dead letters that f selects,
	// in topic, partition and offset order.
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]StoredDeadLetter, error)

	// ApplyReplay applies b — one decoded dead letter's change, the batch
	// holding no offsets — unless the target holds a newer change of its
	// key, and records the outcome on l, all in one transaction. A change
	// the warehouse still cannot take (its schema, a value that does not
	// fit) is reported as ReplayInvalid and applies nothing. Errors are
	// those of Apply: on any error nothing was applied or recorded.
	ApplyReplay(ctx context.Context, l StoredDeadLetter, b *batch.Batch) (ReplayOutcome, error)

	// MarkReplayed records an outcome on l without applying anything (a
	// letter that still does not decode). Only ReplayApplied and
	// ReplaySuperseded set replayed_at: the other outcomes leave the
	// letter to a later replay.
	MarkReplayed(ctx context.Context, l StoredDeadLetter, o ReplayOutcome) error
}

// DeadLetterFilter selects dead letters.
type DeadLetterFilter struct {
	Table      string // only this table's; "" for all
	ReasonLike string // only those whose reason matches this SQL LIKE pattern; "" for all
	Pending    bool   // only those not yet replayed
}

// StoredDeadLetter is one row of the dead-letter table.
type StoredDeadLetter struct {
	Topic      string
	Partition  int32
	Offset     int64
	Table      string
	Reason     string
	Key, Value []byte
	CreatedAt  time.Time
	// ReplayedAt is when the letter was applied or found superseded by a
	// replay; zero while it is pending.
	ReplayedAt time.Time
	// ReplayResult is the outcome of the last replay of the letter, ""
	// when none was tried.
	ReplayResult string
}

// ReplayResult is what a replay did with one dead letter.
type ReplayResult string

// The outcomes of replaying a dead letter.
const (
	// ReplayApplied: the change was applied.
	ReplayApplied ReplayResult = "applied"
	// ReplaySuperseded: the target holds a newer change of the key (or a
	// truncate that follows the change); nothing was applied.
	ReplaySuperseded ReplayResult = "superseded"
	// ReplayUnsure: nothing proves the change is the newest of its key
	// (its row is gone and no history shows why, or positions cannot
	// order it); nothing was applied and the letter stays pending.
	ReplayUnsure ReplayResult = "unsure"
	// ReplayInvalid: the event still cannot be decoded or applied with
	// the current configuration; the letter stays pending.
	ReplayInvalid ReplayResult = "invalid"
)

// ReplayOutcome is a replay's result for one dead letter and why.
type ReplayOutcome struct {
	Result ReplayResult
	Detail string
}

// Done reports whether the outcome settles the letter: it is marked
// replayed and never tried again.
func (o ReplayOutcome) Done() bool {
	return o.Result == ReplayApplied || o.Result == ReplaySuperseded
}

// String renders the outcome as stored in replay_result.
func (o ReplayOutcome) String() string {
	if o.Detail == "" {
		return string(o.Result)
	}
	return string(o.Result) + ": " + o.Detail
}

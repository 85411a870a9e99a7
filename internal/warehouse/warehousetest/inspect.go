package warehousetest

import (
	"context"

	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Inspector reads back what a warehouse stored, for the suite's
// assertions. The suite drives the warehouse only through
// warehouse.Warehouse; each warehouse's test package provides an Inspector
// for it (for the SQL warehouses, sqlapplytest.Inspector), so any
// warehouse, SQL or not, can run the suite.
//
// Table and column names given to an Inspector are the source's; it maps
// them as Apply maps them (warehouse.Identifiers).
type Inspector interface {
	// Rows reads the columns cols of every row of a target table as text,
	// in any order: the columns named in timestamps as microseconds since
	// the epoch, others in the warehouse's text form (integers and
	// decimals in plain notation), NULL as nil. A column the table does not
	// have reads as NULL (no applied event carried it).
	Rows(ctx context.Context, table string, cols []string, timestamps map[string]bool) ([][]*string, error)

	// Ops returns cdcsync's op column (warehouse.ColOp) of a target
	// table's rows, keyed by the text of their "id" column.
	Ops(ctx context.Context, table string) (map[string]string, error)

	// DeadLetters returns every dead-letter row, in any order.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)

	// Landing returns every row of a target table's landing table, in any
	// order; none when the table has no landing table.
	Landing(ctx context.Context, table string) ([]Landed, error)

	// Identifiers is how the warehouse maps names.
	Identifiers() warehouse.Identifiers
}

// DeadLetter is one dead-letter row.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    *int64 // nil when the record's offset is not known
	Reason    string
}

// Landed is one landing row.
type Landed struct {
	Partition int32
	Offset    int64
	Value     []byte // the record's value, exactly as consumed
}

// Optional capabilities: a warehouse's Inspector implements them where the
// warehouse has what they read; the suite's cases that need one skip that
// part of their assertions otherwise.

// CatalogInspector reads the tables table (warehouse.TablesTable): which
// target and landing table a topic was mapped to.
type CatalogInspector interface {
	TableOf(ctx context.Context, topic string) (table, landing string, err error)
}

// MovesInspector counts the values in flight between the two halves of
// primary-key changes: none may be left once both halves are applied.
type MovesInspector interface {
	PendingMoves(ctx context.Context) (int, error)
}

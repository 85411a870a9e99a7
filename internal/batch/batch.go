// Package batch groups decoded changes into micro-batches and reduces each
// table's changes to the last change per key, in source order.
//
// Source order is the contract users rely on:
//
//   - Within a partition, Kafka offset order is the source's commit order.
//   - Across partitions, the Debezium source position decides (see
//     change.Position). ts_ms never does.
//   - When neither applies (unknown positions), the order in which cdcsync
//     consumed the events decides.
//
// A truncate (one event, null key, on one partition) removes every change of
// its table that precedes it, whether consumed before or after it; changes
// that follow it apply. The last truncate of a batch is kept so that the
// warehouse can remove the rows it already holds that precede it, and record
// it so that later batches can drop events that precede it too.
//
// A batch is bounded by the caller (events, bytes, age); its memory is
// proportional to its events, never to the backlog.
package batch

import (
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
)

// After reports whether a comes after b in source order.
func After(a, b *change.Change) bool {
	if a.Topic == b.Topic && a.Partition == b.Partition {
		return a.Offset > b.Offset
	}
	if a.Pos.Known() && b.Pos.Known() && a.Pos != b.Pos {
		return a.Pos > b.Pos
	}
	return a.Seq > b.Seq
}

// Mark is a truncate a warehouse has applied: later events that precede it
// in source order are ignored.
type Mark struct {
	Partition int32
	Offset    int64
	Pos       change.Position
}

// MarkOf returns the mark a truncate change leaves.
func MarkOf(t *change.Change) Mark {
	return Mark{Partition: t.Partition, Offset: t.Offset, Pos: t.Pos}
}

// Precedes reports whether c precedes an applied truncate mark. c was
// consumed after the mark was applied, so only an offset of the same
// partition or a known source position can place it before.
func (m Mark) Precedes(c *change.Change) bool {
	if c.Partition == m.Partition {
		return c.Offset < m.Offset
	}
	return c.Pos.Known() && m.Pos.Known() && c.Pos < m.Pos
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Raw is one consumed record as the landing table keeps it.
type Raw struct {
	Topic         string
	Partition     int32
	Offset        int64
	TimestampType byte // 'C' create time, 'L' log-append time
	Timestamp     time.Time
	Key, Value    []byte
	Headers       []Header
	Payload       []byte // the event's JSON payload; nil when there is none
	// Schema and SchemaID are set when Value is exactly
	// {"schema":Schema,"payload":Payload}: a landing table may keep the
	// schema once, by id, and rebuild Value.
	Schema   []byte
	SchemaID string
	// SourceTs is the change's source commit time (source.ts_ms), 0 when
	// unknown; for metrics only.
	SourceTs int64
}

// DeadLetter is a record that could not be decoded or applied.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
	Table     string
	Reason    string
	Key       []byte
	Value     []byte
}

// Table is one table's share of a batch.
type Table struct {
	Name  string
	Topic string
	// Truncate is the last truncate of the batch in source order, or nil.
	Truncate *change.Change
	Landing  []Raw
	// Events counts the table's change events in the batch, before
	// reduction.
	Events int

	winners []*change.Change
	index   map[string]int
	// images holds the last row image of each key in the batch, kept when
	// the key is later deleted: the delete that starts a primary-key change
	// moves that image to the new key.
	images map[string]*change.Change
	moves  []Move
}

// Move is the old key's side of a primary-key change: the delete carrying
// the new key, and the old key's last row image in the batch before it
// (nil when the row's values are the warehouse's). A key's changes share
// one partition, so every change of the old key preceding the delete was
// consumed before it: in this batch (Image) or in a committed one.
type Move struct {
	Del   *change.Change
	Image *change.Change
}

// Moves returns the primary-key changes whose delete is in the batch and
// follows the batch's truncate, in arrival order.
func (t *Table) Moves() []Move {
	out := t.moves[:0]
	for _, m := range t.moves {
		if m.Del != nil {
			out = append(out, m)
		}
	}
	t.moves = out
	return out
}

// Changes returns the reduced changes: the last change per key that follows
// the batch's truncate, in first-seen order.
func (t *Table) Changes() []*change.Change {
	moved := map[string]bool{}
	for _, m := range t.moves {
		if m.Del != nil {
			moved[m.Del.KeyID] = true
		}
	}
	out := t.winners[:0]
	for _, c := range t.winners {
		if c == nil {
			continue
		}
		if c.Unchanged != nil && c.OldKeyID != "" && !moved[c.OldKeyID] {
			// The old key's delete came without the new key: take what
			// the batch holds of the old key's row, if it precedes c.
			if img, ok := t.images[c.OldKeyID]; ok && After(c, img) {
				keepUnchanged(c, img)
			}
		}
		out = append(out, c)
	}
	t.winners = out
	t.index = nil // positions moved; Add is not allowed after Changes
	return out
}

// Add folds one change into the table's reduction.
func (t *Table) Add(c *change.Change) {
	t.Events++
	if c.Op == change.OpTruncate {
		if t.Truncate != nil && !After(c, t.Truncate) {
			return // an earlier truncate: the later one already covers it
		}
		t.Truncate = c
		for i, w := range t.winners {
			if w != nil && After(c, w) {
				t.winners[i] = nil
				delete(t.index, w.KeyID)
			}
		}
		for i, m := range t.moves {
			if m.Del != nil && After(c, m.Del) {
				t.moves[i].Del = nil
			}
		}
		return
	}
	if t.Truncate != nil && After(t.Truncate, c) {
		return // precedes the truncate: its effect is already gone
	}
	if t.index == nil {
		t.index = map[string]int{}
		t.images = map[string]*change.Change{}
	}
	if c.NewKeyID != "" {
		t.moves = append(t.moves, Move{Del: c, Image: t.images[c.KeyID]})
	}
	i, ok := t.index[c.KeyID]
	if !ok {
		t.index[c.KeyID] = len(t.winners)
		t.winners = append(t.winners, c)
		t.remember(c)
		return
	}
	w := t.winners[i]
	if !After(c, w) {
		return // an older change of the key, consumed late
	}
	if c.Unchanged != nil && w.Op == change.OpUpsert {
		keepUnchanged(c, w)
	}
	if w.OldKeyID != "" && c.OldKeyID == "" {
		// The key's row came from an old key in this batch: a later change
		// keeps that origin, for its unchanged values and so the warehouse
		// can tell the move has been applied.
		c.OldKey, c.OldKeyID = w.OldKey, w.OldKeyID
	}
	t.winners[i] = c
	t.remember(c)
}

func (t *Table) remember(c *change.Change) {
	if c.Op == change.OpUpsert {
		if prev, ok := t.images[c.KeyID]; !ok || After(c, prev) {
			t.images[c.KeyID] = c
		}
	}
}

// DropPreceding removes the changes (and the truncate) that precede an
// already-applied truncate mark, and returns how many it removed.
func (t *Table) DropPreceding(m Mark) int {
	n := 0
	if t.Truncate != nil && m.Precedes(t.Truncate) {
		t.Truncate = nil
		n++
	}
	for i, w := range t.winners {
		if w != nil && m.Precedes(w) {
			t.winners[i] = nil
			if t.index != nil {
				delete(t.index, w.KeyID)
			}
			n++
		}
	}
	for i, mv := range t.moves {
		if mv.Del != nil && m.Precedes(mv.Del) {
			t.moves[i].Del = nil
		}
	}
	return n
}

// keepUnchanged fills c's unchanged (TOAST placeholder) columns from the
// earlier image w of the same key, so the placeholder never wins over a
// value the batch already holds.
func keepUnchanged(c, w *change.Change) {
	filled := false
	for i, unchanged := range c.Unchanged {
		if !unchanged {
			continue
		}
		j := w.Schema.Index(c.Schema.Columns[i].Name)
		if j < 0 || (w.Unchanged != nil && w.Unchanged[j]) {
			continue
		}
		if !filled {
			// Copy before writing: rows may be shared with the landing
			// path or a caller.
			c.Row = append([]any(nil), c.Row...)
			c.Unchanged = append([]bool(nil), c.Unchanged...)
			filled = true
		}
		c.Row[i] = w.Row[j]
		c.Unchanged[i] = false
	}
	if filled && !c.HasUnchanged() {
		c.Unchanged = nil
	}
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Batch is one unit of work: what one warehouse transaction applies.
type Batch struct {
	Tables      []*Table
	DeadLetters []DeadLetter
	// Next is, per partition, the offset after the last record of the
	// batch: where consumption resumes once the batch is committed.
	Next map[TopicPartition]int64
	// Events and Bytes count every record of the batch.
	Events, Bytes int
	// Skipped counts records that carry no row change.
	Skipped int
	Opened  time.Time
	// Topics counts every record of the batch by topic, for metrics.
	Topics map[string]Tally

	byTopic map[string]*Table
}

// New returns an empty batch.
func New() *Batch {
	return &Batch{Next: map[TopicPartition]int64{}, byTopic: map[string]*Table{}, Topics: map[string]Tally{}}
}

// Tally counts records and their key and value bytes.
type Tally struct {
	Events, Bytes int
}

// Table returns the table a topic maps to, created on first use. Tables
// are kept per topic: two topics mapping to one name stay apart, so the
// warehouse sees, and refuses, the collision instead of merging their keys.
func (b *Batch) Table(name, topic string) *Table {
	t, ok := b.byTopic[topic]
	if !ok {
		t = &Table{Name: name, Topic: topic}
		b.byTopic[topic] = t
		b.Tables = append(b.Tables, t)
	}
	return t
}

// Record accounts for one consumed record, whatever became of it.
func (b *Batch) Record(topic string, partition int32, offset int64, size int) {
	if b.Events == 0 {
		b.Opened = time.Now()
	}
	b.Events++
	b.Bytes += size
	b.Next[TopicPartition{topic, partition}] = offset + 1
	t := b.Topics[topic]
	t.Events++
	t.Bytes += size
	b.Topics[topic] = t
}

// Empty reports whether the batch holds no record.
func (b *Batch) Empty() bool { return b.Events == 0 }

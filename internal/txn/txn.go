// Package txn holds back the events of source transactions until each
// transaction is whole, and lets them go in source commit order.
//
// Debezium, with provide.transaction.metadata=true, tags every event with
// the id of its source transaction and writes a BEGIN and an END record
// per transaction to the transaction topic; END says how many events the
// transaction has in each table. A transaction's events are spread over
// the topics and partitions of its tables, and Kafka hands partitions out
// in any order. The Gate takes records in the order each partition
// delivers them and releases a transaction only when its END has been
// seen, all its events have arrived, and every transaction that ended
// before it has been released. Records leave each partition in offset
// order, so a partition's prefix stops at its first record of a
// transaction still held: offsets stored after a release never pass an
// event that was not released.
//
// Two bounds keep the gate from stalling or growing without end: a
// transaction whose records have waited MaxWait (its END or some events
// never come: a missing or lagging transaction topic, events routed
// elsewhere, a poison record) and the held records beyond MaxHeld (a
// transaction too large to hold) are released as they are, and reported
// as Forced.
package txn

import (
	"fmt"
	"time"
)

// Partition names a topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Entry is one record given to the gate.
type Entry[T any] struct {
	Part Partition
	// TxID is the source transaction the record belongs to: an event's
	// transaction block id, or a BEGIN/END record's id. Empty for records
	// outside transactions (snapshot events, tombstones, control records),
	// which leave as soon as the records before them in their partition
	// have.
	TxID string
	// Event is true for a data event (counted against END's count).
	Event bool
	// End is true for the transaction's END record; Expect is the number
	// of the transaction's events in the topics consumed.
	End    bool
	Expect int64
	// Size is the record's size in bytes, counted against MaxBytes.
	Size int
	// Item is the caller's record.
	Item T
}

// Forced is a transaction released before it was whole.
type Forced struct {
	TxID   string
	Reason string
	// Received and Expected count its events so far; Expected is -1 when
	// its END was not seen.
	Received, Expected int64
}

// Gate holds and releases records. It is not safe for concurrent use.
type Gate[T any] struct {
	// MaxWait bounds how long a record may be held; zero means no bound.
	MaxWait time.Duration
	// MaxHeld and MaxBytes bound how many records, and how many bytes of
	// them, may be held; zero means no bound.
	MaxHeld  int
	MaxBytes int
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	parts  []Partition // in order of first arrival, for a stable release order
	queues map[Partition][]held[T]
	txs    map[string]*tx
	ends   []string // ids of ended, unreleased transactions, in END order
	done   recent   // released transactions, for their late records
	held   int
	bytes  int
	seq    uint64
}

type held[T any] struct {
	e   Entry[T]
	seq uint64
	at  time.Time
}

type tx struct {
	received int64
	expect   int64
	ended    bool
}

// New returns a gate with the given bounds.
func New[T any](maxWait time.Duration, maxHeld int) *Gate[T] {
	return &Gate[T]{MaxWait: maxWait, MaxHeld: maxHeld, queues: map[Partition][]held[T]{},
		txs: map[string]*tx{}, done: newRecent(1 << 14)}
}

func (g *Gate[T]) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Push adds a record. Records of one partition must be pushed in offset
// order.
func (g *Gate[T]) Push(e Entry[T]) {
	if _, ok := g.queues[e.Part]; !ok {
		g.parts = append(g.parts, e.Part)
	}
	g.seq++
	g.queues[e.Part] = append(g.queues[e.Part], held[T]{e: e, seq: g.seq, at: g.now()})
	g.held++
	g.bytes += e.Size
	if e.TxID == "" || g.done.has(e.TxID) {
		return
	}
	t := g.txs[e.TxID]
	if t == nil {
		t = &tx{}
		g.txs[e.TxID] = t
	}
	if e.Event {
		t.received++
	}
	if e.End && !t.ended {
		t.ended, t.expect = true, e.Expect
		g.ends = append(g.ends, e.TxID)
	}
}

// Held is the number of records held.
func (g *Gate[T]) Held() int { return g.held }

// Waiting is the number of transactions with records held.
func (g *Gate[T]) Waiting() int { return len(g.txs) }

// Release returns the records that may go, in groups, and the
// transactions released before they were whole. Each group ends at a
// transaction boundary: the records outside transactions that were
// waiting on nothing, then one group per transaction released (with the
// records outside transactions that followed it). Groups are in release
// order, and each partition's records in offset order across them, so a
// caller may apply any prefix of the groups and keep the rest for later.
func (g *Gate[T]) Release() (groups [][]Entry[T], forced []Forced) {
	add := func() {
		if out := g.drain(nil); len(out) > 0 {
			groups = append(groups, out)
		}
	}
	add()
	for {
		for len(g.ends) > 0 {
			id := g.ends[0]
			t := g.txs[id]
			if t != nil && t.received < t.expect {
				break
			}
			g.ends = g.ends[1:]
			g.release(id)
			add()
		}
		f, ok := g.force()
		if !ok {
			return groups, forced
		}
		forced = append(forced, f)
		add()
	}
}

// release marks a transaction released: its records leave with their
// partitions' prefixes, and records of it that come later leave at once.
func (g *Gate[T]) release(id string) {
	delete(g.txs, id)
	g.done.add(id)
}

// drain moves each partition's releasable prefix to out.
func (g *Gate[T]) drain(out []Entry[T]) []Entry[T] {
	for _, p := range g.parts {
		q := g.queues[p]
		n := 0
		for n < len(q) && (q[n].e.TxID == "" || g.done.has(q[n].e.TxID)) {
			out = append(out, q[n].e)
			g.bytes -= q[n].e.Size
			n++
		}
		if n > 0 {
			clear(q[:n]) // let the items go
			g.queues[p] = q[n:]
			g.held -= n
		}
	}
	return out
}

// force releases the transaction of the oldest held record when a bound
// is passed.
func (g *Gate[T]) force() (Forced, bool) {
	if g.held == 0 {
		return Forced{}, false
	}
	var oldest *held[T]
	for _, p := range g.parts {
		if q := g.queues[p]; len(q) > 0 && (oldest == nil || q[0].seq < oldest.seq) {
			oldest = &q[0]
		}
	}
	var reason string
	switch {
	case g.MaxHeld > 0 && g.held > g.MaxHeld:
		reason = fmt.Sprintf("more than %d records held (transactions.max_held_events)", g.MaxHeld)
	case g.MaxBytes > 0 && g.bytes > g.MaxBytes:
		reason = fmt.Sprintf("more than %d bytes held (transactions.max_held_bytes)", g.MaxBytes)
	case g.MaxWait > 0 && g.now().Sub(oldest.at) >= g.MaxWait:
		reason = fmt.Sprintf("held for %s (transactions.max_wait)", g.MaxWait)
	default:
		return Forced{}, false
	}
	id := oldest.e.TxID
	f := Forced{TxID: id, Reason: reason, Expected: -1}
	if t := g.txs[id]; t != nil {
		f.Received = t.received
		if t.ended {
			f.Expected = t.expect
			for i, e := range g.ends {
				if e == id {
					g.ends = append(g.ends[:i], g.ends[i+1:]...)
					break
				}
			}
		}
	}
	g.release(id)
	return f, true
}

// Drop forgets the records held for the partitions (revoked, or to be
// read again from the stored offsets).
func (g *Gate[T]) Drop(parts []Partition) {
	for _, p := range parts {
		q, ok := g.queues[p]
		if !ok {
			continue
		}
		for _, h := range q {
			t := g.txs[h.e.TxID]
			if t == nil {
				continue
			}
			if h.e.Event {
				t.received--
			}
			if h.e.End && t.ended {
				t.ended = false
				for i, e := range g.ends {
					if e == h.e.TxID {
						g.ends = append(g.ends[:i], g.ends[i+1:]...)
						break
					}
				}
			}
			if t.received <= 0 && !t.ended {
				delete(g.txs, h.e.TxID)
			}
		}
		for _, h := range q {
			g.bytes -= h.e.Size
		}
		g.held -= len(q)
		delete(g.queues, p)
		for i, x := range g.parts {
			if x == p {
				g.parts = append(g.parts[:i], g.parts[i+1:]...)
				break
			}
		}
	}
}

// recent is a bounded set of the most recently added ids.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) recent {
	return recent{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recent) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recent) add(id string) {
	if r.has(id) {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}

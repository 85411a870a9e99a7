package txn

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// rec is a test record: an event of transaction tx (0 for none), or the
// transaction topic's BEGIN/END of tx.
type rec struct {
	part   Partition
	offset int64
	tx     int
	event  bool
	end    bool
	expect int64
}

// source is a seeded stream of transactions over tables spread across
// partitions, as Debezium writes it: each transaction's events go to the
// partitions of their keys in commit order, and its BEGIN and END to the
// one-partition transaction topic.
type source struct {
	logs  map[Partition][]rec
	parts []Partition
	txs   int         // transactions, numbered 1..txs in commit order
	count map[int]int // events per transaction
	plain int         // events outside transactions
}

var txTopic = Partition{Topic: "shop.transaction"}

func newSource(seed int64, txs, maxEvents int) *source {
	rng := rand.New(rand.NewSource(seed))
	s := &source{logs: map[Partition][]rec{}, txs: txs, count: map[int]int{}}
	tables := []string{"shop.db.accounts", "shop.db.ledger", "shop.db.orders"}
	for _, t := range tables {
		for p := int32(0); p < 3; p++ {
			s.parts = append(s.parts, Partition{Topic: t, Partition: p})
		}
	}
	s.parts = append(s.parts, txTopic)
	add := func(p Partition, r rec) {
		r.part, r.offset = p, int64(len(s.logs[p]))
		s.logs[p] = append(s.logs[p], r)
	}
	// A snapshot first: events outside transactions.
	for i := 0; i < 20; i++ {
		add(s.parts[rng.Intn(len(s.parts)-1)], rec{})
		s.plain++
	}
	for t := 1; t <= txs; t++ {
		add(txTopic, rec{tx: t})
		n := 1 + rng.Intn(maxEvents)
		for i := 0; i < n; i++ {
			p := s.parts[rng.Intn(len(s.parts)-1)]
			add(p, rec{tx: t, event: true})
			if rng.Intn(5) == 0 { // a delete's tombstone follows it
				add(p, rec{})
				s.plain++
			}
		}
		s.count[t] = n
		add(txTopic, rec{tx: t, end: true, expect: int64(n)})
	}
	return s
}

func entry(r rec) Entry[rec] {
	e := Entry[rec]{Part: r.part, Event: r.event, End: r.end, Expect: r.expect, Item: r}
	if r.tx != 0 {
		e.TxID = fmt.Sprint(r.tx)
	}
	return e
}

// checker verifies, after every release, that what was released is whole
// transactions 1..k for some k plus events outside transactions, and that
// each partition's released records are a prefix of its log.
type checker struct {
	t        *testing.T
	s        *source
	events   map[int]int
	next     map[Partition]int64
	released int // highest transaction released whole
}

func (c *checker) take(groups [][]Entry[rec]) {
	c.t.Helper()
	for _, g := range groups {
		c.takeGroup(g)
	}
}

// takeGroup checks one group: after it, exactly a prefix of whole
// transactions has gone.
func (c *checker) takeGroup(out []Entry[rec]) {
	c.t.Helper()
	for _, e := range out {
		r := e.Item
		if r.offset != c.next[r.part] {
			c.t.Fatalf("%v: released offset %d, want %d (a partition's records leave in order, none skipped)", r.part, r.offset, c.next[r.part])
		}
		c.next[r.part]++
		if r.event {
			c.events[r.tx]++
		}
	}
	// Transactions released so far must be exactly 1..k, each whole.
	k := 0
	for k < c.s.txs && c.events[k+1] == c.s.count[k+1] {
		k++
	}
	for tx, n := range c.events {
		if tx > k && n > 0 {
			c.t.Fatalf("transaction %d has %d of %d events applied while %d is not whole: a reader would see part of it",
				tx, n, c.s.count[tx], k+1)
		}
	}
	c.released = k
}

// TestGate_WholeTransactionsInCommitOrder consumes seeded transactional
// streams with partitions delivered in adversarial orders — one partition
// far ahead of the others, the transaction topic first or last, random
// chunks — and checks after every release that exactly a prefix of whole
// transactions has gone, and that at the end everything has.
func TestGate_WholeTransactionsInCommitOrder(t *testing.T) {
	orders := map[string]func(rng *rand.Rand, s *source, cursor map[Partition]int) Partition{
		"random": func(rng *rand.Rand, s *source, cursor map[Partition]int) Partition {
			return s.parts[rng.Intn(len(s.parts))]
		},
		"transaction topic last": func(rng *rand.Rand, s *source, cursor map[Partition]int) Partition {
			for _, p := range s.parts[:len(s.parts)-1] {
				if cursor[p] < len(s.logs[p]) {
					return p
				}
			}
			return txTopic
		},
		"transaction topic first": func(rng *rand.Rand, s *source, cursor map[Partition]int) Partition {
			if cursor[txTopic] < len(s.logs[txTopic]) {
				return txTopic
			}
			return s.parts[rng.Intn(len(s.parts))]
		},
		"one partition at a time": func(rng *rand.Rand, s *source, cursor map[Partition]int) Partition {
			for i := len(s.parts) - 1; i >= 0; i-- {
				if p := s.parts[i]; cursor[p] < len(s.logs[p]) {
					return p
				}
			}
			return txTopic
		},
	}
	for name, pick := range orders {
		for seed := int64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				s := newSource(seed, 60, 8)
				g := New[rec](0, 0)
				c := &checker{t: t, s: s, events: map[int]int{}, next: map[Partition]int64{}}
				cursor := map[Partition]int{}
				total := 0
				for _, l := range s.logs {
					total += len(l)
				}
				for pushed := 0; pushed < total; {
					p := pick(rng, s, cursor)
					n := min(1+rng.Intn(7), len(s.logs[p])-cursor[p])
					for i := 0; i < n; i++ {
						g.Push(entry(s.logs[p][cursor[p]]))
						cursor[p]++
						pushed++
					}
					groups, forced := g.Release()
					if len(forced) > 0 {
						t.Fatalf("forced without bounds: %+v", forced)
					}
					c.take(groups)
				}
				if c.released != s.txs || g.Held() != 0 || g.Waiting() != 0 {
					t.Fatalf("at the end: %d of %d transactions released, %d records held, %d waiting", c.released, s.txs, g.Held(), g.Waiting())
				}
			})
		}
	}
}

// TestGate_EndBeforeOrAfterItsEvents releases a transaction only when both
// its END and all its events are in, whichever comes first.
func TestGate_EndBeforeOrAfterItsEvents(t *testing.T) {
	a, b := Partition{Topic: "s.db.a"}, Partition{Topic: "s.db.b"}
	ev := func(p Partition, off int64) Entry[rec] {
		return Entry[rec]{Part: p, TxID: "t1", Event: true, Item: rec{part: p, offset: off}}
	}
	end := Entry[rec]{Part: txTopic, TxID: "t1", End: true, Expect: 2, Item: rec{part: txTopic}}

	g := New[rec](0, 0)
	g.Push(end)
	g.Push(ev(a, 0))
	if groups, _ := g.Release(); count(groups) != 0 {
		t.Fatalf("END first, one of two events in: released %d records, want 0", count(groups))
	}
	g.Push(ev(b, 0))
	if groups, _ := g.Release(); count(groups) != 3 {
		t.Fatalf("END first, both events in: released %d records, want 3", count(groups))
	}

	g = New[rec](0, 0)
	g.Push(ev(a, 0))
	g.Push(ev(b, 0))
	if groups, _ := g.Release(); count(groups) != 0 {
		t.Fatalf("events first, no END: released %d records, want 0", count(groups))
	}
	g.Push(end)
	if groups, _ := g.Release(); count(groups) != 3 {
		t.Fatalf("events first, then END: released %d records, want 3", count(groups))
	}
}

// TestGate_BoundsForceRelease: a transaction larger than MaxHeld, and one
// whose END never comes within MaxWait, are released as they are and
// reported; records behind them in their partitions follow in order.
func TestGate_BoundsForceRelease(t *testing.T) {
	p := Partition{Topic: "s.db.a"}
	g := New[rec](0, 100)
	for i := 0; i < 150; i++ {
		g.Push(Entry[rec]{Part: p, TxID: "big", Event: true, Item: rec{part: p, offset: int64(i)}})
	}
	groups, forced := g.Release()
	if count(groups) != 150 || len(forced) != 1 || forced[0].TxID != "big" || forced[0].Received != 150 || forced[0].Expected != -1 {
		t.Fatalf("a transaction over max_held: released %d, forced %+v; want all 150 released and one forced report", count(groups), forced)
	}
	// Its END and later events still leave at once.
	g.Push(Entry[rec]{Part: p, TxID: "big", Event: true, Item: rec{part: p, offset: 150}})
	g.Push(Entry[rec]{Part: txTopic, TxID: "big", End: true, Expect: 151})
	if groups, _ := g.Release(); count(groups) != 2 || g.Held() != 0 || g.Waiting() != 0 {
		t.Fatalf("records of a forced transaction that come later: released %d, held %d, waiting %d", count(groups), g.Held(), g.Waiting())
	}

	now := time.Unix(1000, 0)
	g = New[rec](30*time.Second, 0)
	g.Now = func() time.Time { return now }
	g.Push(Entry[rec]{Part: p, TxID: "lost-end", Event: true})
	g.Push(Entry[rec]{Part: p}) // behind it: must wait too
	if groups, forced := g.Release(); count(groups) != 0 || len(forced) != 0 {
		t.Fatalf("before max_wait: released %d, forced %v", count(groups), forced)
	}
	now = now.Add(30 * time.Second)
	groups, forced = g.Release()
	if count(groups) != 2 || len(forced) != 1 || forced[0].TxID != "lost-end" {
		t.Fatalf("after max_wait: released %d, forced %+v; want 2 and one report", count(groups), forced)
	}
}

// TestGate_DropForgetsPartitions: records dropped for a revoked partition
// no longer count towards their transaction, which then waits for them to
// be pushed again.
func TestGate_DropForgetsPartitions(t *testing.T) {
	a, b := Partition{Topic: "s.db.a"}, Partition{Topic: "s.db.b"}
	g := New[rec](0, 0)
	g.Push(Entry[rec]{Part: a, TxID: "t", Event: true})
	g.Push(Entry[rec]{Part: b, TxID: "t", Event: true})
	g.Drop([]Partition{b})
	g.Push(Entry[rec]{Part: txTopic, TxID: "t", End: true, Expect: 2})
	if groups, _ := g.Release(); count(groups) != 0 || g.Held() != 2 {
		t.Fatalf("after dropping one of two events: released %d, held %d; want 0 and 2", count(groups), g.Held())
	}
	g.Push(Entry[rec]{Part: b, TxID: "t", Event: true})
	if groups, _ := g.Release(); count(groups) != 3 {
		t.Fatalf("the dropped event read again: released %d, want 3", count(groups))
	}
}

// count is the number of records in groups.
func count(groups [][]Entry[rec]) int {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	return n
}

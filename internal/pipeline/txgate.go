package pipeline

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/txn"
)

// Transaction-consistent apply. With Debezium's transaction metadata on,
// records pass through a txn.Gate between decoding and the open batch:
// a batch then holds whole source transactions, in source commit order,
// and since a batch commits in one warehouse transaction, a reader never
// sees part of a source transaction. Records the gate holds are not in
// any batch, so the offsets a batch stores never pass them; a restart
// reads them again.

// txTopicSuffix ends the name of Debezium's transaction topic,
// `<topic.prefix>.transaction`.
const txTopicSuffix = ".transaction"

// gatedRecord is a record waiting in the gate, decoded.
type gatedRecord struct {
	r *kgo.Record
	d decoded
}

// startGate decides, from the matched topics, whether batches hold whole
// transactions, and sets the gate up if so.
func (p *Pipeline) startGate(topics []string) {
	tc := p.cfg.Transactions
	var txTopics []string
	for _, t := range topics {
		if strings.HasSuffix(t, txTopicSuffix) {
			txTopics = append(txTopics, t)
		}
	}
	switch tc.Mode {
	case config.TxPerTable:
		return
	case config.TxConsistent:
		if len(txTopics) == 0 {
			p.log.Warn("transactions: consistent, but topics matches no transaction topic (<topic.prefix>.transaction): "+
				"events of source transactions wait transactions.max_wait for their END before they are applied",
				"topics", p.cfg.Topics.String(), "max_wait", tc.MaxWait)
		}
	default: // auto
		if len(txTopics) == 0 {
			return
		}
	}
	p.gate = txn.New[gatedRecord](tc.MaxWait, tc.MaxHeld)
	p.gate.MaxBytes = tc.MaxBytes
	p.log.Info("applying whole source transactions (transactions: consistent)", "transaction_topics", txTopics,
		"max_wait", tc.MaxWait, "max_held_events", tc.MaxHeld)
}

// gateOnFirstMark starts the gate (transactions: auto) when a transaction
// topic's first record arrives: the topic may be created after cdcsync
// started, with the source's first transaction. Events read before it
// were applied table by table.
func (p *Pipeline) gateOnFirstMark(recs []*kgo.Record, results []decoded) {
	for i, d := range results {
		if d.err == nil && d.res.TxMark != nil {
			p.log.Info("a transaction topic appeared", "topic", recs[i].Topic)
			p.startGate([]string{recs[i].Topic})
			return
		}
	}
}

// startGateFrom lists the matched topics to decide on the gate
// (continuous mode, before joining the group).
func (p *Pipeline) startGateFrom(ctx context.Context) error {
	if p.cfg.Transactions.Mode == config.TxPerTable || p.adm == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, p.cfg.kafkaTimeout())
	defer cancel()
	details, topics, err := MatchTopics(lctx, p.adm, p.cfg.Topics)
	if err != nil {
		return kafkaErr(ctx, lctx, err)
	}
	p.startGate(topics)
	p.checkTxPartitions(details)
	return nil
}

// checkTxPartitions warns about transaction topics of several partitions:
// the order of their END records, which is the source commit order, is
// then lost.
func (p *Pipeline) checkTxPartitions(details kadm.TopicDetails) {
	if p.gate == nil {
		return
	}
	for name, d := range details {
		if strings.HasSuffix(name, txTopicSuffix) && len(d.Partitions) > 1 {
			p.log.Warn("the transaction topic has several partitions: transactions may be applied out of source commit order; "+
				"give it one partition (Debezium: topic.creation.<group>.partitions=1)", "topic", name, "partitions", len(d.Partitions))
		}
	}
}

// gated passes decoded records through the gate and adds what it
// releases to the batch, whole transactions at a time, until the batch is
// full; transactions released beyond that wait in txPending for the next
// batch. It returns the records added.
func (p *Pipeline) gated(b *batch.Batch, recs []*kgo.Record, results []decoded) []*kgo.Record {
	p.gateMu.Lock()
	for i, r := range recs {
		p.gate.Push(p.gateEntry(r, results[i]))
	}
	groups, forced := p.gate.Release()
	p.txPending = append(p.txPending, groups...)
	held := p.gate.Held()
	p.gateMu.Unlock()
	p.met.txHeld.Set(float64(held))
	for _, f := range forced {
		p.met.txForced.Inc()
		p.log.Warn("applying a source transaction that is not whole: readers may see part of it",
			"transaction", f.TxID, "reason", f.Reason, "events_received", f.Received, "events_expected", f.Expected)
	}
	var added []*kgo.Record
	for len(p.txPending) > 0 && !p.full(b) {
		for _, e := range p.txPending[0] {
			p.asm.addDecoded(b, e.Item.r, e.Item.d)
			added = append(added, e.Item.r)
		}
		p.txPending[0] = nil
		p.txPending = p.txPending[1:]
	}
	return added
}

// txWaiting reports whether released transactions wait for a batch.
func (p *Pipeline) txWaiting() bool { return len(p.txPending) > 0 }

// gateEntry describes a decoded record to the gate.
func (p *Pipeline) gateEntry(r *kgo.Record, d decoded) txn.Entry[gatedRecord] {
	e := txn.Entry[gatedRecord]{Part: txn.Partition{Topic: r.Topic, Partition: r.Partition},
		Size: len(r.Key) + len(r.Value), Item: gatedRecord{r: r, d: d}}
	switch {
	case d.err != nil || d.control:
	case d.res.TxMark != nil:
		e.TxID = d.res.TxMark.ID
		if d.res.TxMark.End {
			e.End, e.Expect = true, p.expectedEvents(r.Topic, d.res.TxMark)
		}
	case d.res.TxID != "" && d.res.Change != nil:
		e.TxID, e.Event = d.res.TxID, true
	}
	return e
}

// expectedEvents counts an END's events in the topics consumed: a data
// collection `<db>.<table>` is in topic `<topic.prefix>.<db>.<table>`
// (Debezium's default topic naming), consumed if topics matches it.
func (p *Pipeline) expectedEvents(txTopic string, m *debezium.TxMark) int64 {
	prefix := strings.TrimSuffix(txTopic, txTopicSuffix)
	var n int64
	for _, c := range m.Collections {
		if c.Events > 0 && p.cfg.Topics.MatchString(prefix+"."+c.Name) {
			n += c.Events
		}
	}
	return n
}

// gateDrop forgets the records held for partitions that are revoked or
// will be read again from their stored offsets.
func (p *Pipeline) gateDrop(parts map[string][]int32) {
	if p.gate == nil {
		return
	}
	var ps []txn.Partition
	for topic, nums := range parts {
		for _, n := range nums {
			ps = append(ps, txn.Partition{Topic: topic, Partition: n})
		}
	}
	p.gateMu.Lock()
	p.gate.Drop(ps)
	held := p.gate.Held()
	p.txPending = dropPending(p.txPending, ps)
	p.gateMu.Unlock()
	p.met.txHeld.Set(float64(held))
}

// gateWait is how long a poll may wait while records are held, so that
// transactions.max_wait is honoured without new records.
func (p *Pipeline) gateWait(wait time.Duration) time.Duration {
	if p.gate == nil {
		return wait
	}
	p.gateMu.Lock()
	held := p.gate.Held()
	p.gateMu.Unlock()
	if held == 0 {
		return wait
	}
	return min(wait, max(p.cfg.Transactions.MaxWait/4, 10*time.Millisecond))
}

// dropPending removes the records of the partitions from the released
// transactions waiting for a batch: they are read again from the stored
// offsets, whole, with the records the gate held after them.
func dropPending(groups [][]txn.Entry[gatedRecord], parts []txn.Partition) [][]txn.Entry[gatedRecord] {
	drop := map[txn.Partition]bool{}
	for _, p := range parts {
		drop[p] = true
	}
	out := groups[:0]
	for _, g := range groups {
		kept := g[:0]
		for _, e := range g {
			if !drop[e.Part] {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

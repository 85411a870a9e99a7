package pipeline

import (
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/mask"
)

// The assembler is the pipeline's first stage after the fetch: it decodes
// Kafka records (in parallel for large fetches) and adds the changes to
// the open batch, in record order.

// assembler decodes records and adds them to batches, keeping what
// ordering needs across batches: the arrival sequence and the last source
// position of each partition. It is used by one goroutine.
type assembler struct {
	opts    debezium.Options
	decs    []*debezium.Decoder // one per decoding worker
	seq     uint64
	lastPos map[batch.TopicPartition]change.Position
	// fatal is a column rule that cannot hold for a table's events (a
	// primary-key column left out): the configuration's fault, which
	// stops the pipeline instead of dead-lettering every event.
	fatal error
}

// newAssembler returns an assembler with workers decoders (one to four).
func newAssembler(opts debezium.Options, workers int) *assembler {
	a := &assembler{opts: opts, decs: make([]*debezium.Decoder, min(max(workers, 1), 4)),
		lastPos: map[batch.TopicPartition]change.Position{}}
	for i := range a.decs {
		a.decs[i] = debezium.NewDecoder(opts)
	}
	return a
}

// addRecords decodes records into the batch, in order. Large fetches are
// decoded in parallel, one decoder per worker; the batch is then filled
// sequentially, so ordering (offsets, arrival sequence, the positions
// tombstones inherit) is exactly that of the records.
func (p *Pipeline) addRecords(b *batch.Batch, recs []*kgo.Record) {
	results := p.asm.decodeAll(recs)
	if p.gate == nil && p.cfg.Transactions.Mode != config.TxPerTable && p.cfg.Transactions.Mode != config.TxConsistent {
		p.gateOnFirstMark(recs, results) // auto: a transaction topic that appears later
	}
	if p.gate != nil {
		// Transaction-consistent: records wait in the gate until their
		// source transaction is whole (txgate.go).
		recs = p.gated(b, recs, results)
	} else {
		for i, d := range results {
			p.asm.addDecoded(b, recs[i], d)
		}
	}
	if b.Events > 0 {
		p.recordBytes = max(b.Bytes/b.Events, 1)
	}
	p.mu.Lock()
	p.records[b] = append(p.records[b], recs...)
	p.mu.Unlock()
}

func (a *assembler) add(b *batch.Batch, recs []*kgo.Record) {
	for i, d := range a.decodeAll(recs) {
		a.addDecoded(b, recs[i], d)
	}
}

// decodeAll decodes records, in parallel for large fetches.
func (a *assembler) decodeAll(recs []*kgo.Record) []decoded {
	results := make([]decoded, len(recs))
	if n := len(a.decs); n == 1 || len(recs) < parallelDecodeMin {
		for i, r := range recs {
			results[i] = decodeRecord(a.decs[0], r)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(recs) + n - 1) / n
		for w := 0; w < n; w++ {
			lo, hi := w*chunk, min((w+1)*chunk, len(recs))
			if lo >= hi {
				break
			}
			d := a.decs[w]
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					results[i] = decodeRecord(d, recs[i])
				}
			})
		}
		wg.Wait()
	}
	return results
}

// parallelDecodeMin is the fetch size from which decoding is spread over
// the workers; smaller fetches are not worth the hand-off.
const parallelDecodeMin = 256

type decoded struct {
	res     debezium.Result
	err     error
	control bool
}

func decodeRecord(d *debezium.Decoder, r *kgo.Record) decoded {
	if r.Attrs.IsControl() {
		return decoded{control: true}
	}
	rec := debezium.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		switch h.Key {
		case "__debezium.oldkey":
			rec.OldKey = h.Value
		case "__debezium.newkey":
			rec.NewKey = h.Value
		}
	}
	res, err := d.Decode(rec)
	return decoded{res: res, err: err}
}

// addDecoded adds one decoded record to the batch. Transaction control
// records only move the partition's offset on.
func (a *assembler) addDecoded(b *batch.Batch, r *kgo.Record, d decoded) {
	b.Record(r.Topic, r.Partition, r.Offset, len(r.Key)+len(r.Value))
	if d.control {
		return
	}
	if d.err != nil {
		var ce *mask.ConfigError
		if errors.As(d.err, &ce) {
			if a.fatal == nil {
				a.fatal = d.err
			}
			return
		}
		key, value := a.letterBytes(r)
		b.DeadLetters = append(b.DeadLetters, batch.DeadLetter{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Table: a.tableName(r.Topic), Reason: d.err.Error(), Key: key, Value: value,
		})
		return
	}
	if d.res.Skip != "" {
		b.Skipped++
		return
	}
	c := d.res.Change
	a.seq++
	c.Seq = a.seq // arrival order across the parallel decoders
	// Events of one partition come from one connector task in source
	// order, so an event without a position (a tombstone) sits at the
	// position of the event before it.
	tp := batch.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	if c.Pos.Known() {
		a.lastPos[tp] = c.Pos
	} else {
		c.Pos = a.lastPos[tp]
	}
	tb := b.Table(c.Table, c.Topic)
	tb.Add(c)
	// Raw records are kept whether or not the warehouse lands them: they
	// carry the bytes a dead letter needs if the change cannot be applied.
	raw := rawOf(r, d.res.Payload)
	raw.Schema, raw.SchemaID = d.res.Schema, d.res.SchemaID
	if d.res.Masked {
		// The record's own bytes carry the columns the rules leave out or
		// hash: the landing table keeps the masked payload alone.
		raw.Key, raw.Value, raw.Headers = nil, nil, withoutKeyHeaders(raw.Headers)
	}
	raw.SourceTs = c.SourceTs
	tb.Landing = append(tb.Landing, raw)
}

// letterBytes are the bytes a dead letter of record r keeps: none for a
// table with column rules, whose record bytes carry values in clear.
func (a *assembler) letterBytes(r *kgo.Record) (key, value []byte) {
	if a.opts.Mask.For(a.tableName(r.Topic)) != nil {
		return nil, nil
	}
	return r.Key, r.Value
}

// withoutKeyHeaders drops Debezium's key headers, which carry a key in
// clear.
func withoutKeyHeaders(hs []batch.Header) []batch.Header {
	out := hs[:0:0]
	for _, h := range hs {
		if h.Key != "__debezium.oldkey" && h.Key != "__debezium.newkey" {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (a *assembler) tableName(topic string) string {
	if a.opts.Table != nil {
		if t := a.opts.Table(topic); t.Name != "" {
			return t.Name
		}
	}
	return debezium.TableName(topic)
}

func rawOf(r *kgo.Record, payload []byte) batch.Raw {
	tt := byte('C')
	if r.Attrs.TimestampType() == 1 {
		tt = 'L'
	}
	var hs []batch.Header
	if len(r.Headers) > 0 {
		hs = make([]batch.Header, len(r.Headers))
		for i, h := range r.Headers {
			hs[i] = batch.Header{Key: h.Key, Value: h.Value}
		}
	}
	return batch.Raw{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, TimestampType: tt,
		Timestamp: r.Timestamp.UTC(), Key: r.Key, Value: r.Value, Headers: hs, Payload: payload}
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cdcsync/cdcsync/internal/avroconv"
	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Dead-letter replay: the stage that takes dead letters back through the
// decoder, with the current configuration, and hands each change that now
// decodes to the warehouse's Replayer, which applies it only when nothing
// newer of its key was applied since.

// ReplayedLetter is one dead letter and what a replay did with it.
type ReplayedLetter struct {
	Letter  warehouse.StoredDeadLetter
	Outcome warehouse.ReplayOutcome
}

// ReplayReport is what a replay did.
type ReplayReport struct {
	Letters    []ReplayedLetter
	Applied    int // changes applied
	Superseded int // skipped: a newer change of the key was applied
	Invalid    int // still not decodable or applicable; left pending
	Unsure     int // nothing proves the change is the newest; left pending
}

// Left counts the letters still pending after the replay.
func (r ReplayReport) Left() int { return r.Invalid + r.Unsure }

func (r *ReplayReport) add(l warehouse.StoredDeadLetter, o warehouse.ReplayOutcome) {
	r.Letters = append(r.Letters, ReplayedLetter{Letter: l, Outcome: o})
	switch o.Result {
	case warehouse.ReplayApplied:
		r.Applied++
	case warehouse.ReplaySuperseded:
		r.Superseded++
	case warehouse.ReplayInvalid:
		r.Invalid++
	default:
		r.Unsure++
	}
}

// Replay decodes the pending dead letters f selects with the decoding
// configuration of cfg and applies through r those that are now valid, one
// letter per transaction, oldest first per partition. It stops at the first
// error that is not a record's (an infrastructure failure, a name
// collision), returning what it did so far.
func Replay(ctx context.Context, cfg config.Config, r warehouse.Replayer, f warehouse.DeadLetterFilter, log *slog.Logger) (ReplayReport, error) {
	var rep ReplayReport
	f.Pending = true
	letters, err := r.ListDeadLetters(ctx, f)
	if err != nil {
		return rep, err
	}
	dopts, err := DecoderOptions(cfg)
	if err != nil {
		return rep, err
	}
	dec := debezium.NewDecoder(dopts)
	for _, l := range letters {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		o, err := replayOne(ctx, dec, r, l)
		if warehouse.IsRejected(err) {
			// The warehouse refuses a value of the change: still the
			// record's fault.
			o = warehouse.ReplayOutcome{Result: warehouse.ReplayInvalid, Detail: err.Error()}
			err = r.MarkReplayed(ctx, l, o)
		}
		if err != nil {
			return rep, fmt.Errorf("replay dead letter %s[%d]@%d: %w", l.Topic, l.Partition, l.Offset, err)
		}
		log.Info("dead letter replayed", "topic", l.Topic, "partition", l.Partition, "offset", l.Offset,
			"table", l.Table, "result", string(o.Result), "detail", o.Detail)
		rep.add(l, o)
	}
	return rep, nil
}

func replayOne(ctx context.Context, dec *debezium.Decoder, r warehouse.Replayer, l warehouse.StoredDeadLetter) (warehouse.ReplayOutcome, error) {
	if l.Key == nil && l.Value == nil {
		// A dead letter of a table with column rules keeps no bytes.
		o := warehouse.ReplayOutcome{Result: warehouse.ReplayInvalid,
			Detail: "the record's bytes were not kept (its table has column rules); it cannot be replayed"}
		return o, r.MarkReplayed(ctx, l, o)
	}
	res, err := dec.Decode(debezium.Record{Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Key: l.Key, Value: l.Value})
	if errors.Is(err, avroconv.ErrUnavailable) {
		return warehouse.ReplayOutcome{}, err // the registry's failure, not the record's
	}
	if err != nil {
		o := warehouse.ReplayOutcome{Result: warehouse.ReplayInvalid, Detail: err.Error()}
		return o, r.MarkReplayed(ctx, l, o)
	}
	if res.Skip != "" {
		// It decodes now, to no row change: nothing to apply, ever.
		o := warehouse.ReplayOutcome{Result: warehouse.ReplayApplied, Detail: "no row change: " + res.Skip}
		return o, r.MarkReplayed(ctx, l, o)
	}
	c := res.Change
	c.Seq = 1
	b := batch.New() // no offsets: a replay never moves them
	tb := b.Table(c.Table, c.Topic)
	tb.Add(c)
	raw := batch.Raw{Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Key: l.Key, Value: l.Value}
	if res.Masked {
		raw = batch.Raw{Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Payload: res.Payload}
	}
	tb.Landing = append(tb.Landing, raw)
	return r.ApplyReplay(ctx, l, b)
}

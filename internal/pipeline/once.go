package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
)

// MatchTopics lists the topics whose whole name matches re, sorted.
// Kafka's internal topics never match.
func MatchTopics(ctx context.Context, adm *kadm.Client, re interface{ MatchString(string) bool }) (kadm.TopicDetails, []string, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for name, d := range details {
		if d.IsInternal || strings.HasPrefix(name, "__") || !re.MatchString(name) {
			delete(details, name)
			continue
		}
		if d.Err != nil {
			return nil, nil, fmt.Errorf("describe topic %s: %w", name, d.Err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return details, names, nil
}

// runOnce drains every matched partition to its end offset as of start.
func (p *Pipeline) runOnce(ctx context.Context) error {
	meta, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer meta.Close()
	if err := ping(ctx, meta, p.cfg.kafkaTimeout(), p.log); err != nil {
		return err
	}
	adm := kadm.NewClient(meta)
	// The brokers answered; what follows must not wait for them forever.
	actx, cancel := context.WithTimeout(ctx, p.cfg.kafkaTimeout())
	defer cancel()
	details, topics, err := MatchTopics(actx, adm, p.cfg.Topics)
	if err != nil {
		return kafkaErr(ctx, actx, err)
	}
	p.sumMu.Lock()
	p.sum.Topics = topics
	p.sumMu.Unlock()
	p.startGate(topics)
	p.checkTxPartitions(details)
	if len(topics) == 0 {
		p.log.Warn("no topic matches", "topics", p.cfg.Topics.String())
		return nil
	}
	// The end of what read_committed consumers see: the last stable offset.
	ends, err := adm.ListCommittedOffsets(actx, topics...)
	if err != nil {
		return kafkaErr(ctx, actx, fmt.Errorf("list end offsets: %w", err))
	}
	starts, err := adm.ListStartOffsets(actx, topics...)
	if err != nil {
		return kafkaErr(ctx, actx, fmt.Errorf("list start offsets: %w", err))
	}
	highs, err := adm.ListEndOffsets(actx, topics...)
	if err != nil {
		return kafkaErr(ctx, actx, fmt.Errorf("list end offsets: %w", err))
	}
	p.ownAll(highs, starts)
	p.whMu.Lock()
	stored, err := p.wh.Offsets(ctx, topics)
	if err == nil {
		err = p.checkTopics(ctx, details, starts, highs, topics, stored)
	}
	p.whMu.Unlock()
	if err != nil {
		return err
	}

	assign := map[string]map[int32]kgo.Offset{}
	remaining := map[batch.TopicPartition]int64{}
	var failed error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			failed = fmt.Errorf("end offset of %s[%d]: %w", e.Topic, e.Partition, e.Err)
			return
		}
		tp := batch.TopicPartition{Topic: e.Topic, Partition: e.Partition}
		logStart := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Err == nil {
			logStart = s.Offset
		}
		from, ok := stored[tp] // checkTopics made sure it is within the log
		if ok {
			p.stored[tp] = from
		} else {
			from = logStart
		}
		if from >= e.Offset {
			return
		}
		if assign[e.Topic] == nil {
			assign[e.Topic] = map[int32]kgo.Offset{}
		}
		assign[e.Topic][e.Partition] = kgo.NewOffset().At(from)
		remaining[tp] = e.Offset
	})
	if failed != nil {
		return failed
	}
	if len(remaining) > 0 {
		if err := p.drain(ctx, assign, remaining); err != nil {
			return err
		}
	}
	p.commitGroup(ctx, adm)
	return nil
}

// kafkaErr names the timeout when a Kafka request ran out of it.
func kafkaErr(ctx, actx context.Context, err error) error {
	if actx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("kafka brokers did not answer in time (kafka.unreachable_timeout): %w", err)
	}
	return err
}

// drain consumes the assigned partitions until each reaches its end.
func (p *Pipeline) drain(ctx context.Context, assign map[string]map[int32]kgo.Offset, remaining map[batch.TopicPartition]int64) error {
	cl, err := kgo.NewClient(p.clientOpts(
		kgo.ConsumePartitions(assign),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), // as memberOpts
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	a := p.startApplier(ctx)
	defer a.close()
	b := batch.New()
	prog := p.drainProgress(assign, remaining)
	defer prog.end()
	timeout := p.cfg.kafkaTimeout()
	lastRecord, lastWarn := time.Now(), time.Now()
	for len(remaining) > 0 {
		pctx, cancel := context.WithTimeout(ctx, min(timeout/4, 5*time.Second))
		fs := cl.PollRecords(pctx, p.pollMax(b))
		cancel()
		if ctx.Err() != nil {
			break // stopped: finish the batches in flight below
		}
		if err := p.fetchErrors(fs); err != nil {
			return err
		}
		if fs.NumRecords() > 0 {
			lastRecord = time.Now()
		} else if quiet := time.Since(lastRecord); quiet >= timeout {
			// The records are there (up to the end offsets seen at start):
			// the brokers stopped serving them.
			return fmt.Errorf("no records from Kafka brokers %s for %s with %d partitions still to read (kafka.unreachable_timeout); are the brokers up?",
				seeds(cl), timeout.Round(time.Second), len(remaining))
		} else if time.Since(lastWarn) >= min(timeout/4, 10*time.Second) {
			lastWarn = time.Now()
			p.log.Warn("waiting for records from Kafka", "brokers", seeds(cl), "partitions_left", len(remaining),
				"quiet_for", quiet.Round(time.Second), "gives_up_in", (timeout - quiet).Round(time.Second))
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			tp := batch.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			end, ok := remaining[tp]
			if !ok || r.Offset >= end {
				return // past the end as of start: the next run reads it
			}
			recs = append(recs, r)
			if r.Offset+1 >= end {
				delete(remaining, tp)
				cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
			}
		})
		if err := p.resolveSchemas(ctx, recs); err != nil {
			if ctx.Err() != nil {
				break // stopped: finish the batches in flight below
			}
			return err
		}
		p.addRecords(b, recs)
		if err := p.asm.fatal; err != nil {
			return err
		}
		prog.read(recs)
		if p.full(b) {
			if r, ok := a.wait(); ok && r.err != nil {
				return r.err
			}
			a.submit(b)
			b = batch.New()
		}
	}
	// Whole transactions released beyond the last batch's bound fill
	// batches of their own.
	for p.txWaiting() && ctx.Err() == nil {
		if p.full(b) {
			if r, ok := a.wait(); ok && r.err != nil {
				return r.err
			}
			a.submit(b)
			b = batch.New()
		}
		p.addRecords(b, nil)
		if err := p.asm.fatal; err != nil {
			return err
		}
	}
	// The batch in flight must commit before the last one: the last one's
	// records follow it.
	if r, ok := a.wait(); ok && r.err != nil {
		return r.err
	}
	// The last batch is bounded only once a stop is requested: a drain
	// that is not interrupted commits it however long it takes (a large
	// batch into a lake with its catalog in PostgreSQL may take minutes).
	fctx, cancel := afterStop(ctx)
	defer cancel()
	return p.flush(fctx, b)
}

// commitGroup writes the stored offsets to the Kafka consumer group, for
// lag monitoring only. Failures are logged, never fatal.
func (p *Pipeline) commitGroup(ctx context.Context, adm *kadm.Client) {
	p.mu.Lock()
	offs := kadm.Offsets{}
	for tp, n := range p.stored {
		offs.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: n, LeaderEpoch: -1})
	}
	p.mu.Unlock()
	if len(offs) == 0 {
		return
	}
	if _, err := adm.CommitOffsets(ctx, p.cfg.Group, offs); err != nil {
		p.log.Info("could not record offsets in the Kafka consumer group (monitoring only)", "group", p.cfg.Group, "err", err)
	}
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// shutdownFlushTimeout bounds the commit of the batch in flight when the
// process is asked to stop.
const shutdownFlushTimeout = 30 * time.Second

// idlePoll is how long a poll waits when no batch is open.
const idlePoll = time.Second

// progressEvery is how often continuous mode logs its progress.
const progressEvery = time.Minute

// runContinuous consumes as a member of the consumer group until ctx is
// done, then commits the batch in flight and leaves the group.
func (p *Pipeline) runContinuous(ctx context.Context) error {
	// A client of its own for the assignment callback's metadata requests,
	// ready before the group client joins.
	meta, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer meta.Close()
	p.adm = kadm.NewClient(meta)
	opts := []kgo.Opt{
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topics.String()),
		kgo.ConsumeRegex(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			p.log.Info("partitions assigned", "partitions", assigned)
		}),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { p.rebalanceWanted.Store(true) }),
		kgo.OnPartitionsRevoked(p.forget),
		kgo.OnPartitionsLost(p.forget),
	}
	if p.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(p.cfg.SessionTimeout))
	}
	if p.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(p.cfg.InstanceID))
	}
	cl, err := kgo.NewClient(p.clientOpts(opts...)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer func() {
		cl.AllowRebalance() // leaving the group waits for rebalances to be allowed
		cl.Close()
	}()
	if err := ping(ctx, cl, p.cfg.kafkaTimeout(), p.log); err != nil {
		return err
	}

	p.log.Info("consuming", "group", p.cfg.Group, "topics", p.cfg.Topics.String())

	a := p.startApplier(ctx)
	defer a.close()
	b := batch.New()
	lastReport := time.Now()
	for ctx.Err() == nil {
		if err := p.fatalErr(); err != nil {
			return err
		}
		if time.Since(lastReport) >= progressEvery {
			p.report(time.Since(lastReport))
			lastReport = time.Now()
			// Continuous mode waits for the brokers as long as it takes
			// (the client reconnects by itself), but says so.
			if err := meta.Ping(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("cannot reach Kafka brokers; waiting for them", "brokers", seeds(meta), "err", err)
			}
		}
		wait := idlePoll
		if !b.Empty() {
			wait = time.Until(b.Opened.Add(p.cfg.Interval))
		}
		if a.busy != nil {
			wait = min(wait, 10*time.Millisecond) // check on the batch in flight soon
		}
		if p.full(b) {
			wait = 0 // nothing more fits: wait for the batch in flight below
		} else {
			pctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
			fs := cl.PollRecords(pctx, p.cfg.MaxEvents-b.Events)
			cancel()
			if err := p.fetchErrors(fs); err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			p.addRecords(b, fs.Records())
		}

		// Take the result of the batch in flight: now if the next one must
		// go, else if it is ready.
		ready := !b.Empty() && (p.full(b) || time.Since(b.Opened) >= p.cfg.Interval)
		rebalance := p.rebalanceWanted.Load()
		var r applied
		var ok bool
		if ready || rebalance {
			r, ok = a.wait()
		} else {
			r, ok = a.poll()
		}
		if ok {
			resynced, err := p.settle(ctx, cl, r)
			if err != nil {
				return err
			}
			if resynced {
				p.drop(b)
				b = batch.New() // its records followed the dropped batch
				continue
			}
		}
		if ready || (rebalance && !b.Empty()) {
			if rebalance {
				// Commit synchronously so the rebalance can proceed.
				resynced, err := p.settle(ctx, cl, applied{b: b, err: p.flush(ctx, b)})
				if err != nil {
					return err
				}
				_ = resynced
			} else {
				a.submit(b)
			}
			b = batch.New()
		}
		if a.busy == nil && b.Empty() {
			p.rebalanceWanted.Store(false)
			cl.AllowRebalance()
		}
	}
	// Stopping: finish the batch in flight and the one being built, then
	// leave the group.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlushTimeout)
	defer cancel()
	if r, ok := a.wait(); ok {
		resynced, err := p.settle(fctx, cl, r)
		if err != nil || resynced {
			return err
		}
	}
	_, err = p.settle(fctx, cl, applied{b: b, err: p.flush(fctx, b)})
	return err
}

// report logs the totals so far at info level, so that a quiet log still
// says the pipeline is alive and what it did.
func (p *Pipeline) report(since time.Duration) {
	p.mu.Lock()
	partitions := len(p.stored)
	p.mu.Unlock()
	s := p.summary()
	p.log.Info("progress", "events", s.Events, "batches", s.Batches, "upserts", s.Upserts, "deletes", s.Deletes,
		"truncates", s.Truncates, "dead_letters", s.DeadLetters, "partitions", partitions, "interval", since.Round(time.Second))
}

// settle takes the result of an applied batch: records its offsets in the
// Kafka group (monitoring only), or, if another consumer had committed its
// partitions, drops it and resumes from the stored offsets (resynced).
func (p *Pipeline) settle(ctx context.Context, cl *kgo.Client, r applied) (resynced bool, err error) {
	if errors.Is(r.err, warehouse.ErrFenced) {
		p.log.Warn("another consumer committed these partitions; dropping the batch and resuming from the stored offsets", "err", r.err)
		return true, p.resync(ctx, cl, r.b)
	}
	if r.err != nil {
		return false, r.err
	}
	if r.b.Empty() {
		return false, nil
	}
	offs := map[string]map[int32]kgo.EpochOffset{}
	for tp, n := range r.b.Next {
		if offs[tp.Topic] == nil {
			offs[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		offs[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: n}
	}
	cl.CommitOffsets(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			p.log.Debug("could not record offsets in the Kafka consumer group (monitoring only)", "err", err)
		}
	})
	return false, nil
}

// resync reloads the stored offsets of the batch's partitions and moves
// consumption there.
func (p *Pipeline) resync(ctx context.Context, cl *kgo.Client, b *batch.Batch) error {
	stored, err := p.storedOffsets(ctx, b)
	if err != nil {
		return err
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	p.mu.Lock()
	for tp := range b.Next {
		off, ok := stored[tp]
		if !ok {
			delete(p.stored, tp)
			off = 0
		} else {
			p.stored[tp] = off
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	p.mu.Unlock()
	cl.SetOffsets(set)
	return nil
}

// adjustOffsets replaces the group's committed offsets of newly assigned
// partitions with the offsets stored in the warehouse.
func (p *Pipeline) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	details, err := p.adm.ListTopics(ctx, topics...)
	if err == nil {
		err = details.Error()
	}
	var highs kadm.ListedOffsets
	if err == nil {
		highs, err = p.adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		p.log.Error("cannot describe the assigned topics; the group will retry", "err", err)
		return nil, err
	}
	p.whMu.Lock()
	stored, err := p.wh.Offsets(ctx, topics)
	if err == nil {
		if err = p.checkTopics(ctx, details, highs, topics, stored); errors.Is(err, ErrTopicRecreated) {
			p.setFatal(err)
		}
	}
	p.whMu.Unlock()
	if err != nil {
		p.log.Error("cannot read stored offsets; the group will retry", "err", err)
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, parts := range offsets {
		for part := range parts {
			tp := batch.TopicPartition{Topic: topic, Partition: part}
			if off, ok := stored[tp]; ok {
				parts[part] = kgo.NewOffset().At(off).WithEpoch(-1)
				p.stored[tp] = off
			} else {
				parts[part] = kgo.NewOffset().AtStart()
				delete(p.stored, tp)
			}
		}
	}
	return offsets, nil
}

// forget drops revoked or lost partitions: their stored offsets may move
// under another consumer.
func (p *Pipeline) forget(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, ps := range parts {
		for _, part := range ps {
			delete(p.stored, batch.TopicPartition{Topic: topic, Partition: part})
		}
	}
}

// setFatal records an error found in a group callback; the loop returns it.
func (p *Pipeline) setFatal(err error) {
	p.fatalMu.Lock()
	defer p.fatalMu.Unlock()
	if p.fatal == nil {
		p.fatal = err
	}
}

func (p *Pipeline) fatalErr() error {
	p.fatalMu.Lock()
	defer p.fatalMu.Unlock()
	return p.fatal
}

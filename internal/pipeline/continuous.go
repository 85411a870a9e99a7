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
	if err := ping(ctx, meta, p.cfg.kafkaTimeout(), p.log); err != nil {
		return err
	}
	if err := p.startGateFrom(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(p.clientOpts(p.memberOpts()...)...)
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
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go p.refreshLag(lctx, p.adm)
	l := &loop{p: p, meta: meta, cl: cl, a: p.startApplier(ctx), b: batch.New(), lastReport: time.Now(), catchUp: p.catchUp(cl)}
	defer l.a.close()
	defer l.catchUp.end()
	return l.run(ctx)
}

// memberOpts are the group member's client options: partitions come from
// the group, start at the offsets stored in the warehouse (adjustOffsets),
// and are never handed over while a batch is open (BlockRebalanceOnPoll,
// released by the loop once everything has committed).
func (p *Pipeline) memberOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topics.String()),
		kgo.ConsumeRegex(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// Every partition starts at an explicit offset (adjustOffsets); one
		// that falls out of the log while read fails (fetchErrors) instead
		// of silently skipping to the log's start.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			p.log.Info("partitions assigned", "partitions", assigned)
			p.own(assigned)
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
	return opts
}

// loop is continuous mode's exactly-once loop: one goroutine fetches into
// the open batch while the applier commits the batch before it. At most
// one batch is in flight, and the open one is handed over only after the
// one in flight has committed, so every batch starts from the offsets its
// predecessor stored.
type loop struct {
	p          *Pipeline
	meta       *kgo.Client // metadata, and the brokers' liveness check
	cl         *kgo.Client // the group member
	a          *applier    // applies the batch in flight
	b          *batch.Batch
	lastReport time.Time
	catchUp    *catchUp // progress until the partitions' ends are reached once
}

// due is what the loop owes after a poll, decided once per turn so that
// taking the result of the batch in flight and closing the open batch
// agree.
type due struct {
	ready     bool // the open batch is full or old enough to close
	rebalance bool // the group waits to rebalance: commit everything now
}

// run is the loop. Each turn polls into the open batch, takes the result
// of the batch in flight, closes the open batch when it is due, and lets
// a waiting rebalance through once nothing is uncommitted. When ctx is
// done it flushes what is left.
func (l *loop) run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := l.p.fatalErr(); err != nil {
			return err
		}
		l.reportProgress(ctx)
		if err := l.poll(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		d := l.due()
		resynced, err := l.takeApplied(ctx, d)
		if err != nil {
			return err
		}
		if resynced {
			continue
		}
		if err := l.closeBatch(ctx, d); err != nil {
			return err
		}
		l.releaseRebalance()
	}
	return l.shutdownFlush(ctx)
}

// reportProgress logs the totals every progressEvery, and checks that the
// brokers answer: continuous mode waits for them as long as it takes (the
// client reconnects by itself), but says so.
func (l *loop) reportProgress(ctx context.Context) {
	if time.Since(l.lastReport) < progressEvery {
		return
	}
	l.p.report(time.Since(l.lastReport))
	l.lastReport = time.Now()
	if err := l.meta.Ping(ctx); err != nil && ctx.Err() == nil {
		l.p.log.Warn("cannot reach Kafka brokers; waiting for them", "brokers", seeds(l.meta), "err", err)
	}
}

// poll fetches records into the open batch, waiting at most until the
// batch is due (briefly when a batch is in flight, to check on it soon).
// A full batch is not polled: the batch in flight must commit first.
func (l *loop) poll(ctx context.Context) error {
	if l.p.full(l.b) {
		return nil
	}
	wait := idlePoll
	if !l.b.Empty() {
		wait = time.Until(l.b.Opened.Add(l.p.cfg.Interval))
	}
	if l.a.busy != nil {
		wait = min(wait, 10*time.Millisecond)
	}
	wait = l.p.gateWait(wait)
	pctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
	fs := l.cl.PollRecords(pctx, l.p.pollMax(l.b))
	cancel()
	if err := l.p.fetchErrors(fs); err != nil {
		return err
	}
	l.p.noteFetches(fs)
	recs := fs.Records()
	if err := l.p.resolveSchemas(ctx, recs); err != nil {
		return err
	}
	l.p.addRecords(l.b, recs)
	if err := l.p.asm.fatal; err != nil {
		return err
	}
	l.catchUp.observe(ctx, fs)
	return nil
}

// due decides this turn's duties from the open batch and the group.
func (l *loop) due() due {
	return due{
		ready:     !l.b.Empty() && (l.p.full(l.b) || time.Since(l.b.Opened) >= l.p.cfg.Interval),
		rebalance: l.p.rebalanceWanted.Load(),
	}
}

// takeApplied takes the result of the batch in flight: waiting for it if
// the open batch must go next (or the group waits), else only if it is
// ready. If another consumer had committed its partitions, the open batch
// is dropped too — its records followed the dropped one — and resynced
// is true.
func (l *loop) takeApplied(ctx context.Context, d due) (resynced bool, err error) {
	var r applied
	var ok bool
	if d.ready || d.rebalance {
		r, ok = l.a.wait()
	} else {
		r, ok = l.a.poll()
	}
	if !ok {
		return false, nil
	}
	resynced, err = l.p.settle(ctx, l.cl, r)
	if err != nil || !resynced {
		return false, err
	}
	l.p.drop(l.b)
	l.b = batch.New()
	return true, nil
}

// closeBatch hands the open batch to the applier when it is due. When the
// group waits to rebalance, it commits it here instead, synchronously, so
// that the rebalance can proceed.
func (l *loop) closeBatch(ctx context.Context, d due) error {
	if !d.ready && (!d.rebalance || l.b.Empty()) {
		return nil
	}
	if d.rebalance {
		if _, err := l.p.settle(ctx, l.cl, applied{b: l.b, err: l.p.flush(ctx, l.b)}); err != nil {
			return err
		}
	} else {
		l.a.submit(l.b)
	}
	l.b = batch.New()
	return nil
}

// releaseRebalance lets a rebalance the group holds back proceed once
// nothing is uncommitted: no batch in flight, none open.
func (l *loop) releaseRebalance() {
	if l.a.busy == nil && l.b.Empty() {
		l.p.rebalanceWanted.Store(false)
		l.cl.AllowRebalance()
	}
}

// shutdownFlush finishes the batch in flight and the one being built,
// under a context of their own bounded by shutdownFlushTimeout; the
// caller then leaves the group.
func (l *loop) shutdownFlush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlushTimeout)
	defer cancel()
	if r, ok := l.a.wait(); ok {
		resynced, err := l.p.settle(fctx, l.cl, r)
		if err != nil || resynced {
			return err
		}
	}
	_, err := l.p.settle(fctx, l.cl, applied{b: l.b, err: l.p.flush(fctx, l.b)})
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
	parts := map[string][]int32{}
	for tp := range b.Next {
		parts[tp.Topic] = append(parts[tp.Topic], tp.Partition)
	}
	p.gateDrop(parts) // read again from the stored offsets
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
	var starts, highs kadm.ListedOffsets
	if err == nil {
		highs, err = p.adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		starts, err = p.adm.ListStartOffsets(ctx, topics...)
	}
	if err == nil {
		p.noteOffsets(highs, nil)
	}
	if err != nil {
		p.log.Error("cannot describe the assigned topics; the group will retry", "err", err)
		return nil, err
	}
	p.whMu.Lock()
	stored, err := p.wh.Offsets(ctx, topics)
	if err == nil {
		if err = p.checkTopics(ctx, details, starts, highs, topics, stored); errors.Is(err, ErrTopicRecreated) || errors.Is(err, ErrRecordsLost) {
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
	p.disown(parts)
	p.gateDrop(parts)
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

// Package pipeline runs cdcsync's main job: consume Debezium topics, decode,
// batch, and apply each batch to the warehouse with the partitions' next
// offsets in the same transaction.
//
// Exactly once rests on three rules:
//
//   - Consumption of a partition starts at the next offset stored in the
//     warehouse (or at the start of the log when there is none); Kafka's own
//     committed offsets are written only for lag monitoring.
//   - A batch's data and its next offsets commit in one warehouse
//     transaction, so a crash anywhere replays whole batches or nothing.
//   - The warehouse fences each offset write on the value this process last
//     read or wrote, so a process that lost its partitions cannot commit
//     over a newer one's work.
//
// In continuous mode the consumer group assigns partitions; rebalances are
// held while a batch is open (franz-go's BlockRebalanceOnPoll) and released
// after it commits, so a partition never changes hands mid-batch. The
// one-pass mode reads every matched partition up to the high watermark seen
// at start, applies, and returns.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/txn"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Summary is what a run did.
type Summary struct {
	Events      int64
	Batches     int64
	Upserts     int64
	Deletes     int64
	Truncates   int64
	DeadLetters int64
	Skipped     int64
	Ignored     int64
	Topics      []string
}

// Pipeline is one running job.
type Pipeline struct {
	cfg Config
	wh  warehouse.Warehouse
	log *slog.Logger
	asm *assembler // decodes records into batches; the consuming goroutine's
	met *Metrics

	whMu   sync.Mutex // the warehouse is used by the loop and by assignment callbacks
	mu     sync.Mutex // guards stored
	stored map[batch.TopicPartition]int64
	// records holds each batch's records, for bisecting a batch the
	// warehouse rejects (see flush).
	records map[*batch.Batch][]*kgo.Record

	// fatal is an error found in a group callback (a recreated topic)
	// that stops continuous mode.
	fatalMu sync.Mutex
	fatal   error
	adm     *kadm.Client // continuous mode: metadata for the assignment callback

	// rebalanceWanted is set when the group wants to rebalance and the
	// loop holds it back: the loop then commits and allows it.
	rebalanceWanted atomic.Bool

	sumMu sync.Mutex // guards sum: the applier goroutine adds, the loop reports
	sum   Summary

	health *health // readiness and lag (health.go)

	// gate holds records back until their source transaction is whole
	// (transactions: consistent; nil otherwise). gateMu guards it: group
	// callbacks drop revoked partitions from it.
	gateMu sync.Mutex
	gate   *txn.Gate[gatedRecord]
	// txPending are transactions the gate released that did not fit in
	// the open batch, in release order (the consuming goroutine's).
	txPending [][]txn.Entry[gatedRecord]
	// recordBytes is the consumed records' average size (key and value),
	// for pollMax; the consuming goroutine's.
	recordBytes int
}

// summary returns a copy of the totals so far.
func (p *Pipeline) summary() Summary {
	p.sumMu.Lock()
	defer p.sumMu.Unlock()
	return p.sum
}

// New returns a pipeline writing to wh.
func New(cfg Config, wh warehouse.Warehouse, log *slog.Logger, met *Metrics) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if met == nil {
		met = NewMetrics(nil)
	}
	if cfg.Progress.Term == nil && cfg.Progress.Log == nil {
		cfg.Progress.Log = log
	}
	p := &Pipeline{
		cfg:     cfg,
		wh:      wh,
		log:     log,
		asm:     newAssembler(cfg.Decoder, runtime.GOMAXPROCS(0)),
		met:     met,
		stored:  map[batch.TopicPartition]int64{},
		records: map[*batch.Batch][]*kgo.Record{},
		health:  newHealth(met.now()),
	}
	cfg.Decoder.Mask.SetLog(log)
	met.attach(p)
	return p
}

// Run runs until ctx is done (continuous mode) or the matched topics are
// drained to their high watermarks as of start (one-pass mode). A cancelled
// ctx is a clean stop, not an error. The run is recorded in the
// warehouse's run history (see recordStart and recordEnd).
func (p *Pipeline) Run(ctx context.Context) (Summary, error) {
	run, err := p.recordStart(ctx)
	if err != nil {
		return p.summary(), err
	}
	if p.cfg.Once {
		err = p.runOnce(ctx)
	} else {
		err = p.runContinuous(ctx)
	}
	sum := p.summary()
	p.recordEnd(ctx, run, sum, err)
	return sum, err
}

func (p *Pipeline) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{
		kgo.WithLogger(kgoLogger{p.log}),
		kgo.FetchMaxBytes(p.cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(p.cfg.FetchMaxBytes),
		kgo.MetadataMinAge(min(p.cfg.MetadataRefresh, 5*time.Second)),
		kgo.MetadataMaxAge(p.cfg.MetadataRefresh),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, p.cfg.Kafka...)
	if p.cfg.FetchConcurrency > 0 {
		opts = append(opts, kgo.MaxConcurrentFetches(p.cfg.FetchConcurrency))
	}
	return append(opts, extra...)
}

// Ping checks that the brokers answer, waiting for them at most timeout
// and saying so, so that a wrong address or a cluster that is down fails
// with a clear error instead of retrying forever.
func Ping(ctx context.Context, opts []kgo.Opt, timeout time.Duration, log *slog.Logger) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	return ping(ctx, cl, timeout, log)
}

func ping(ctx context.Context, cl *kgo.Client, timeout time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = DefaultKafkaTimeout
	}
	deadline := time.Now().Add(timeout)
	lastWarn := time.Now()
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, min(time.Until(deadline), 10*time.Second))
		err := cl.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("cannot reach Kafka brokers %s for %s (kafka.unreachable_timeout): %w", seeds(cl), timeout, err)
		}
		if time.Since(lastWarn) >= 10*time.Second { // a brief outage is not worth a warning
			lastWarn = time.Now()
			log.Warn("waiting for Kafka brokers", "brokers", seeds(cl), "attempt", attempt, "gives_up_in", time.Until(deadline).Round(time.Second), "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Second, time.Until(deadline))):
		}
	}
}

// seeds names the client's bootstrap brokers.
func seeds(cl *kgo.Client) string {
	if v, ok := cl.OptValue(kgo.SeedBrokers).([]string); ok {
		return strings.Join(v, ",")
	}
	return "?"
}

// full reports whether the batch reached a size bound.
func (p *Pipeline) full(b *batch.Batch) bool {
	return b.Events >= p.cfg.MaxEvents || b.Bytes >= p.cfg.MaxBytes
}

// pollMax is how many records a poll may add to the batch: what is left of
// max_events, and of max_bytes at the size of the records seen so far, so
// that a batch closes near its byte bound rather than one whole buffered
// fetch past it. The records not taken stay in the client's buffer.
func (p *Pipeline) pollMax(b *batch.Batch) int {
	n := p.cfg.MaxEvents - b.Events
	if p.recordBytes > 0 && p.cfg.MaxBytes > 0 {
		n = min(n, max((p.cfg.MaxBytes-b.Bytes)/p.recordBytes, 1))
	}
	return max(n, 1)
}

// flush applies the batch, retrying transient warehouse errors, and moves
// the stored offsets on. It returns warehouse.ErrFenced (wrapped) when
// another consumer committed the batch's partitions meanwhile. A batch the
// warehouse rejects for a value (warehouse.IsRejected) is applied in
// parts, and the record at fault becomes a dead letter; any other error is
// returned, and stops the pipeline: it is never blamed on a record.
func (p *Pipeline) flush(ctx context.Context, b *batch.Batch) error {
	p.mu.Lock()
	recs := p.records[b]
	delete(p.records, b)
	p.mu.Unlock()
	err := p.apply(ctx, b)
	if err == nil || !isolable(ctx, err) || len(recs) == 0 {
		return err
	}
	// The warehouse refused a value the decoder let through. Nothing may
	// be stuck behind one record: apply the batch in halves, down to the
	// record at fault, which goes to the dead-letter table with the
	// warehouse's reason.
	p.log.Warn("the warehouse rejected a value; applying the batch in parts to isolate the record at fault", "events", b.Events, "err", err)
	return p.bisect(ctx, newAssembler(p.cfg.Decoder, 1), recs, err)
}

// isolable reports whether an apply error may be blamed on one record of
// the batch: only the warehouse refusing a value may.
func isolable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && warehouse.Classify(err) == warehouse.ClassRejected
}

// drop forgets a batch that will not be applied (its records follow a
// batch that was fenced or failed).
func (p *Pipeline) drop(b *batch.Batch) {
	p.mu.Lock()
	delete(p.records, b)
	p.mu.Unlock()
}

// bisect applies recs in halves; a single record the warehouse rejects on
// its own becomes a dead letter with the reason — and the dead letter's
// own commit, with the record's offset, shows the warehouse works without
// it. A part failing for any other reason stops the bisection with that
// error.
func (p *Pipeline) bisect(ctx context.Context, asm *assembler, recs []*kgo.Record, cause error) error {
	if len(recs) == 1 {
		r := recs[0]
		b := batch.New()
		b.Record(r.Topic, r.Partition, r.Offset, len(r.Key)+len(r.Value))
		key, value := asm.letterBytes(r)
		b.DeadLetters = append(b.DeadLetters, batch.DeadLetter{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Table: asm.tableName(r.Topic), Reason: "the warehouse rejected it: " + cause.Error(), Key: key, Value: value})
		return p.apply(ctx, b)
	}
	half := len(recs) / 2
	for _, part := range [][]*kgo.Record{recs[:half], recs[half:]} {
		b := batch.New()
		asm.add(b, part)
		err := p.apply(ctx, b)
		if err == nil {
			continue
		}
		if !isolable(ctx, err) {
			return err
		}
		if err := p.bisect(ctx, asm, part, err); err != nil {
			return err
		}
	}
	return nil
}

// apply applies one batch, retrying transient warehouse errors, and moves
// the stored offsets on.
func (p *Pipeline) apply(ctx context.Context, b *batch.Batch) error {
	if b.Empty() {
		return nil
	}
	p.mu.Lock()
	from := make(map[batch.TopicPartition]int64, len(b.Next))
	for tp := range b.Next {
		if off, ok := p.stored[tp]; ok {
			from[tp] = off
		}
	}
	p.mu.Unlock()

	start := time.Now()
	tables := tablesOf(b) // before Apply, which may reorder and filter them
	var st warehouse.Stats
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		p.whMu.Lock()
		st, err = p.wh.Apply(ctx, b, from)
		p.whMu.Unlock()
		if ctx.Err() == nil || err == nil {
			p.applied(err)
		}
		if err == nil {
			break
		}
		if ctx.Err() == nil {
			p.met.warehouseError(err)
		}
		if attempt > 1 && errors.Is(err, warehouse.ErrFenced) {
			// The connection may have dropped after COMMIT reached the
			// server: if the stored offsets are exactly this batch's, it
			// committed.
			if done, cerr := p.committed(ctx, b); cerr == nil && done {
				p.log.Info("the batch had committed before the connection was lost")
				break
			}
		}
		if !warehouse.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		p.log.Warn("warehouse error, retrying the batch", "attempt", attempt, "backoff", backoff, "err", err)
		p.met.retries.Inc()
		failpoint.Hit("retry")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}

	p.mu.Lock()
	for tp, n := range b.Next {
		p.stored[tp] = n
	}
	p.mu.Unlock()

	p.sumMu.Lock()
	p.sum.Events += int64(b.Events)
	p.sum.Batches++
	p.sum.Upserts += int64(st.Upserts)
	p.sum.Deletes += int64(st.Deletes)
	p.sum.Truncates += int64(st.Truncates)
	p.sum.DeadLetters += int64(st.DeadLetters)
	p.sum.Skipped += int64(b.Skipped)
	p.sum.Ignored += int64(st.Ignored)
	p.sumMu.Unlock()
	p.met.observe(b, tables, st, time.Since(start), p.met.now(), p.asm.tableName)
	if st.DeadLetters > 0 {
		p.log.Warn("events sent to the dead-letter table", "count", st.DeadLetters, "table", warehouse.DeadLettersTable)
	}
	p.log.Debug("batch applied", "events", b.Events, "upserts", st.Upserts, "deletes", st.Deletes,
		"truncates", st.Truncates, "dead_letters", st.DeadLetters, "took", time.Since(start))
	return nil
}

// storedOffsets reads the stored offsets of the topics of a batch.
func (p *Pipeline) storedOffsets(ctx context.Context, b *batch.Batch) (map[batch.TopicPartition]int64, error) {
	topics := map[string]bool{}
	for tp := range b.Next {
		topics[tp.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	p.whMu.Lock()
	defer p.whMu.Unlock()
	return p.wh.Offsets(ctx, names)
}

// committed reports whether the warehouse holds exactly the batch's next
// offsets for all its partitions.
func (p *Pipeline) committed(ctx context.Context, b *batch.Batch) (bool, error) {
	stored, err := p.storedOffsets(ctx, b)
	if err != nil {
		return false, err
	}
	for tp, n := range b.Next {
		if stored[tp] != n {
			return false, nil
		}
	}
	return true, nil
}

// fetchErrors logs fetch errors and returns the first fatal one.
func (p *Pipeline) fetchErrors(fs kgo.Fetches) error {
	var fatal error
	fs.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			fatal = err
			return
		}
		if errors.Is(err, kerr.OffsetOutOfRange) && fatal == nil {
			// The client never resets (NoResetOffset): records were
			// deleted under the reader, or the topic was recreated. A
			// restart's checkTopics tells which and names the flag.
			fatal = fmt.Errorf("%w: topic %s partition %d: the next offset to read is no longer in Kafka's log "+
				"(records deleted by retention before they were read, or the topic recreated); cdcsync stops rather than skip them. "+
				"Run it again to have the cause checked", ErrRecordsLost, topic, partition)
			return
		}
		p.log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
	})
	return fatal
}

// kgoLogger routes franz-go's logs to slog, one level down: the client
// logs every retried connection at warn, and cdcsync reports what matters
// (an unreachable cluster, failed fetches) itself.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	if level == kgo.LogLevelError {
		k.l.Warn("kafka: "+msg, kv...)
		return
	}
	k.l.Debug("kafka: "+msg, kv...)
}

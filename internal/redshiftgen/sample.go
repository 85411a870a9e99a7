package redshiftgen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/debezium"
)

// DefaultSample is how many records Sample reads from the end of each
// partition by default.
const DefaultSample = 50

// The reading ends when no record arrived for sampleIdle (sampleFirst
// before the first record, which waits for connections and metadata): a
// partition's last offset may be a transaction marker, which is never
// delivered.
const (
	sampleFirst = 15 * time.Second
	sampleIdle  = 2 * time.Second
)

type topicPartition struct {
	topic     string
	partition int32
}

// Sample reads the last perPartition records of every partition of the
// topics (kadm ListEndOffsets, then a direct consumer from there) and
// returns them per topic, in partition and offset order. Empty topics have
// no entry.
func Sample(ctx context.Context, opts []kgo.Opt, topics []string, perPartition int) (map[string][]debezium.Record, error) {
	if perPartition <= 0 {
		perPartition = DefaultSample
	}
	from, last, err := sampleRanges(ctx, opts, topics, perPartition)
	if err != nil || len(from) == 0 {
		return map[string][]debezium.Record{}, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(from), kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	out := map[string][]debezium.Record{}
	pending, wait := len(last), sampleFirst
	for pending > 0 {
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var fetchErr error
		fs.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && fetchErr == nil {
				fetchErr = fmt.Errorf("read %s/%d: %w", topic, partition, err)
			}
		})
		if fetchErr != nil {
			return nil, fetchErr
		}
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			got++
			tp := topicPartition{r.Topic, r.Partition}
			end, ok := last[tp]
			if !ok {
				return // done already; newer records are not sampled
			}
			if r.Offset <= end {
				out[r.Topic] = append(out[r.Topic], debezium.Record{
					Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
				})
			}
			if r.Offset >= end {
				delete(last, tp)
				pending--
			}
		})
		if got == 0 {
			break // idle: what is left is transaction markers or gone
		}
		wait = sampleIdle
	}
	for _, recs := range out {
		sort.Slice(recs, func(i, j int) bool {
			if recs[i].Partition != recs[j].Partition {
				return recs[i].Partition < recs[j].Partition
			}
			return recs[i].Offset < recs[j].Offset
		})
	}
	return out, nil
}

// sampleRanges returns where to start reading each non-empty partition and
// the offset of its last record.
func sampleRanges(ctx context.Context, opts []kgo.Opt, topics []string, n int) (map[string]map[int32]kgo.Offset, map[topicPartition]int64, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	last := map[topicPartition]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			start = s.Offset
		}
		begin := max(start, e.Offset-int64(n))
		if begin >= e.Offset {
			return
		}
		if from[e.Topic] == nil {
			from[e.Topic] = map[int32]kgo.Offset{}
		}
		from[e.Topic][e.Partition] = kgo.NewOffset().At(begin)
		last[topicPartition{e.Topic, e.Partition}] = e.Offset - 1
	})
	return from, last, nil
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcsync/cdcsync/internal/batch"
)

// ErrTopicRecreated reports stored offsets that belong to an earlier topic
// of the same name: the topic was deleted and recreated since.
var ErrTopicRecreated = errors.New("topic recreated")

// ErrRecordsLost reports records Kafka deleted (retention, or records
// deleted by an operator) before cdcsync read them: their changes are
// missing from the target, and cdcsync stops rather than skip them.
var ErrRecordsLost = errors.New("records deleted from Kafka before cdcsync read them")

// checkTopics verifies that the stored offsets of topics belong to the
// topics as they are now: the topic ID stored with them is the topic's, no
// stored offset lies beyond the end of its partition's log, and none before
// its start (records deleted unread). Offsets of such topics are forgotten
// (in the warehouse too) for the topics in Config.ResetTopics, which then
// restart from what Kafka holds; for any other topic checkTopics fails with
// an error naming it and the flag that resumes it. On success the warehouse stores the current topic IDs with later
// offsets. stored is updated in place. The caller holds whMu.
func (p *Pipeline) checkTopics(ctx context.Context, details kadm.TopicDetails, starts, ends kadm.ListedOffsets,
	topics []string, stored map[batch.TopicPartition]int64) error {
	ids, err := p.wh.TopicIDs(ctx, topics)
	if err != nil {
		return err
	}
	why := map[string]string{}
	for _, topic := range topics {
		d, ok := details[topic]
		if !ok {
			continue
		}
		if sid := ids[topic]; sid != "" && d.ID != (kadm.TopicID{}) && sid != d.ID.String() {
			why[topic] = fmt.Sprintf("its topic ID is %s, the stored offsets are of %s", d.ID, sid)
			continue
		}
	}
	for tp, off := range stored {
		if _, ok := why[tp.Topic]; ok || !slices.Contains(topics, tp.Topic) {
			continue
		}
		end, ok := ends.Lookup(tp.Topic, tp.Partition)
		switch {
		case !ok:
			why[tp.Topic] = fmt.Sprintf("partition %d has a stored offset but no longer exists", tp.Partition)
		case end.Err == nil && off > end.Offset:
			why[tp.Topic] = fmt.Sprintf("the stored offset %d of partition %d is beyond the end of its log (%d)", off, tp.Partition, end.Offset)
		}
	}
	// Records deleted before they were read: the stored offset is below
	// the log's start.
	lost := map[string]string{}
	for tp, off := range stored {
		if _, ok := why[tp.Topic]; ok || !slices.Contains(topics, tp.Topic) {
			continue
		}
		if start, ok := starts.Lookup(tp.Topic, tp.Partition); ok && start.Err == nil && off < start.Offset {
			lost[tp.Topic] = fmt.Sprintf("partition %d: the next offset to read is %d, the log now starts at %d", tp.Partition, off, start.Offset)
		}
	}
	var stuck, stuckLost []string
	for topic, reason := range lost {
		if !slices.Contains(p.cfg.ResetTopics, topic) {
			stuckLost = append(stuckLost, topic)
			continue
		}
		p.log.Warn("records were deleted from Kafka before cdcsync read them: reading what Kafka holds of the topic from its start, "+
			"as --reset-topic asks; the target misses the deleted records' changes", "topic", topic, "reason", reason)
		why[topic] = reason
	}
	if len(stuckLost) > 0 {
		sort.Strings(stuckLost)
		return fmt.Errorf("%w: %s (%s). Their changes are missing from the target; cdcsync stops rather than skip them. "+
			"Re-snapshot the affected tables from the source (e.g. a Debezium incremental snapshot), "+
			"then run with %s to read what Kafka holds from its start",
			ErrRecordsLost, strings.Join(stuckLost, ", "), lost[stuckLost[0]], resetFlags(stuckLost))
	}
	for topic, reason := range why {
		if !slices.Contains(p.cfg.ResetTopics, topic) {
			stuck = append(stuck, topic)
			continue
		}
		p.log.Warn("topic was recreated: reading it again from the beginning, as --reset-topic asks", "topic", topic, "reason", reason)
		if err := p.wh.ResetTopic(ctx, topic); err != nil {
			return err
		}
		for tp := range stored {
			if tp.Topic == topic {
				delete(stored, tp)
			}
		}
	}
	if len(stuck) > 0 {
		sort.Strings(stuck)
		return fmt.Errorf("%w: %s was deleted and recreated since its offsets were stored (%s); "+
			"nothing of it was read. To read it again from the beginning, run with %s",
			ErrTopicRecreated, strings.Join(stuck, ", "), why[stuck[0]], resetFlags(stuck))
	}
	cur := make(map[string]string, len(topics))
	for _, topic := range topics {
		if d, ok := details[topic]; ok && d.ID != (kadm.TopicID{}) {
			cur[topic] = d.ID.String()
		}
	}
	p.wh.SetTopicIDs(cur)
	return nil
}

// resetFlags is the --reset-topic flags that resume topics.
func resetFlags(topics []string) string {
	flags := make([]string, len(topics))
	for i, t := range topics {
		flags[i] = "--reset-topic " + t
	}
	return strings.Join(flags, " ")
}

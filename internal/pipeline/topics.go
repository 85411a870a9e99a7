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

// checkTopics verifies that the stored offsets of topics belong to the
// topics as they are now: the topic ID stored with them is the topic's, and
// no stored offset lies beyond the end of its partition's log. Offsets of an
// earlier topic are forgotten (in the warehouse too) for the topics in
// Config.ResetTopics, which then restart from the beginning; for any other
// topic checkTopics fails with an error naming it and the flag that resumes
// it. On success the warehouse stores the current topic IDs with later
// offsets. stored is updated in place. The caller holds whMu.
func (p *Pipeline) checkTopics(ctx context.Context, details kadm.TopicDetails, ends kadm.ListedOffsets,
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
	var stuck []string
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
		flags := make([]string, len(stuck))
		for i, t := range stuck {
			flags[i] = "--reset-topic " + t
		}
		return fmt.Errorf("%w: %s was deleted and recreated since its offsets were stored (%s); "+
			"nothing of it was read. To read it again from the beginning, run with %s",
			ErrTopicRecreated, strings.Join(stuck, ", "), why[stuck[0]], strings.Join(flags, " "))
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

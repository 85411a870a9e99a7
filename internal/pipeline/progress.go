package pipeline

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/progress"
)

// Progress of long work (see package progress): a one-pass drain counts
// the offsets it read of those it has to read; a continuous run, from its
// first fetches until it has once reached the partitions' ends, counts the
// records it read and those still behind. Steady state is reported by
// loop.reportProgress.

// drainProgress follows a one-pass drain. Offsets, not records, are
// counted: the records of aborted transactions are never seen, but their
// offsets are passed.
type drainProgress struct {
	r           *progress.Reporter
	pos         map[batch.TopicPartition]int64
	done, total int64
}

// drainProgress starts following a drain of the assigned partitions to
// their ends.
func (p *Pipeline) drainProgress(assign map[string]map[int32]kgo.Offset, ends map[batch.TopicPartition]int64) *drainProgress {
	d := &drainProgress{pos: map[batch.TopicPartition]int64{}}
	for topic, parts := range assign {
		for part, off := range parts {
			tp := batch.TopicPartition{Topic: topic, Partition: part}
			from := off.EpochOffset().Offset
			d.pos[tp] = from
			d.total += ends[tp] - from
		}
	}
	d.r = p.cfg.Progress.Start("draining", "records", progress.OfTotal)
	d.r.Update(0, d.total)
	return d
}

// read counts records read (each below its partition's end).
func (d *drainProgress) read(recs []*kgo.Record) {
	for _, r := range recs {
		tp := batch.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if pos, ok := d.pos[tp]; ok && r.Offset+1 > pos {
			d.done += r.Offset + 1 - pos
			d.pos[tp] = r.Offset + 1
		}
	}
	d.r.Update(d.done, d.total)
}

func (d *drainProgress) end() { d.r.End() }

// catchUp follows a continuous run until it has once reached the end of
// every partition it owns. A fetch tells the lag of the partitions it
// returns records for (to the last stable offset, which read_committed
// consumers can reach, else the high watermark); the partitions the group
// assigned that no fetch returned yet are estimated from the group's
// assignment, the warehouse's stored offsets and the brokers' offsets
// (assigned): at the first fetch, whenever the fetched ones are all at
// their end, and every catchUpRecheck.
type catchUp struct {
	p       *Pipeline
	cl      *kgo.Client // the group member
	r       *progress.Reporter
	lag     map[batch.TopicPartition]int64
	fetched map[batch.TopicPartition]bool
	done    int64
	started time.Time
	checked time.Time
	over    bool
}

// catchUpRecheck is how often a catch-up looks at the group's assignment
// again (partitions revoked or added).
const catchUpRecheck = 30 * time.Second

func (p *Pipeline) catchUp(cl *kgo.Client) *catchUp {
	return &catchUp{p: p, cl: cl, lag: map[batch.TopicPartition]int64{}, fetched: map[batch.TopicPartition]bool{}}
}

// observe counts a poll's records and the lag its partitions report.
func (c *catchUp) observe(ctx context.Context, fs kgo.Fetches) {
	if c.over {
		return
	}
	n := 0
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Err != nil || len(fp.Records) == 0 {
			return
		}
		end := fp.HighWatermark
		if fp.LastStableOffset >= 0 && fp.LastStableOffset < end {
			end = fp.LastStableOffset
		}
		tp := batch.TopicPartition{Topic: fp.Topic, Partition: fp.Partition}
		next := fp.Records[len(fp.Records)-1].Offset + 1
		c.lag[tp], c.fetched[tp] = max(end-next, 0), true
		n += len(fp.Records)
	})
	if n == 0 {
		return
	}
	c.done += int64(n)
	if c.checked.IsZero() || c.behind() == 0 || time.Since(c.checked) >= catchUpRecheck {
		c.assigned(ctx)
	}
	behind := c.behind()
	if c.r == nil {
		if behind == 0 {
			c.over = true // nothing to catch up on: steady state from the start
			return
		}
		c.r = c.p.cfg.Progress.Start("catching up", "records", progress.Behind)
		c.started = time.Now()
	}
	c.r.Update(c.done, c.done+behind)
	if behind == 0 {
		c.over = true
		c.r.End()
		c.p.log.Info("caught up: every partition owned is at its end", "records", c.done,
			"took", time.Since(c.started).Round(time.Millisecond))
	}
}

func (c *catchUp) behind() int64 {
	var n int64
	for _, l := range c.lag {
		n += l
	}
	return n
}

// assigned brings the partitions to those the group assigned to this
// member, estimating the lag of those not fetched yet from where
// consumption starts (the stored offset, else the log start). Progress is
// best effort: when the brokers do not answer, the fetched partitions are
// all there is.
func (c *catchUp) assigned(ctx context.Context) {
	c.checked = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.estimate(ctx); err != nil {
		c.p.log.Debug("catch-up progress: cannot read the group's assignment", "err", err)
	}
}

func (c *catchUp) estimate(ctx context.Context) error {
	member, _ := c.cl.GroupMetadata()
	if member == "" || c.p.adm == nil {
		return nil
	}
	groups, err := c.p.adm.DescribeGroups(ctx, c.p.cfg.Group)
	if err != nil {
		return err
	}
	owned := map[batch.TopicPartition]bool{}
	var topics []string
	for _, g := range groups {
		for _, m := range g.Members {
			a, ok := m.Assigned.AsConsumer()
			if m.MemberID != member || !ok {
				continue
			}
			for _, t := range a.Topics {
				topics = append(topics, t.Topic)
				for _, part := range t.Partitions {
					owned[batch.TopicPartition{Topic: t.Topic, Partition: part}] = true
				}
			}
		}
	}
	if len(owned) == 0 {
		return nil // not assigned yet, or between generations: keep what we know
	}
	ends, err := c.p.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	starts, err := c.p.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	for tp := range c.lag {
		if !owned[tp] {
			delete(c.lag, tp)
			delete(c.fetched, tp)
		}
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	for tp := range owned {
		if c.fetched[tp] {
			continue
		}
		e, ok := ends.Lookup(tp.Topic, tp.Partition)
		if !ok || e.Err != nil {
			continue
		}
		from := int64(0)
		if s, ok := starts.Lookup(tp.Topic, tp.Partition); ok && s.Err == nil {
			from = s.Offset
		}
		if stored, ok := c.p.stored[tp]; ok {
			from = max(from, stored)
		}
		c.lag[tp] = max(e.Offset-from, 0)
	}
	return nil
}

// end stops reporting (the run stops before catching up).
func (c *catchUp) end() {
	if c.r != nil {
		c.r.End()
	}
}

// Package kafkatest runs an in-process Kafka cluster (franz-go's kfake)
// for tests and the demo, and produces workload events into it.
package kafkatest

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/workload"
)

// Cluster is an in-process Kafka cluster listening on loopback.
type Cluster struct {
	*kfake.Cluster
}

// Start starts a one-broker cluster with the topics created with the given
// number of partitions. Close it when done.
func Start(partitions int32, topics ...string) (*Cluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		return nil, fmt.Errorf("start in-process Kafka: %w", err)
	}
	return &Cluster{c}, nil
}

// Addr returns the bootstrap address.
func (c *Cluster) Addr() string { return c.ListenAddrs()[0] }

// Produce writes the events in order, each to its partition, and waits
// until all are acknowledged.
func Produce(ctx context.Context, addr string, events []workload.Event) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<16), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // as Kafka Connect produces by default
	if err != nil {
		return err
	}
	defer cl.Close()
	var firstErr error
	done := func(_ *kgo.Record, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, e := range events {
		r := &kgo.Record{Topic: e.Topic, Partition: e.Partition, Key: e.Key, Value: e.Value}
		for k, v := range e.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		cl.Produce(ctx, r, done)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return firstErr
}

// Recreate deletes a topic and creates it again, empty, with the given
// number of partitions: a new topic (a new topic ID) under the old name.
func Recreate(ctx context.Context, addr, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.DeleteTopic(ctx, topic); err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// DeleteUnread deletes every record of topic up to its partitions' current
// ends, as retention does to records a lagging consumer has not read yet.
func DeleteUnread(ctx context.Context, addr, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	resp, err := adm.DeleteRecords(ctx, ends.Offsets())
	if err != nil {
		return fmt.Errorf("delete records of %s: %w", topic, err)
	}
	return resp.Error()
}

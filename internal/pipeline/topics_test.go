package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

func peopleConfig(t testing.TB, addr string, once bool) pipeline.Config {
	cfg := testConfig(addr, `db\.app\.people`)
	cfg.Batch.MaxEvents = 1000
	cfg.Kafka.UnreachableTimeout = config.Duration(10 * time.Second)
	return fromConfig(t, cfg, once)
}

// runUntilStopped runs the pipeline, which must stop by itself within a
// minute, and returns its error.
func runUntilStopped(t *testing.T, cfg pipeline.Config, wh warehouse.Warehouse) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the pipeline (once=%v) did not stop by itself", cfg.Once)
	}
	return err
}

// recreate deletes topic and creates it again with two partitions.
func recreate(t *testing.T, addr, topic string) {
	t.Helper()
	if err := kafkatest.Recreate(context.Background(), addr, topic, 2); err != nil {
		t.Fatal(err)
	}
}

// TestTopics_RecreatedTopicStops: a topic deleted and recreated with more
// records than were read from the old one. The stored offsets belong to the
// old topic: resuming there would skip the new topic's first records. Both
// modes stop with an error naming the topic and --reset-topic; with it, the
// topic is read again from the beginning and nothing is skipped.
func TestTopics_RecreatedTopicStops(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	ctx := context.Background()
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	if _, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx); err != nil {
		t.Fatal(err)
	}

	recreate(t, c.Addr(), topic)
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 101, 40)); err != nil {
		t.Fatal(err)
	}
	wantErr := func(mode string, err error) {
		t.Helper()
		if !errors.Is(err, pipeline.ErrTopicRecreated) || !strings.Contains(err.Error(), topic) ||
			!strings.Contains(err.Error(), "--reset-topic "+topic) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: got %v, want a one-line error naming %s and --reset-topic", mode, err, topic)
		}
	}
	sum, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx)
	wantErr("once", err)
	if sum.Events != 0 {
		t.Fatalf("once read %d events of the recreated topic before stopping", sum.Events)
	}

	wantErr("continuous", runUntilStopped(t, peopleConfig(t, c.Addr(), false), wh))

	cfg := peopleConfig(t, c.Addr(), true)
	cfg.ResetTopics = []string{topic}
	sum, err = pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 40 {
		t.Fatalf("after --reset-topic read %d events, want all 40 of the new topic", sum.Events)
	}
	var rows int
	if err := wh.DB.QueryRow(`SELECT count(*) FROM people WHERE id > 100`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 40 {
		t.Fatalf("%d rows of the new topic, want 40", rows)
	}
	// The reset is a no-op once the offsets are the new topic's.
	if sum, err = pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx); err != nil || sum.Events != 0 {
		t.Fatalf("a second run with --reset-topic: %d events, %v; want 0, nil", sum.Events, err)
	}
}

// TestTopics_OffsetsBeyondLogEnd: offsets stored without a topic ID (by an
// older version) and beyond the end of the recreated topic's log are a
// recreated topic too.
func TestTopics_OffsetsBeyondLogEnd(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	ctx := context.Background()
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	if _, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.DB.Exec(`UPDATE _cdc_offsets SET topic_id = NULL`); err != nil {
		t.Fatal(err)
	}
	recreate(t, c.Addr(), topic)
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 101, 4)); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx)
	if !errors.Is(err, pipeline.ErrTopicRecreated) || !strings.Contains(err.Error(), "beyond the end") {
		t.Fatalf("got %v, want an error on offsets beyond the log end", err)
	}
}

// TestOnce_BrokerDownGivesUp: the brokers stop serving records while --once
// reads. It gives up after kafka.unreachable_timeout with an error that says
// so, instead of waiting forever.
func TestOnce_BrokerDownGivesUp(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	ctx := context.Background()
	// Every fetch closes the connection, as a broker going down does.
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("broker down"), true
	})
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	cfg := peopleConfig(t, c.Addr(), true)
	cfg.KafkaTimeout = 3 * time.Second
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(cctx)
	if cctx.Err() != nil {
		t.Fatal("--once kept waiting for the brokers")
	}
	if err == nil || !strings.Contains(err.Error(), "kafka.unreachable_timeout") {
		t.Fatalf("got %v, want an error naming kafka.unreachable_timeout", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("gave up after %s, want about 3s", took)
	}
}

// TestTopics_RecordsDeletedUnreadStop: Kafka deleted records (retention)
// that cdcsync had not read yet. Both modes stop with one line naming the
// topic, the loss and --reset-topic, instead of resuming at the log's
// start as if nothing were missing; with the flag they go on from what
// Kafka holds.
func TestTopics_RecordsDeletedUnreadStop(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	ctx := context.Background()
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	if _, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 101, 10)); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.DeleteUnread(ctx, c.Addr(), topic); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.Produce(ctx, c.Addr(), workload.People(topic, 201, 5)); err != nil {
		t.Fatal(err)
	}
	wantErr := func(mode string, err error) {
		t.Helper()
		if !errors.Is(err, pipeline.ErrRecordsLost) || !strings.Contains(err.Error(), "--reset-topic "+topic) ||
			!strings.Contains(err.Error(), "the log now starts at") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: got %v, want a one-line error naming the deleted records and --reset-topic %s", mode, err, topic)
		}
	}
	sum, err := pipeline.New(peopleConfig(t, c.Addr(), true), wh, testLogger(t), nil).Run(ctx)
	wantErr("once", err)
	if sum.Events != 0 {
		t.Fatalf("once read %d events past the deleted ones before stopping", sum.Events)
	}
	wantErr("continuous", runUntilStopped(t, peopleConfig(t, c.Addr(), false), wh))

	cfg := peopleConfig(t, c.Addr(), true)
	cfg.ResetTopics = []string{topic}
	if sum, err = pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx); err != nil || sum.Events != 5 {
		t.Fatalf("with --reset-topic: %d events, %v; want the 5 Kafka still holds", sum.Events, err)
	}
	var kept, lost, after int
	if err := wh.DB.QueryRow(`SELECT count(*) FILTER (id <= 20), count(*) FILTER (id BETWEEN 101 AND 110), count(*) FILTER (id > 200) FROM people`).Scan(&kept, &lost, &after); err != nil {
		t.Fatal(err)
	}
	if kept != 20 || lost != 0 || after != 5 {
		t.Fatalf("rows read before %d, deleted unread %d, after %d; want 20, 0, 5", kept, lost, after)
	}
}

// TestTopics_OffsetOutOfRangeWhileReadingStops: the broker answers a fetch
// with OFFSET_OUT_OF_RANGE (records deleted under a lagging reader). The
// Kafka client would reset to the log's start and skip them silently; both
// modes stop with ErrRecordsLost instead.
func TestTopics_OffsetOutOfRangeWhileReadingStops(t *testing.T) {
	const topic = "db.app.people"
	c := startKafka(t, workload.People(topic, 1, 20), topic)
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.SetVersion(req.Version)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.OffsetOutOfRange.Code
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	for _, once := range []bool{true, false} {
		if err := runUntilStopped(t, peopleConfig(t, c.Addr(), once), wh); !errors.Is(err, pipeline.ErrRecordsLost) || !strings.Contains(err.Error(), topic) {
			t.Fatalf("once=%v: got %v, want ErrRecordsLost naming %s", once, err, topic)
		}
	}
}

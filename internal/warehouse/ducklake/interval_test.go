package ducklake_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestDuckLake_IntervalsKeepSignAndLength: intervals land in Parquet files
// as BIGINT microseconds, exactly — Parquet's INTERVAL would refuse a
// negative one (failing the batch) and wrap one of more than 49 days.
func TestDuckLake_IntervalsKeepSignAndLength(t *testing.T) {
	dsn := fileDSN(t, t.TempDir(), url.Values{"data_inlining_row_limit": {"0"}})
	wh, ins := open(t, dsn, warehouse.Options{Group: "g"})
	defer wh.Close()
	const topic = "v.db.spans"
	want := map[int]string{
		1: "-79200000000",  // PostgreSQL's -1 day +02:00 as MicroDuration
		2: "5432403000000", // 2 months 2 days 3 s: 62.875 days and 3 s
		3: "1",             // one microsecond
		4: "2629800000000", // P1M: a month of 30.4375 days
	}
	values := map[int]string{1: "-79200000000", 2: "5432403000000", 3: "1", 4: `"P1M"`}
	var events []workload.Event
	for id := 1; id <= len(values); id++ {
		events = append(events, workload.Event{Topic: topic, Key: []byte(fmt.Sprintf(`{"id":%d}`, id)),
			Value: []byte(fmt.Sprintf(`{"op":"c","after":{"id":%d,"d":%s},"source":{}}`, id, values[id]))})
	}
	c, err := kafkatest.Start(1, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := kafkatest.Produce(context.Background(), c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	declared := map[string]change.Type{"id": change.Int64, "d": change.Interval}
	cfg := pipeline.Config{
		Topics: regexp.MustCompile("^" + regexp.QuoteMeta(topic) + "$"), Group: "g", Once: true,
		MaxEvents: 1000, MaxBytes: 8 << 20, Interval: 50 * time.Millisecond,
		Decoder: debezium.Options{Table: func(topic string) debezium.TableOptions {
			return debezium.TableOptions{Name: debezium.TableName(topic), Columns: declared}
		}},
		Kafka: []kgo.Opt{kgo.SeedBrokers(c.Addr())}, MetadataRefresh: time.Second, FetchMaxBytes: 4 << 20,
	}
	sum, err := pipeline.New(cfg, wh, nil, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", sum.DeadLetters)
	}
	rows, err := ins.DB.Query(`SELECT id, CAST(d AS VARCHAR), typeof(d) FROM spans ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]string{}
	for rows.Next() {
		var id int
		var d, typ string
		if err := rows.Scan(&id, &d, &typ); err != nil {
			t.Fatal(err)
		}
		if typ != "BIGINT" {
			t.Errorf("id %d: column type %s, want BIGINT", id, typ)
		}
		got[id] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("intervals read back %v, want %v", got, want)
	}
}

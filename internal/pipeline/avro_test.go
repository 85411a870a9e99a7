package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// avroWorkload is a workload with schemas whose events from index from on
// are written as Connect's Avro converter writes them (keys, values and
// the primary-key-change headers), with their schemas in fake, a registry
// served by the test: the topics move from JSON to Avro mid-stream. Two
// Avro records no decoder accepts are added — one with a schema id the
// registry does not know, one whose bytes do not decode — and counted as
// poisoned.
func avroWorkload(t *testing.T, fake *srfake.Registry, seed int64, from int) *workload.Workload {
	t.Helper()
	w := workload.New(workload.Options{Seed: seed, Partitions: 2, Schemas: true, SnapshotRows: 30, Ops: 1500,
		Truncates: true, PKChanges: true, Poison: true, Tombstones: true, SchemaChanges: true})
	conv := func(topic, part string, b []byte) []byte {
		if b == nil {
			return nil
		}
		out, err := avrotest.FromJSON(fake, topic+"-"+part, b)
		if err != nil {
			return b // poison and other JSON-only records stay JSON
		}
		return out
	}
	avro := 0
	for i := from; i < len(w.Events); i++ {
		e := &w.Events[i]
		k, v := conv(e.Topic, "key", e.Key), conv(e.Topic, "value", e.Value)
		if v != nil && v[0] == 0 {
			avro++
		}
		e.Key, e.Value = k, v
		for h, hv := range e.Headers {
			if h == "__debezium.oldkey" || h == "__debezium.newkey" {
				e.Headers[h] = string(conv(e.Topic, "key", []byte(hv)))
			}
		}
	}
	if avro < 100 {
		t.Fatalf("only %d events written as Avro", avro)
	}
	// Dead letters: an unknown schema id, and bytes that end early.
	last := w.Events[len(w.Events)-1]
	for _, e := range w.Events {
		if e.Value != nil && e.Value[0] == 0 && e.Key != nil {
			last = e
		}
	}
	w.Events = append(w.Events,
		workload.Event{Topic: last.Topic, Partition: last.Partition, Key: last.Key, Value: avrotest.Wire(999999, last.Value[5:])},
		workload.Event{Topic: last.Topic, Partition: last.Partition, Key: last.Key, Value: last.Value[:len(last.Value)-1]})
	w.Poisoned += 2
	return w
}

func avroConfig(t *testing.T, w *workload.Workload, addr, registry string) pipeline.Config {
	cfg := testConfig(addr, w.TopicRegex())
	cfg.SchemaRegistry.URL = registry
	cfg.Kafka.UnreachableTimeout = config.Duration(2 * time.Second)
	return fromConfig(t, cfg, true)
}

// TestAvroOnceConvergesToSourceState: the workload (snapshot, updates,
// deletes, key changes, truncates, tombstones, a column added, widened
// and dropped: new registry versions) converges in DuckDB when its topics
// move from JSON to Avro mid-stream, and exactly the poisoned records are
// dead letters.
func TestAvroOnceConvergesToSourceState(t *testing.T) {
	for _, seed := range seeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			fake := srfake.New()
			defer fake.Close()
			w := avroWorkload(t, fake, seed, 200)
			c := startWorkload(t, w)
			wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
			defer wh.Close()
			sum, err := pipeline.New(avroConfig(t, w, c.Addr(), fake.URL()), wh, testLogger(t), nil).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Events != int64(len(w.Events)) {
				t.Errorf("consumed %d events, produced %d", sum.Events, len(w.Events))
			}
			assertConverged(t, wh, w)
			if got := countDeadLetters(t, wh); got != w.Poisoned {
				t.Errorf("dead letters: got %d, want %d", got, w.Poisoned)
			}
			var reasons string
			if err := wh.DB.QueryRow(`SELECT string_agg(reason, ' | ') FROM _cdc_dead_letters`).Scan(&reasons); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(reasons, "schema id 999999 is unknown to the schema registry") || !strings.Contains(reasons, "do not decode as Avro") {
				t.Errorf("dead-letter reasons: %s", reasons)
			}
		})
	}
}

// TestAvroRegistryOutageIsRetried: while the registry fails, the records
// wait and the requests are retried; once it answers, everything lands and
// nothing became a dead letter but the poisoned records.
func TestAvroRegistryOutageIsRetried(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	w := avroWorkload(t, fake, 11, 0)
	c := startWorkload(t, w)
	var failures atomic.Int32
	fake.Intercept(func(rw http.ResponseWriter, _ *http.Request) bool {
		if failures.Add(1) > 3 {
			return false
		}
		rw.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	if _, err := pipeline.New(avroConfig(t, w, c.Addr(), fake.URL()), wh, testLogger(t), nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if failures.Load() <= 3 {
		t.Fatalf("the registry was asked %d times; the outage was not retried", failures.Load())
	}
	assertConverged(t, wh, w)
	if got := countDeadLetters(t, wh); got != w.Poisoned {
		t.Errorf("dead letters: got %d, want %d", got, w.Poisoned)
	}
}

// TestAvroRegistryDownStopsOnce: a registry that stays down stops a
// one-pass run with an error that says so, and no record is a dead
// letter.
func TestAvroRegistryDownStopsOnce(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	w := avroWorkload(t, fake, 13, 0)
	c := startWorkload(t, w)
	fake.Intercept(func(rw http.ResponseWriter, _ *http.Request) bool {
		rw.WriteHeader(http.StatusBadGateway)
		return true
	})
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	defer wh.Close()
	_, err := pipeline.New(avroConfig(t, w, c.Addr(), fake.URL()), wh, testLogger(t), nil).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "schema registry unavailable") {
		t.Fatalf("err = %v, want the registry's outage", err)
	}
	var n int
	if err := wh.DB.QueryRow(`SELECT count(*) FROM _cdc_dead_letters`).Scan(&n); err == nil && n != 0 {
		t.Fatalf("%d dead letters while the registry was down", n)
	}
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connectorConfig is the part of a Debezium connector's config every test
// shares: JSON converters with or without schemas, truncates emitted.
func connectorConfig(schemas bool) map[string]string {
	s := fmt.Sprint(schemas)
	return map[string]string{
		"tasks.max":                      "1",
		"skipped.operations":             "none",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   s,
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": s,
	}
}

// with returns cfg with the source connector's settings added.
func with(cfg, source map[string]string) map[string]string {
	for k, v := range source {
		cfg[k] = v
	}
	return cfg
}

// postgresSource is a Debezium PostgreSQL connector's source settings
// (pgoutput) for one schema of the test server.
func postgresSource(prefix, schema, slot, pub string) map[string]string {
	return map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname":           env("PG_HOST"),
		"database.port":               env("PG_PORT"),
		"database.user":               env("PG_USER"),
		"database.password":           env("PG_PASSWORD"),
		"database.dbname":             env("PG_DB"),
		"topic.prefix":                prefix,
		"plugin.name":                 "pgoutput",
		"slot.name":                   slot,
		"publication.name":            pub,
		"publication.autocreate.mode": "filtered",
		"schema.include.list":         schema,
	}
}

// mariadbSource is a Debezium MariaDB connector's source settings for one
// database of the test server; each binlog client needs its own server id.
func mariadbSource(prefix, db string, serverID int) map[string]string {
	return map[string]string{
		"connector.class":       "io.debezium.connector.mariadb.MariaDbConnector",
		"database.hostname":     env("MARIADB_HOST"),
		"database.port":         env("MARIADB_PORT"),
		"database.user":         env("MARIADB_CDC_USER"),
		"database.password":     env("MARIADB_CDC_PASSWORD"),
		"database.server.id":    fmt.Sprint(serverID),
		"topic.prefix":          prefix,
		"database.include.list": db,
		"schema.history.internal.kafka.bootstrap.servers":           env("KAFKA"),
		"schema.history.internal.kafka.topic":                       prefix + ".schema-history",
		"schema.history.internal.store.only.captured.databases.ddl": "true",
	}
}

// connect calls Kafka Connect's REST API.
func connect(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, env("CONNECT")+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// startConnector registers a connector, waits until it and its task run,
// and deletes it when the test ends.
func startConnector(t *testing.T, name string, config map[string]string) {
	t.Helper()
	ctx := deadline(t, 2*time.Minute)
	for {
		code, body, err := connect(ctx, http.MethodPost, "/connectors", map[string]any{"name": name, "config": config})
		if err == nil && code == http.StatusCreated {
			break
		}
		// 409: the worker is rebalancing; anything else is a real error.
		if err == nil && code != http.StatusConflict {
			t.Fatalf("register connector %s: %d %s", name, code, body)
		}
		if ctx.Err() != nil {
			t.Fatalf("register connector %s: %v %d %s", name, err, code, body)
		}
		pause(ctx, 200*time.Millisecond)
	}
	t.Cleanup(func() { deleteConnector(t, name) })
	for {
		code, body, err := connect(ctx, http.MethodGet, "/connectors/"+name+"/status", nil)
		if err == nil && code == http.StatusOK {
			var st struct {
				Connector struct{ State, Trace string }
				Tasks     []struct{ State, Trace string }
			}
			if json.Unmarshal(body, &st) == nil {
				if st.Connector.State == "FAILED" {
					t.Fatalf("connector %s failed: %s", name, st.Connector.Trace)
				}
				for _, task := range st.Tasks {
					if task.State == "FAILED" {
						t.Fatalf("connector %s: task failed: %s", name, firstLines(task.Trace, 8))
					}
				}
				if st.Connector.State == "RUNNING" && len(st.Tasks) > 0 && st.Tasks[0].State == "RUNNING" {
					return
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("connector %s not running: %v %d %s", name, err, code, body)
		}
		pause(ctx, 200*time.Millisecond)
	}
}

func deleteConnector(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		code, body, err := connect(ctx, http.MethodDelete, "/connectors/"+name, nil)
		if err == nil && (code == http.StatusNoContent || code == http.StatusNotFound) {
			return
		}
		if ctx.Err() != nil {
			t.Errorf("delete connector %s: %v %d %s", name, err, code, body)
			return
		}
		pause(ctx, 200*time.Millisecond)
	}
}

// pause waits d or until ctx ends: the interval between two polls of a
// condition (never a synchronization by itself).
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func kafkaClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(env("KAFKA"))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitForRecords waits until each topic holds at least its count of
// records (e.g. a snapshot's rows).
func waitForRecords(t *testing.T, counts map[string]int64) {
	t.Helper()
	ctx := deadline(t, 2*time.Minute)
	cl := kafkaClient(t)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := make([]string, 0, len(counts))
	for topic := range counts {
		topics = append(topics, topic)
	}
	var have map[string]int64
	for {
		have = map[string]int64{}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					have[o.Topic] += o.Offset
				}
			})
			done := true
			for topic, n := range counts {
				if have[topic] < n {
					done = false
				}
			}
			if done {
				return
			}
		} else if ctx.Err() == nil {
			t.Logf("list end offsets: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("topics never reached their record counts: want %v, have %v (last error %v)", counts, have, err)
		}
		pause(ctx, 250*time.Millisecond)
	}
}

// waitForMarkers waits until each topic holds every marker row (see
// isMarker), and every partition at least one. Debezium writes a
// partition's records in commit order, so once a partition's markers —
// committed last — are in, every earlier change of that partition is.
func waitForMarkers(t *testing.T, topics []string) {
	t.Helper()
	ctx := deadline(t, 2*time.Minute)
	cl := kafkaClient(t, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	meta, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]bool{} // "topic/partition" and "topic#key" still to see
	for _, topic := range topics {
		td, ok := meta[topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			t.Fatalf("topic %s: %v", topic, td.Err)
		}
		for p := range td.Partitions {
			missing[fmt.Sprintf("%s/%d", topic, p)] = true
		}
		for k := markerMin; k <= markerMax; k++ {
			missing[fmt.Sprintf("%s#%d", topic, k)] = true
		}
	}
	for len(missing) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("the marker rows never all reached Kafka; missing %v", firstKeys(missing, 10))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if k, ok := markerKey(r.Key); ok {
				delete(missing, fmt.Sprintf("%s/%d", r.Topic, r.Partition))
				delete(missing, fmt.Sprintf("%s#%d", r.Topic, k))
			}
		})
	}
}

// Marker rows (testdata/*_marker.sql) have the keys 999901 to 999940.
const markerMin, markerMax = 999901, 999940

// markerKey reports whether a record key (JSON, with or without a schema
// envelope, or Avro) is a marker row's, and which: its id or order_id is in the
// marker range.
func markerKey(key []byte) (int64, bool) {
	key = avroKeyJSON(key) // Avro in the wire format: its JSON with schema
	var doc map[string]json.RawMessage
	if json.Unmarshal(key, &doc) != nil {
		return 0, false
	}
	if p, ok := doc["payload"]; ok {
		if _, hasSchema := doc["schema"]; hasSchema && json.Unmarshal(p, &doc) != nil {
			return 0, false
		}
	}
	for _, f := range []string{"id", "order_id"} {
		var n int64
		if raw, ok := doc[f]; ok && json.Unmarshal(raw, &n) == nil {
			return n, n >= markerMin && n <= markerMax
		}
	}
	return 0, false
}

func firstKeys(m map[string]bool, n int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// deleteTopics removes the topics whose names start with prefix.
func deleteTopics(t *testing.T, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := kafkaClient(t)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	list, err := adm.ListTopics(ctx)
	if err != nil {
		t.Logf("list topics: %v", err)
		return
	}
	var names []string
	for _, name := range list.Names() {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			t.Logf("delete topics: %v", err)
		}
	}
}

// execScript runs the statements of a SQL file (separated by a ';' at the
// end of a line; '--' comment lines ignored) on one connection, so that
// BEGIN … COMMIT spans its statements.
func execScript(t *testing.T, conn *sql.Conn, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := deadline(t, 2*time.Minute)
	var stmt strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "--") {
			continue
		}
		stmt.WriteString(sc.Text())
		stmt.WriteByte('\n')
		if strings.HasSuffix(l, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(stmt.String()), ";")
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s:%d: %v\n%s", path, line, err, s)
			}
			stmt.Reset()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stmt.String()) != "" {
		t.Fatalf("%s: statement without a final ';'", path)
	}
}

func TestMarkerKey(t *testing.T) {
	for key, want := range map[string]bool{
		`{"id":999901}`: true,
		`{"schema":{"type":"struct","name":"e2e9999p.e2e9999_pg.customers.Key"},"payload":{"id":999940}}`: true,
		`{"order_id":999920,"setting_key":"marker"}`:                                                      true,
		`{"schema":{"name":"e2e9999.Key"},"payload":{"id":5}}`:                                            false,
		`{"id":999999}`: false,
		`null`:          false,
	} {
		if _, got := markerKey([]byte(key)); got != want {
			t.Errorf("markerKey(%s) = %v", key, got)
		}
	}
}

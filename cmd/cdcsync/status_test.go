package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// runCLI runs the real binary to its end and returns its standard output.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cdcsync %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// itemEvent is a schemaless Debezium event of table items (MySQL source
// position pos) on partition 0: after is the row image, nil for a delete.
func itemEvent(id int, op string, after string, pos int) workload.Event {
	before := "null"
	if op == "d" {
		before, after = fmt.Sprintf(`{"id":%d}`, id), "null"
	}
	value := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"connector":"mysql","file":"binlog.000001","pos":%d,"row":0,"ts_ms":1700000000000},"op":%q,"ts_ms":1700000000001}`,
		before, after, pos, op)
	return workload.Event{Topic: "srv.shop.items", Key: []byte(fmt.Sprintf(`{"id":%d}`, id)), Value: []byte(value)}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type statusJSON struct {
	Group  string `json:"group"`
	Tables []struct {
		Table       string  `json:"table"`
		Rows        *int64  `json:"rows"`
		LastCommit  *string `json:"last_commit"`
		LastSource  *string `json:"last_source_time"`
		DeadLetters int64   `json:"dead_letters"`
		Pending     int64   `json:"dead_letters_pending"`
		LastReason  string  `json:"last_dead_letter_reason"`
		Lag         *int64  `json:"lag"`
	} `json:"tables"`
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Stored    *int64 `json:"stored_offset"`
		HWM       int64  `json:"high_watermark"`
		Lag       int64  `json:"lag"`
	} `json:"partitions"`
	Runs []struct {
		Status string `json:"status"`
		Events int64  `json:"events"`
	} `json:"runs"`
}

type replayJSONOut struct {
	Applied    int `json:"applied"`
	Superseded int `json:"superseded"`
	Invalid    int `json:"still_invalid"`
	Unsure     int `json:"unsure"`
	Left       int `json:"left"`
	Letters    []struct {
		Offset int64  `json:"offset"`
		Result string `json:"result"`
		Detail string `json:"detail"`
	} `json:"letters"`
}

// TestStatusAndDeadLetterReplay drives the real binary on kfake into DuckDB
// and PostgreSQL: status shows the rows, dead letters and lag per
// partition before and after a run; after a declared type is fixed, replay
// applies the letter that now decodes, skips the one a newer change of its
// key superseded (the row keeps the newer value), leaves the one that still
// does not decode with its reason, marks what it did, never moves the
// stored offsets, and a second replay applies nothing.
func TestStatusAndDeadLetterReplay(t *testing.T) {
	for _, tt := range testTargets(t) {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cluster, err := kafkatest.Start(1, "srv.shop.items")
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			addr := cluster.Addr()
			dsn := tt.dsn(t, "replay")
			bad := workload.Event{Topic: "srv.shop.items", Key: []byte(`{"id":4}`), Value: []byte(`{"not json`)}
			events := []workload.Event{
				itemEvent(1, "c", `{"id":1,"name":"a"}`, 10),                 // 0
				itemEvent(2, "c", `{"id":2,"name":"b","price":"12.50"}`, 20), // 1: price is no int
				itemEvent(1, "u", `{"id":1,"name":"a2","price":"1.25"}`, 30), // 2: price is no int
				itemEvent(1, "u", `{"id":1,"name":"a3"}`, 40),                // 3: supersedes 2
				bad, // 4: never decodes
			}
			if err := kafkatest.Produce(ctx, addr, events); err != nil {
				t.Fatal(err)
			}
			wrong := writeFile(t, "wrong.yaml", "tables:\n  items:\n    columns:\n      price: int\n")
			fixed := writeFile(t, "fixed.yaml", "tables:\n  items:\n    columns:\n      price: decimal(10,2)\n")
			runCLI(t, "run", "--once", "--config", wrong, "--brokers", addr, "--topics", `srv\.shop\..*`, "--target", dsn)

			// Two more events: status shows them as lag until the next run.
			if err := kafkatest.Produce(ctx, addr, []workload.Event{
				itemEvent(5, "c", `{"id":5,"name":"e"}`, 50), itemEvent(6, "c", `{"id":6,"name":"f"}`, 60),
			}); err != nil {
				t.Fatal(err)
			}
			var st statusJSON
			if err := json.Unmarshal([]byte(runCLI(t, "status", "--target", dsn, "--brokers", addr, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Tables) != 1 || st.Tables[0].Table != "items" || st.Tables[0].Rows == nil || *st.Tables[0].Rows != 1 ||
				st.Tables[0].DeadLetters != 3 || st.Tables[0].Pending != 3 || st.Tables[0].LastCommit == nil || st.Tables[0].LastSource == nil {
				t.Fatalf("status after the first run: %+v, want items with 1 row, 3 pending dead letters, commit and source times", st.Tables)
			}
			if len(st.Partitions) != 1 || st.Partitions[0].Stored == nil || *st.Partitions[0].Stored != 5 || st.Partitions[0].HWM != 7 || st.Partitions[0].Lag != 2 {
				t.Fatalf("partitions: %+v, want stored 5, high watermark 7, lag 2", st.Partitions)
			}
			if len(st.Runs) != 1 || st.Runs[0].Status != "ok" || st.Runs[0].Events != 5 {
				t.Fatalf("runs: %+v, want one ok run of 5 events", st.Runs)
			}
			text := runCLI(t, "status", "--target", dsn, "--brokers", addr)
			for _, want := range []string{"items", "srv.shop.items", "lag", "ok"} {
				if !strings.Contains(text, want) {
					t.Errorf("status text lacks %q:\n%s", want, text)
				}
			}

			runCLI(t, "run", "--once", "--config", wrong, "--brokers", addr, "--topics", `srv\.shop\..*`, "--target", dsn)
			st = statusJSON{}
			if err := json.Unmarshal([]byte(runCLI(t, "status", "--target", dsn, "--brokers", addr, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if *st.Tables[0].Rows != 3 || len(st.Partitions) != 1 || st.Partitions[0].Lag != 0 || *st.Partitions[0].Stored != 7 || *st.Tables[0].Lag != 0 {
				t.Fatalf("status after the second run: tables %+v partitions %+v, want 3 rows and lag 0", st.Tables, st.Partitions)
			}

			// Replay with the fixed declared type.
			var rep replayJSONOut
			if err := json.Unmarshal([]byte(runCLI(t, "dead-letters", "replay", "--config", fixed, "--target", dsn, "--json")), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 1 || rep.Superseded != 1 || rep.Invalid != 1 || rep.Unsure != 0 || rep.Left != 1 {
				t.Fatalf("replay: %+v, want applied 1, superseded 1, still invalid 1", rep)
			}
			results := map[int64]string{}
			for _, l := range rep.Letters {
				results[l.Offset] = l.Result
			}
			if results[1] != "applied" || results[2] != "superseded" || results[4] != "invalid" {
				t.Fatalf("replay results by offset: %v", results)
			}
			wh := openTarget(t, dsn)
			rows := map[string]string{}
			r, err := wh.DB.Query(`SELECT CAST(id AS VARCHAR), name, CAST(price AS VARCHAR) FROM ` + qualified(wh, "items"))
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				var id, name string
				var price *string
				if err := r.Scan(&id, &name, &price); err != nil {
					t.Fatal(err)
				}
				p := "NULL"
				if price != nil {
					p = *price
				}
				rows[id] = name + "|" + p
			}
			r.Close()
			if rows["1"] != "a3|NULL" || rows["2"] != "b|12.50" || len(rows) != 4 {
				t.Fatalf("rows after replay: %v, want 1 keeping a3 (the newer change), 2 replayed with price 12.50", rows)
			}
			var next int64
			if err := wh.DB.QueryRow(`SELECT next_offset FROM ` + qualified(wh, "_cdc_offsets")).Scan(&next); err != nil || next != 7 {
				t.Fatalf("stored offset after replay: %d (%v), want 7: replay never moves offsets", next, err)
			}
			var marked, pendingInvalid int
			if err := wh.DB.QueryRow(`SELECT count(replayed_at), count(*) - count(replayed_at) FROM `+qualified(wh, "_cdc_dead_letters")).Scan(&marked, &pendingInvalid); err != nil {
				t.Fatal(err)
			}
			var reason, result string
			if err := wh.DB.QueryRow(`SELECT reason, replay_result FROM `+qualified(wh, "_cdc_dead_letters")+` WHERE kafka_offset = 4`).Scan(&reason, &result); err != nil {
				t.Fatal(err)
			}
			wh.Close()
			if marked != 2 || pendingInvalid != 1 || reason == "" || !strings.HasPrefix(result, "invalid: ") {
				t.Fatalf("marks: %d replayed, %d pending; the invalid one has reason %q, result %q", marked, pendingInvalid, reason, result)
			}

			// A second replay applies nothing.
			rep = replayJSONOut{}
			if err := json.Unmarshal([]byte(runCLI(t, "dead-letters", "replay", "--config", fixed, "--target", dsn, "--json")), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 0 || rep.Superseded != 0 || rep.Invalid != 1 || len(rep.Letters) != 1 {
				t.Fatalf("second replay: %+v, want only the still-invalid letter tried again", rep)
			}
			list := runCLI(t, "dead-letters", "list", "--target", dsn, "--table", "items", "--reason-like", "%")
			if !strings.Contains(list, "3 dead letters") || !strings.Contains(list, "superseded") || !strings.Contains(list, "applied") {
				t.Fatalf("dead-letters list:\n%s", list)
			}
			st = statusJSON{}
			if err := json.Unmarshal([]byte(runCLI(t, "status", "--target", dsn, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if st.Tables[0].DeadLetters != 3 || st.Tables[0].Pending != 1 || *st.Tables[0].Rows != 4 || st.Partitions != nil {
				t.Fatalf("status after replay: %+v, want 4 rows, 3 dead letters of which 1 pending, no lag without brokers", st.Tables)
			}
		})
	}
}

func TestStatusAgeReadsInDays(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Second:                 "1m30s",
		47*time.Hour + 59*time.Minute:    "47h59m0s",
		48 * time.Hour:                   "2d0h",
		11842*time.Hour + 23*time.Minute: "493d10h",
	} {
		if got := since(d); got != want {
			t.Errorf("since(%v) = %q, want %q", d, got, want)
		}
	}
}

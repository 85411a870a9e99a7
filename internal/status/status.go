// Package status reads the per-table picture of a cdcsync warehouse from
// the warehouse alone, read-only: rows, last commit, last source time,
// dead letters and run history from cdcsync's own tables, and, given a
// Kafka client, how far each partition's stored offset is behind its high
// watermark. cdcsync status prints it.
package status

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Status is the picture of one warehouse for one consumer group.
type Status struct {
	Group      string      `json:"group"`
	Tables     []Table     `json:"tables"`
	Partitions []Partition `json:"partitions,omitempty"` // only with brokers
	Runs       []Run       `json:"runs"`
}

// Table is one target table's row of the picture.
type Table struct {
	Name  string `json:"table"`
	Topic string `json:"topic"`
	// Rows is nil while the table does not exist (no event created it).
	Rows *int64 `json:"rows"`
	// LastCommit is the newest _cdc_refreshed_at: the warehouse commit
	// time of the table's last applied change.
	LastCommit *time.Time `json:"last_commit"`
	// LastSourceTime is the newest _cdc_source_ts: the source commit time
	// of the newest change applied.
	LastSourceTime *time.Time `json:"last_source_time"`
	// DeadLetters counts the table's dead letters of the group; Pending
	// those not replayed yet; LastReason is the newest one's reason.
	DeadLetters int64  `json:"dead_letters"`
	Pending     int64  `json:"dead_letters_pending"`
	LastReason  string `json:"last_dead_letter_reason,omitempty"`
	// Lag sums the lag of the table's topic's partitions; nil without
	// brokers.
	Lag *int64 `json:"lag,omitempty"`
}

// Partition is one partition's lag: records between the stored next
// offset and the high watermark.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Table     string `json:"table,omitempty"`
	// Stored is the stored next offset, nil when none is stored (the
	// partition is read from its start).
	Stored        *int64 `json:"stored_offset"`
	HighWatermark int64  `json:"high_watermark"`
	Lag           int64  `json:"lag"`
}

// Run is one row of the run history.
type Run struct {
	ID         string     `json:"run_id"`
	Group      string     `json:"group"`
	Mode       string     `json:"mode"`
	Version    string     `json:"version"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Status     string     `json:"status"`
	Events     int64      `json:"events"`
	Batches    int64      `json:"batches"`
	Error      string     `json:"error,omitempty"`
}

// Options say what to read.
type Options struct {
	Group string
	// Runs is how many of the latest runs to show.
	Runs int
	// Admin, when set, is used to read the partitions' high watermarks.
	Admin *kadm.Client
	// Topics, when set, limits the lag to matching topics.
	Topics *regexp.Regexp
}

// Read reads the status through a read-only handle.
func Read(ctx context.Context, h *warehouse.ReadOnly, o Options) (*Status, error) {
	st := &Status{Group: o.Group, Tables: []Table{}, Runs: []Run{}}
	existing := map[string]bool{}
	var hasReplay bool
	err := h.Run(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`, func(rows *sql.Rows) error {
		for rows.Next() {
			var t, c string
			if err := rows.Scan(&t, &c); err != nil {
				return err
			}
			existing[t] = true
			hasReplay = hasReplay || (t == warehouse.DeadLettersTable && c == "replayed_at")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("status: read the catalog: %w", err)
	}
	if !existing[warehouse.TablesTable] {
		return nil, fmt.Errorf("status: the target has no %s table: cdcsync has not written to it", warehouse.TablesTable)
	}
	err = h.Run(ctx, `SELECT table_name, topic FROM `+warehouse.TablesTable+` ORDER BY table_name`, func(rows *sql.Rows) error {
		for rows.Next() {
			var name string
			var topic sql.NullString
			if err := rows.Scan(&name, &topic); err != nil {
				return err
			}
			st.Tables = append(st.Tables, Table{Name: name, Topic: topic.String})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("status: read %s: %w", warehouse.TablesTable, err)
	}
	for i := range st.Tables {
		t := &st.Tables[i]
		if !existing[t.Name] {
			continue
		}
		q := `SELECT count(*), max(` + sqltext.Ident(warehouse.ColRefreshedAt) + `), max(` + sqltext.Ident(warehouse.ColSourceTs) + `) FROM ` + sqltext.Ident(t.Name)
		err := h.Run(ctx, q, func(rows *sql.Rows) error {
			for rows.Next() {
				var n int64
				var commit, source sql.NullTime
				if err := rows.Scan(&n, &commit, &source); err != nil {
					return err
				}
				t.Rows, t.LastCommit, t.LastSourceTime = &n, timePtr(commit), timePtr(source)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("status: read table %s: %w", t.Name, err)
		}
	}
	if err := readDeadLetters(ctx, h, st, hasReplay); err != nil {
		return nil, err
	}
	if err := readRuns(ctx, h, st, o.Runs); err != nil {
		return nil, err
	}
	if o.Admin != nil {
		if err := readLag(ctx, h, st, o); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func readDeadLetters(ctx context.Context, h *warehouse.ReadOnly, st *Status, hasReplay bool) error {
	pending := "count(*)"
	if hasReplay {
		pending = "count(*) - count(replayed_at)"
	}
	type counts struct{ n, pending int64 }
	byName := map[string]counts{}
	group := sqltext.Literal(st.Group)
	err := h.Run(ctx, `SELECT table_name, count(*), `+pending+` FROM `+warehouse.DeadLettersTable+
		` WHERE consumer_group = `+group+` GROUP BY table_name`, func(rows *sql.Rows) error {
		for rows.Next() {
			var name sql.NullString
			var c counts
			if err := rows.Scan(&name, &c.n, &c.pending); err != nil {
				return err
			}
			byName[name.String] = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("status: read %s: %w", warehouse.DeadLettersTable, err)
	}
	for i := range st.Tables {
		c := byName[st.Tables[i].Name]
		st.Tables[i].DeadLetters, st.Tables[i].Pending = c.n, c.pending
		delete(byName, st.Tables[i].Name)
	}
	// Letters of no recorded table (one that was never created): rows of
	// their own.
	for name, c := range byName {
		st.Tables = append(st.Tables, Table{Name: name, DeadLetters: c.n, Pending: c.pending})
	}
	for i := range st.Tables {
		t := &st.Tables[i]
		if t.DeadLetters == 0 {
			continue
		}
		err := h.Run(ctx, `SELECT reason FROM `+warehouse.DeadLettersTable+` WHERE consumer_group = `+group+
			` AND table_name = `+sqltext.Literal(t.Name)+` ORDER BY created_at DESC, kafka_offset DESC LIMIT 1`, func(rows *sql.Rows) error {
			for rows.Next() {
				var r sql.NullString
				if err := rows.Scan(&r); err != nil {
					return err
				}
				t.LastReason = r.String
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("status: read %s: %w", warehouse.DeadLettersTable, err)
		}
	}
	return nil
}

func readRuns(ctx context.Context, h *warehouse.ReadOnly, st *Status, n int) error {
	if n <= 0 {
		return nil
	}
	err := h.Run(ctx, fmt.Sprintf(`SELECT run_id, consumer_group, mode, version, started_at, finished_at, status, events, batches, error FROM %s
		WHERE consumer_group = %s ORDER BY started_at DESC LIMIT %d`, warehouse.RunsTable, sqltext.Literal(st.Group), n), func(rows *sql.Rows) error {
		for rows.Next() {
			var r Run
			var group, mode, version, status, errText sql.NullString
			var started, finished sql.NullTime
			var events, batches sql.NullInt64
			if err := rows.Scan(&r.ID, &group, &mode, &version, &started, &finished, &status, &events, &batches, &errText); err != nil {
				return err
			}
			r.Group, r.Mode, r.Version, r.Status, r.Error = group.String, mode.String, version.String, status.String, errText.String
			r.StartedAt, r.FinishedAt, r.Events, r.Batches = timePtr(started), timePtr(finished), events.Int64, batches.Int64
			st.Runs = append(st.Runs, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("status: read %s: %w", warehouse.RunsTable, err)
	}
	return nil
}

// readLag reads the stored offsets of the group and the high watermarks
// of the topics they, or the tables, name.
func readLag(ctx context.Context, h *warehouse.ReadOnly, st *Status, o Options) error {
	stored := map[string]map[int32]int64{}
	err := h.Run(ctx, `SELECT topic, kafka_partition, next_offset FROM `+warehouse.OffsetsTable+
		` WHERE consumer_group = `+sqltext.Literal(st.Group), func(rows *sql.Rows) error {
		for rows.Next() {
			var topic string
			var p int32
			var next int64
			if err := rows.Scan(&topic, &p, &next); err != nil {
				return err
			}
			if stored[topic] == nil {
				stored[topic] = map[int32]int64{}
			}
			stored[topic][p] = next
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("status: read %s: %w", warehouse.OffsetsTable, err)
	}
	tableOf := map[string]*Table{}
	var topics []string
	for i := range st.Tables {
		if t := &st.Tables[i]; t.Topic != "" {
			tableOf[t.Topic] = t
			topics = append(topics, t.Topic)
		}
	}
	for t := range stored {
		if _, ok := tableOf[t]; !ok {
			topics = append(topics, t)
		}
	}
	if o.Topics != nil {
		topics = slices.DeleteFunc(topics, func(t string) bool { return !o.Topics.MatchString(t) })
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	if len(topics) == 0 {
		return nil
	}
	ends, err := o.Admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("status: read high watermarks: %w", err)
	}
	starts, err := o.Admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("status: read log start offsets: %w", err)
	}
	var listed []kadm.ListedOffset
	ends.Each(func(e kadm.ListedOffset) { listed = append(listed, e) })
	slices.SortFunc(listed, func(a, b kadm.ListedOffset) int {
		if a.Topic != b.Topic {
			return strings.Compare(a.Topic, b.Topic)
		}
		return int(a.Partition - b.Partition)
	})
	for _, topic := range topics {
		for _, e := range listed {
			if e.Topic != topic {
				continue
			}
			if e.Err != nil {
				return fmt.Errorf("status: high watermark of %s[%d]: %w", e.Topic, e.Partition, e.Err)
			}
			p := Partition{Topic: topic, Partition: e.Partition, HighWatermark: e.Offset}
			from := int64(0)
			if s, ok := starts.Lookup(topic, e.Partition); ok && s.Err == nil {
				from = s.Offset
			}
			if next, ok := stored[topic][e.Partition]; ok {
				p.Stored = &next
				from = max(next, from)
			}
			p.Lag = max(e.Offset-from, 0)
			if t, ok := tableOf[topic]; ok {
				p.Table = t.Name
				if t.Lag == nil {
					t.Lag = new(int64)
				}
				*t.Lag += p.Lag
			}
			st.Partitions = append(st.Partitions, p)
		}
	}
	return nil
}

// DeadLetter is one dead letter as listed.
type DeadLetter struct {
	Topic        string     `json:"topic"`
	Partition    int32      `json:"partition"`
	Offset       int64      `json:"offset"`
	Table        string     `json:"table"`
	Reason       string     `json:"reason"`
	CreatedAt    *time.Time `json:"created_at"`
	ReplayedAt   *time.Time `json:"replayed_at"`
	ReplayResult string     `json:"replay_result,omitempty"`
	Key          string     `json:"key"`
	Value        string     `json:"value"`
}

// DeadLetters lists the group's dead letters f selects, in topic,
// partition and offset order, read-only.
func DeadLetters(ctx context.Context, h *warehouse.ReadOnly, group string, f warehouse.DeadLetterFilter) ([]DeadLetter, error) {
	hasReplay := false
	err := h.Run(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = `+
		sqltext.Literal(warehouse.DeadLettersTable)+` AND column_name = 'replayed_at'`, func(rows *sql.Rows) error {
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			hasReplay = n > 0
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: read the catalog: %w", err)
	}
	replay := "NULL, NULL"
	if hasReplay {
		replay = "replayed_at, replay_result"
	}
	q := `SELECT topic, kafka_partition, kafka_offset, table_name, reason, created_at, ` + replay + `, kafka_key, kafka_value FROM ` +
		warehouse.DeadLettersTable + ` WHERE consumer_group = ` + sqltext.Literal(group)
	if f.Table != "" {
		q += ` AND table_name = ` + sqltext.Literal(f.Table)
	}
	if f.ReasonLike != "" {
		q += ` AND reason LIKE ` + sqltext.Literal(f.ReasonLike)
	}
	if f.Pending && hasReplay {
		q += ` AND replayed_at IS NULL`
	}
	q += ` ORDER BY topic, kafka_partition, kafka_offset, created_at`
	out := []DeadLetter{}
	err = h.Run(ctx, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var d DeadLetter
			var topic, table, reason, result sql.NullString
			var part sql.NullInt32
			var off sql.NullInt64
			var created, replayed sql.NullTime
			var key, value []byte
			if err := rows.Scan(&topic, &part, &off, &table, &reason, &created, &replayed, &result, &key, &value); err != nil {
				return err
			}
			d.Topic, d.Partition, d.Offset, d.Table, d.Reason = topic.String, part.Int32, off.Int64, table.String, reason.String
			d.CreatedAt, d.ReplayedAt, d.ReplayResult = timePtr(created), timePtr(replayed), result.String
			d.Key, d.Value = text(key), text(value)
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: read %s: %w", warehouse.DeadLettersTable, err)
	}
	return out, nil
}

// text renders raw bytes as text when they are UTF-8, else as base64 with
// a "base64:" prefix.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}

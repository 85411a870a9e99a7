package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/batch"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// DefaultMaxStall is Config.MaxStall's default.
const DefaultMaxStall = 5 * time.Minute

// readyTimeout bounds the readiness check's warehouse ping.
const readyTimeout = 2 * time.Second

// lagRefresh is how often continuous mode asks the brokers for the high
// watermarks of its partitions, so that lag is current even while nothing
// is fetched (a stuck warehouse).
const lagRefresh = 10 * time.Second

// health is what readiness and lag are computed from.
type health struct {
	mu sync.Mutex
	// owned are the partitions the pipeline reads; joined is set once
	// they are known (a group assignment, possibly empty, or the
	// one-pass listing).
	owned  map[batch.TopicPartition]bool
	joined bool
	highs  map[batch.TopicPartition]int64 // high watermarks last seen
	starts map[batch.TopicPartition]int64 // log starts, for partitions without a stored offset
	// progress is when a batch last committed (or the run started).
	progress time.Time
	// whErr is the last transient warehouse error, nil after a success.
	whErr error
}

func newHealth(now time.Time) *health {
	return &health{owned: map[batch.TopicPartition]bool{}, highs: map[batch.TopicPartition]int64{},
		starts: map[batch.TopicPartition]int64{}, progress: now}
}

// own records newly assigned partitions; an empty assignment still means
// the group answered.
func (p *Pipeline) own(assigned map[string][]int32) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.joined = true
	for topic, parts := range assigned {
		for _, part := range parts {
			h.owned[batch.TopicPartition{Topic: topic, Partition: part}] = true
		}
	}
}

// disown forgets partitions that were revoked or lost.
func (p *Pipeline) disown(parts map[string][]int32) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	for topic, ps := range parts {
		for _, part := range ps {
			tp := batch.TopicPartition{Topic: topic, Partition: part}
			delete(h.owned, tp)
			delete(h.highs, tp)
			delete(h.starts, tp)
		}
	}
}

// noteOffsets records listed high watermarks (and log starts, when given).
func (p *Pipeline) noteOffsets(highs, starts kadm.ListedOffsets) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	highs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			h.highs[batch.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		}
	})
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			h.starts[batch.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		}
	})
}

// ownAll makes every listed partition owned (one-pass mode reads them all).
func (p *Pipeline) ownAll(highs, starts kadm.ListedOffsets) {
	p.noteOffsets(highs, starts)
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.joined = true
	highs.Each(func(o kadm.ListedOffset) {
		h.owned[batch.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = true
	})
}

// noteFetches records the high watermarks that came with fetched records.
func (p *Pipeline) noteFetches(fs kgo.Fetches) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		tp := batch.TopicPartition{Topic: fp.Topic, Partition: fp.Partition}
		if fp.Err == nil && h.owned[tp] && fp.HighWatermark >= 0 {
			h.highs[tp] = fp.HighWatermark
		}
	})
}

// refreshLag asks the brokers for the high watermarks of the owned
// partitions every lagRefresh until ctx is done.
func (p *Pipeline) refreshLag(ctx context.Context, adm *kadm.Client) {
	t := time.NewTicker(lagRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.health.mu.Lock()
		seen := map[string]bool{}
		var topics []string
		for tp := range p.health.owned {
			if !seen[tp.Topic] {
				seen[tp.Topic] = true
				topics = append(topics, tp.Topic)
			}
		}
		p.health.mu.Unlock()
		if len(topics) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, lagRefresh)
		highs, err := adm.ListEndOffsets(rctx, topics...)
		var starts kadm.ListedOffsets
		if err == nil {
			starts, err = adm.ListStartOffsets(rctx, topics...)
		}
		cancel()
		if err != nil {
			p.log.Debug("cannot list the partitions' offsets for the lag metric", "err", err)
			continue
		}
		p.noteOffsets(highs, starts)
	}
}

// partitionLag is one owned partition's lag.
type partitionLag struct {
	tp  batch.TopicPartition
	lag int64
}

// lags returns the lag of each owned partition whose high watermark is
// known, sorted; complete is false when some high watermark is not.
func (p *Pipeline) lags() []partitionLag {
	out, _ := p.lagsComplete()
	return out
}

func (p *Pipeline) lagsComplete() (out []partitionLag, complete bool) {
	h := p.health
	p.mu.Lock()
	h.mu.Lock()
	complete = true
	for tp := range h.owned {
		high, ok := h.highs[tp]
		if !ok {
			complete = false
			continue
		}
		pos, ok := p.stored[tp]
		if !ok {
			pos = h.starts[tp]
		}
		out = append(out, partitionLag{tp: tp, lag: max(high-pos, 0)})
	}
	h.mu.Unlock()
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].tp.Topic != out[j].tp.Topic {
			return out[i].tp.Topic < out[j].tp.Topic
		}
		return out[i].tp.Partition < out[j].tp.Partition
	})
	return out, complete
}

// applied records the outcome of one attempt to apply a batch.
func (p *Pipeline) applied(err error) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.whErr = nil
		h.progress = p.met.now()
	case warehouse.IsTransient(err):
		h.whErr = err
	}
}

// Ready reports whether the pipeline is ready — the warehouse answers,
// partitions are owned (or the group gave none: nothing to do), and a
// batch committed within Config.MaxStall or there is no lag — and if not,
// why, in one line.
func (p *Pipeline) Ready(ctx context.Context) (bool, string) {
	h := p.health
	h.mu.Lock()
	whErr, joined, owned, progress := h.whErr, h.joined, len(h.owned), h.progress
	h.mu.Unlock()
	if whErr != nil {
		return false, "warehouse error: " + oneLine(whErr)
	}
	if err := p.pingWarehouse(ctx); err != nil {
		return false, "warehouse unreachable: " + oneLine(err)
	}
	if !joined {
		return false, "no partitions assigned yet"
	}
	if owned == 0 {
		return true, ""
	}
	stall := p.cfg.maxStall()
	if since := p.met.now().Sub(progress); since > stall {
		lags, complete := p.lagsComplete()
		var total int64
		for _, l := range lags {
			total += l.lag
		}
		switch {
		case total > 0:
			return false, fmt.Sprintf("no batch committed for %s (health.max_stall %s) with %d records to apply",
				since.Round(time.Second), stall, total)
		case !complete:
			return false, fmt.Sprintf("no batch committed for %s (health.max_stall %s) and the partitions' high watermarks are unknown",
				since.Round(time.Second), stall)
		}
	}
	return true, ""
}

// pingWarehouse checks that the warehouse answers, unless a batch is
// being applied (which says so itself, through applied).
func (p *Pipeline) pingWarehouse(ctx context.Context) error {
	pg, ok := p.wh.(warehouse.Pinger)
	if !ok || !p.whMu.TryLock() {
		return nil
	}
	defer p.whMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return pg.Ping(ctx)
}

func oneLine(err error) string {
	s := redact.Known(err.Error())
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }

// Handler serves /metrics from g, /healthz (200 while the process runs),
// /readyz (200, or 503 with the reason, as one line of JSON), and the
// status page at / with its data at /status.json (see status.go).
func (p *Pipeline) Handler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"alive": true})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, reason := p.Ready(r.Context())
		if ok {
			writeJSON(w, http.StatusOK, map[string]any{"ready": true})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason})
	})
	p.serveStatus(mux)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // one line, ending in a newline
}

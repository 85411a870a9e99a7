package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/avroconv"
)

// schemaResolver is the schema registry's client as the pipeline uses it:
// Resolve caches a schema id's outcome, or fails with
// avroconv.ErrUnavailable when the registry cannot say.
type schemaResolver interface {
	Resolve(ctx context.Context, id int) error
}

// resolveSchemas fetches the registry schemas of a fetch's Avro records
// before they are decoded, retrying while the registry is unavailable:
// decoding then finds every schema in the cache, so that a registry
// outage holds the stream up (reported in the log and in
// cdcsync_schema_registry_errors_total) and never turns a record into a
// dead letter. One-pass mode gives up after the Kafka timeout, with an
// error; continuous mode waits for the registry.
func (p *Pipeline) resolveSchemas(ctx context.Context, recs []*kgo.Record) error {
	reg, ok := p.cfg.Decoder.Wire.(schemaResolver)
	if !ok {
		return nil
	}
	var ids []int
	note := func(b []byte) {
		if id, ok := avroconv.SchemaID(b); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, r := range recs {
		note(r.Key)
		note(r.Value)
		for _, h := range r.Headers {
			if h.Key == "__debezium.oldkey" || h.Key == "__debezium.newkey" {
				note(h.Value)
			}
		}
	}
	for _, id := range ids {
		start, backoff := time.Now(), 200*time.Millisecond
		for attempt := 1; ; attempt++ {
			err := reg.Resolve(ctx, id)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.met.registryErrors.Inc()
			if p.cfg.Once && time.Since(start) >= p.cfg.kafkaTimeout() {
				return fmt.Errorf("gave up after %s: %w", time.Since(start).Round(time.Second), err)
			}
			p.log.Warn("schema registry unavailable; retrying", "schema_id", id, "attempt", attempt, "backoff", backoff, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}
	return nil
}

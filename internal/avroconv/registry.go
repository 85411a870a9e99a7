package avroconv

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/kafkaconn"
)

// Options configure a Registry client.
type Options struct {
	// URL is the registry's base URL (for Apicurio, its Confluent-compatible
	// API: http://host:8080/apis/ccompat/v7).
	URL string
	// Username and Password authenticate with HTTP basic auth.
	Username, Password string
	// BearerToken authenticates with a bearer token instead.
	BearerToken string
	// TLS configures https; nil uses the system's roots.
	TLS *tls.Config
	// Timeout bounds one request; 10s when zero.
	Timeout time.Duration
}

// Registry fetches schemas by id from a Confluent-compatible schema
// registry and caches them for the life of the process (an id's schema
// never changes). An id the registry does not know, and a schema that is
// not Avro or does not parse, are cached as the record's fault; a registry
// that cannot be reached is never cached and reported as ErrUnavailable.
// Bad ids are cached up to maxBad (records can name any of 2^32 ids, and
// hostile ones must not grow the cache without bound); beyond it one of
// them is forgotten for each new one, and asked about again if it recurs.
// A Registry is safe for concurrent use.
type Registry struct {
	cl      *sr.Client
	timeout time.Duration
	mu      sync.RWMutex
	ids     map[int]*entry
	bad     int // entries of ids that have no usable schema
}

// maxBad bounds the cached ids that have no usable schema.
const maxBad = 4096

// entry is one schema id's outcome: a schema, or why records written with
// it cannot be read.
type entry struct {
	schema  avro.Schema
	connect []byte // the Connect schema JSON, as JsonConverter writes it
	err     error
}

// ErrUnavailable marks a registry that did not answer, or answered with
// anything but a schema or "no such schema": an infrastructure failure,
// retried, never a dead letter.
var ErrUnavailable = errors.New("schema registry unavailable")

// New returns a client for the registry at opts.URL.
func New(opts Options) (*Registry, error) {
	if opts.URL == "" {
		return nil, errors.New("schema_registry.url is empty")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	copts := []sr.ClientOpt{
		sr.URLs(strings.TrimSuffix(opts.URL, "/")),
		sr.HTTPClient(&http.Client{Timeout: timeout}),
		sr.UserAgent("cdcsync"),
	}
	if opts.Username != "" || opts.Password != "" {
		copts = append(copts, sr.BasicAuth(opts.Username, opts.Password))
	}
	if opts.BearerToken != "" {
		copts = append(copts, sr.BearerToken(opts.BearerToken))
	}
	if opts.TLS != nil {
		copts = append(copts, sr.DialTLSConfig(opts.TLS))
	}
	cl, err := sr.NewClient(copts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &Registry{cl: cl, timeout: timeout, ids: map[int]*entry{}}, nil
}

// IsWire reports whether b is in the Confluent wire format: magic byte 0
// and a 4-byte schema id. No JSON text starts with a zero byte, so the
// format of every record is told apart by its first byte.
func IsWire(b []byte) bool { return len(b) > 0 && b[0] == 0 }

// SchemaID returns the schema id of a record in the wire format.
func SchemaID(b []byte) (int, bool) {
	if len(b) < 5 || b[0] != 0 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(b[1:5])), true
}

// Resolve makes sure schema id is cached: fetched, or known to be bad.
// The error is ErrUnavailable (wrapped, with the cause) when the registry
// could not say; the schema's own faults are the records' and come out of
// ToJSON.
func (r *Registry) Resolve(ctx context.Context, id int) error {
	r.mu.RLock()
	_, ok := r.ids[id]
	r.mu.RUnlock()
	if ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	s, err := r.cl.SchemaByID(ctx, id)
	var e *entry
	switch {
	case err == nil:
		e = newEntry(id, s)
	case isNotFound(err):
		e = &entry{err: fmt.Errorf("schema id %d is unknown to the schema registry", id)}
	default:
		return fmt.Errorf("%w: schema id %d: %w", ErrUnavailable, id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.ids[id]; ok { // resolved meanwhile by another caller
		if old.err != nil {
			r.bad--
		}
	}
	if e.err != nil {
		if r.bad >= maxBad {
			for other, oe := range r.ids {
				if oe.err != nil && other != id {
					delete(r.ids, other)
					r.bad--
					break
				}
			}
		}
		r.bad++
	}
	r.ids[id] = e
	return nil
}

// isNotFound reports the registry's "schema not found" (40403): the id is
// unknown. Any other answer — a 404 without that code is a wrong URL —
// says nothing of the record.
func isNotFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.ErrorCode == sr.ErrSchemaNotFound.Code
}

func newEntry(id int, s sr.Schema) *entry {
	if s.Type != sr.TypeAvro {
		return &entry{err: fmt.Errorf("schema id %d is a %s schema; cdcsync reads Avro and JSON", id, s.Type)}
	}
	if len(s.References) > 0 {
		return &entry{err: fmt.Errorf("schema id %d has schema references, which cdcsync does not resolve", id)}
	}
	as, err := parseSchema(s.Schema)
	if err != nil {
		return &entry{err: fmt.Errorf("schema id %d does not parse: %w", id, err)}
	}
	cj, err := connectJSON(as)
	if err != nil {
		return &entry{err: fmt.Errorf("schema id %d: %w", id, err)}
	}
	return &entry{schema: as, connect: cj}
}

// ToJSON converts a record key or value in the wire format into the JSON
// Kafka Connect's JsonConverter writes with schemas enabled
// ({"schema":…,"payload":…}), so that one decoder reads both. A schema
// not yet cached is fetched (Resolve, with the client's timeout); the
// pipeline resolves each fetch's ids beforehand, with retries.
func (r *Registry) ToJSON(b []byte) ([]byte, error) {
	id, ok := SchemaID(b)
	if !ok {
		return nil, fmt.Errorf("wire format: %d bytes, too short for the magic byte and a schema id", len(b))
	}
	r.mu.RLock()
	e := r.ids[id]
	r.mu.RUnlock()
	if e == nil {
		if err := r.Resolve(context.Background(), id); err != nil {
			return nil, err
		}
		r.mu.RLock()
		e = r.ids[id]
		r.mu.RUnlock()
	}
	if e.err != nil {
		return nil, e.err
	}
	out := make([]byte, 0, len(e.connect)+3*len(b)+32)
	out = append(out, `{"schema":`...)
	out = append(out, e.connect...)
	out = append(out, `,"payload":`...)
	out, err := appendPayload(out, e.schema, b[5:])
	if err != nil {
		return nil, fmt.Errorf("the bytes do not decode as Avro with schema id %d: %w", id, err)
	}
	return append(out, '}'), nil
}

// FromConfig returns the client of the configured registry, or nil when
// schema_registry.url is empty.
func FromConfig(c config.SchemaRegistry) (*Registry, error) {
	if c.URL == "" {
		return nil, nil
	}
	opts := Options{URL: c.URL, Username: c.Username, Password: c.Password, BearerToken: c.BearerToken}
	if c.TLS.Enabled || c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.InsecureSkipVerify {
		tc, err := kafkaconn.TLSConfig("schema_registry.tls", c.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	return New(opts)
}

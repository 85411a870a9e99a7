package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
)

// Rules are one table's column rules, as configured.
type Rules struct {
	Include []string // only these columns (empty: all)
	Exclude []string // all columns but these
	Hash    []string // these columns hold HMAC-SHA-256(key, canonical value), hex
}

// Empty reports whether the rules change nothing.
func (r Rules) Empty() bool { return len(r.Include) == 0 && len(r.Exclude) == 0 && len(r.Hash) == 0 }

// Set holds the rules of every table that has some, and the key.
type Set struct {
	tables map[string]*Table
	log    atomic.Pointer[slog.Logger]
}

// New returns the rules of the tables, keyed by target table name; the
// key is the HMAC key (required when a table hashes a column). Tables
// with empty rules are left out. Nil when no table has rules.
func New(key []byte, rules map[string]Rules) *Set {
	s := &Set{tables: map[string]*Table{}}
	for name, r := range rules {
		if r.Empty() {
			continue
		}
		t := &Table{name: name, set: s, key: slices.Clone(key), hash: map[string]bool{}, plans: map[*change.Schema]*plan{}}
		if len(r.Include) > 0 {
			t.include = map[string]bool{}
			for _, c := range r.Include {
				t.include[c] = true
			}
		}
		t.exclude = map[string]bool{}
		for _, c := range r.Exclude {
			t.exclude[c] = true
		}
		for _, c := range r.Hash {
			t.hash[c] = true
		}
		t.named = append(append(append([]string(nil), r.Include...), r.Exclude...), r.Hash...)
		s.tables[name] = t
	}
	if len(s.tables) == 0 {
		return nil
	}
	return s
}

// SetLog sets where warnings (configured columns no event has) go.
func (s *Set) SetLog(log *slog.Logger) {
	if s != nil && log != nil {
		s.log.Store(log)
	}
}

// For returns the table's rules, or nil when it has none. A nil Set has
// none.
func (s *Set) For(table string) *Table {
	if s == nil {
		return nil
	}
	return s.tables[table]
}

// Table applies one table's rules. It is safe for concurrent use (the
// pipeline decodes in parallel).
type Table struct {
	name                   string
	set                    *Set
	key                    []byte
	include, exclude, hash map[string]bool
	named                  []string // every column the rules name

	mu     sync.Mutex
	plans  map[*change.Schema]*plan
	warned bool
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// plan is how the rules map one source schema.
type plan struct {
	schema *change.Schema
	cols   []int  // source index of each kept column
	hashed []bool // aligned with cols
	keyHas []bool // aligned with Schema.Key: hashed
	err    error
}

// ConfigError is a rule that cannot hold for the table's events: a
// primary-key column excluded (or left out of columns_include). It is
// the configuration's fault, not a record's.
type ConfigError struct {
	Table, Column, Key string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("table %s: column %q is a primary-key column: it can be hashed (tables.%s.columns_hash) but not left out (tables.%s.%s)",
		e.Table, e.Column, e.Table, e.Table, e.Key)
}

// keeps reports whether the rules keep column name.
func (t *Table) keeps(name string) bool {
	if t.include != nil {
		return t.include[name]
	}
	return !t.exclude[name]
}

func (t *Table) planFor(s *change.Schema, full bool) *plan {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.plans[s]; ok {
		return p
	}
	p := &plan{}
	for _, k := range s.Key {
		if !t.keeps(k.Name) {
			key := "columns_exclude"
			if t.include != nil {
				key = "columns_include"
			}
			p.err = &ConfigError{Table: t.name, Column: k.Name, Key: key}
			break
		}
	}
	cols := make([]change.Column, 0, len(s.Columns))
	for i, c := range s.Columns {
		if !t.keeps(c.Name) {
			continue
		}
		h := t.hash[c.Name]
		if h {
			c.Type = change.String // hex text, whatever the source type
		}
		cols = append(cols, c)
		p.cols = append(p.cols, i)
		p.hashed = append(p.hashed, h)
	}
	key := make([]change.Column, len(s.Key))
	p.keyHas = make([]bool, len(s.Key))
	for i, c := range s.Key {
		if t.hash[c.Name] {
			c.Type = change.String
			p.keyHas[i] = true
		}
		key[i] = c
	}
	p.schema = change.NewSchema(cols, key)
	if full && !t.warned {
		// Only a full row's schema tells which columns the table has (a
		// delete's carries the key alone).
		var missing []string
		for _, n := range t.named {
			if s.Index(n) < 0 && !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			t.warned = true
			if log := t.set.log.Load(); log != nil {
				log.Warn("column rules name columns the table's events do not have", "table", t.name, "columns", missing)
			}
		}
	}
	if len(t.plans) >= 4096 {
		clear(t.plans)
	}
	t.plans[s] = p
	return p
}

// Apply masks a decoded change in place: the columns the rules leave out
// are dropped from the row and the schema, hashed columns (key columns
// too) hold the hex HMAC of their canonical value, and the key ids are
// recomputed. Unchanged (TOAST) values stay unchanged. A *ConfigError
// means the rules cannot hold for this table.
func (t *Table) Apply(c *change.Change) error {
	if c.Schema == nil {
		return nil // a truncate
	}
	p := t.planFor(c.Schema, c.Op == change.OpUpsert && c.Row != nil)
	if p.err != nil {
		return p.err
	}
	src := c.Schema
	if c.Row != nil {
		row := make([]any, len(p.cols))
		var unchanged []bool
		if c.Unchanged != nil {
			unchanged = make([]bool, len(p.cols))
		}
		for i, si := range p.cols {
			v := c.Row[si]
			u := c.Unchanged != nil && c.Unchanged[si]
			if unchanged != nil {
				unchanged[i] = u
			}
			if p.hashed[i] && v != nil && !u {
				v = t.HashValue(v, src.Columns[si].Type)
			}
			row[i] = v
		}
		c.Row, c.Unchanged = row, unchanged
	}
	keys := []struct {
		vals *[]any
		id   *string
	}{{&c.Key, &c.KeyID}, {&c.OldKey, &c.OldKeyID}, {&c.NewKey, &c.NewKeyID}}
	for _, k := range keys {
		if *k.vals == nil || !slices.Contains(p.keyHas, true) {
			continue
		}
		vals := slices.Clone(*k.vals)
		for i := range vals {
			if i < len(p.keyHas) && p.keyHas[i] && vals[i] != nil {
				vals[i] = t.HashValue(vals[i], src.Key[i].Type)
			}
		}
		*k.vals, *k.id = vals, change.KeyID(vals)
	}
	c.Schema = p.schema
	return nil
}

// HashValue is the hex HMAC-SHA-256 of v's canonical text.
func (t *Table) HashValue(v any, typ change.Type) string {
	return Hash(t.key, Canonical(nil, v, typ))
}

// Hash is the hex HMAC-SHA-256 of text under key.
func Hash(key, text []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(text)
	return hex.EncodeToString(m.Sum(nil))
}

// Canonical appends the text a value is hashed as: one text per value,
// whatever the source's formatting of it, so the same value hashes alike
// in every table and run.
//
//	boolean            true, false
//	integer            decimal digits
//	decimal            exact, without trailing zeros after the point (12.3, 12)
//	float              shortest round-trip text (Go's 'g')
//	string, json, uuid the text itself
//	bytes              the bytes themselves
//	date               2006-01-02
//	timestamp          2006-01-02T15:04:05.999999999Z (UTC)
//	time               15:04:05.999999999
func Canonical(dst []byte, v any, typ change.Type) []byte {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		bits := 64
		if typ.Kind == change.KindFloat32 {
			bits = 32
		}
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return append(dst, strconv.FormatFloat(x, 'g', -1, 64)...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, bits)
	case change.Decimal:
		return append(dst, DecimalText(x.String())...)
	case string:
		return append(dst, x...)
	case []byte:
		return append(dst, x...)
	case time.Time:
		if typ.Kind == change.KindDate {
			return x.UTC().AppendFormat(dst, time.DateOnly)
		}
		return x.UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999999Z")
	case change.TimeOfDay:
		d := time.Duration(x)
		dst = fmt.Appendf(dst, "%02d:%02d:%02d", int(d/time.Hour), int(d/time.Minute%60), int(d/time.Second%60))
		if ns := int64(d % time.Second); ns != 0 {
			frac := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
			dst = append(append(dst, '.'), frac...)
		}
		return dst
	case change.IntervalValue:
		return fmt.Appendf(dst, "%d months %d days %d microseconds", x.Months, x.Days, x.Micros)
	case change.Infinity:
		return append(dst, x.String()...)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Append(dst, v)
		}
		return append(dst, b...)
	}
}

// DecimalText normalises decimal text: no sign for zero, no leading '+',
// no trailing zeros after the point, no point without digits after it.
func DecimalText(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || s[0] == '.' {
		s = "0" + s
	}
	if s == "0" {
		return s
	}
	if neg {
		return "-" + s
	}
	return s
}

// errWithheld marks a reason cut short so that it cannot show a value.
var errWithheld = errors.New("details withheld: the table has column rules")

// Withhold returns a decoding error of a table with rules in a form that
// cannot carry a column's value: its text up to the second ": " (e.g.
// `column "ssn": integer`), the detail replaced by a note. A *ConfigError
// is returned as it is.
func Withhold(err error) error {
	var ce *ConfigError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	s := err.Error()
	cut := 0
	for range 2 {
		i := strings.Index(s[cut:], ": ")
		if i < 0 {
			cut = -1
			break
		}
		cut += i + 2
	}
	if cut > 0 {
		s = s[:cut-2]
	} else if i := strings.Index(s, ": "); i >= 0 {
		s = s[:i]
	}
	return &withheldError{text: s + " (" + errWithheld.Error() + ")", err: err}
}

// withheldError is a decoding error whose text is cut short; it still
// unwraps to the original (errors.Is finds, say, a registry outage).
type withheldError struct {
	text string
	err  error
}

func (e *withheldError) Error() string   { return e.text }
func (e *withheldError) Unwrap() []error { return []error{errWithheld, e.err} }

// IsWithheld reports whether err was cut short by Withhold.
func IsWithheld(err error) bool { return errors.Is(err, errWithheld) }

// KeyField is the field of a landing payload that holds the change's
// key, masked: the record's own key is not kept for a table with rules.
const KeyField = "_cdc_key"

// parsers parse landing payloads; a Table is used by several decoders
// at once.
var parsers = sync.Pool{New: func() any { return new(fastjson.Parser) }}

// Landing returns the payload a landing table keeps for a change of this
// table, c already masked (Apply) and payload the event's JSON payload
// (nil for a tombstone): the envelope with its after image (or, for a
// flattened row, the row itself) and its before image with the left-out
// columns removed and the hashed ones holding their hashes, plus the
// masked key under KeyField. before is the decoded before image, masked;
// without it (events without schemas, a partial image) the before image
// is null: cdcsync cannot hash what it did not decode. Fields keep the
// payload's order. The record's own key, value and key headers are not
// kept (the caller drops them).
func (t *Table) Landing(payload []byte, c, before *change.Change) []byte {
	out := make([]byte, 0, len(payload)+128)
	out = append(out, '{')
	n := 0
	field := func(k []byte) {
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = appendString(out, k)
		out = append(out, ':')
	}
	if len(payload) > 0 {
		p := parsers.Get().(*fastjson.Parser)
		defer parsers.Put(p)
		if v, err := p.ParseBytes(payload); err == nil && v.Type() == fastjson.TypeObject {
			obj, _ := v.Object()
			envelope := v.Get("op") != nil && (v.Exists("after") || v.Exists("before") || v.Exists("source"))
			obj.Visit(func(k []byte, fv *fastjson.Value) {
				name := string(k)
				switch {
				case envelope && name == "before":
					field(k)
					if before != nil && fv.Type() == fastjson.TypeObject {
						out = t.appendRow(out, fv, before)
					} else {
						out = append(out, "null"...)
					}
				case envelope && name == "after" && fv.Type() == fastjson.TypeObject:
					field(k)
					out = t.appendRow(out, fv, c)
				case envelope || strings.HasPrefix(name, "__"):
					field(k) // envelope fields; a flattened row's Debezium fields
					out = fv.MarshalTo(out)
				default: // a flattened row's column
					if r, keep := t.value(name, fv, c); keep {
						field(k)
						out = append(out, r...)
					}
				}
			})
		}
	}
	if c.Schema != nil && c.Key != nil {
		field([]byte(KeyField))
		out = append(out, '{')
		for i, col := range c.Schema.Key {
			if i >= len(c.Key) {
				break
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = appendString(out, []byte(col.Name))
			out = append(out, ':')
			out = appendValue(out, c.Key[i], col.Type)
		}
		out = append(out, '}')
	}
	return append(out, '}')
}

// appendRow appends a row object of a payload, masked.
func (t *Table) appendRow(out []byte, row *fastjson.Value, c *change.Change) []byte {
	obj, _ := row.Object()
	out = append(out, '{')
	n := 0
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		r, keep := t.value(string(k), fv, c)
		if !keep {
			return
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = appendString(out, k)
		out = append(out, ':')
		out = append(out, r...)
	})
	return append(out, '}')
}

// value is what the landing payload keeps of a row field: nothing for a
// left-out column, the hash (from the masked change) for a hashed one,
// the field itself otherwise. An unchanged (TOAST) value keeps its
// placeholder, which is not a value.
func (t *Table) value(name string, fv *fastjson.Value, c *change.Change) ([]byte, bool) {
	if !t.keeps(name) {
		return nil, false
	}
	if !t.hash[name] {
		return fv.MarshalTo(nil), true
	}
	i := -1
	if c.Schema != nil && c.Row != nil {
		i = c.Schema.Index(name)
	}
	switch {
	case i < 0:
		return []byte("null"), true
	case c.Unchanged != nil && c.Unchanged[i]:
		return fv.MarshalTo(nil), true
	}
	return appendValue(nil, c.Row[i], c.Schema.Columns[i].Type), true
}

// appendValue appends a change value as JSON: numbers and booleans as
// such, anything else as its canonical text.
func appendValue(out []byte, v any, typ change.Type) []byte {
	switch x := v.(type) {
	case nil:
		return append(out, "null"...)
	case bool:
		return strconv.AppendBool(out, x)
	case int64:
		return strconv.AppendInt(out, x, 10)
	case []byte:
		return appendString(out, []byte(base64.StdEncoding.EncodeToString(x)))
	}
	return appendString(out, Canonical(nil, v, typ))
}

// appendString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD.
func appendString(out, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				out = append(out, '\\', c)
			case c < 0x20:
				out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\\ufffd"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return append(out, '"')
}

package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
)

// Options tune Compare. Zero values take the defaults.
type Options struct {
	// Tables restricts the comparison to these tables; each must exist on
	// both sides. Empty means every source table that exists in the target.
	Tables []string
	// PageSize is how many source keys one range of the first pass holds
	// (default 10,000): memory is bounded by it.
	PageSize int
	// Fanout is how many sub-ranges a differing range splits into (16).
	Fanout int
	// Leaf is the largest range compared row by row (64 keys).
	Leaf int
	// MaxRows bounds the differing rows a table's report lists (100);
	// all are counted.
	MaxRows int
	// Out receives the report as it is produced (nil: discarded).
	Out io.Writer
	// Progress, when set, is told how far each table's comparison got.
	Progress Progress
	// Columns are the tables' column rules, by table name (see
	// masked.go): only the kept columns are compared, hashed ones hashed.
	Columns map[string]ColumnRules
}

// Progress follows a comparison. Compared is called when a table's rows
// are counted and after each page of the first pass, with the source rows
// compared so far and the table's source row count; TableDone when the
// table is done (or failed), before its part of the report is written.
type Progress interface {
	Compared(table string, done, total int64)
	TableDone(table string)
}

// noProgress is the Progress of a comparison nobody follows.
type noProgress struct{}

func (noProgress) Compared(string, int64, int64) {}
func (noProgress) TableDone(string)              {}

func (o *Options) defaults() {
	if o.PageSize <= 0 {
		o.PageSize = 10000
	}
	if o.Fanout < 2 {
		o.Fanout = 16
	}
	if o.Leaf <= 0 {
		o.Leaf = 64
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 100
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
}

// DiffKind is what is wrong with a row.
type DiffKind string

// The kinds of row differences.
const (
	Missing   DiffKind = "missing"   // in the source, not in the target
	Extra     DiffKind = "extra"     // in the target, not in the source
	Different DiffKind = "different" // in both, with different values
)

// RowDiff is one differing row.
type RowDiff struct {
	Kind    DiffKind
	Key     string       // e.g. `order_id=5 setting_key="color"`
	Columns []ColumnDiff // Different: the differing columns
}

// ColumnDiff is one differing column of a row.
type ColumnDiff struct {
	Name           string
	Source, Target string // the values, as displayed
}

// TableResult is the comparison of one table.
type TableResult struct {
	Name                      string
	SourceRows, TargetRows    int64
	Missing, Extra, Different int
	Issues                    []string  // table-level differences, e.g. a column missing in the target
	Notes                     []string  // things that are not differences
	Rows                      []RowDiff // the first MaxRows differing rows
	SourceRead, TargetRead    int64     // rows read from each side (narrowing re-reads some)
}

// Equal reports whether the table is the same on both sides.
func (r *TableResult) Equal() bool {
	return r.Missing == 0 && r.Extra == 0 && r.Different == 0 && len(r.Issues) == 0
}

// Result is the comparison of every table.
type Result struct {
	Tables []*TableResult
}

// Equal reports whether every table is the same on both sides.
func (r *Result) Equal() bool {
	for _, t := range r.Tables {
		if !t.Equal() {
			return false
		}
	}
	return true
}

// Summary is the one-line outcome, e.g. "3 tables equal (1,204 rows)" or
// "2 of 3 tables differ: 1 missing, 1 extra, 1 different row".
func (r *Result) Summary() string {
	var rows int64
	var differ, missing, extra, different, issues int
	for _, t := range r.Tables {
		rows += t.SourceRows
		if !t.Equal() {
			differ++
		}
		missing += t.Missing
		extra += t.Extra
		different += t.Different
		issues += len(t.Issues)
	}
	if differ == 0 {
		return fmt.Sprintf("%d %s equal (%d source rows)", len(r.Tables), plural(len(r.Tables), "table", "tables"), rows)
	}
	parts := []string{
		fmt.Sprintf("%d missing", missing), fmt.Sprintf("%d extra", extra),
		fmt.Sprintf("%d different %s", different, plural(different, "row", "rows")),
	}
	if issues > 0 {
		parts = append(parts, fmt.Sprintf("%d schema %s", issues, plural(issues, "difference", "differences")))
	}
	return fmt.Sprintf("%d of %d %s differ: %s", differ, len(r.Tables), plural(len(r.Tables), "table", "tables"), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Compare compares the source's tables with the target's and writes a
// report to opts.Out as it goes. Differences are in the Result; an error
// means the comparison could not be made (unreachable database, unknown
// table, no primary key).
func Compare(ctx context.Context, src, tgt Database, opts Options) (*Result, error) {
	opts.defaults()
	names, err := tablesToCompare(ctx, src, tgt, opts.Tables)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, name := range names {
		tr, err := compareTable(ctx, src, tgt, name, opts)
		opts.Progress.TableDone(name)
		if err != nil {
			return nil, err
		}
		res.Tables = append(res.Tables, tr)
		writeTable(opts.Out, tr)
	}
	return res, nil
}

func tablesToCompare(ctx context.Context, src, tgt Database, only []string) ([]string, error) {
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	tgtTables, err := tgt.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if len(only) > 0 {
		var names []string
		for _, n := range only {
			switch {
			case !slices.Contains(srcTables, n):
				return nil, fmt.Errorf("table %q is not a table of the source", n)
			case !slices.Contains(tgtTables, n):
				return nil, fmt.Errorf("table %q is not a table of the target", n)
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		return names, nil
	}
	var names []string
	for _, n := range srcTables {
		if slices.Contains(tgtTables, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no source table exists in the target")
	}
	return names, nil
}

// side is one table of one database, with the columns compared.
type side struct {
	db   Database
	t    *Table
	cols []int    // key columns first, then compared columns
	fams []Family // families of cols
	read *int64
}

// tableCmp compares one table.
type tableCmp struct {
	src, tgt side
	nkey     int
	names    []string // names of the compared columns (aligned with cols)
	kinds    []kind
	opts     Options
	res      *TableResult
	rules    *ColumnRules // the table's column rules; nil without
	srcHash  []bool       // aligned with src.cols: the source value is hashed
	keyHash  bool         // a key column is hashed
}

func compareTable(ctx context.Context, src, tgt Database, name string, opts Options) (*TableResult, error) {
	st, err := src.Describe(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	tt, err := tgt.Describe(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	res := &TableResult{Name: name}
	c := &tableCmp{opts: opts, res: res}
	c.src = side{db: src, t: st, read: &res.SourceRead}
	c.tgt = side{db: tgt, t: tt, read: &res.TargetRead}
	if r, ok := opts.Columns[name]; ok {
		c.rules = &r
	}

	key := st.Key
	if len(key) == 0 {
		// Without a source key, the target's key (from Debezium's record
		// key) identifies rows, if the source has those columns.
		for _, ki := range tt.Key {
			si := st.Column(tt.Columns[ki].Name)
			if si < 0 {
				key = nil
				break
			}
			key = append(key, si)
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("table %s has no primary key in the source or the target", name)
		}
	}
	var keyNames []string
	for _, si := range key {
		n := st.Columns[si].Name
		keyNames = append(keyNames, n)
		ti := tt.Column(n)
		if ti < 0 {
			return nil, fmt.Errorf("table %s: key column %s is not a column of the target", name, n)
		}
		c.add(si, ti)
	}
	c.nkey = len(key)
	c.keyHash = slices.Contains(c.srcHash, true)
	var tgtKey []string
	for _, ki := range tt.Key {
		tgtKey = append(tgtKey, tt.Columns[ki].Name)
	}
	if !slices.Equal(tgtKey, keyNames) {
		if len(tgtKey) == 0 {
			return nil, fmt.Errorf("table %s: the target has no primary key (source key: %s)", name, strings.Join(keyNames, ", "))
		}
		// The target orders and ranges by its own key; ranges would not match.
		return nil, fmt.Errorf("table %s: the target's primary key (%s) differs from the source's (%s)", name,
			strings.Join(tgtKey, ", "), strings.Join(keyNames, ", "))
	}
	st.Key, tt.Key = key, nil
	for _, n := range keyNames {
		tt.Key = append(tt.Key, tt.Column(n))
	}
	for si, col := range st.Columns {
		if slices.Contains(key, si) {
			continue
		}
		if c.rules != nil && !c.rules.keeps(col.Name) {
			res.Notes = append(res.Notes, fmt.Sprintf("column %s is left out by the column rules; not compared", col.Name))
			continue
		}
		if c.rules != nil && slices.Contains(c.rules.Hash, col.Name) && !hashable(col.Family) {
			res.Issues = append(res.Issues, fmt.Sprintf("column %s is hashed and its type (%s) has no canonical text; not compared", col.Name, col.Type))
			continue
		}
		ti := tt.Column(col.Name)
		if ti < 0 {
			res.Issues = append(res.Issues, fmt.Sprintf("column %s (%s) is missing in the target", col.Name, col.Type))
			continue
		}
		c.add(si, ti)
	}
	for _, col := range tt.Columns {
		if st.Column(col.Name) < 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("column %s is only in the target (dropped in the source?); not compared", col.Name))
		}
	}

	if res.SourceRows, err = src.Count(ctx, st); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if res.TargetRows, err = tgt.Count(ctx, tt); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	opts.Progress.Compared(name, 0, res.SourceRows)
	if c.keyHash {
		if err := c.compareWhole(ctx); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// add compares source column si with target column ti.
func (c *tableCmp) add(si, ti int) {
	sf, tf := c.src.t.Columns[si].Family, c.tgt.t.Columns[ti].Family
	c.src.cols, c.src.fams = append(c.src.cols, si), append(c.src.fams, sf)
	c.tgt.cols, c.tgt.fams = append(c.tgt.cols, ti), append(c.tgt.fams, tf)
	c.names = append(c.names, c.src.t.Columns[si].Name)
	hashed := c.rules != nil && slices.Contains(c.rules.Hash, c.src.t.Columns[si].Name)
	c.srcHash = append(c.srcHash, hashed)
	if hashed {
		// The target holds the hash as text: compare the texts.
		c.kinds = append(c.kinds, kText)
		return
	}
	c.kinds = append(c.kinds, compareKind(sf, tf))
}

// rangeHash is an order-independent digest of a set of rows.
type rangeHash struct {
	n    int64
	a, b uint64
}

func (h *rangeHash) add(r rowHash) {
	h.n++
	h.a += r[0]
	h.b += r[1]
}

type rowHash [2]uint64

// srcKey is a source key of a page: its values (normal form) for range
// bounds, and its row's hash.
type srcKey struct {
	vals []any
	h    rowHash
}

// canonRow canonicalises a row read from one side.
func (c *tableCmp) canonRow(s *side, row []any, out []string) {
	if s == &c.src && c.rules != nil {
		row = slices.Clone(row)
		c.hashSource(row)
	}
	for i, v := range row {
		out[i] = canonical(v, s.fams[i], c.kinds[i])
	}
}

func hashCanon(canon []string) rowHash {
	h := fnv.New128a()
	var n [8]byte
	for _, s := range canon {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [16]byte
	h.Sum(sum[:0])
	return rowHash{binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:])}
}

func keyID(canon []string, nkey int) string {
	var b strings.Builder
	for _, s := range canon[:nkey] {
		fmt.Fprintf(&b, "%d:%s", len(s), s)
	}
	return b.String()
}

// scan streams a side's rows in r, calling fn with each row and its
// canonical form.
func (c *tableCmp) scan(ctx context.Context, s *side, r Range, limit int, fn func(row []any, canon []string) error) error {
	canon := make([]string, len(s.cols))
	return s.db.Rows(ctx, s.t, s.cols, r, c.src.fams[:c.nkey], limit, func(row []any) error {
		*s.read++
		c.canonRow(s, row, canon)
		return fn(row, canon)
	})
}

// hashTarget digests the target's rows in r.
func (c *tableCmp) hashTarget(ctx context.Context, r Range) (rangeHash, error) {
	var h rangeHash
	err := c.scan(ctx, &c.tgt, r, 0, func(_ []any, canon []string) error {
		h.add(hashCanon(canon))
		return nil
	})
	return h, err
}

// run walks the source in pages and narrows the ranges that differ.
func (c *tableCmp) run(ctx context.Context) error {
	var after []any
	var compared int64
	for {
		keys := make([]srcKey, 0, min(c.opts.PageSize, 1024))
		var sh rangeHash
		err := c.scan(ctx, &c.src, Range{After: after}, c.opts.PageSize, func(row []any, canon []string) error {
			h := hashCanon(canon)
			sh.add(h)
			keys = append(keys, srcKey{vals: slices.Clone(row[:c.nkey]), h: h})
			return nil
		})
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		compared += int64(len(keys))
		last := len(keys) < c.opts.PageSize
		r := Range{After: after}
		if !last {
			r.UpTo = keys[len(keys)-1].vals
		}
		th, err := c.hashTarget(ctx, r)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if th != sh {
			if err := c.narrow(ctx, r, keys); err != nil {
				return err
			}
		}
		c.opts.Progress.Compared(c.res.Name, compared, c.res.SourceRows)
		if last {
			return nil
		}
		after = r.UpTo
	}
}

// narrow finds the differing rows of range r, whose source keys are keys.
func (c *tableCmp) narrow(ctx context.Context, r Range, keys []srcKey) error {
	if len(keys) <= c.opts.Leaf {
		return c.leaf(ctx, r, len(keys))
	}
	parts := c.opts.Fanout
	start := 0
	lo := r.After
	for p := 1; p <= parts; p++ {
		end := p * len(keys) / parts
		if end == start {
			continue
		}
		sub := Range{After: lo, UpTo: keys[end-1].vals}
		if p == parts {
			sub.UpTo = r.UpTo
		}
		var sh rangeHash
		for _, k := range keys[start:end] {
			sh.add(k.h)
		}
		th, err := c.hashTarget(ctx, sub)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if th != sh {
			if err := c.narrow(ctx, sub, keys[start:end]); err != nil {
				return err
			}
		}
		lo, start = sub.UpTo, end
	}
	return nil
}

// srcRow is a source row of a leaf.
type srcRow struct {
	vals   []any
	canon  []string
	seen   bool
	keyStr string
}

// leaf compares a small range row by row: the source's rows (n of them)
// in a map, the target's streamed against it.
func (c *tableCmp) leaf(ctx context.Context, r Range, n int) error {
	order := make([]*srcRow, 0, n)
	byKey := make(map[string]*srcRow, n)
	err := c.scan(ctx, &c.src, r, 0, func(row []any, canon []string) error {
		sr := &srcRow{vals: slices.Clone(row), canon: slices.Clone(canon)}
		sr.keyStr = keyID(sr.canon, c.nkey)
		order = append(order, sr)
		byKey[sr.keyStr] = sr
		return nil
	})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	var extras []RowDiff
	diffs := map[*srcRow][]ColumnDiff{}
	err = c.scan(ctx, &c.tgt, r, 0, func(row []any, canon []string) error {
		sr, ok := byKey[keyID(canon, c.nkey)]
		if !ok {
			c.res.Extra++
			extras = append(extras, RowDiff{Kind: Extra, Key: c.keyText(row, c.tgt.fams)})
			return nil
		}
		sr.seen = true
		var cols []ColumnDiff
		for i := c.nkey; i < len(canon); i++ {
			if canon[i] != sr.canon[i] {
				src := display(sr.vals[i], c.src.fams[i])
				if c.srcHash[i] && sr.vals[i] != nil {
					src = display(strings.TrimPrefix(sr.canon[i], "="), FString) // the source's hash, not its value
				}
				cols = append(cols, ColumnDiff{Name: c.names[i], Source: src, Target: display(row[i], c.tgt.fams[i])})
			}
		}
		if cols != nil {
			diffs[sr] = cols
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, sr := range order {
		switch {
		case !sr.seen:
			c.res.Missing++
			c.report(RowDiff{Kind: Missing, Key: c.keyText(sr.vals, c.src.fams)})
		case diffs[sr] != nil:
			c.res.Different++
			c.report(RowDiff{Kind: Different, Key: c.keyText(sr.vals, c.src.fams), Columns: diffs[sr]})
		}
	}
	for _, d := range extras {
		c.report(d)
	}
	return nil
}

func (c *tableCmp) report(d RowDiff) {
	if len(c.res.Rows) < c.opts.MaxRows {
		c.res.Rows = append(c.res.Rows, d)
	}
}

func (c *tableCmp) keyText(row []any, fams []Family) string {
	parts := make([]string, c.nkey)
	for i := range parts {
		parts[i] = c.names[i] + "=" + display(row[i], fams[i])
	}
	return strings.Join(parts, " ")
}

// writeTable writes one table's part of the report.
func writeTable(w io.Writer, r *TableResult) {
	state := "equal"
	if !r.Equal() {
		state = fmt.Sprintf("DIFFERENT (%d missing, %d extra, %d different %s", r.Missing, r.Extra, r.Different, plural(r.Different, "row", "rows"))
		if len(r.Issues) > 0 {
			state += fmt.Sprintf(", %d schema %s", len(r.Issues), plural(len(r.Issues), "difference", "differences"))
		}
		state += ")"
	}
	fmt.Fprintf(w, "%s: %d source rows, %d target rows: %s\n", r.Name, r.SourceRows, r.TargetRows, state)
	for _, s := range r.Issues {
		fmt.Fprintf(w, "  schema     %s\n", s)
	}
	for _, s := range r.Notes {
		fmt.Fprintf(w, "  note       %s\n", s)
	}
	for _, d := range r.Rows {
		fmt.Fprintf(w, "  %-10s %s", d.Kind, d.Key)
		for i, cd := range d.Columns {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(w, "%s%s source %s target %s", sep, cd.Name, cd.Source, cd.Target)
		}
		fmt.Fprintln(w)
	}
	if shown, total := len(r.Rows), r.Missing+r.Extra+r.Different; shown < total {
		fmt.Fprintf(w, "  … and %d more differing rows\n", total-shown)
	}
}

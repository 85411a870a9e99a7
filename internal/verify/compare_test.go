package verify

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// memDB is an in-memory Database: tables of normal-form rows kept in key
// order. It counts the rows it returns and the largest limit asked.
type memDB struct {
	tables map[string]*memTable
	reads  int
	scans  int
}

type memTable struct {
	t    *Table
	rows [][]any
}

func newMem() *memDB { return &memDB{tables: map[string]*memTable{}} }

func (m *memDB) add(t *Table, rows ...[]any) *memTable {
	mt := &memTable{t: t, rows: rows}
	m.tables[t.Name] = mt
	mt.sort()
	return mt
}

func (mt *memTable) sort() {
	slices.SortFunc(mt.rows, func(a, b []any) int { return cmpKey(mt.key(a), mt.key(b)) })
}

func (mt *memTable) key(row []any) []any {
	k := make([]any, len(mt.t.Key))
	for i, ki := range mt.t.Key {
		k[i] = row[ki]
	}
	return k
}

func cmpVal(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case string:
		return strings.Compare(x, b.(string))
	case time.Time:
		return x.Compare(b.(time.Time))
	case []byte:
		return bytes.Compare(x, b.([]byte))
	}
	panic(fmt.Sprintf("cmpVal %T", a))
}

func cmpKey(a, b []any) int {
	for i := range a {
		if c := cmpVal(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func (m *memDB) Tables(context.Context) ([]string, error) {
	var names []string
	for n := range m.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func (m *memDB) Describe(_ context.Context, name string) (*Table, error) {
	mt, ok := m.tables[name]
	if !ok {
		return nil, fmt.Errorf("mem: %s: %w", name, ErrNoTable)
	}
	t := *mt.t
	t.Columns = slices.Clone(t.Columns)
	t.Key = slices.Clone(t.Key)
	return &t, nil
}

func (m *memDB) Count(_ context.Context, t *Table) (int64, error) {
	return int64(len(m.tables[t.Name].rows)), nil
}

func (m *memDB) Rows(_ context.Context, t *Table, cols []int, r Range, _ []Family, limit int, fn func([]any) error) error {
	m.scans++
	mt := m.tables[t.Name]
	n := 0
	for _, row := range mt.rows {
		k := mt.key(row)
		if r.After != nil && cmpKey(k, r.After) <= 0 || r.UpTo != nil && cmpKey(k, r.UpTo) > 0 {
			continue
		}
		out := make([]any, len(cols))
		for i, ci := range cols {
			out[i] = row[ci]
		}
		m.reads++
		if err := fn(out); err != nil {
			return err
		}
		if n++; limit > 0 && n == limit {
			break
		}
	}
	return nil
}

func (m *memDB) Close() error { return nil }

func ordersTable() *Table {
	return &Table{Name: "orders", Key: []int{0}, Columns: []Column{
		{Name: "id", Type: "int", Family: FInt},
		{Name: "status", Type: "varchar(20)", Family: FString},
		{Name: "total", Type: "decimal(10,2)", Family: FDecimal},
	}}
}

func ordersRows(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), fmt.Sprintf("status-%d", i%7), fmt.Sprintf("%d.%02d", i, i%100)}
	}
	return rows
}

func cloneRows(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = slices.Clone(r)
	}
	return out
}

func compareMem(t *testing.T, src, tgt *memDB, opts Options) (*Result, string) {
	t.Helper()
	var out strings.Builder
	opts.Out = &out
	res, err := Compare(context.Background(), src, tgt, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, out.String()
}

func TestEqualTablesAreReadOnce(t *testing.T) {
	const n = 25000
	src, tgt := newMem(), newMem()
	rows := ordersRows(n)
	src.add(ordersTable(), rows...)
	// The target renders decimals with another scale: still equal.
	trows := cloneRows(rows)
	for _, r := range trows {
		r[2] = r[2].(string) + "000"
	}
	tgt.add(ordersTable(), trows...)
	res, out := compareMem(t, src, tgt, Options{PageSize: 1000})
	if !res.Equal() {
		t.Fatalf("want equal:\n%s", out)
	}
	if src.reads != n || tgt.reads != n {
		t.Errorf("read %d source and %d target rows, want each row once (%d)", src.reads, tgt.reads, n)
	}
	if !strings.Contains(out, "orders: 25000 source rows, 25000 target rows: equal") {
		t.Errorf("report:\n%s", out)
	}
	if got := res.Summary(); got != "1 table equal (25000 source rows)" {
		t.Errorf("summary %q", got)
	}
}

func TestNarrowingFindsEachDifference(t *testing.T) {
	const n, page = 25000, 2000
	src, tgt := newMem(), newMem()
	rows := ordersRows(n)
	// Leave gaps in the source's keys so the target can have extras inside.
	rows = slices.DeleteFunc(rows, func(r []any) bool { return r[0].(int64)%1000 == 500 })
	src.add(ordersTable(), rows...)
	trows := cloneRows(rows)
	trows[12000][1] = "corrupted" // id 12013
	changedID := trows[12000][0].(int64)
	missingID := trows[777][0].(int64)
	trows = slices.Delete(trows, 777, 778)
	trows = append(trows,
		[]any{int64(3500), "gap", "1.00"},  // inside a page
		[]any{int64(-5), "before", "1.00"}, // before the first key
		[]any{int64(99999), "after", nil},  // after the last
	)
	mt := tgt.add(ordersTable(), trows...)
	mt.sort()

	res, out := compareMem(t, src, tgt, Options{PageSize: page})
	tr := res.Tables[0]
	if tr.Missing != 1 || tr.Extra != 3 || tr.Different != 1 {
		t.Fatalf("missing %d extra %d different %d, want 1 3 1:\n%s", tr.Missing, tr.Extra, tr.Different, out)
	}
	for _, want := range []string{
		fmt.Sprintf("missing    id=%d\n", missingID),
		fmt.Sprintf(`different  id=%d: status source "status-%d" target "corrupted"`, changedID, (changedID-1)%7),
		"extra      id=3500\n", "extra      id=-5\n", "extra      id=99999\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Narrowing re-reads only the differing ranges' target rows, a
	// fraction of a page per level, and a leaf of source rows each.
	if limit := 2*len(rows) + 4*3*page; src.reads+tgt.reads > limit {
		t.Errorf("read %d rows, want at most %d", src.reads+tgt.reads, limit)
	}
	if got := res.Summary(); got != "1 of 1 table differ: 1 missing, 3 extra, 1 different row" {
		t.Errorf("summary %q", got)
	}
}

func TestEmptySides(t *testing.T) {
	src, tgt := newMem(), newMem()
	src.add(ordersTable())
	tgt.add(ordersTable(), ordersRows(150)...)
	res, out := compareMem(t, src, tgt, Options{PageSize: 100, MaxRows: 10})
	if tr := res.Tables[0]; tr.Extra != 150 || len(tr.Rows) != 10 || !strings.Contains(out, "… and 140 more differing rows") {
		t.Fatalf("extra %d rows listed %d:\n%s", tr.Extra, len(tr.Rows), out)
	}

	src, tgt = newMem(), newMem()
	src.add(ordersTable(), ordersRows(250)...)
	tgt.add(ordersTable())
	res, out = compareMem(t, src, tgt, Options{PageSize: 100})
	if tr := res.Tables[0]; tr.Missing != 250 {
		t.Fatalf("missing %d:\n%s", tr.Missing, out)
	}
}

func TestPageBoundaries(t *testing.T) {
	// Table sizes around multiples of the page size, and a difference at
	// every position of a small table.
	for _, n := range []int{1, 99, 100, 101, 200, 201} {
		for _, at := range []int{0, n / 2, n - 1} {
			src, tgt := newMem(), newMem()
			rows := ordersRows(n)
			src.add(ordersTable(), rows...)
			trows := cloneRows(rows)
			trows[at][2] = "-1.00"
			tgt.add(ordersTable(), trows...)
			res, out := compareMem(t, src, tgt, Options{PageSize: 100, Leaf: 4, Fanout: 3})
			if tr := res.Tables[0]; tr.Different != 1 || tr.Missing+tr.Extra != 0 {
				t.Fatalf("n=%d at=%d:\n%s", n, at, out)
			}
		}
	}
}

func TestCompositeKeyAndSchemaIssues(t *testing.T) {
	srcT := &Table{Name: "order_settings", Key: []int{0, 1}, Columns: []Column{
		{Name: "order_id", Type: "int", Family: FInt},
		{Name: "setting_key", Type: "varchar(50)", Family: FString},
		{Name: "setting_value", Type: "text", Family: FString},
		{Name: "is_active", Type: "tinyint(1)", Family: FInt},
		{Name: "added", Type: "int", Family: FInt},
	}}
	tgtT := &Table{Name: "order_settings", Key: []int{1, 0}, Columns: []Column{
		{Name: "setting_key", Type: "VARCHAR", Family: FString},
		{Name: "order_id", Type: "INTEGER", Family: FInt},
		{Name: "setting_value", Type: "VARCHAR", Family: FString},
		{Name: "is_active", Type: "BOOLEAN", Family: FBool},
		{Name: "dropped", Type: "VARCHAR", Family: FString},
	}}
	tgtT.Key = []int{1, 0} // order_id, setting_key
	src, tgt := newMem(), newMem()
	src.add(srcT,
		[]any{int64(1), "color", "red", int64(1), nil},
		[]any{int64(1), "gift", nil, int64(0), nil},
		[]any{int64(2), "color", "blue", int64(1), nil},
	)
	tgt.add(tgtT,
		[]any{"color", int64(1), "red", true, "x"},
		[]any{"gift", int64(1), "", false, nil}, // NULL vs ""
		[]any{"zzz", int64(2), "blue", true, nil},
	)
	res, out := compareMem(t, src, tgt, Options{})
	tr := res.Tables[0]
	if tr.Missing != 1 || tr.Extra != 1 || tr.Different != 1 || len(tr.Issues) != 1 {
		t.Fatalf("%+v\n%s", tr, out)
	}
	for _, want := range []string{
		`missing    order_id=2 setting_key="color"`,
		`extra      order_id=2 setting_key="zzz"`,
		`different  order_id=1 setting_key="gift": setting_value source NULL target ""`,
		"schema     column added (int) is missing in the target",
		"note       column dropped is only in the target",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestTableSelection(t *testing.T) {
	src, tgt := newMem(), newMem()
	src.add(ordersTable())
	src.add(&Table{Name: "only_source", Key: []int{0}, Columns: []Column{{Name: "id", Family: FInt}}})
	tgt.add(ordersTable())
	res, _ := compareMem(t, src, tgt, Options{})
	if len(res.Tables) != 1 || res.Tables[0].Name != "orders" {
		t.Fatalf("default tables: %+v", res.Tables)
	}
	for _, tc := range []struct{ tables, err string }{
		{"nope", `table "nope" is not a table of the source`},
		{"only_source", `table "only_source" is not a table of the target`},
	} {
		_, err := Compare(context.Background(), src, tgt, Options{Tables: []string{tc.tables}})
		if err == nil || err.Error() != tc.err {
			t.Errorf("tables %s: err %v, want %s", tc.tables, err, tc.err)
		}
	}
	noKey := newMem()
	noKey.add(&Table{Name: "orders", Columns: ordersTable().Columns})
	if _, err := Compare(context.Background(), noKey, noKey, Options{}); err == nil || !strings.Contains(err.Error(), "no primary key") {
		t.Errorf("no key: %v", err)
	}
}

// progressLog records what a comparison tells its Progress.
type progressLog []string

func (p *progressLog) Compared(table string, done, total int64) {
	*p = append(*p, fmt.Sprintf("%s %d/%d", table, done, total))
}
func (p *progressLog) TableDone(table string) { *p = append(*p, table+" done") }

// TestProgress_RowsComparedPerTable: a comparison reports, table by
// table, the source rows compared of the table's rows — at the count and
// after each page, also when the page differs and is narrowed — and says
// when the table is done, before its report is written.
func TestProgress_RowsComparedPerTable(t *testing.T) {
	src, tgt := newMem(), newMem()
	src.add(ordersTable(), ordersRows(2500)...)
	trows := cloneRows(ordersRows(2500))
	trows[1500][1] = "changed"
	tgt.add(ordersTable(), trows...)
	var log progressLog
	res, _ := compareMem(t, src, tgt, Options{PageSize: 1000, Progress: &log})
	if res.Equal() {
		t.Fatal("want a difference")
	}
	want := []string{"orders 0/2500", "orders 1000/2500", "orders 2000/2500", "orders 2500/2500", "orders done"}
	if !slices.Equal(log, want) {
		t.Errorf("progress %q, want %q", log, want)
	}
}

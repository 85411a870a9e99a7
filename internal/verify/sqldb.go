package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// dialect is what one SQL database supplies to sqlDatabase: its catalog
// queries, quoting, and how a column is read, ordered and bound.
type dialect interface {
	// name names the database in errors ("MySQL", "PostgreSQL", "DuckDB").
	name() string
	listTables(ctx context.Context, db *sql.DB) ([]string, error)
	// describe reads a table's columns and key; no columns means no table.
	describe(ctx context.Context, db *sql.DB, table string) (*Table, error)
	// tableRef is the qualified, quoted name of a table.
	tableRef(table string) string
	quote(ident string) string
	// selectExpr reads column c in a form normalize accepts for c.Family.
	selectExpr(c Column) string
	// keyExpr orders and compares key column c (text by its bytes).
	keyExpr(c Column) string
	// param is the n-th (1-based) query parameter compared with key column
	// c, and bind converts a key value (normal form of c.Family) for it.
	param(c Column, n int) string
	bind(v any, c Column) any
}

// sqlDatabase is a Database over database/sql.
type sqlDatabase struct {
	db *sql.DB
	d  dialect
}

func (s *sqlDatabase) Close() error { return s.db.Close() }

func (s *sqlDatabase) Tables(ctx context.Context) ([]string, error) {
	names, err := s.d.listTables(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("%s: list tables: %w", s.d.name(), sqltext.FirstLine(err))
	}
	return names, nil
}

func (s *sqlDatabase) Describe(ctx context.Context, table string) (*Table, error) {
	t, err := s.d.describe(ctx, s.db, table)
	if err != nil {
		return nil, fmt.Errorf("%s: describe %s: %w", s.d.name(), table, sqltext.FirstLine(err))
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("%s: table %s: %w", s.d.name(), table, ErrNoTable)
	}
	return t, nil
}

func (s *sqlDatabase) Count(ctx context.Context, t *Table) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+s.d.tableRef(t.Name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: count %s: %w", s.d.name(), t.Name, sqltext.FirstLine(err))
	}
	return n, nil
}

func (s *sqlDatabase) Rows(ctx context.Context, t *Table, cols []int, r Range, keyFams []Family, limit int, fn func(row []any) error) error {
	q, args, err := s.rowsQuery(t, cols, r, keyFams, limit)
	if err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", s.d.name(), t.Name, sqltext.FirstLine(err))
	}
	defer rows.Close()
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	row := make([]any, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: read %s: %w", s.d.name(), t.Name, sqltext.FirstLine(err))
		}
		for i, ci := range cols {
			c := t.Columns[ci]
			if row[i], err = normalize(raw[i], c.Family); err != nil {
				// Kept as text: it compares equal to nothing readable, and
				// the report shows it.
				row[i] = unreadable(fmt.Sprint(raw[i]))
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: read %s: %w", s.d.name(), t.Name, sqltext.FirstLine(err))
	}
	return nil
}

// rowsQuery builds the keyset query of Rows.
func (s *sqlDatabase) rowsQuery(t *Table, cols []int, r Range, keyFams []Family, limit int) (string, []any, error) {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, ci := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.d.selectExpr(t.Columns[ci]))
	}
	b.WriteString(" FROM ")
	b.WriteString(s.d.tableRef(t.Name))
	var args []any
	var conds []string
	for _, bound := range []struct {
		vals       []any
		strict, eq string
	}{{r.After, ">", ">"}, {r.UpTo, "<", "<="}} {
		if bound.vals == nil {
			continue
		}
		if len(bound.vals) != len(t.Key) || len(keyFams) != len(t.Key) {
			return "", nil, fmt.Errorf("key bound has %d values for a key of %d columns", len(bound.vals), len(t.Key))
		}
		vals := make([]any, len(t.Key))
		for i, ki := range t.Key {
			v, err := convertKey(bound.vals[i], keyFams[i], t.Columns[ki].Family)
			if err != nil {
				return "", nil, fmt.Errorf("%s: key column %s.%s: %w", s.d.name(), t.Name, t.Columns[ki].Name, err)
			}
			vals[i] = s.d.bind(v, t.Columns[ki])
		}
		conds = append(conds, s.tupleCond(t, 0, vals, bound.strict, bound.eq, &args))
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	for i, ki := range t.Key {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.d.keyExpr(t.Columns[ki]))
	}
	if limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(limit))
	}
	return b.String(), args, nil
}

// tupleCond renders (k_i, …, k_n) op (v_i, …, v_n) without row
// constructors, which not every database compares: k_i strict v_i OR
// (k_i = v_i AND rest), and k_n last v_n.
func (s *sqlDatabase) tupleCond(t *Table, i int, vals []any, strict, last string, args *[]any) string {
	c := t.Columns[t.Key[i]]
	k := s.d.keyExpr(c)
	p := func() string {
		*args = append(*args, vals[i])
		return s.d.param(c, len(*args))
	}
	if i == len(t.Key)-1 {
		return k + " " + last + " " + p()
	}
	return "(" + k + " " + strict + " " + p() + " OR (" + k + " = " + p() + " AND " + s.tupleCond(t, i+1, vals, strict, last, args) + "))"
}

// convertKey converts a key value in the normal form of family from into
// the normal form of family to, for comparing it with a column of to.
func convertKey(v any, from, to Family) (any, error) {
	if from == to {
		return v, nil
	}
	switch to {
	case FInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			return b2i(x), nil
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		}
	case FBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	case FDecimal:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case bool:
			return strconv.FormatInt(b2i(x), 10), nil
		case string:
			return x, nil
		}
	case FString, FOther, FUUID:
		return text(v), nil
	case FDate, FTimestamp, FTimestampTZ:
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
	case FBytes, FBits:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case FFloat32, FFloat64:
		if g, err := float(v); err == nil {
			return g, nil
		}
	}
	return nil, fmt.Errorf("a %s key value cannot be compared with a %s column", from, to)
}

// keyText renders a key value (normal form of c.Family) in the input
// syntax text casts accept, for databases bound with text parameters.
func keyText(v any, c Column) any {
	switch x := v.(type) {
	case time.Time:
		switch c.Family {
		case FDate:
			return x.Format("2006-01-02")
		case FTimestampTZ:
			return x.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
		}
		return x.Format("2006-01-02 15:04:05.999999")
	case int64:
		if c.Family == FTime {
			return display(x, FTime)
		}
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return `\x` + fmt.Sprintf("%x", x)
	}
	return v
}

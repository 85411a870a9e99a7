package warehouse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
)

// Column is a target column as a warehouse's catalog knows it.
type Column struct {
	Name string
	Type change.Type // the column's type read back as cdcsync's type
	SQL  string      // the column's type in the warehouse's dialect
}

// Evolution is what a table must do to take events of one schema.
type Evolution struct {
	Add   []Column // new columns
	Alter []Column // existing columns widened to a new type
	// Incompatible is the reason events of this schema cannot be applied,
	// or "" when they can.
	Incompatible string
}

// Empty reports whether the table takes the schema as it is.
func (e Evolution) Empty() bool { return len(e.Add) == 0 && len(e.Alter) == 0 }

// Evolve compares a table's columns and primary key with an event schema.
// sqlType renders a type in the warehouse's dialect: two types with one SQL
// rendering are the same column type there.
func Evolve(cols []Column, key []string, s *change.Schema, sqlType func(change.Type) string) Evolution {
	if len(key) > 0 && len(s.Key) > 0 && !slices.Equal(key, s.KeyNames()) {
		return Evolution{Incompatible: fmt.Sprintf("record key columns (%s) differ from the table's primary key (%s)",
			strings.Join(s.KeyNames(), ", "), strings.Join(key, ", "))}
	}
	byName := make(map[string]int, len(cols))
	for i, c := range cols {
		byName[c.Name] = i
	}
	var ev Evolution
	visit := func(c change.Column) {
		i, ok := byName[c.Name]
		if !ok {
			byName[c.Name] = -1
			ev.Add = append(ev.Add, Column{Name: c.Name, Type: c.Type, SQL: sqlType(c.Type)})
			return
		}
		if i < 0 {
			return // added above, from another part of the schema
		}
		cur := cols[i]
		if sqlType(c.Type) == cur.SQL {
			return
		}
		w, ok := change.Widen(cur.Type, c.Type)
		if !ok {
			if ev.Incompatible == "" {
				ev.Incompatible = fmt.Sprintf("column %q: the table has %s, the event has %s (not a widening)", c.Name, cur.SQL, sqlType(c.Type))
			}
			return
		}
		if ws := sqlType(w); ws != cur.SQL {
			ev.Alter = append(ev.Alter, Column{Name: c.Name, Type: w, SQL: ws})
		}
	}
	for _, c := range s.Key {
		visit(c)
	}
	for _, c := range s.Columns {
		visit(c)
	}
	if ev.Incompatible != "" {
		return Evolution{Incompatible: ev.Incompatible}
	}
	return ev
}

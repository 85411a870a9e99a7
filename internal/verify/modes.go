package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
)

// Table modes (warehouse.Mode). A soft_delete target's live rows
// (_cdc_deleted false) and a history target's current versions
// (_cdc_is_current) are what equals the source; CheckMode checks the rest:
// that deleted rows are flagged with their time, and that a history
// table's versions of each key follow one another without overlap.

// ModeChecker is implemented by targets that check a table's mode-specific
// invariants.
type ModeChecker interface {
	// CheckMode returns the table's mode-specific problems (none for mode
	// current) and notes on what was compared.
	CheckMode(ctx context.Context, t *Table) (issues, notes []string, err error)
}

var _ ModeChecker = (*sqlDatabase)(nil)

// live is the condition selecting the rows of t that equal the source's;
// "" for all.
func (s *sqlDatabase) live(t *Table) string {
	switch t.Mode {
	case warehouse.ModeSoftDelete:
		return "NOT " + s.d.quote(warehouse.ColDeleted)
	case warehouse.ModeHistory:
		return s.d.quote(warehouse.ColIsCurrent)
	}
	return ""
}

// CheckMode checks a soft_delete or history table.
func (s *sqlDatabase) CheckMode(ctx context.Context, t *Table) (issues, notes []string, err error) {
	q := s.d.quote
	ref := s.d.tableRef(t.Name)
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = q(t.Columns[k].Name)
	}
	key := strings.Join(keys, ", ")
	type check struct {
		query, problem string
	}
	var checks []check
	var all string
	switch t.Mode {
	case warehouse.ModeSoftDelete:
		del, at := q(warehouse.ColDeleted), q(warehouse.ColDeletedAt)
		all = "SELECT count(*) FROM " + ref + " WHERE " + del
		checks = []check{
			{"SELECT count(*) FROM " + ref + " WHERE " + del + " IS NULL", "rows with no " + warehouse.ColDeleted + " flag"},
			{"SELECT count(*) FROM " + ref + " WHERE " + del + " AND " + at + " IS NULL", "deleted rows with no " + warehouse.ColDeletedAt},
			{"SELECT count(*) FROM " + ref + " WHERE NOT " + del + " AND " + at + " IS NOT NULL", "live rows with a " + warehouse.ColDeletedAt},
		}
	case warehouse.ModeHistory:
		from, to, cur, pos := q(warehouse.ColValidFrom), q(warehouse.ColValidTo), q(warehouse.ColIsCurrent), q(warehouse.ColPosition)
		all = "SELECT count(*) FROM " + ref
		checks = []check{
			{"SELECT count(*) FROM (SELECT " + key + " FROM " + ref + " WHERE " + cur + " GROUP BY " + key + " HAVING count(*) > 1) k",
				"keys with more than one current version"},
			{"SELECT count(*) FROM " + ref + " WHERE " + cur + " IS NULL OR (" + cur + " AND " + to + " IS NOT NULL) OR (NOT " + cur + " AND " + to + " IS NULL)",
				"versions whose " + warehouse.ColIsCurrent + " disagrees with " + warehouse.ColValidTo},
			{"SELECT count(*) FROM " + ref + " WHERE " + from + " IS NULL OR " + to + " < " + from, "versions that end before they begin"},
			{"SELECT count(*) FROM (SELECT " + to + " AS t, LEAD(" + from + ") OVER (PARTITION BY " + key + " ORDER BY " + from + ", " + pos + ") AS n FROM " + ref + ") v" +
				" WHERE v.n IS NOT NULL AND (v.t IS NULL OR v.t > v.n)", "versions that overlap the key's next version"},
		}
	default:
		return nil, nil, nil
	}
	count := func(query string) (int64, error) {
		var n int64
		if err := s.db.QueryRowContext(ctx, query).Scan(&n); err != nil {
			return 0, fmt.Errorf("%s: check %s: %w", s.d.name(), t.Name, sqltext.FirstLine(err))
		}
		return n, nil
	}
	for _, c := range checks {
		n, err := count(c.query)
		if err != nil {
			return nil, nil, err
		}
		if n > 0 {
			issues = append(issues, fmt.Sprintf("mode %s: %d %s", t.Mode, n, c.problem))
		}
	}
	n, err := count(all)
	if err != nil {
		return nil, nil, err
	}
	if t.Mode == warehouse.ModeSoftDelete {
		notes = append(notes, fmt.Sprintf("mode soft_delete: compared the live rows; %d deleted rows kept, flagged", n))
	} else {
		notes = append(notes, fmt.Sprintf("mode history: compared the current versions; %d versions in all", n))
	}
	return issues, notes, nil
}

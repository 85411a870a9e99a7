package warehouse

import "fmt"

// Mode is the shape of a target table (config `mode`, per table
// `tables.<t>.mode`).
type Mode string

// Table modes.
const (
	// ModeCurrent keeps one row per key: the key's last change (the
	// default).
	ModeCurrent Mode = "current"
	// ModeSoftDelete keeps one row per key, as ModeCurrent, but a delete
	// (or a truncate) flags the row (ColDeleted, ColDeletedAt) instead of
	// removing it; a later upsert of the key clears the flag.
	ModeSoftDelete Mode = "soft_delete"
	// ModeHistory keeps every version of every row with its validity
	// interval (a type-2 slowly changing dimension).
	ModeHistory Mode = "history"
)

// Columns of the non-current modes, after the source columns.
const (
	ColDeleted   = Prefix + "deleted"    // soft_delete: the key is deleted in the source
	ColDeletedAt = Prefix + "deleted_at" // soft_delete: the delete's (or truncate's) source commit time
	ColValidFrom = Prefix + "valid_from" // history: the version's source commit time
	ColValidTo   = Prefix + "valid_to"   // history: the next change's source commit time; NULL while current
	ColIsCurrent = Prefix + "is_current" // history: the version is the key's live row
)

// ModeColumns are the columns the non-current modes add to a target table.
var ModeColumns = []string{ColDeleted, ColDeletedAt, ColValidFrom, ColValidTo, ColIsCurrent}

// CurrentViewSuffix names the view over a history table's current
// versions: <table>_current.
const CurrentViewSuffix = "_current"

// ParseMode returns the mode a config value names; "" is ModeCurrent.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeCurrent, nil
	case ModeCurrent, ModeSoftDelete, ModeHistory:
		return m, nil
	}
	return "", fmt.Errorf("%q is not current, soft_delete or history", s)
}

// ModeOf returns the mode of a target table (by the name its topic maps
// to): its own, else the default, else ModeCurrent.
func (o Options) ModeOf(table string) Mode {
	if m, ok := o.Modes[table]; ok && m != "" {
		return m
	}
	if o.Mode != "" {
		return o.Mode
	}
	return ModeCurrent
}

// UsesModes reports whether any table is in a mode other than current.
func (o Options) UsesModes() bool {
	if o.Mode != "" && o.Mode != ModeCurrent {
		return true
	}
	for _, m := range o.Modes {
		if m != "" && m != ModeCurrent {
			return true
		}
	}
	return false
}

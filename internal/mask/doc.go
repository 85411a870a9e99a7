// Package mask applies a table's column rules — columns_include,
// columns_exclude, columns_hash — to decoded changes, before anything
// reaches the warehouse: the target table, the landing table and the
// dead-letter table.
//
// The decoder calls Table.Apply on every change of a table with rules: the
// left-out columns leave the row and the schema; a hashed column (a key
// column too) holds hex(HMAC-SHA-256(key, canonical text of the value))
// and is text in the schema whatever its source type, so a type change
// in the source keeps it text, and the same value hashes alike in every
// table (joins on hashed columns work). The canonical text is defined by
// Canonical; unchanged (TOAST) values stay unchanged markers and NULL
// stays NULL.
//
// The landing table of such a table keeps Table.Landing's payload (the
// before and after images masked alike, the key masked) instead of the
// record's own bytes, and a record that cannot be decoded leaves a
// dead letter without its bytes and with a reason cut short (Withhold).
package mask

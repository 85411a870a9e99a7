// Package verify compares the tables of a source database with the tables
// cdcsync keeps in a target, row by row, without reading either table into
// memory.
//
// # Model
//
// A Database is one side of a comparison: a MySQL/MariaDB or PostgreSQL
// source, or a DuckDB or PostgreSQL target. It lists tables, describes a
// table (columns with their type Family, primary key) and streams the rows
// whose primary key lies in a Range, in key order, with every value in its
// family's normal form (see Family). Nothing else is asked of a database,
// so a new target is one small implementation.
//
// A target is opened through cdcsync's registry of warehouses (package
// target: OpenTarget), but read with verify's own catalog queries and its
// own mapping of column types to families, on purpose: verify is an
// independent check of cdcsync's type mapping, so it must not reuse it.
//
// # Algorithm
//
// For each table, Compare counts both sides, then walks the source in
// pages of PageSize keys with keyset pagination. A page is the key range
// (previous page's last key, this page's last key]; the last page is open
// above. The source page is read once: each row is canonicalised (below),
// hashed, and its key and 128-bit row hash kept — memory is bounded by the
// page size. The target's rows of the same range are streamed and hashed
// without being kept. Range hashes are order-independent sums of row hashes
// plus a row count, so equal ranges cost one read of each side.
//
// When a range's hashes differ, it is split into Fanout sub-ranges at the
// page's source keys; the source side of each sub-range is summed from the
// kept row hashes and only the target side is read again. Sub-ranges whose
// hashes differ are split again until a range holds at most Leaf source
// keys; a leaf is compared row by row (its source rows in a map, the
// target's streamed against it), which yields the missing, extra and
// different rows and, for a different row, the differing columns.
//
// Both sides must order keys alike: every Database orders text keys by
// their bytes (MySQL BINARY, PostgreSQL COLLATE "C", DuckDB's default).
//
// # Canonical values
//
// Values are compared after the type mapping cdcsync applies, so that the
// source's value and the value cdcsync stored compare equal exactly when
// cdcsync got it right. The pair of column families decides the comparison
// (see kind): integers and booleans as integers (MySQL TINYINT(1) arrives
// as int16), exact decimals as exact rationals (12.30 = 12.3), floats with
// float equality (at 6 significant digits when either side is single
// precision: Debezium's MySQL snapshot reads FLOAT as 6-digit text),
// timestamps as UTC instants at microsecond precision (a zoneless value is
// read as UTC, like Debezium does), JSON semantically (parsed, keys sorted,
// numbers exact), UUIDs case-insensitively, intervals as microseconds with
// Debezium's 30.4375-day month, MySQL BIT as the unsigned integer Debezium
// encodes little-endian, bytes as bytes. NULL differs from every value.
package verify

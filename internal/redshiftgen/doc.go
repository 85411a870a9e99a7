// Package redshiftgen writes the Redshift-native version of what cdcsync
// does: for teams that keep the recipe of streaming ingestion and stored
// procedures, the SQL they would otherwise write by hand for every table,
// typed from the topic's Debezium schema and without the recipe's defects.
//
// Per table it writes a streaming materialized view over the MSK topic
// (json_parse of the value, and of the key, which tombstones need), typed
// staging and target tables (DISTKEY on the key's first column, SORTKEY on
// the key, AZ64/ZSTD/BYTEDICT encodings), and a procedure
// incremental_sync_<table>() that a schedule calls. The procedure reads the
// view past each Kafka partition's watermark (one row per table and
// partition, updated in place, never NULL), keeps each key's last change in
// source order (binlog file/pos/row or PostgreSQL LSNs, then Kafka offset;
// ROW_NUMBER, never RANK over ts_ms), applies deletes, tombstones,
// primary-key changes and truncates as cdcsync does (see the README's
// "Semantics"), and does it all in the CALL's one transaction.
//
// Inspect learns a table from the last records of its topic (Sample reads
// them): the debezium decoder types the columns and the key, honouring the
// configuration's declared types; the events' JSON tells how each value is
// encoded, which connector wrote it, and whether values and keys carry
// schemas.
//
// The SQL is built from templates; the handful of constructs that differ
// between Redshift and PostgreSQL (SUPER navigation and json_parse, VARBYTE,
// DISTKEY/SORTKEY/ENCODE, the external schema and the materialized view,
// SYSDATE) are rendered by the Dialect, in dialect.go, through the Redshift
// knowledge the warehouse shares (warehouse/redshift/dialect: types,
// encodings, keys, reserved words, the PostgreSQL mapping). The PostgreSQL
// rendering, with jsonb and a plain table standing in for the view, exists
// so that tests run the procedure's logic on a real database.
//
// Limits: Debezium's precise decimals (base64 two's-complement bytes) cannot
// be decoded in Redshift SQL, so the connector must use
// decimal.handling.mode=string (or double); Inspect detects precise mode
// and warns. Flattened (ExtractNewRecordState) topics are not supported.
package redshiftgen

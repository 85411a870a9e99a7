// Package debezium decodes Debezium change events, as Kafka Connect's
// JsonConverter writes them, into change.Change values.
//
// Both converter settings are understood, for keys and values separately:
// with schemas (`{"schema":…,"payload":…}`) the column types come from the
// Connect schema carried in the event, including every Debezium logical type
// (temporal units, exact decimals, JSON, UUID, …); without schemas (the bare
// envelope) they come from the table's declared column types, else from the
// JSON values themselves.
//
// The envelope's op decides the change: c, u and r upsert the after image, d
// deletes the key, t truncates the table. A null value (and the legacy
// `{"schema":null,"payload":null}`) is a tombstone: it deletes its key and
// never resurrects one. The flattened output of Debezium's
// ExtractNewRecordState transformation (`__op`, `__deleted`) is understood
// too. Records that carry no row change — schema-change events, transaction
// metadata, heartbeats, PostgreSQL logical-decoding messages — decode to a
// skip, never to a table.
//
// The source position of every event (MySQL/MariaDB binlog file, position
// and row; PostgreSQL commit and change LSN; SQL Server LSNs) is encoded as a
// change.Position whose byte order is the source's order. ts_ms never orders
// anything.
//
// Anything that cannot be decoded is returned as an error whose text is the
// reason a dead-letter row will carry. Decoding never panics on any input.
//
// A Decoder caches parsed Connect schemas by their exact bytes: the schema
// part of an event is most of its size and repeats for every event of a
// table, so it is parsed once. A Decoder is not safe for concurrent use.
package debezium

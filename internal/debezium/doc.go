// Package debezium decodes Debezium change events, as Kafka Connect's
// JsonConverter writes them, into change.Change values.
//
// Both converter settings are understood, for keys and values separately:
// with schemas (`{"schema":…,"payload":…}`) the column types come from the
// Connect schema carried in the event, including every Debezium logical type
// (temporal units, exact decimals, JSON, UUID, …); without schemas (the bare
// envelope) they come from the table's declared column types, else from the
// record key's schema, else from the JSON values themselves (integers that
// do not fit int64 become exact decimals; a null says nothing of a type and
// leaves its column out, which the warehouse's whole-row replace makes NULL).
// Declared types override the types schemas carry.
//
// The envelope's op decides the change: c, u and r upsert the after image, d
// deletes the key, t truncates the table; m (PostgreSQL logical-decoding
// messages) is skipped. A null value (and the legacy
// `{"schema":null,"payload":null}`, or `{"schema":{…},"payload":null}`) is a
// tombstone: it deletes its key and never resurrects one; under a null key it
// is skipped. A null record key may be written the same legacy way. The
// flattened output of Debezium's ExtractNewRecordState transformation is
// understood too: `__op` gives the op, `__deleted` "true" makes a delete
// (rewrite mode), and the `__`-prefixed metadata fields of add.fields are
// never columns, with or without schemas. Rows without markers are accepted
// on tables configured as Flattened. Records that carry no row change —
// schema-change events, transaction metadata, heartbeats — decode to a skip,
// never to a table; they are recognised by their whole shape, and never on
// flattened rows, so that a row whose columns happen to be called status or
// ddl is still a row.
//
// The source position of every event (MySQL/MariaDB binlog file, position
// and row; PostgreSQL commit and change LSN; SQL Server LSNs) is encoded as a
// change.Position whose byte order is the source's order. ts_ms never orders
// anything. Integer source fields are read from JSON numbers or numeric
// strings (transformations render some that way).
//
// Anything that cannot be decoded is returned as an error whose text is the
// reason a dead-letter row will carry; a bad value names its column. Input
// must be valid JSON (Jackson quotes non-finite doubles as "NaN",
// "Infinity"): trailing data, trailing commas, malformed numbers and the like
// are errors, not guesses. Decoding never panics on any input: Decode
// recovers from a panic as a last resort, and the fuzz test checks that the
// decoder never needs it.
//
// A Decoder caches parsed Connect schemas by their exact bytes: the schema
// part of an event is most of its size and repeats for every event of a
// table, so it is parsed once; the schema of a topic's last event is compared
// rather than scanned. Caches never change an answer: two tables whose
// events carry identical schemas still get their own declared types. A
// Decoder is not safe for concurrent use.
package debezium

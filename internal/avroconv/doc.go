// Package avroconv reads Debezium events written by Kafka Connect's Avro
// converters in the Confluent wire format (magic byte 0, a 4-byte schema
// id, Avro binary), with their schemas from a Confluent-compatible schema
// registry (Confluent, Apicurio's ccompat API, Karapace, Redpanda).
//
// It does not type anything itself. An Avro schema written by Connect's
// AvroData carries the Connect schema it came from (record names,
// connect.name with Debezium's semantic types, connect.parameters,
// connect.type for int8 and int16, ["null", T] unions for optional
// fields, the decimal logical type), so each schema is converted once
// into the Connect schema JSON that JsonConverter would write, and each
// datum into JsonConverter's payload: the debezium package then decodes
// Avro and JSON events by one set of rules, to the same column types and
// the same values.
package avroconv

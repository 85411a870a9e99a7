// Package change holds the small types the stages of cdcsync exchange: a
// decoded change event, its source position, the column types and values a
// table is built from.
//
// The decoder (package debezium) turns one Kafka record into one Change. The
// batcher (package batch) groups changes per table and reduces them to the
// last change per key in source order. A warehouse applies the reduced batch.
// None of these stages talks to another through the warehouse: they talk
// through these types.
//
// Values are plain Go values, normalised so that every warehouse can bind
// them without knowing where they came from:
//
//	bool                      Bool
//	int64                     Int16, Int32, Int64
//	float64                   Float32, Float64
//	Decimal                   Decimal (exact: unscaled integer and scale)
//	string                    String, JSON, UUID, Enum
//	[]byte                    Bytes
//	time.Time (UTC)           Date, Timestamp, TimestampTZ
//	TimeOfDay                 Time
//	string (ISO, UTC offset)  TimeTZ
//	Interval                  Interval
//	Infinity                  ±infinity for Date and Timestamp kinds
//
// A nil value is SQL NULL.
package change

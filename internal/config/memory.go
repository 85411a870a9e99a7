package config

// Memory is how memory_limit is shared out among what holds memory in the
// process. The rule, for a limit M:
//
//   - An embedded warehouse (DuckDB) gets M/2 as its own memory limit: its
//     buffer pool spills to disk beyond it, but some statements' hash
//     tables cannot, and fail the batch when they do not fit (at a 64MiB
//     limit, one run in three failed applying primary-key changes). A
//     server warehouse runs elsewhere and gets nothing.
//   - Go's runtime gets the rest as its soft limit (debug.SetMemoryLimit):
//     the garbage collector works harder as the heap nears it.
//   - Within Go's share: the Kafka client buffers at most FetchConcurrency
//     fetches of FetchMaxBytes = M/32 each, and a batch closes at
//     BatchMaxBytes of consumed key and value bytes: M/8 with a server
//     warehouse, M/32 with an embedded one. Two batches are held at once
//     (one applied while the next is decoded); a decoded batch is smaller
//     than its consumed bytes when events embed their schemas (a schema
//     is decoded once); the rest of Go's share is the collector's
//     headroom. Batches are the throughput lever: each costs a fixed
//     number of statements per table, and M/8 applied the bench workload
//     into DuckDB with ~40% less CPU than M/32 — but DuckDB, at its M/2,
//     then ran out of memory recording a landing-on batch's primary-key
//     moves, so an embedded warehouse keeps M/32. With
//     transactions: consistent, records held until their transaction is
//     whole take at most TxMaxHeldBytes = M/8 more: a table's events wait
//     there while another table's topic (created with the source's first
//     transaction) is picked up, or while a partition lags.
//
// kafka.fetch_max_bytes, batch.max_bytes and transactions.max_held_bytes,
// when set, override their
// share; a DuckDB target's ?memory_limit= overrides the warehouse's, and
// the GOMEMLIMIT environment variable Go's.
type Memory struct {
	Limit            int64 // memory_limit
	Warehouse        int64 // the embedded warehouse's memory limit; 0 for server warehouses
	Go               int64 // Go's soft memory limit
	FetchMaxBytes    int64 // one fetch response (kafka.fetch_max_bytes)
	FetchConcurrency int   // fetches in flight or buffered at once
	BatchMaxBytes    int64 // a batch's consumed bytes (batch.max_bytes)
	TxMaxHeldBytes   int64 // records held for whole transactions (transactions.max_held_bytes)
}

// FetchConcurrency is how many fetches the Kafka client keeps in flight or
// buffered at once: one being decoded while the next arrives.
const FetchConcurrency = 2

// Memory returns the split of memory_limit; embedded says whether the
// warehouse runs inside the process (DuckDB).
func (c *Config) Memory(embedded bool) Memory {
	m := Memory{Limit: int64(c.MemoryLimit), FetchConcurrency: FetchConcurrency}
	if m.Limit <= 0 {
		m.Limit = DefaultMemoryLimit
	}
	if embedded {
		m.Warehouse = m.Limit / 2
	}
	m.Go = m.Limit - m.Warehouse
	m.FetchMaxBytes = m.Limit / 32
	if c.Kafka.FetchMaxBytes > 0 {
		m.FetchMaxBytes = int64(c.Kafka.FetchMaxBytes)
	}
	m.BatchMaxBytes = m.Limit / 8
	if embedded {
		m.BatchMaxBytes = m.Limit / 32
	}
	if c.Batch.MaxBytes > 0 {
		m.BatchMaxBytes = int64(c.Batch.MaxBytes)
	}
	m.TxMaxHeldBytes = m.Limit / 8
	if c.Transactions.MaxHeldBytes > 0 {
		m.TxMaxHeldBytes = int64(c.Transactions.MaxHeldBytes)
	}
	return m
}

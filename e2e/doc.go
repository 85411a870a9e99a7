// Package e2e is cdcsync's end-to-end suite on real services: MariaDB and
// PostgreSQL sources, Debezium 3.3 connectors on Kafka Connect, Apache
// Kafka 4.1, the cdcsync binary, and `cdcsync verify` comparing the DuckDB
// target with the source — and a DuckLake, its catalog in PostgreSQL, also
// read back by Python's duckdb (CDCSYNC_DUCKDB_EXTENSIONS,
// CDCSYNC_DUCKDB_PYTHON: svc.sh env duckdb-extensions).
//
// The tests run only with CDCSYNC_E2E=1 and the services of
// scripts/services/svc.sh started; `make e2e` does both and stops the
// services afterwards. Plain `go test ./...` skips them.
//
// Each test creates its own database or schema, connectors, topic prefix,
// slot and publication, all named after a per-run id, so reruns against
// running services never collide; it removes them when done.
package e2e

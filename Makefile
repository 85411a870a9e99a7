# cdcsync — the two commands a fresh machine needs are `make demo` and
# `make test`; see README.md.

GO ?= go
BIN := bin/cdcsync

.PHONY: test-iceberg build demo test bench bench-peer bench-latency fuzz e2e lint clean

build:
	$(GO) build -o $(BIN) ./cmd/cdcsync

# Runs the main job on embedded defaults: in-process Kafka, a Debezium
# stream, continuous sync into ./cdcsync-demo.duckdb.
demo: build
	./$(BIN) demo

# A throwaway PostgreSQL for the PostgreSQL warehouse tests, on its own port
# and run dir so it never meets the e2e services.
UNIT_SVC := CDCSYNC_RUN_DIR=/tmp/cdcsync-unit-services CDCSYNC_PG_PORT=39532

# The whole default test suite: vet, unit tests, kfake integration tests,
# the warehouse conformance suite on DuckDB and on a real PostgreSQL (which
# this target installs if needed, starts and stops), crash tests on the real
# binary, the status page in headless Chromium (installed if needed), and
# the DuckLake target with DuckDB's extensions (fetched from PyPI if needed).
test:
	$(GO) vet ./...
	$(UNIT_SVC) scripts/services/svc.sh fetch chromium
	$(UNIT_SVC) scripts/services/svc.sh fetch duckdb-extensions
	$(UNIT_SVC) scripts/services/svc.sh start postgres
	eval "$$($(UNIT_SVC) scripts/services/svc.sh env postgres)"; \
	eval "$$($(UNIT_SVC) scripts/services/svc.sh env chromium)"; \
	eval "$$($(UNIT_SVC) scripts/services/svc.sh env duckdb-extensions)"; \
	CDCSYNC_REQUIRE_PG=1 CDCSYNC_REQUIRE_CHROMIUM=1 CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS=1 \
	$(GO) test -count=1 -timeout 20m ./...; rc=$$?; \
	$(UNIT_SVC) scripts/services/svc.sh stop postgres; exit $$rc

# The Iceberg target on Iceberg's own REST catalog (from Maven Central, on
# its own port and run dir): conformance suite, read-back by Python's duckdb
# and the kill -9 crash tests. Not in make test: every Iceberg commit reads
# all of a table's earlier snapshots' manifests (DuckDB's extension never
# compacts), so the suite's thousands of small batches take long.
test-iceberg:
	$(UNIT_SVC) scripts/services/svc.sh fetch duckdb-extensions
	$(UNIT_SVC) CDCSYNC_ICEBERG_PORT=39581 scripts/services/svc.sh start iceberg
	eval "$$($(UNIT_SVC) scripts/services/svc.sh env duckdb-extensions)"; \
	eval "$$($(UNIT_SVC) CDCSYNC_ICEBERG_PORT=39581 scripts/services/svc.sh env iceberg)"; \
	CDCSYNC_REQUIRE_ICEBERG=1 $(GO) test -count=1 -timeout 90m ./internal/warehouse/iceberg/ && \
	CDCSYNC_REQUIRE_ICEBERG=1 $(GO) test -count=1 -timeout 90m -run 'Kill9/iceberg' ./cmd/cdcsync/; rc=$$?; \
	$(UNIT_SVC) CDCSYNC_ICEBERG_PORT=39581 scripts/services/svc.sh stop iceberg; exit $$rc

# Throughput and memory over 1,000,000 schema-embedded events (see README),
# into DuckDB and, with DuckDB's extensions (fetched from PyPI if needed),
# into DuckLake.
bench: build
	$(UNIT_SVC) scripts/services/svc.sh fetch duckdb-extensions
	eval "$$($(UNIT_SVC) scripts/services/svc.sh env duckdb-extensions)"; \
	$(GO) test -run '^$$' -bench BenchmarkPipeline -benchtime 1x -timeout 60m ./internal/bench/

# cdcsync against the Debezium JDBC sink (see README "Performance"): one
# seeded workload of ~980,000 events in a real Kafka, applied by the sink
# and by `cdcsync run --once` alternately (A B A B) into fresh PostgreSQL
# databases, each checked against the source; prints events/s, CPU, peak
# RSS, PostgreSQL CPU and the ratios. Starts its own PostgreSQL, Kafka and
# Kafka Connect (with the JDBC sink installed) on ports of its own, and
# stops them whatever happens. CDCSYNC_BENCH_EVENTS=50000 for a quick look.
PEER_SVC := CDCSYNC_RUN_DIR=/tmp/cdcsync-bench-peer CDCSYNC_PG_PORT=39742 CDCSYNC_KAFKA_PORT=39792 \
	CDCSYNC_KAFKA_CONTROLLER_PORT=39793 CDCSYNC_CONNECT_PORT=39783 CDCSYNC_JDBC_SINK=1

bench-peer:
	@export $(PEER_SVC) CDCSYNC_CONNECT_HEAP=$${CDCSYNC_CONNECT_HEAP:-2g}; svc=scripts/services/svc.sh; \
	trap 'rc=$$?; trap - EXIT INT TERM; $$svc stop all >&2 || true; exit $$rc' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	{ $$svc start postgres && $$svc start connect; } || { echo "make bench-peer: the services did not start" >&2; exit 1; }; \
	eval "$$($$svc env postgres; $$svc env kafka; $$svc env connect)" || exit 1; \
	CDCSYNC_BENCH_PEER=1 $(GO) test -count=1 -run '^$$' -bench BenchmarkPeer -benchtime 1x -timeout 180m ./internal/bench/

# End-to-end latency p50/p95/p99 at a steady offered load (5,000 and 20,000
# events/s for 60 s each; CDCSYNC_LATENCY_RATES, CDCSYNC_LATENCY_SECONDS;
# CDCSYNC_LATENCY_WORKLOAD=bank: bank transfers, per_table against consistent),
# from the metrics' histogram and from the landing table (see README).
bench-latency:
	$(GO) test -run '^$$' -bench BenchmarkLatency -benchtime 1x -timeout 60m ./internal/bench/

# Static checks (.golangci.yml): errcheck, staticcheck, revive's doc-comment
# rule, depguard's layering (only internal/warehouse/<x> imports a database
# driver), gofmt. The pinned golangci-lint is built into .cache/bin once.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := .cache/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

$(GOLANGCI_LINT):
	mkdir -p .cache/bin
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv .cache/bin/golangci-lint $@

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./internal/debezium/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/fastjson/
	$(GO) test -run '^$$' -fuzz FuzzAvro -fuzztime 60s ./internal/debezium/

# The end-to-end suite on real services (see scripts/services/README.md):
# starts PostgreSQL, MariaDB, Kafka and Kafka Connect with Debezium, runs
# ./e2e/ against them (the DuckLake test with DuckDB's extensions and
# Python's duckdb, fetched from PyPI if needed), and stops them whatever
# happens. Fails if the services cannot start or any test fails.
e2e:
	@svc=scripts/services/svc.sh; \
	trap 'rc=$$?; trap - EXIT INT TERM; $$svc stop all >&2 || true; exit $$rc' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	$$svc fetch duckdb-extensions || { echo "make e2e: DuckDB's extensions could not be fetched" >&2; exit 1; }; \
	$$svc start all || { echo "make e2e: the services did not start" >&2; exit 1; }; \
	eval "$$($$svc env; $$svc env duckdb-extensions)" || exit 1; \
	CDCSYNC_E2E=1 CDCSYNC_REQUIRE_DUCKDB_EXTENSIONS=1 $(GO) test -count=1 -timeout 30m ./e2e/

clean:
	rm -rf bin cdcsync-demo.duckdb cdcsync-demo.duckdb.wal

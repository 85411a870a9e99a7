# cdcsync — the two commands a fresh machine needs are `make demo` and
# `make test`; see README.md.

GO ?= go
BIN := bin/cdcsync

.PHONY: build demo test unit bench fuzz e2e lint clean

build:
	$(GO) build -o $(BIN) ./cmd/cdcsync

# Runs the main job on embedded defaults: in-process Kafka, a Debezium
# stream, continuous sync into ./cdcsync-demo.duckdb.
demo: build
	./$(BIN) demo

# The whole default test suite: vet, unit tests, kfake integration tests,
# crash tests on the real binary.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Throughput and memory over 1,000,000 schema-embedded events (see README).
bench: build
	$(GO) test -run '^$$' -bench BenchmarkPipeline -benchtime 1x -timeout 60m ./internal/bench/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./internal/debezium/

clean:
	rm -rf bin cdcsync-demo.duckdb cdcsync-demo.duckdb.wal

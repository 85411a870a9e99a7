package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cdcsync/cdcsync/internal/config"
	"github.com/cdcsync/cdcsync/internal/failpoint"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse/sqlapply/sqlapplytest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

func bankConfig(t *testing.T, addr, mode string, maxEvents int) pipeline.Config {
	cfg := testConfig(addr, workload.BankTopicRegex)
	cfg.Batch.MaxEvents = maxEvents
	cfg.Transactions.Mode = mode
	cfg.Tables = map[string]config.Table{}
	for t, cols := range workload.BankColumns {
		cfg.Tables[t] = config.Table{Columns: cols}
	}
	return fromConfig(t, cfg, true)
}

// bankState reads the target: the balances by account (empty before the
// snapshot landed) and the ledger's row count.
func bankState(ctx context.Context, wh sqlapplytest.Inspected) (bal map[int]int64, ledger int, err error) {
	bal = map[int]int64{}
	rows, err := wh.DB.QueryContext(ctx, `SELECT id, balance FROM accounts`)
	if err != nil {
		return bal, 0, nil // not created yet
	}
	defer rows.Close()
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, 0, err
		}
		bal[int(id)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if err := wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&ledger); err != nil {
		ledger = 0 // not created yet
	}
	return bal, ledger, nil
}

// prefixOf says which prefix of whole transactions the target holds, or
// -1 if it holds none: then a reader saw part of a transaction. The
// snapshot's events are in no transaction and land as their partitions
// are read, so accounts whose snapshot row is not in yet may be missing —
// never one a transaction of the prefix changed, since its changes follow
// its snapshot row in its partition.
func prefixOf(b *workload.Bank, bal map[int]int64, ledger int) int {
	if ledger%2 != 0 || ledger/2 >= len(b.Balances) {
		return -1
	}
	k := ledger / 2
	for a := 0; a < b.Accounts; a++ {
		v, ok := bal[a]
		if !ok && b.Touched[a] > 0 && b.Touched[a] <= k {
			return -1
		}
		if ok && b.Balances[k][a] != v {
			return -1
		}
	}
	return k
}

// watchCommits checks the target after every commit: it must hold the
// source after some prefix of whole transactions. It returns the number
// of commits and of violations seen.
func watchCommits(t *testing.T, b *workload.Bank, wh sqlapplytest.Inspected) (stop func() (commits, violations int, last int)) {
	var mu sync.Mutex
	commits, violations, last := 0, 0, 0
	remove := failpoint.Inject("after-commit", func() {
		bal, ledger, err := bankState(context.Background(), wh)
		if err != nil {
			t.Errorf("reading the target: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		commits++
		if k := prefixOf(b, bal, ledger); k < 0 {
			violations++
			t.Logf("commit %d: %d accounts, %d ledger rows: not a prefix of whole transactions", commits, len(bal), ledger)
		} else {
			last = k
		}
	})
	return func() (int, int, int) {
		remove()
		mu.Lock()
		defer mu.Unlock()
		return commits, violations, last
	}
}

// TestTransactions_CommitsHoldWholeTransactions: with the transaction
// topic matched (transactions: auto), every commit leaves the target equal
// to the source after a prefix of whole transactions — checked after each
// commit — also when a transaction's events or its END arrive only in a
// later run, and batches (3 events) are smaller than a transaction (4).
// The same check sees violations with transactions: per_table, so it can
// fail.
func TestTransactions_CommitsHoldWholeTransactions(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			b := workload.NewBank(seed, 12, 300, 3)
			c := startBank(t, nil)
			wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
			cfg := bankConfig(t, c.Addr(), config.TxAuto, 3)
			run := func(what string) {
				t.Helper()
				if _, err := pipeline.New(cfg, wh, testLogger(t), nil).Run(ctx); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			// Part 1: every END up to 200, but the events of 150..300 not
			// yet; part 2: the events of 150..300 but ENDs only up to 250;
			// part 3: the rest.
			steps := []struct {
				what       string
				events     []workload.Event
				wantPrefix int
			}{
				{"ENDs ahead of the events", append(b.Events(150, 200), b.Data[150][:2]...), 149},
				{"events ahead of the ENDs", append(b.Events(301, 0)[len(b.Events(150, 0))+2:], b.Events(0, 250)[len(b.Events(0, 200)):]...), 250},
				{"the rest", b.Events(0, 300)[len(b.Events(0, 250)):], 300},
			}
			for _, s := range steps {
				if err := kafkatest.Produce(ctx, c.Addr(), s.events); err != nil {
					t.Fatal(err)
				}
				stop := watchCommits(t, b, wh)
				run(s.what)
				commits, violations, last := stop()
				if violations > 0 {
					t.Fatalf("%s: %d of %d commits left the target holding part of a source transaction", s.what, violations, commits)
				}
				bal, ledger, err := bankState(ctx, wh)
				if err != nil {
					t.Fatal(err)
				}
				if k := prefixOf(b, bal, ledger); k != s.wantPrefix {
					t.Fatalf("%s: the target holds transactions 1..%d (last commit %d), want 1..%d: what is whole must be applied, what is not must wait",
						s.what, k, last, s.wantPrefix)
				}
			}
		})
	}

	t.Run("per_table shows violations", func(t *testing.T) {
		b := workload.NewBank(1, 12, 300, 3)
		c := startBank(t, b.Events(301, 300))
		wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
		stop := watchCommits(t, b, wh)
		if _, err := pipeline.New(bankConfig(t, c.Addr(), config.TxPerTable, 3), wh, testLogger(t), nil).Run(ctx); err != nil {
			t.Fatal(err)
		}
		commits, violations, _ := stop()
		if violations == 0 {
			t.Fatalf("per_table: no violation in %d commits of 3-event batches: the check cannot tell", commits)
		}
		bal, ledger, _ := bankState(ctx, wh)
		if k := prefixOf(b, bal, ledger); k != 300 {
			t.Fatalf("per_table: the target ends at prefix %d, want 300", k)
		}
	})
}

// TestTransactions_LargerThanTheBoundIsAppliedInParts: a transaction with
// more events than transactions.max_held_events is applied in parts (and
// counted), never stalls, and everything converges.
func TestTransactions_LargerThanTheBoundIsAppliedInParts(t *testing.T) {
	ctx := context.Background()
	b := workload.NewBank(5, 40, 60, 3)
	// Merge transactions 10..40 into one big transaction of 124 events.
	big := "gtid-big"
	var merged []workload.Event
	for i := 10; i <= 40; i++ {
		for _, e := range b.Data[i] {
			e.Value = replaceTx(e.Value, fmt.Sprintf("gtid-%d", i), big)
			merged = append(merged, e)
		}
	}
	var events []workload.Event
	for i := 0; i <= 60; i++ {
		switch {
		case i == 10:
			events = append(events, merged...)
			events = append(events, workload.Event{Topic: workload.BankTxTopic, Key: []byte(`{"id":"gtid-big"}`),
				Value: []byte(`{"status":"END","id":"gtid-big","ts_ms":1,"event_count":124,"data_collections":[{"data_collection":"inventory.accounts","event_count":62},{"data_collection":"inventory.ledger","event_count":62}]}`)})
		case i > 10 && i <= 40:
		default:
			events = append(events, b.Data[i]...)
			if i > 0 {
				events = append(events, b.Ends[i]...)
			}
		}
	}
	c := startBank(t, events)
	wh := openDuck(t, filepath.Join(t.TempDir(), "t.duckdb"))
	cfg := bankConfig(t, c.Addr(), config.TxConsistent, 20)
	cfg.Transactions.MaxHeld = 50
	met := pipeline.NewMetrics(nil)
	if _, err := pipeline.New(cfg, wh, testLogger(t), met).Run(ctx); err != nil {
		t.Fatal(err)
	}
	bal, ledger, err := bankState(ctx, wh)
	if err != nil {
		t.Fatal(err)
	}
	if k := prefixOf(b, bal, ledger); k != 60 {
		t.Fatalf("the target ends at prefix %d, want 60", k)
	}
	if n := pipeline.IncompleteTransactions(met); n < 1 {
		t.Fatalf("the transaction over max_held_events was applied in parts without being counted (%v)", n)
	}
}

func replaceTx(v []byte, from, to string) []byte {
	return []byte(strings.ReplaceAll(string(v), `"id":"`+from+`"`, `"id":"`+to+`"`))
}

// startBank starts an in-process Kafka with the bank's topics, three
// partitions each, holding events.
func startBank(t *testing.T, events []workload.Event) *kafkatest.Cluster {
	t.Helper()
	return startKafkaN(t, 3, events, workload.BankAccountsTopic, workload.BankLedgerTopic, workload.BankTxTopic)
}

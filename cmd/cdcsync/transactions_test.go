package main

import (
	"testing"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestTransactionsSurviveKill9: continuous mode with whole source
// transactions (bank transfers, three partitions, batches smaller than a
// transaction), killed at each step of the commit path and from outside,
// ends with every transfer applied exactly once: balances equal the
// source's, the ledger holds each row once, and the landing table each
// record once.
func TestTransactionsSurviveKill9(t *testing.T) {
	for _, tt := range testTargets(t) {
		t.Run(tt.name, func(t *testing.T) {
			b := workload.NewBank(9, 15, 400, 3)
			topics := []string{workload.BankAccountsTopic, workload.BankLedgerTopic, workload.BankTxTopic}
			c, err := kafkatest.Start(3, topics...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			target := tt.dsn(t, "txcrash")
			cfg := writeConfig(t, &workload.Workload{Opts: workload.Options{Schemas: true}},
				"transactions: consistent\ntables:\n  accounts:\n    columns: {id: bigint, balance: bigint}\n  ledger:\n    columns: {id: bigint, account: bigint, amount: bigint}\n")
			args := []string{"run", "--config", cfg, "--brokers", c.Addr(), "--topics", workload.BankTopicRegex, "--target", target, "--group", "txcrash"}
			killAtEachStep(t, c.Addr(), b.Stream(), "txcrash", topics, tt.catchUp(), args)

			wh := openTarget(t, target)
			defer wh.Close()
			want := b.Balances[len(b.Balances)-1]
			rows, err := wh.DB.Query(`SELECT id, balance FROM ` + qualified(wh, "accounts") + ` ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var id, v int64
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatal(err)
				}
				if v != want[id] {
					t.Errorf("account %d: balance %d, want %d", id, v, want[id])
				}
				n++
			}
			rows.Close()
			if n != b.Accounts {
				t.Errorf("%d accounts, want %d", n, b.Accounts)
			}
			for _, q := range []struct{ what, sql string }{
				{"ledger rows", `SELECT count(*), count(DISTINCT id) FROM ` + qualified(wh, "ledger")},
				{"landing rows of the ledger", `SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM ` + qualified(wh, warehouse.LandingTable("ledger"))},
			} {
				var total, distinct int
				if err := wh.DB.QueryRow(q.sql).Scan(&total, &distinct); err != nil {
					t.Fatal(err)
				}
				if total != 2*400 || distinct != total {
					t.Errorf("%s: %d (%d distinct), want %d, each once", q.what, total, distinct, 2*400)
				}
			}
		})
	}
}

package main

import (
	"context"
	"syscall"
	"testing"
	"time"

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
			stream := b.Stream()
			kills := []string{"before-begin:2", "staged:3", "before-commit:2", "after-commit:3", "external"}
			chunk := len(stream) / (len(kills) + 1)
			for i, kill := range kills {
				if err := kafkatest.Produce(context.Background(), c.Addr(), stream[i*chunk:(i+1)*chunk]); err != nil {
					t.Fatal(err)
				}
				if kill == "external" {
					p := start(t, nil, args...)
					p.waitLines(t, "batch applied", 3, 60*time.Second)
					if err := p.cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					if err := p.wait(t, 30*time.Second); !killedBySignal(err) {
						t.Fatalf("expected a SIGKILL exit, got %v", err)
					}
					continue
				}
				p := start(t, []string{"CDCSYNC_FAILPOINT=" + kill}, args...)
				if err := p.wait(t, 60*time.Second); !killedBySignal(err) {
					t.Fatalf("failpoint %s: expected the process to die by SIGKILL, got %v", kill, err)
				}
			}
			if err := kafkatest.Produce(context.Background(), c.Addr(), stream[len(kills)*chunk:]); err != nil {
				t.Fatal(err)
			}
			p := start(t, nil, args...)
			caughtUp(t, c.Addr(), "txcrash", topics, 60*time.Second)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.wait(t, 30*time.Second); err != nil {
				t.Fatalf("clean stop: %v", err)
			}

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

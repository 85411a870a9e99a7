package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bank transfers: each source transaction moves money between two
// accounts and appends the two ledger rows. A reader of the target that
// sees part of a transaction sees the total balance move, or a balance
// its ledger does not explain.
const (
	bankAccounts  = 20
	bankStart     = 1000
	bankTransfers = 1500
)

// TestTransactions streams bank transfers from MariaDB and from
// PostgreSQL through Debezium with provide.transaction.metadata=true, on
// topics of three partitions, into PostgreSQL: with transactions:
// consistent (continuous mode, while the transfers run), a reader polling
// the target in READ COMMITTED never sees the total move or a balance the
// ledger does not explain, and verify finds the target equal; with
// per_table the same reader sees violations, so the check can fail.
func TestTransactions(t *testing.T) {
	requireE2E(t)
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		db := runID + "_bank"
		root := mariadbOpen(t, "")
		ctx := deadline(t, 8*time.Minute)
		if _, err := root.ExecContext(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := root.Exec("DROP DATABASE IF EXISTS " + db); err != nil {
				t.Logf("drop database %s: %v", db, err)
			}
		})
		src := mariadbOpen(t, db)
		bankSchema(t, src, "")
		prefix := runID + "bm"
		cfg := connectorConfig(true)
		cfg = with(cfg, mariadbSource(prefix, db, 300000+rand.IntN(100000)))
		bankRun(t, src, "", prefix, db, cfg, mariadbDSN(db))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		schema := runID + "_pbank"
		prefix := runID + "bp"
		slot, pub := runID+"_bslot", runID+"_bpub"
		db, _ := pgSourceSchema(t, schema, slot, pub)
		bankSchema(t, db, schema+".")
		cfg := connectorConfig(true)
		cfg = with(cfg, postgresSource(prefix, schema, slot, pub))
		bankRun(t, db, schema+".", prefix, schema, cfg, pgDSN(schema))
	})
}

func bankSchema(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	ctx := deadline(t, time.Minute)
	for _, s := range []string{
		"CREATE TABLE " + q + "accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)",
		"CREATE TABLE " + q + "ledger (id BIGINT PRIMARY KEY, account INT NOT NULL, amount BIGINT NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for a := 0; a < bankAccounts; a++ {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %saccounts VALUES (%d, %d)", q, a, bankStart)); err != nil {
			t.Fatal(err)
		}
	}
}

// transfer runs one bank transfer as one source transaction.
func transfer(ctx context.Context, db *sql.DB, q string, id int, from, to int, amt int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	for _, s := range []string{
		fmt.Sprintf("UPDATE %saccounts SET balance = balance - %d WHERE id = %d", q, amt, from),
		fmt.Sprintf("UPDATE %saccounts SET balance = balance + %d WHERE id = %d", q, amt, to),
		fmt.Sprintf("INSERT INTO %sledger VALUES (%d, %d, %d)", q, 2*id, from, -amt),
		fmt.Sprintf("INSERT INTO %sledger VALUES (%d, %d, %d)", q, 2*id+1, to, amt),
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// bankRun registers the connector (transaction metadata on, data topics
// of three partitions, the transaction topic of one), runs the transfers
// while cdcsync applies them continuously with transactions: consistent,
// then applies the same topics with per_table, each under a reader.
func bankRun(t *testing.T, src *sql.DB, q, prefix, db string, cfg map[string]string, source string) {
	start := time.Now()
	for k, v := range map[string]string{
		"provide.transaction.metadata":              "true",
		"topic.creation.default.partitions":         "3",
		"topic.creation.default.replication.factor": "1",
		"topic.creation.groups":                     "txn",
		"topic.creation.txn.include":                regexp.QuoteMeta(prefix + ".transaction"),
		"topic.creation.txn.partitions":             "1",
		"topic.creation.txn.replication.factor":     "1",
		"key.converter.schemas.enable":              "true",
		"value.converter.schemas.enable":            "true",
	} {
		cfg[k] = v
	}
	startConnector(t, prefix+"-bank", cfg)
	t.Cleanup(func() { deleteTopics(t, prefix) })
	accounts, ledger, txTopic := prefix+"."+db+".accounts", prefix+"."+db+".ledger", prefix+".transaction"
	waitForRecords(t, map[string]int64{accounts: bankAccounts})

	dir := t.TempDir()
	conf := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	topicsRE := regexp.QuoteMeta(prefix+".") + `(` + regexp.QuoteMeta(db) + `\.(accounts|ledger)|transaction)`

	// consistent, continuous, while the transfers run.
	consistent := runID + "_" + prefix + "c"
	t.Cleanup(func() { dropPGSchema(t, consistent) })
	readC := startReader(t, consistent)
	cont := startContinuous(t, "--brokers", env("KAFKA"), "--topics", topicsRE, "--target", pgDSN(consistent),
		"--group", consistent, "--config", conf("consistent.yaml", "batch:\n  max_events: 7\ntransactions:\n  mode: consistent\n  max_wait: 2m\n"))
	ctx := deadline(t, 5*time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < bankTransfers; i++ {
		from, to := rng.IntN(bankAccounts), rng.IntN(bankAccounts-1)
		if to >= from {
			to++
		}
		if err := transfer(ctx, src, q, i, from, to, int64(1+rng.IntN(50))); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	t.Logf("%d transfers committed: %s", bankTransfers, since(start))
	waitForRecords(t, map[string]int64{ledger: 2 * bankTransfers, accounts: bankAccounts + 2*bankTransfers, txTopic: 2 * bankTransfers})
	cont.caughtUp(t, consistent, []string{accounts, ledger, txTopic})
	cont.stop(t)
	checks, violations := readC()
	for _, l := range strings.Split(cont.stderr.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Logf("cdcsync: %s", l)
		}
	}
	t.Logf("consistent: %d reads, %d violations: %s", checks, len(violations), since(start))
	if len(violations) > 0 {
		t.Errorf("transactions: consistent: %d of %d reads saw part of a source transaction, e.g. %s\n%s",
			len(violations), checks, violations[0], firstLines(cont.stderr.String(), 40))
	}
	if checks < 50 {
		t.Errorf("only %d reads of the target while it was applied: the check saw too little", checks)
	}
	if r := verify(t, source, pgDSN(consistent)); r.code != 0 {
		t.Errorf("verify transactions: consistent: the target differs from the source:\n%s", r)
	}

	// per_table over the same topics, in batches of 3 events.
	perTable := runID + "_" + prefix + "t"
	t.Cleanup(func() { dropPGSchema(t, perTable) })
	readT := startReader(t, perTable)
	r := cdcsync(t, 3*time.Minute, "run", "--once", "--brokers", env("KAFKA"), "--topics", topicsRE, "--target", pgDSN(perTable),
		"--config", conf("per_table.yaml", "batch:\n  max_events: 3\ntransactions: per_table\n"))
	if r.code != 0 {
		t.Fatalf("per_table run:\n%s", r)
	}
	checks, violations = readT()
	t.Logf("per_table: %d reads, %d violations", checks, len(violations))
	if len(violations) == 0 {
		t.Errorf("transactions: per_table: none of %d reads saw part of a transaction: the check cannot tell", checks)
	}
}

// startReader polls the target schema in READ COMMITTED, one statement
// per read, until stopped; it returns the reads made and the violations
// seen: a total balance other than the start's, or an account whose
// balance its ledger rows do not explain.
func startReader(t *testing.T, schema string) (stop func() (int, []string)) {
	db := pgOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	checks := 0
	var violations []string
	q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.accounts), (SELECT coalesce(sum(balance), 0) FROM %[1]s.accounts),
		(SELECT count(*) FROM %[1]s.ledger),
		(SELECT count(*) FROM %[1]s.accounts a WHERE a.balance <> %[2]d + coalesce((SELECT sum(amount) FROM %[1]s.ledger l WHERE l.account = a.id), 0))`,
		schema, bankStart)
	wg.Go(func() {
		for ctx.Err() == nil {
			var n, ledger, wrong int
			var total int64
			if err := db.QueryRowContext(ctx, q).Scan(&n, &total, &ledger, &wrong); err != nil {
				pause(ctx, 5*time.Millisecond) // the tables are not there yet
				continue
			}
			mu.Lock()
			if n == bankAccounts {
				checks++
				if total != bankAccounts*bankStart || wrong != 0 || ledger%2 != 0 {
					violations = append(violations, fmt.Sprintf("total %d (want %d), %d accounts off their ledger, %d ledger rows",
						total, bankAccounts*bankStart, wrong, ledger))
				}
			}
			mu.Unlock()
		}
	})
	stopped := false
	stopFn := func() (int, []string) {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
		mu.Lock()
		defer mu.Unlock()
		return checks, violations
	}
	t.Cleanup(func() { stopFn() })
	return stopFn
}

package workload

import (
	"fmt"
	"hash/fnv"
	"math/rand"
)

// Bank is a seeded stream of bank transfers as Debezium writes it with
// provide.transaction.metadata=true: a snapshot of accounts, then
// transactions that each move money between two accounts (two account
// updates) and append two ledger rows, over several partitions, with the
// BEGIN and END of each on the transaction topic. Events carry no
// schemas; the tables' columns are all bigint.
type Bank struct {
	Accounts   int
	Partitions int32
	// Data[i] are the events of transaction i (0 is the snapshot); Ends[i]
	// its BEGIN and END records.
	Data [][]Event
	Ends [][]Event
	// Balances[k] are the balances after transactions 1..k; Touched[a] is
	// the first transaction that changes account a (0: none).
	Balances [][]int64
	Touched  []int
}

// The bank's topics, and every account's opening balance.
const (
	BankAccountsTopic = "bank.inventory.accounts"
	BankLedgerTopic   = "bank.inventory.ledger"
	BankTxTopic       = "bank.transaction"
	BankStart         = 1000
)

// BankTopicRegex matches the bank's topics, the transaction topic too.
const BankTopicRegex = `bank\..*`

// BankColumns are the declared column types of the bank's tables.
var BankColumns = map[string]map[string]string{
	"accounts": {"id": "bigint", "balance": "bigint"},
	"ledger":   {"id": "bigint", "account": "bigint", "amount": "bigint"},
}

// NewBank generates txs transfers between accounts accounts.
func NewBank(seed int64, accounts, txs int, partitions int32) *Bank {
	rng := rand.New(rand.NewSource(seed))
	b := &Bank{Accounts: accounts, Partitions: partitions, Touched: make([]int, accounts)}
	bal := make([]int64, accounts)
	pos := int64(4)
	part := func(id int) int32 {
		h := fnv.New32a()
		fmt.Fprint(h, id)
		return int32(h.Sum32() % uint32(partitions))
	}
	event := func(topic string, id int, op byte, before, after string, tx string, order int) Event {
		pos += 100
		txBlock := "null"
		if tx != "" {
			txBlock = fmt.Sprintf(`{"id":%q,"total_order":%d,"data_collection_order":%d}`, tx, order, order)
		}
		table := "accounts"
		if topic == BankLedgerTopic {
			table = "ledger"
		}
		v := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"connector":"mysql","name":"bank","db":"inventory","table":%q,"file":"mysql-bin.000001","pos":%d,"row":0,"ts_ms":%d},"op":"%c","ts_ms":%d,"transaction":%s}`,
			before, after, table, pos, 1700000000000+pos, op, 1700000000000+pos, txBlock)
		return Event{Topic: topic, Partition: part(id), Key: fmt.Appendf(nil, `{"id":%d}`, id), Value: []byte(v)}
	}
	acct := func(id int, v int64) string { return fmt.Sprintf(`{"id":%d,"balance":%d}`, id, v) }
	var snap []Event
	for a := range bal {
		bal[a] = BankStart
		snap = append(snap, event(BankAccountsTopic, a, 'r', "null", acct(a, BankStart), "", 0))
	}
	b.Data = append(b.Data, snap)
	b.Ends = append(b.Ends, nil)
	b.Balances = append(b.Balances, append([]int64(nil), bal...))
	ledger := 0
	for i := 1; i <= txs; i++ {
		from, to := rng.Intn(accounts), rng.Intn(accounts-1)
		if to >= from {
			to++
		}
		amt := int64(1 + rng.Intn(50))
		tx := fmt.Sprintf("gtid-%d", i)
		evs := []Event{
			event(BankAccountsTopic, from, 'u', acct(from, bal[from]), acct(from, bal[from]-amt), tx, 1),
			event(BankAccountsTopic, to, 'u', acct(to, bal[to]), acct(to, bal[to]+amt), tx, 2),
			event(BankLedgerTopic, ledger, 'c', "null", fmt.Sprintf(`{"id":%d,"account":%d,"amount":%d}`, ledger, from, -amt), tx, 3),
			event(BankLedgerTopic, ledger+1, 'c', "null", fmt.Sprintf(`{"id":%d,"account":%d,"amount":%d}`, ledger+1, to, amt), tx, 4),
		}
		bal[from] -= amt
		bal[to] += amt
		for _, a := range []int{from, to} {
			if b.Touched[a] == 0 {
				b.Touched[a] = i
			}
		}
		ledger += 2
		b.Data = append(b.Data, evs)
		ts := 1700000000000 + pos
		b.Ends = append(b.Ends, []Event{
			{Topic: BankTxTopic, Key: fmt.Appendf(nil, `{"id":%q}`, tx),
				Value: fmt.Appendf(nil, `{"status":"BEGIN","id":%q,"ts_ms":%d,"event_count":null,"data_collections":null}`, tx, ts)},
			{Topic: BankTxTopic, Key: fmt.Appendf(nil, `{"id":%q}`, tx),
				Value: fmt.Appendf(nil, `{"status":"END","id":%q,"ts_ms":%d,"event_count":4,"data_collections":[{"data_collection":"inventory.accounts","event_count":2},{"data_collection":"inventory.ledger","event_count":2}]}`, tx, ts)},
		})
		b.Balances = append(b.Balances, append([]int64(nil), bal...))
	}
	return b
}

// Events returns the data events of transactions [0, n) and the
// transaction topic's records of transactions [1, ends].
func (b *Bank) Events(n, ends int) []Event {
	var out []Event
	for i := 0; i < n && i < len(b.Data); i++ {
		out = append(out, b.Data[i]...)
	}
	for i := 1; i <= ends && i < len(b.Ends); i++ {
		out = append(out, b.Ends[i]...)
	}
	return out
}

// Stream returns every record in source order, as Debezium writes them:
// the snapshot, then each transaction's BEGIN, events and END.
func (b *Bank) Stream() []Event {
	var out []Event
	for i := range b.Data {
		if i > 0 {
			out = append(out, b.Ends[i][0])
		}
		out = append(out, b.Data[i]...)
		if i > 0 {
			out = append(out, b.Ends[i][1])
		}
	}
	return out
}

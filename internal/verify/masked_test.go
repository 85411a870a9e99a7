package verify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/mask"
)

var verifyKey = []byte("verify-masking-key-0123456789abc")

func vmac(s string) string {
	m := hmac.New(sha256.New, verifyKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// TestColumns_VerifyComparesKeptAndHashed: with the column rules, verify
// compares only the kept columns (the excluded one is a note, not an
// issue), hashed ones by the source value's hash, and finds a hashed
// value that differs, showing hashes, never the source's clear value.
func TestColumns_VerifyComparesKeptAndHashed(t *testing.T) {
	stmts := []string{`CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR, amount VARCHAR, born VARCHAR, name VARCHAR` + cdcCols + `)`}
	srcT := &Table{Name: "customers", Key: []int{0}, Columns: []Column{
		{Name: "id", Family: FInt}, {Name: "email", Family: FString}, {Name: "ssn", Family: FString},
		{Name: "amount", Family: FDecimal}, {Name: "born", Family: FDate}, {Name: "name", Family: FString}}}
	var src [][]any
	for i := 1; i <= 30; i++ {
		email, born := fmt.Sprintf("user%d@example.com", i), time.Date(1990, 1, i, 0, 0, 0, 0, time.UTC)
		src = append(src, []any{int64(i), email, "SECRET-SSN", "12.30", born, fmt.Sprintf("n%d", i)})
		stored := email
		if i == 17 {
			stored = "other@example.com"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO customers (id, email, amount, born, name) VALUES (%d, '%s', '%s', '%s', 'n%d')`,
			i, vmac(stored), vmac("12.3"), vmac(born.Format(time.DateOnly)), i))
	}
	path := duckFile(t, stmts...)
	mem := newMem()
	mem.add(srcT, src...)
	ctx := context.Background()
	tgt, err := OpenTarget(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	rules := map[string]ColumnRules{"customers": {Rules: mask.Rules{Exclude: []string{"ssn"}, Hash: []string{"email", "amount", "born"}}, Key: verifyKey}}
	var out strings.Builder
	res, err := Compare(ctx, mem, tgt, Options{Leaf: 3, Fanout: 2, PageSize: 8, Out: &out, Columns: rules})
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Tables[0]
	if tr.Different != 1 || tr.Missing != 0 || tr.Extra != 0 || len(tr.Issues) != 0 {
		t.Fatalf("want exactly row 17 different:\n%s", out.String())
	}
	if want := `different  id=17: email source "` + vmac("user17@example.com")[:60] + `"…(64 chars) target "` + vmac("other@example.com")[:60]; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
	if !strings.Contains(out.String(), "column ssn is left out by the column rules; not compared") ||
		strings.Contains(out.String(), "user17@example.com") || strings.Contains(out.String(), "SECRET-SSN") {
		t.Errorf("report:\n%s", out.String())
	}
	// Without the rules the same target differs everywhere.
	res, err = Compare(ctx, mem, tgt, Options{Out: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Equal() || res.Tables[0].Different != 30 {
		t.Fatalf("without the rules: %+v", res.Tables[0])
	}
}

// TestColumns_VerifyHashedKeyComparedWhole: a table whose primary key is
// hashed is compared as a whole: equal when every row matches, and said
// to differ (without rows) when one does not.
func TestColumns_VerifyHashedKeyComparedWhole(t *testing.T) {
	srcT := &Table{Name: "people", Key: []int{0}, Columns: []Column{{Name: "ssn", Family: FString}, {Name: "name", Family: FString}}}
	var src [][]any
	stmts := []string{`CREATE TABLE people (ssn VARCHAR PRIMARY KEY, name VARCHAR` + cdcCols + `)`}
	for i := range 25 {
		ssn := fmt.Sprintf("SSN-%03d", i)
		src = append(src, []any{ssn, fmt.Sprintf("p%d", i)})
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO people (ssn, name) VALUES ('%s', 'p%d')`, vmac(ssn), i))
	}
	ctx := context.Background()
	rules := map[string]ColumnRules{"people": {Rules: mask.Rules{Hash: []string{"ssn"}}, Key: verifyKey}}
	for _, tamper := range []bool{false, true} {
		s := stmts
		if tamper {
			s = append(s, `UPDATE people SET name = 'changed' WHERE name = 'p7'`)
		}
		tgt, err := OpenTarget(ctx, duckFile(t, s...))
		if err != nil {
			t.Fatal(err)
		}
		mem := newMem()
		mem.add(srcT, src...)
		var out strings.Builder
		res, err := Compare(ctx, mem, tgt, Options{PageSize: 4, Out: &out, Columns: rules})
		tgt.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Equal() == tamper || (tamper && !strings.Contains(out.String(), "the primary key is hashed")) {
			t.Fatalf("tampered %v: equal %v:\n%s", tamper, res.Equal(), out.String())
		}
	}
}

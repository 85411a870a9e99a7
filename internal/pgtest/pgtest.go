// Package pgtest gives tests the PostgreSQL test server. `make test` starts
// a throwaway server and sets CDCSYNC_TEST_PG_DSN and CDCSYNC_REQUIRE_PG,
// so there the tests that need it can only pass by running; elsewhere
// (plain `go test`) they are skipped, saying why.
package pgtest

import (
	"os"
	"testing"
)

// DSN returns the test server's DSN, or skips the test (fails it when
// CDCSYNC_REQUIRE_PG is set) when there is none.
func DSN(t testing.TB) string {
	t.Helper()
	dsn, ok := Lookup(t)
	if !ok {
		t.Skip("CDCSYNC_TEST_PG_DSN is not set; `make test` starts PostgreSQL and sets it")
	}
	return dsn
}

// Lookup returns the test server's DSN and whether there is one; it fails
// the test when there is none but CDCSYNC_REQUIRE_PG is set.
func Lookup(t testing.TB) (string, bool) {
	t.Helper()
	dsn := os.Getenv("CDCSYNC_TEST_PG_DSN")
	if dsn == "" && os.Getenv("CDCSYNC_REQUIRE_PG") != "" {
		t.Fatal("CDCSYNC_TEST_PG_DSN is not set but CDCSYNC_REQUIRE_PG is")
	}
	return dsn, dsn != ""
}

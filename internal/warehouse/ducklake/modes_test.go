package ducklake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/ducklake"
)

// TestModesRefused: DuckLake supports only mode current; a config giving a
// table soft_delete or history is refused at open with a one-line error
// naming the mode key, before anything is written.
func TestModesRefused(t *testing.T) {
	for _, opts := range []warehouse.Options{
		{Group: "g", Mode: warehouse.ModeHistory},
		{Group: "g", Modes: map[string]warehouse.Mode{"people": warehouse.ModeSoftDelete}},
	} {
		w, err := ducklake.Open(context.Background(), fileDSN(t, t.TempDir(), nil), opts, nil)
		if err == nil {
			w.Close()
			t.Fatalf("opts %+v: opened, want the mode refused", opts)
		}
		if msg := err.Error(); !strings.Contains(msg, "mode: DuckLake supports only mode current") || strings.Contains(msg, "\n") {
			t.Fatalf("err = %q, want one line naming the mode key", msg)
		}
	}
}

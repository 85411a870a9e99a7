package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/target"
)

// TestHelp_TargetNamesEveryWarehouse: the --target help of the commands
// that open any target lists every kind the registry knows (DuckLake was
// missing), and verify's names the DuckLake it reads.
func TestHelp_TargetNamesEveryWarehouse(t *testing.T) {
	for name, cmd := range map[string]*cobra.Command{"run": runCmd(), "query": queryCmd(), "status": statusCmd()} {
		usage := cmd.Flags().Lookup("target").Usage
		if !strings.Contains(usage, target.Supported()) || !strings.Contains(usage, "ducklake:") {
			t.Errorf("%s --target help %q does not list every warehouse (%s)", name, usage, target.Supported())
		}
	}
	if usage := verifyCmd().Flags().Lookup("target").Usage; !strings.Contains(usage, "ducklake:") {
		t.Errorf("verify --target help %q does not name DuckLake", usage)
	}
}

// Command cdcsync keeps warehouse tables equal to the source tables whose
// changes Debezium streams into Kafka.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cdcsync/cdcsync/internal/progress"
	"github.com/cdcsync/cdcsync/internal/redact"
	"github.com/cdcsync/cdcsync/internal/sqltext"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "cdcsync",
		Short:         "Debezium topics in Kafka → always-current warehouse tables, exactly once",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	if path := os.Getenv("CDCSYNC_CPU_PROFILE"); path != "" {
		// A CPU profile of the whole run, for performance work.
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	root.AddCommand(runCmd(), topicsCmd(), demoCmd(), queryCmd(), verifyCmd(), generateCmd(), statusCmd(), deadLettersCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(progress.Stderr(), "cdcsync: "+sqltext.JoinLines(redact.Known(err.Error())))
		os.Exit(1)
	}
}

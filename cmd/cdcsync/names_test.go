package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestNames_CollisionWhileRunningStops runs the binary in continuous mode
// on srv.db1.*; then srv.db2.* appears with the same table names. The
// process stops with one line naming both topics and the config key that
// resolves it: nothing of srv.db2 is applied or dead-lettered, and no
// offset of it is stored. A restart stops the same way, before consuming.
func TestNames_CollisionWhileRunningStops(t *testing.T) {
	for _, tt := range testTargets(t) {
		t.Run(tt.name, func(t *testing.T) {
			w1 := workload.New(workload.Options{Seed: 3, Prefix: "srv.db1", Partitions: 2, Schemas: true, SnapshotRows: 5, Ops: 100})
			w2 := workload.New(workload.Options{Seed: 4, Prefix: "srv.db2", Partitions: 2, Schemas: true, SnapshotRows: 5, Ops: 100})
			var topics1 []string
			for _, tb := range w1.Tables {
				topics1 = append(topics1, w1.Topic(tb))
			}
			c, err := kafkatest.Start(2, topics1...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := kafkatest.Produce(context.Background(), c.Addr(), w1.Events); err != nil {
				t.Fatal(err)
			}
			dst := tt.dsn(t, "collide")
			args := []string{"run", "--config", writeConfig(t, w1, ""), "--brokers", c.Addr(), "--topics", `srv\..*`, "--target", dst, "--group", "collide"}
			p := start(t, nil, args...)
			caughtUp(t, c.Addr(), "collide", topics1, 60*time.Second)
			if err := kafkatest.Produce(context.Background(), c.Addr(), w2.Events); err != nil {
				t.Fatal(err)
			}
			if err := p.wait(t, 60*time.Second); err == nil {
				t.Fatal("cdcsync exited cleanly; want an error for the colliding topics")
			}
			check := func(p *proc) {
				t.Helper()
				if !p.logged("tables.<name>.topic") || !p.logged("srv.db1.") || !p.logged("srv.db2.") {
					t.Errorf("no one-line error naming both topics and tables.<name>.topic; stderr:\n%s", strings.Join(p.all, "\n"))
				}
			}
			check(p)
			assertTables(t, dst, w1)
			wh := openTarget(t, dst)
			defer wh.Close()
			var topics2 []string
			for _, tb := range w2.Tables {
				topics2 = append(topics2, w2.Topic(tb))
			}
			offs, err := wh.Offsets(context.Background(), topics2)
			if err != nil {
				t.Fatal(err)
			}
			if len(offs) != 0 {
				t.Errorf("offsets stored for the refused topics: %v", offs)
			}
			var dead int
			if err := wh.DB.QueryRow(`SELECT count(*) FROM ` + qualified(wh, warehouse.DeadLettersTable)).Scan(&dead); err != nil {
				t.Fatal(err)
			}
			if dead != 0 {
				t.Errorf("%d dead letters, want 0: a name collision is a configuration problem", dead)
			}
			wh.Close()
			// A restart refuses again: the owner is recorded.
			p = start(t, nil, append(args[:len(args):len(args)], "--once")...)
			if err := p.wait(t, 60*time.Second); err == nil {
				t.Fatal("cdcsync --once exited cleanly; want the collision error")
			}
			check(p)
		})
	}
}

package main

import (
	"fmt"
	"testing"

	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/warehouse/warehousetest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// TestModesSurviveKill9 runs the real binary in continuous mode over a
// seeded workload into soft_delete and history tables, killed with SIGKILL
// at each step of the commit path and from outside (killAtEachStep). After
// a final clean run: a history table holds every source version exactly
// once, none lost, none duplicated, with its exact validity; a soft_delete
// table's live rows equal the source and every deleted key is kept,
// flagged.
func TestModesSurviveKill9(t *testing.T) {
	for _, tt := range testTargets(t) {
		if tt.name == "ducklake" {
			continue // DuckLake supports mode current only
		}
		for _, mode := range []warehouse.Mode{warehouse.ModeHistory, warehouse.ModeSoftDelete} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, mode), func(t *testing.T) {
				w := workload.New(workload.Options{Seed: 17, Partitions: 3, Schemas: true, SnapshotRows: 30, Ops: 2000,
					PKChanges: true, Tombstones: true, Poison: true, Toast: mode == warehouse.ModeSoftDelete, Truncates: mode == warehouse.ModeHistory})
				var topics []string
				for _, tb := range w.Tables {
					topics = append(topics, w.Topic(tb))
				}
				c, err := kafkatest.Start(int32(w.Opts.Partitions), topics...)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				group := "modes_" + string(mode)
				target := tt.dsn(t, group)
				cfg := writeConfig(t, w, fmt.Sprintf("mode: %s\n", mode))
				args := []string{"run", "--config", cfg, "--brokers", c.Addr(), "--topics", w.TopicRegex(), "--target", target, "--group", group}
				killAtEachStep(t, c.Addr(), w.Events, group, topics, tt.catchUp(), args)
				wh := openTarget(t, target)
				defer wh.Close()
				if mode == warehouse.ModeHistory {
					warehousetest.AssertVersions(t, wh, w)
				} else {
					warehousetest.AssertSoftDeleted(t, wh, w, true)
				}
			})
		}
	}
}

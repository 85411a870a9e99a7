package config

import "testing"

// TestMemory_SplitsTheLimit: memory_limit is shared out by the documented
// rule, and the keys that bound one part override their share.
func TestMemory_SplitsTheLimit(t *testing.T) {
	c := Default()
	m := c.Memory(true)
	want := Memory{Limit: 256 << 20, Warehouse: 128 << 20, Go: 128 << 20, FetchMaxBytes: 8 << 20, FetchConcurrency: 2, BatchMaxBytes: 8 << 20, TxMaxHeldBytes: 32 << 20}
	if m != want {
		t.Errorf("DuckDB at defaults: %+v, want %+v", m, want)
	}
	if m := c.Memory(false); m.Warehouse != 0 || m.Go != 256<<20 || m.BatchMaxBytes != 32<<20 {
		t.Errorf("server warehouse: %+v, want Go to have all of it", m)
	}
	c.MemoryLimit = 1 << 30
	c.Batch.MaxBytes = 3 << 20
	m = c.Memory(true)
	if m.Warehouse != 512<<20 || m.Go != 512<<20 || m.FetchMaxBytes != 32<<20 || m.BatchMaxBytes != 3<<20 {
		t.Errorf("1GiB with batch.max_bytes set: %+v", m)
	}
	c.Transactions.MaxHeldBytes = 5 << 20
	if m := c.Memory(true); m.TxMaxHeldBytes != 5<<20 {
		t.Errorf("transactions.max_held_bytes set: %+v", m)
	}
	c.MemoryLimit = MinMemoryLimit
	if m := c.Memory(true); m.Warehouse != 64<<20 || m.Go != 64<<20 {
		t.Errorf("128MiB: %+v, want half for DuckDB", m)
	}
	c.MemoryLimit = 1 << 20
	if err := c.Validate(); err == nil {
		t.Error("memory_limit 1MiB validated")
	}
}

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/cdcsync/cdcsync/internal/avroconv/avrotest"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// avroTopics starts a Kafka with three topics of one table's events: in
// Avro (schemas in a registry served by the test), in JSON with schemas,
// and moving from JSON to Avro.
func avroTopics(t *testing.T) (*kafkatest.Cluster, *srfake.Registry) {
	t.Helper()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	const key = `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"k"},"payload":{"id":1}}`
	const value = `{"schema":{"type":"struct","name":"e","fields":[{"type":"struct","name":"v","optional":true,"field":"after","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}]},{"type":"string","optional":false,"field":"op"}]},"payload":{"after":{"id":1,"name":"a"},"op":"c"}}`
	ak, err := avrotest.FromJSON(fake, "k", []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	av, err := avrotest.FromJSON(fake, "v", []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafkatest.Start(1, "shop.inventory.avro", "shop.inventory.json", "shop.inventory.moving")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	events := []workload.Event{
		{Topic: "shop.inventory.avro", Key: ak, Value: av},
		{Topic: "shop.inventory.json", Key: []byte(key), Value: []byte(value)},
		{Topic: "shop.inventory.moving", Key: []byte(key), Value: []byte(value)},
		{Topic: "shop.inventory.moving", Key: ak, Value: av},
	}
	if err := kafkatest.Produce(context.Background(), c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	return c, fake
}

// TestTopicsShowsFormat: `cdcsync topics` names the format of each topic's
// last records.
func TestTopicsShowsFormat(t *testing.T) {
	c, _ := avroTopics(t)
	out, err := exec.Command(binary, "topics", "--brokers", c.Addr(), "--topics", `shop\.inventory\..*`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(string(out)), " ")
	want := "TOPIC TABLE PARTITIONS MESSAGES FORMAT shop.inventory.avro avro 1 1 avro shop.inventory.json json 1 1 json (schemas) " +
		"shop.inventory.moving moving 1 2 avro" // its last record
	if got != want {
		t.Errorf("topics printed %q, want %q", got, want)
	}
}

// TestGenerateRedshiftRefusesAvro: `cdcsync generate redshift` skips Avro
// topics with one line saying why, and generates the others.
func TestGenerateRedshiftRefusesAvro(t *testing.T) {
	c, _ := avroTopics(t)
	cmd := exec.Command(binary, "generate", "redshift", "--brokers", c.Addr(), "--topics", `shop\.inventory\..*`)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var refused []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(l, "Redshift streaming ingestion cannot decode") {
			refused = append(refused, l)
		}
	}
	if len(refused) != 2 || !strings.Contains(refused[0], "shop.inventory.avro") || !strings.Contains(refused[1], "shop.inventory.moving") {
		t.Fatalf("want one line for each Avro topic, got:\n%s", stderr.String())
	}
	if !strings.Contains(string(out), "json") || strings.Contains(string(out), "moving") {
		t.Fatalf("generated SQL does not hold exactly the JSON topic's table:\n%s", out)
	}
}

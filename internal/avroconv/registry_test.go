package avroconv

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TestRegistry_BadIDsAreBounded: records naming ids the registry does not
// know (hostile or corrupt ones can name any of 2^32) are each the
// record's fault, but the cache of such ids stays within maxBad while a
// good schema stays cached; a forgotten bad id is asked about again and
// is still bad.
func TestRegistry_BadIDsAreBounded(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	good, _, err := fake.RegisterSchema("t-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"string"}`})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{URL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Resolve(ctx, good); err != nil {
		t.Fatal(err)
	}
	const first = 1_000_000
	for id := first; id < first+maxBad+200; id++ {
		if err := r.Resolve(ctx, id); err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
	}
	if r.bad != maxBad || len(r.ids) != maxBad+1 {
		t.Fatalf("%d bad ids cached (%d entries); want at most %d and the good one", r.bad, len(r.ids), maxBad)
	}
	if e := r.ids[good]; e == nil || e.err != nil {
		t.Fatalf("the good schema was dropped: %+v", e)
	}
	for id := first; id < first+maxBad+200; id++ {
		if _, err := r.ToJSON([]byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), 0}); err == nil {
			t.Fatalf("id %d decoded", id)
		}
	}
	if r.bad > maxBad {
		t.Fatalf("%d bad ids cached after asking again; want at most %d", r.bad, maxBad)
	}
}

package warehousetest

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/debezium"
	"github.com/cdcsync/cdcsync/internal/kafkatest"
	"github.com/cdcsync/cdcsync/internal/pipeline"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	"github.com/cdcsync/cdcsync/internal/workload"
)

// Issue 8, case 3 ("Values"): a value that does not fit is a dead letter
// with a reason, on every warehouse alike; it never lands as NULL or as
// another value, and a widening never leaves a column unable to take the
// values it took before.

// runValues runs Values' subtests.
func runValues(t *testing.T, open Opener) {
	t.Run("InvalidUTF8IsDeadLettered", func(t *testing.T) { testInvalidUTF8(t, open) })
	t.Run("FloatOutOfRangeIsDeadLettered", func(t *testing.T) { testFloatOutOfRange(t, open) })
	t.Run("UnsignedBigintWidensToExactNumeric", func(t *testing.T) { testUnsignedBigint(t, open) })
	t.Run("HostileValuesLandExactlyOrDeadLetter", func(t *testing.T) { testHostileValues(t, open) })
}

// rawRecord is one record of topic v.db.<table>, partition 0.
type rawRecord struct{ key, value string }

// consume produces the records of one table to an in-process Kafka and
// drains them into wh in one pass.
func consume(t *testing.T, wh warehouse.Warehouse, table string, declared map[string]change.Type, recs []rawRecord) pipeline.Summary {
	t.Helper()
	topic := "v.db." + table
	c, err := kafkatest.Start(1, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make([]workload.Event, len(recs))
	for i, r := range recs {
		events[i] = workload.Event{Topic: topic, Key: []byte(r.key), Value: []byte(r.value)}
	}
	if err := kafkatest.Produce(context.Background(), c.Addr(), events); err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{
		Topics: regexp.MustCompile("^" + regexp.QuoteMeta(topic) + "$"), Group: "values", Once: true,
		MaxEvents: 1000, MaxBytes: 8 << 20, Interval: 50 * time.Millisecond,
		Decoder: debezium.Options{Table: func(topic string) debezium.TableOptions {
			return debezium.TableOptions{Name: debezium.TableName(topic), Columns: declared}
		}},
		Kafka: []kgo.Opt{kgo.SeedBrokers(c.Addr())}, MetadataRefresh: time.Second, FetchMaxBytes: 4 << 20,
	}
	sum, err := pipeline.New(cfg, wh, nil, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(recs)) {
		t.Fatalf("consumed %d events, produced %d", sum.Events, len(recs))
	}
	return sum
}

// deadLetters returns the dead-letter reasons by Kafka offset.
func deadLetters(t *testing.T, ins Inspector) map[int64]string {
	t.Helper()
	dls, err := ins.DeadLetters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, d := range dls {
		if d.Offset == nil {
			t.Fatalf("dead letter without an offset: %+v", d)
		}
		out[*d.Offset] = d.Reason
	}
	return out
}

// column returns id → the column's value as text ("NULL" for NULL).
func column(t *testing.T, ins Inspector, table, col string) map[string]string {
	t.Helper()
	rows, err := ins.Rows(context.Background(), table, []string{"id", col}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		v := "NULL"
		if r[1] != nil {
			v = *r[1]
		}
		out[*r[0]] = v
	}
	return out
}

func upsertJSON(id int, fields string) rawRecord {
	return rawRecord{key: fmt.Sprintf(`{"id":%d}`, id),
		value: fmt.Sprintf(`{"op":"c","after":{"id":%d%s},"source":{}}`, id, fields)}
}

func testInvalidUTF8(t *testing.T, open Opener) {
	wh, ins := open(t, "utf8", warehouse.Options{Group: "values", Landing: true})
	recs := []rawRecord{
		upsertJSON(1, `,"name":"ann"`),
		upsertJSON(2, ",\"name\":\"b\xffb\""),
		upsertJSON(3, `,"name":"\ud800"`),
		upsertJSON(4, `,"name":"\ud800\u0041"`),
		{key: "{\"id\":\"\xff\"}", value: `{"op":"c","after":{"id":5,"name":"key"},"source":{}}`},
		upsertJSON(6, `,"name":"rocket \ud83d\ude80"`),
	}
	consume(t, wh, "texts", nil, recs)
	dead := deadLetters(t, ins)
	for off, want := range map[int64]string{1: `column "name"`, 2: `column "name"`, 3: `column "name"`, 4: `key: column "id"`} {
		if !strings.Contains(dead[off], want) {
			t.Errorf("offset %d: dead letter %q, want a reason containing %s", off, dead[off], want)
		}
	}
	got := column(t, ins, "texts", "name")
	if len(dead) != 4 || len(got) != 2 || got["1"] != "ann" || got["6"] != "rocket 🚀" {
		t.Errorf("rows %q, dead letters %v: want ann and the rocket landed, the rest dead letters", got, dead)
	}
}

func testFloatOutOfRange(t *testing.T, open Opener) {
	wh, ins := open(t, "floats", warehouse.Options{Group: "values"})
	schema := `{"type":"struct","name":"v.db.floats.Envelope","fields":[` +
		`{"field":"after","type":"struct","optional":true,"fields":[{"field":"id","type":"int32"},{"field":"d","type":"double","optional":true},{"field":"f","type":"float","optional":true}]},` +
		`{"field":"op","type":"string"}]}`
	typed := func(id int, d, f string) rawRecord {
		return rawRecord{key: fmt.Sprintf(`{"id":%d}`, id),
			value: fmt.Sprintf(`{"schema":%s,"payload":{"after":{"id":%d,"d":%s,"f":%s},"op":"c"}}`, schema, id, d, f)}
	}
	recs := []rawRecord{
		typed(1, "1.5", "2.5"),
		typed(2, "1e400", "null"),
		typed(3, "-1e400", "null"),
		typed(4, "null", "1e39"),
		typed(5, `"Infinity"`, `"-Infinity"`),
		typed(6, `"NaN"`, "null"),
		upsertJSON(7, `,"d":1e400`),
	}
	consume(t, wh, "floats", nil, recs)
	dead := deadLetters(t, ins)
	for off, want := range map[int64]string{1: "out of range for float64", 2: "out of range for float64", 3: "out of range for float32", 6: "out of range for float64"} {
		if !strings.Contains(dead[off], want) {
			t.Errorf("offset %d: dead letter %q, want a reason containing %q", off, dead[off], want)
		}
	}
	d, f := column(t, ins, "floats", "d"), column(t, ins, "floats", "f")
	if len(dead) != 4 || len(d) != 3 || d["1"] != "1.5" || f["1"] != "2.5" ||
		!sameFloat(d["5"], "+Inf") || !sameFloat(f["5"], "-Inf") || !sameFloat(d["6"], "NaN") {
		t.Errorf("d %q, f %q, dead letters %v: want rows 1, 5 (±infinity) and 6 (NaN), the rest dead letters", d, f, dead)
	}
}

// Promoter is implemented by Inspectors of warehouses that widen only some
// column types (Iceberg: int to long, float to double, a decimal's
// precision): Widens reports whether a column of type from can become to.
type Promoter interface {
	Widens(from, to change.Type) bool
}

func testUnsignedBigint(t *testing.T, open Opener) {
	wh, ins := open(t, "uint64", warehouse.Options{Group: "values"})
	recs := []rawRecord{
		upsertJSON(1, `,"n":1`),
		upsertJSON(2, `,"n":18446744073709551615`),
		upsertJSON(3, `,"n":3`),
		upsertJSON(4, `,"n":-9223372036854775808`),
		upsertJSON(5, `,"n":123456789012345678901234567890`),
		upsertJSON(6, `,"n":6`),
		upsertJSON(7, `,"n":1`+strings.Repeat("0", 38)),
		upsertJSON(8, `,"n":8`),
	}
	consume(t, wh, "counters", nil, recs)
	dead := deadLetters(t, ins)
	if p, ok := ins.(Promoter); ok && !p.Widens(change.Int64, change.DecimalType(20, 0)) {
		// The column stays BIGINT: values beyond it are dead letters.
		got := column(t, ins, "counters", "n")
		for _, off := range []int64{1, 4, 6} {
			if !strings.Contains(dead[off], `column "n"`) && !strings.Contains(dead[off], `Column 'n'`) {
				t.Errorf("offset %d: dead letter %q, want one naming the column", off, dead[off])
			}
		}
		if len(dead) != 3 || got["1"] != "1" || got["4"] != "-9223372036854775808" || got["8"] != "8" || got["2"] != "" {
			t.Errorf("n = %v, dead letters %v: want rows 1, 3, 4, 6 and 8, the rest dead letters", got, dead)
		}
		return
	}
	if len(dead) != 1 || !strings.Contains(dead[6], `column "n"`) {
		t.Errorf("dead letters %v, want only offset 6 (39 digits), naming the column", dead)
	}
	got := column(t, ins, "counters", "n")
	want := map[string]string{"1": "1", "2": "18446744073709551615", "3": "3", "4": "-9223372036854775808",
		"5": "123456789012345678901234567890", "6": "6", "8": "8"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("row %s: n = %q, want %q exactly", id, got[id], w)
		}
	}
}

// hostile is one generated literal and what it means.
type hostile struct {
	lit string
	// exact is the value the literal means, rendered canonically; ""
	// when it has none a warehouse can hold (it must be a dead letter).
	exact string
}

// testHostileValues: for a seeded set of hostile literals per column type,
// every value either lands exactly (read back equal) or is a dead letter
// with a reason; never NULL, never altered.
func testHostileValues(t *testing.T, open Opener) {
	rng := rand.New(rand.NewSource(8))
	types := []struct {
		name string
		typ  change.Type
		gen  func() hostile
		same func(got, exact string) bool
	}{
		{"s", change.String, func() hostile { return hostileString(rng) }, func(g, e string) bool { return g == e }},
		{"i", change.Int64, func() hostile { return hostileInt(rng) }, sameNumber},
		{"d", change.Float64, func() hostile { return hostileFloat(rng) }, sameFloat},
		{"m", change.DecimalType(12, 3), func() hostile { return hostileDecimal(rng) }, sameNumber},
	}
	for _, ty := range types {
		t.Run(ty.name, func(t *testing.T) {
			wh, ins := open(t, "hostile_"+ty.name, warehouse.Options{Group: "values"})
			var recs []rawRecord
			var want []hostile
			for i := 0; i < 120; i++ {
				h := ty.gen()
				want = append(want, h)
				recs = append(recs, upsertJSON(i, `,"v":`+h.lit))
			}
			consume(t, wh, "hostile", map[string]change.Type{"v": ty.typ}, recs)
			dead := deadLetters(t, ins)
			got := column(t, ins, "hostile", "v")
			for i, h := range want {
				g, landed := got[strconv.Itoa(i)]
				reason, isDead := dead[int64(i)]
				switch {
				case landed && isDead:
					t.Errorf("%s: both landed (%q) and dead-lettered (%q)", h.lit, g, reason)
				case !landed && !isDead:
					t.Errorf("%s: neither landed nor dead-lettered: lost", h.lit)
				case isDead && reason == "":
					t.Errorf("%s: dead letter without a reason", h.lit)
				case landed && h.exact == "":
					t.Errorf("%s has no exact value, but landed as %q", h.lit, g)
				case landed && !ty.same(g, h.exact):
					t.Errorf("%s landed as %q, want %q exactly", h.lit, g, h.exact)
				}
			}
		})
	}
}

// jsonString renders s as a JSON string, escaping only what JSON requires
// and keeping every other byte as it is (so invalid UTF-8 stays invalid).
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hostileString(rng *rand.Rand) hostile {
	pieces := []string{"a", "é", "🚀", "'", `"`, `\`, "\x00", "\n", "\t", " ", "\xff", "\xc3", "\xed\xa0\x80", "NULL", "\u2028", "\ufeff", "Z̤͔ͧ̑̓", "%s", "$1"}
	var s strings.Builder
	for n := rng.Intn(6); n >= 0; n-- {
		s.WriteString(pieces[rng.Intn(len(pieces))])
	}
	v := s.String()
	h := hostile{lit: jsonString(v)}
	switch rng.Intn(8) {
	case 0:
		return hostile{lit: `"x\ud800"`} // a lone surrogate: no value
	case 1:
		h.lit = `"\ud83d\ude80` + h.lit[1:] // an escaped surrogate pair
		v = "🚀" + v
	}
	if utf8.ValidString(v) {
		h.exact = v
	}
	return h
}

func hostileInt(rng *rand.Rand) hostile {
	edges := []string{"0", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"-9223372036854775809", "18446744073709551615", "1" + strings.Repeat("0", 30), "1.5", "1e3", "-1e400", `"12"`, `"1x"`}
	lit := edges[rng.Intn(len(edges))]
	if rng.Intn(3) == 0 {
		lit = strconv.FormatInt(rng.Int63()-rng.Int63(), 10)
	}
	exact := ""
	if n, ok := new(big.Int).SetString(strings.Trim(lit, `"`), 10); ok && n.IsInt64() {
		exact = n.String()
	}
	return hostile{lit: lit, exact: exact}
}

func hostileFloat(rng *rand.Rand) hostile {
	edges := []string{"1e400", "-1e400", "1e-400", "4.9e-324", "1.7976931348623157e308", "-0", "0.1",
		"9007199254740993", `"NaN"`, `"Infinity"`, `"-Infinity"`, "123456789.123456789"}
	lit := edges[rng.Intn(len(edges))]
	if rng.Intn(3) == 0 {
		lit = strconv.FormatFloat(math.Float64frombits(rng.Uint64()), 'g', -1, 64)
		if strings.ContainsAny(lit, "IN") {
			lit = `"` + strings.Replace(lit, "+Inf", "Infinity", 1) + `"`
			lit = strings.Replace(lit, "-Inf", "-Infinity", 1)
		}
	}
	f, err := strconv.ParseFloat(strings.Trim(lit, `"`), 64)
	switch strings.Trim(lit, `"`) {
	case "NaN":
		return hostile{lit: lit, exact: "NaN"}
	case "Infinity":
		return hostile{lit: lit, exact: "+Inf"}
	case "-Infinity":
		return hostile{lit: lit, exact: "-Inf"}
	}
	if err != nil && math.IsInf(f, 0) {
		return hostile{lit: lit} // beyond float64: no value
	}
	return hostile{lit: lit, exact: strconv.FormatFloat(f, 'g', -1, 64)}
}

func hostileDecimal(rng *rand.Rand) hostile {
	edges := []string{`"999999999.999"`, `"-999999999.999"`, `"1000000000"`, `"0.0001"`, `"1.2300"`, `"1e3"`,
		`"NaN"`, `"1.5e-2"`, `"12.5"`}
	lit := edges[rng.Intn(len(edges))]
	if rng.Intn(3) == 0 {
		lit = fmt.Sprintf(`"%d.%03d"`, rng.Int63n(2e9)-1e9, rng.Intn(1000))
	}
	r, ok := new(big.Rat).SetString(strings.Trim(lit, `"`))
	if !ok || !new(big.Rat).Mul(r, big.NewRat(1000, 1)).IsInt() || new(big.Rat).Abs(r).Cmp(big.NewRat(1e9, 1)) >= 0 {
		return hostile{lit: lit} // more digits than DECIMAL(12,3), or not a number
	}
	return hostile{lit: lit, exact: r.RatString()}
}

func sameNumber(got, exact string) bool {
	g, ok1 := new(big.Rat).SetString(got)
	e, ok2 := new(big.Rat).SetString(exact)
	return ok1 && ok2 && g.Cmp(e) == 0
}

func sameFloat(got, exact string) bool {
	g, err := strconv.ParseFloat(strings.Replace(strings.ToLower(got), "infinity", "inf", 1), 64) // "Infinity", "inf"
	if err != nil {
		return false
	}
	e, _ := strconv.ParseFloat(exact, 64)
	if math.IsNaN(e) {
		return math.IsNaN(g)
	}
	return g == e && math.Signbit(g) == math.Signbit(e)
}

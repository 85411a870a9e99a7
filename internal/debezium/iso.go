package debezium

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cdcsync/cdcsync/internal/change"
)

// parseISO parses the ISO-8601 dates and timestamps Debezium writes:
// `[+-]YYYY[Y…]-MM-DD[(T| )hh:mm[:ss[.f…]]][Z|±hh[:mm]]`. Years may have
// more than four digits and a sign (Java's ISO formatter writes
// "+21016-…" and "-4713-…"). A trailing Z with no time (IsoDate
// "2017-09-15Z") is accepted. Without an offset the value is read as UTC.
// The result is in UTC.
func parseISO(s string) (time.Time, error) {
	t, _, err := parseISOOffset(s)
	return t, err
}

// parseISOOffset is parseISO that also reports whether s carries an offset.
func parseISOOffset(s string) (time.Time, bool, error) {
	orig := s
	hasOffset := false
	bad := func(why string) (time.Time, bool, error) {
		return time.Time{}, false, fmt.Errorf("%q is not an ISO-8601 timestamp (%s)", orig, why)
	}
	sign := 1
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	i := strings.IndexByte(s, '-')
	if i < 4 || i > 9 {
		return bad("year")
	}
	year, err := strconv.Atoi(s[:i])
	if err != nil {
		return bad("year")
	}
	year *= sign
	s = s[i+1:]
	if len(s) < 5 || s[2] != '-' {
		return bad("month and day")
	}
	month, err1 := atoi2(s[0:2])
	day, err2 := atoi2(s[3:5])
	if err1 != nil || err2 != nil || month < 1 || month > 12 || day < 1 || day > 31 {
		return bad("month and day")
	}
	s = s[5:]
	var nanos int64
	offset := 0
	if s != "" && (s[0] == 'T' || s[0] == ' ') {
		ns, off, err := parseTimeOfDay(s[1:], false)
		if err != nil {
			return bad(err.Error())
		}
		nanos, offset = ns, off
		hasOffset = hasTimeOffset(s[1:])
	} else if s != "" {
		off, err := parseOffset(s)
		if err != nil {
			return bad("offset")
		}
		offset, hasOffset = off, true
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day {
		return bad("no such day")
	}
	return t.Add(time.Duration(nanos) - time.Duration(offset)*time.Second), hasOffset, nil
}

// hasTimeOffset reports whether a time of day that parseTimeOfDay accepted
// ends in an offset (Z or a sign after hh:mm).
func hasTimeOffset(s string) bool {
	return strings.ContainsAny(s[5:], "Zz+-")
}

// parseTimeOfDay parses `hh:mm[:ss[.f…]][Z|±hh[:mm]]` into nanoseconds of
// the day and the offset in seconds. needOffset demands an offset.
func parseTimeOfDay(s string, needOffset bool) (nanos int64, offset int, err error) {
	orig := s
	bad := func(why string) (int64, int, error) {
		return 0, 0, fmt.Errorf("%q is not an ISO-8601 time (%s)", orig, why)
	}
	if len(s) < 5 || s[2] != ':' {
		return bad("hh:mm")
	}
	h, err1 := atoi2(s[0:2])
	m, err2 := atoi2(s[3:5])
	if err1 != nil || err2 != nil || h > 24 || m > 59 {
		return bad("hh:mm")
	}
	s = s[5:]
	sec := 0
	var frac int64
	if s != "" && s[0] == ':' {
		if len(s) < 3 {
			return bad("seconds")
		}
		v, err := atoi2(s[1:3])
		if err != nil || v > 60 {
			return bad("seconds")
		}
		sec = v
		s = s[3:]
		if s != "" && (s[0] == '.' || s[0] == ',') {
			j := 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			digits := s[1:j]
			if digits == "" || len(digits) > 9 {
				return bad("fraction")
			}
			f, _ := strconv.ParseInt(digits, 10, 64)
			frac = f * int64(math.Pow10(9-len(digits)))
			s = s[j:]
		}
	}
	if s != "" {
		off, err := parseOffset(s)
		if err != nil {
			return bad("offset")
		}
		offset = off
	} else if needOffset {
		return bad("no offset")
	}
	nanos = int64(h)*3600e9 + int64(m)*60e9 + int64(sec)*1e9 + frac
	if nanos > 86400e9 {
		return bad("past 24:00")
	}
	return nanos, offset, nil
}

// parseOffset parses Z, ±hh, ±hhmm and ±hh:mm[:ss] into seconds.
func parseOffset(s string) (int, error) {
	if s == "Z" || s == "z" {
		return 0, nil
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	parts := strings.Split(s[1:], ":")
	if len(parts) == 1 && len(parts[0]) == 4 {
		parts = []string{parts[0][:2], parts[0][2:]}
	}
	total := 0
	for i, p := range parts {
		if i > 2 {
			return 0, fmt.Errorf("bad offset %q", s)
		}
		v, err := atoi2(p)
		if err != nil {
			return 0, fmt.Errorf("bad offset %q", s)
		}
		total += v * []int{3600, 60, 1}[i]
	}
	return sign * total, nil
}

func atoi2(s string) (int, error) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, fmt.Errorf("not two digits: %q", s)
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), nil
}

// parseISODuration parses `[-]P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]` as
// Debezium's Interval type writes it (components may be negative, e.g.
// "P-1Y-2M3DT-4H-5M-6.78S"). Years and months become months, weeks and
// days become days, the rest microseconds. A value that does not fit those
// fields (int32 months and days, int64 microseconds) is an error.
func parseISODuration(s string) (change.IntervalValue, error) {
	orig := s
	bad := func() (change.IntervalValue, error) {
		return change.IntervalValue{}, fmt.Errorf("interval: %q is not an ISO-8601 duration", orig)
	}
	tooBig := func() (change.IntervalValue, error) {
		return change.IntervalValue{}, fmt.Errorf("interval: %q is out of range", orig)
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 2 {
		return bad()
	}
	s = s[1:]
	var months, days, micros int64
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad()
			}
			inTime = true
			s = s[1:]
			continue
		}
		j := 0
		for j < len(s) && (s[j] == '-' || s[j] == '.' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == 0 || j == len(s) {
			return bad()
		}
		num, unit := s[:j], s[j]
		s = s[j+1:]
		if unit == 'S' {
			if !inTime {
				return bad()
			}
			d, ok := parseDecimalText(num)
			if !ok || d.Scale > 6 || !d.Unscaled.IsInt64() {
				return bad()
			}
			m, ok := mulAdd(d.Unscaled.Int64(), int64(math.Pow10(6-d.Scale)), micros)
			if !ok {
				return tooBig()
			}
			micros = m
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return bad()
		}
		var ok bool
		switch {
		case !inTime && unit == 'Y':
			months, ok = mulAdd(n, 12, months)
		case !inTime && unit == 'M':
			months, ok = mulAdd(n, 1, months)
		case !inTime && unit == 'W':
			days, ok = mulAdd(n, 7, days)
		case !inTime && unit == 'D':
			days, ok = mulAdd(n, 1, days)
		case inTime && unit == 'H':
			micros, ok = mulAdd(n, 3600e6, micros)
		case inTime && unit == 'M':
			micros, ok = mulAdd(n, 60e6, micros)
		default:
			return bad()
		}
		if !ok {
			return tooBig()
		}
	}
	if months < math.MinInt32 || months > math.MaxInt32 || days < math.MinInt32 || days > math.MaxInt32 || micros == math.MinInt64 {
		return tooBig()
	}
	iv := change.IntervalValue{Months: int32(months), Days: int32(days), Micros: micros}
	if neg {
		if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 {
			return tooBig()
		}
		iv = change.IntervalValue{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
	}
	return iv, nil
}

// mulAdd returns a*m+b, and false when it overflows int64. m is positive.
func mulAdd(a, m, b int64) (int64, bool) {
	if a > math.MaxInt64/m || a < math.MinInt64/m {
		return 0, false
	}
	p := a * m
	r := p + b
	if (b > 0 && r < p) || (b < 0 && r > p) {
		return 0, false
	}
	return r, true
}

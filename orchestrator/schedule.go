package orchestrator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a cron expression of five fields (minute hour day-of-month
// month day-of-week) with *, lists (1,15), ranges (1-5) and steps (*/6,
// 0-30/10), or one of @hourly, @daily, @weekly, @monthly. Day of week is
// 0-6 from Sunday (7 is Sunday too). As in cron, when both day fields are
// restricted, a day matching either is enough.
type Schedule struct {
	text                          string
	minute, hour, dom, month, dow uint64
	domAny, dowAny                bool
}

var scheduleAliases = map[string]string{
	"@hourly":  "0 * * * *",
	"@daily":   "0 3 * * *",
	"@weekly":  "0 3 * * 0",
	"@monthly": "0 3 1 * *",
}

// ParseSchedule reads a cron expression. Returns EINVALID naming the field
// that is wrong.
func ParseSchedule(text string) (Schedule, error) {
	s := Schedule{text: strings.TrimSpace(text)}
	expr := s.text
	if alias, ok := scheduleAliases[expr]; ok {
		expr = alias
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return Schedule{}, Errorf(EINVALID, "schedule %q: want five fields (minute hour day month weekday), like \"0 3 * * *\", or @hourly, @daily, @weekly, @monthly", text)
	}
	specs := []struct {
		name     string
		min, max int
		bits     *uint64
		any      *bool
	}{
		{"minute", 0, 59, &s.minute, nil},
		{"hour", 0, 23, &s.hour, nil},
		{"day of month", 1, 31, &s.dom, &s.domAny},
		{"month", 1, 12, &s.month, nil},
		{"day of week", 0, 7, &s.dow, &s.dowAny},
	}
	for i, f := range fields {
		sp := specs[i]
		bits, err := parseField(f, sp.min, sp.max)
		if err != nil {
			return Schedule{}, Errorf(EINVALID, "schedule %q: %s %q: %s", text, sp.name, f, err)
		}
		*sp.bits = bits
		if sp.any != nil {
			*sp.any = f == "*"
		}
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday
		s.dow |= 1
	}
	return s, nil
}

func parseField(f string, lo, hi int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("step %q is not a positive number", stepText)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			from, err1 = strconv.Atoi(a)
			to, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil || from > to {
				return 0, fmt.Errorf("range %q is not low-high", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return 0, fmt.Errorf("%q is not a number", rng)
			}
			from, to = n, n
			if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi {
			return 0, fmt.Errorf("values must be %d to %d", lo, hi)
		}
		for v := from; v <= to; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

// String is the expression as given.
func (s Schedule) String() string { return s.text }

// Matches tells whether the schedule fires in t's minute (in t's zone).
func (s Schedule) Matches(t time.Time) bool {
	if s.minute&(1<<uint(t.Minute())) == 0 || s.hour&(1<<uint(t.Hour())) == 0 || s.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case s.domAny && s.dowAny:
		return true
	case s.domAny:
		return dow
	case s.dowAny:
		return dom
	}
	return dom || dow
}

// Next returns the first minute after t the schedule fires, looking up to
// a year ahead (the zero time when it never does: 30 February).
func (s Schedule) Next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	for end := t.AddDate(1, 0, 1); t.Before(end); t = t.Add(time.Minute) {
		if s.Matches(t) {
			return t
		}
	}
	return time.Time{}
}

package orchestrator_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04 Mon", s)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		expr, from, next string
	}{
		{"0 3 * * *", "2026-12-05 22:40 Sat", "2026-12-06 03:00 Sun"},
		{"@daily", "2026-12-06 03:00 Sun", "2026-12-07 03:00 Mon"},
		{"*/15 * * * *", "2026-12-05 22:40 Sat", "2026-12-05 22:45 Sat"},
		{"0 */6 * * *", "2026-12-05 22:40 Sat", "2026-12-06 00:00 Sun"},
		{"30 1 * * 1-5", "2026-12-05 22:40 Sat", "2026-12-07 01:30 Mon"},
		{"0 3 * * 7", "2026-12-05 22:40 Sat", "2026-12-06 03:00 Sun"},
		{"0 3 1 * *", "2026-12-05 22:40 Sat", "2027-01-01 03:00 Fri"},
		// Both day fields: either one.
		{"0 0 15 * 1", "2026-12-05 22:40 Sat", "2026-12-07 00:00 Mon"},
		{"0,30 9-10 * * *", "2026-12-05 10:00 Sat", "2026-12-05 10:30 Sat"},
		{"5/20 * * * *", "2026-12-05 22:40 Sat", "2026-12-05 22:45 Sat"},
	} {
		s, err := orchestrator.ParseSchedule(tc.expr)
		require.NoError(t, err, tc.expr)
		assert.Equal(t, at(tc.next), s.Next(at(tc.from)), tc.expr)
		assert.True(t, s.Matches(at(tc.next)), tc.expr)
	}
	never, err := orchestrator.ParseSchedule("0 0 30 2 *")
	require.NoError(t, err)
	assert.True(t, never.Next(at("2026-12-05 22:40 Sat")).IsZero(), "30 February never comes")

	for expr, want := range map[string]string{
		"0 3 * *":     "five fields",
		"60 * * * *":  "minute",
		"0 24 * * *":  "hour",
		"0 0 0 * *":   "day of month",
		"0 0 * 13 *":  "month",
		"0 0 * * 8":   "day of week",
		"*/0 * * * *": "positive number",
		"5-1 * * * *": "low-high",
		"a * * * *":   "not a number",
		"@yearly-ish": "five fields",
	} {
		_, err := orchestrator.ParseSchedule(expr)
		if assert.Error(t, err, expr) {
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
			assert.Contains(t, err.Error(), want, expr)
		}
	}
}

package main

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScaleFlags(t *testing.T) {
	o, err := parseScaleFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 12, o.Small)
	assert.Equal(t, 1000, o.Large)
	for _, bad := range [][]string{{"-small", "1"}, {"-large", "12"}, {"-rounds", "0"}, {"-duration", "100ms"}, {"extra"}} {
		_, err := parseScaleFlags(bad, io.Discard)
		assert.Error(t, err, "%q", bad)
	}
}

// The verdict is the median of each endpoint's rounds' p99 ratios against
// the bar; a failure fails it.
func TestScaleVerdict(t *testing.T) {
	round := func(endpoint string, small, large Num) ScaleRound {
		return ScaleRound{Endpoint: endpoint, Small: Read{P99Ms: small}, Large: Read{P99Ms: large}, P99Ratio: ratio(large, small),
			SmallCPUUs: 20, LargeCPUUs: 25}
	}
	rounds := []ScaleRound{
		round("appList", 10, 9), round("catalog", 10, 16),
		round("appList", 10, 12), round("catalog", 10, 14),
		round("appList", 4, 12), round("catalog", 20, 10), // one bad round each way
	}
	r := &ScaleResults{Settings: ScaleOptions{Small: 12, Large: 1000, MaxRatio: 1.5}, Rounds: rounds}
	for _, ep := range scaleEndpoints {
		r.Figures = append(r.Figures, scaleFigure(ep.name, rounds, 1.5))
	}
	require.Len(t, r.Figures, 2)
	assert.InDelta(t, 1.2, float64(r.Figures[0].P99Ratio.Median), 1e-9, "appList: 0.9, 1.2, 3 → 1.2")
	assert.InDelta(t, 1.4, float64(r.Figures[1].P99Ratio.Median), 1e-9, "catalog: 1.6, 1.4, 0.5 → 1.4")
	assert.InDelta(t, 1.25, float64(r.Figures[1].CPURatio.Median), 1e-9)
	assert.True(t, r.met())
	assert.Contains(t, r.markdown(), "**Verdict: PASS**")

	r.Figures[1] = scaleFigure("catalog", append(rounds, round("catalog", 10, 17), round("catalog", 10, 18)), 1.5)
	assert.InDelta(t, 1.6, float64(r.Figures[1].P99Ratio.Median), 1e-9)
	assert.False(t, r.met())
	assert.True(t, strings.Contains(r.markdown(), "**Verdict: FAIL**"))

	r.Figures[1] = scaleFigure("catalog", rounds, 1.5)
	r.Failures = []string{"wrk failed"}
	assert.False(t, r.met())
	assert.False(t, scaleFigure("nothing", rounds, 1.5).Met, "no rounds, no verdict")
}

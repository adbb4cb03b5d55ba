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

// The verdict is the median of the rounds' ratios against the bar, for
// every endpoint; a failure fails it.
func TestScaleVerdict(t *testing.T) {
	r := &ScaleResults{Settings: ScaleOptions{Small: 12, Large: 1000, MaxRatio: 1.5}}
	f := func(endpoint string, ratios ...Num) ScaleFigure {
		s := spread(ratios)
		return ScaleFigure{Endpoint: endpoint, P99Ratio: s, Met: float64(s.Median) <= 1.5}
	}
	r.Figures = []ScaleFigure{f("appList", 0.9, 1.2, 3), f("catalog", 1.1, 1.4, 0.5)}
	assert.True(t, r.met())
	assert.Contains(t, r.markdown(), "**Verdict: PASS**")
	r.Figures[1] = f("catalog", 1.6, 1.7, 0.5)
	assert.False(t, r.met())
	assert.True(t, strings.Contains(r.markdown(), "**Verdict: FAIL**"))
	r.Figures[1] = f("catalog", 1.0)
	r.Failures = []string{"wrk failed"}
	assert.False(t, r.met())
}

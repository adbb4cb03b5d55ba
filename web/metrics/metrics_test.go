package metrics_test

import (
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/web/metrics"
)

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func family(t *testing.T, m *metrics.Metrics, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	t.Fatalf("no family %s", name)
	return nil
}

// TestBuildInfoDefaults: an unstamped build says dev/unknown, and the Go
// version it was built with.
func TestBuildInfoDefaults(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{}, nil)
	f := family(t, m, metrics.BuildInfoName)
	require.Len(t, f.GetMetric(), 1)
	assert.Equal(t, map[string]string{"version": "dev", "commit": "unknown", "date": "unknown", "goversion": runtime.Version()}, labels(f.GetMetric()[0]))
	assert.Equal(t, 1.0, f.GetMetric()[0].GetGauge().GetValue())
}

// TestLabelsStayBounded: a method nobody routes is "other", no route is
// "unmatched", a Docker operation's words are joined with underscores.
func TestLabelsStayBounded(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{}, nil)
	m.ObserveRequest("", "X-ANYTHING-1", 404, time.Millisecond)
	m.ObserveRequest("", "X-ANYTHING-2", 404, time.Millisecond)
	f := family(t, m, metrics.RequestDuration)
	require.Len(t, f.GetMetric(), 1)
	assert.Equal(t, map[string]string{"route": "unmatched", "method": "other", "code": "404"}, labels(f.GetMetric()[0]))
	assert.Equal(t, uint64(2), f.GetMetric()[0].GetHistogram().GetSampleCount())

	m.DockerError("container logs", "not_found")
	f = family(t, m, metrics.DockerErrors)
	assert.Equal(t, map[string]string{"operation": "container_logs", "class": "not_found"}, labels(f.GetMetric()[0]))
}

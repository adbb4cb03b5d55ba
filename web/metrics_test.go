package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/metrics"
)

// metricsSource is the engine as the scrape reads it: fakeApps' list
// (one running app, one failed) and a port pool.
type metricsSource struct {
	fakeApps
	poolErr error
}

func (s metricsSource) PortPool(context.Context) (orchestrator.PortPool, error) {
	return orchestrator.PortPool{Reserved: 1, Size: 1092}, s.poolErr
}

// scrape GETs /metrics with token ("" for none) and parses the answer.
func scrape(t *testing.T, h http.Handler, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}

// sample returns the metric of family name whose labels are labels, or nil.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f, ok := fams[name]
	if !ok {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func counterOf(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := sample(fams, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func requestCount(fams map[string]*dto.MetricFamily, labels map[string]string) uint64 {
	if m := sample(fams, metrics.RequestDuration, labels); m != nil {
		return m.GetHistogram().GetSampleCount()
	}
	return 0
}

// TestMetricsScrape scrapes /metrics through the server: every family is
// there, apps and the port pool are read from the engine, requests are
// counted by route template, and a job's end moves the job counters.
func TestMetricsScrape(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{Version: "1.2.3", Commit: "abc"}, nil)
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Metrics: m.Handler(metricsSource{}), Requests: m}
	h := s.Handler()

	fams := scrape(t, h, "shk_read")
	for _, name := range []string{metrics.Apps, metrics.PortsReserved, metrics.PortPoolSize,
		metrics.BuildInfoName, "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, fams, name)
	}
	info := sample(fams, metrics.BuildInfoName, map[string]string{"version": "1.2.3", "commit": "abc", "date": "unknown"})
	require.NotNil(t, info, "build info labels")
	assert.Equal(t, 1.0, info.GetGauge().GetValue())
	for status, want := range map[string]float64{"running": 1, "failed": 1, "installing": 0, "stopped": 0, "uninstalling": 0} {
		g := sample(fams, metrics.Apps, map[string]string{"status": status})
		require.NotNil(t, g, status)
		assert.Equal(t, want, g.GetGauge().GetValue(), status)
	}
	assert.Equal(t, 1.0, fams[metrics.PortsReserved].GetMetric()[0].GetGauge().GetValue())
	assert.Equal(t, 1092.0, fams[metrics.PortPoolSize].GetMetric()[0].GetGauge().GetValue())

	runs := map[string]string{"route": "/api/v1/apps/:name/runs", "method": "GET", "code": "200"}
	before := requestCount(fams, runs)
	for _, app := range []string{"a", "b", "c"} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/apps/"+app+"/runs", nil)
		req.Header.Set("Authorization", "Bearer shk_read")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/no/such/route/42", nil))
	m.JobEnded(orchestrator.JobEnd{Action: orchestrator.ActionInstall, Outcome: orchestrator.RunSucceeded, Duration: 3 * time.Second})
	m.DockerError("list containers", "unavailable")

	fams = scrape(t, h, "shk_read")
	assert.Contains(t, fams, metrics.RequestDuration)
	assert.Equal(t, before+3, requestCount(fams, runs), "three requests, one series: the route template, not the path")
	for _, mf := range fams[metrics.RequestDuration].GetMetric() {
		for _, l := range mf.GetLabel() {
			if l.GetName() == "route" {
				assert.NotContains(t, []string{"/api/v1/apps/a/runs", "/no/such/route/42"}, l.GetValue(), "no raw path as a label")
			}
		}
	}
	// Echo answers an unknown path with its group's catch-all route.
	assert.Equal(t, uint64(1), requestCount(fams, map[string]string{"route": "/*", "method": "other", "code": "401"}), "unknown paths and methods share a series")
	assert.Equal(t, uint64(1), requestCount(fams, map[string]string{"route": "/metrics", "code": "200"}), "the first scrape")
	assert.Equal(t, 1.0, counterOf(fams, metrics.JobsTotal, map[string]string{"action": "install", "outcome": "succeeded"}))
	d := sample(fams, metrics.JobDuration, map[string]string{"action": "install"})
	require.NotNil(t, d)
	assert.Equal(t, uint64(1), d.GetHistogram().GetSampleCount())
	assert.Equal(t, 3.0, d.GetHistogram().GetSampleSum())
	assert.Equal(t, 1.0, counterOf(fams, metrics.DockerErrors, map[string]string{"operation": "list_containers", "class": "unavailable"}))

	// A recovered run counts, without a duration spanning the restart.
	m.JobEnded(orchestrator.JobEnd{Action: orchestrator.ActionInstall, Outcome: orchestrator.RunFailed, Duration: 5 * time.Hour, Recovered: true})
	fams = scrape(t, h, "shk_read")
	assert.Equal(t, 1.0, counterOf(fams, metrics.JobsTotal, map[string]string{"action": "install", "outcome": "failed"}))
	assert.Equal(t, uint64(1), sample(fams, metrics.JobDuration, map[string]string{"action": "install"}).GetHistogram().GetSampleCount())
}

// TestMetricsAuth: /metrics needs a token like any read, unless public;
// without Metrics there is no such route.
func TestMetricsAuth(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{}, nil)
	for _, tc := range []struct {
		name   string
		public bool
		token  string
		want   int
	}{
		{"no token", false, "", http.StatusUnauthorized},
		{"forged", false, "shk_forged", http.StatusUnauthorized},
		{"viewer", false, "shk_read", http.StatusOK},
		{"public", true, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Metrics: m.Handler(metricsSource{}), MetricsPublic: tc.public}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
		})
	}
	rec := httptest.NewRecorder()
	(&Server{Auth: fakeAuth{}, Engine: fakeEngine{}}).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.NotEqual(t, http.StatusOK, rec.Code, "no Metrics, no route")
}

// TestMetricsEngineReadFails: a failed read leaves its family out and
// the rest served.
func TestMetricsEngineReadFails(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{}, nil)
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Metrics: m.Handler(metricsSource{poolErr: errors.New("store closed")}), MetricsPublic: true}
	fams := scrape(t, s.Handler(), "")
	assert.NotContains(t, fams, metrics.PortsReserved)
	assert.Contains(t, fams, metrics.Apps)
	assert.Contains(t, fams, metrics.BuildInfoName)
}

// readiness is a HostService whose readiness the test sets.
type readiness struct {
	fakeHost
	r orchestrator.Readiness
}

func (h readiness) Readiness(context.Context) orchestrator.Readiness { return h.r }

// TestReadyz: 200 {"status":"ready"} when every check passes; 503 naming
// each failed check and its reason otherwise.
func TestReadyz(t *testing.T) {
	all := func(failed string, reason string) orchestrator.Readiness {
		var r orchestrator.Readiness
		for _, n := range []string{orchestrator.CheckStore, orchestrator.CheckDocker, orchestrator.CheckCatalog, orchestrator.CheckRecovery} {
			if n == failed {
				r = append(r, orchestrator.ReadyCheck{Name: n, Reason: reason})
			} else {
				r = append(r, orchestrator.ReadyCheck{Name: n, OK: true})
			}
		}
		return r
	}
	for _, tc := range []struct {
		failed, reason string
	}{
		{"", ""},
		{orchestrator.CheckStore, "the state database does not answer a query"},
		{orchestrator.CheckDocker, "Docker is not answering; start dockerd (make docker-up) and try again"},
		{orchestrator.CheckCatalog, "no catalog is loaded"},
		{orchestrator.CheckRecovery, "start-up recovery is not done yet (reconciling)"},
	} {
		t.Run("failed="+tc.failed, func(t *testing.T) {
			s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Host: readiness{r: all(tc.failed, tc.reason)}}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil)) // no credentials: public
			var body struct {
				Status string       `json:"status"`
				Failed []readyCheck `json:"failed"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			if tc.failed == "" {
				assert.Equal(t, http.StatusOK, rec.Code)
				assert.JSONEq(t, `{"status":"ready"}`, rec.Body.String())
				return
			}
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, "not ready", body.Status)
			assert.Equal(t, []readyCheck{{Check: tc.failed, Reason: tc.reason}}, body.Failed)
		})
	}
}

package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/web/wire"
)

func TestAppSettingsPlanAndStats(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	call := func(method, target, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}

	rec := call(http.MethodGet, "/api/v1/apps/demo/settings", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "hunter2", "a sensitive setting's value never leaves the server")
	var st wire.AppSettings
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.Equal(t, "1.0.0", st.Version)
	assert.Equal(t, "1.1.0", st.Catalog.Version, "the catalog entry describes the form")
	require.Len(t, st.Settings, 2)
	assert.Equal(t, wire.Setting{Name: "greeting", Value: "hello", Set: true, Editable: true}, st.Settings[0])
	assert.Equal(t, wire.Setting{Name: "secret", Sensitive: true, Set: true, Editable: true}, st.Settings[1])
	assert.Equal(t, http.StatusNotFound, call(http.MethodGet, "/api/v1/apps/nope/settings", "shk_read", "").Code)

	body := `{"parameters":{"greeting":"hi","secret":"s3cret-value"}}`
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/apps/demo/upgrade/plan", "shk_read", body).Code,
		"a viewer cannot plan an upgrade")
	rec = call(http.MethodPost, "/api/v1/apps/demo/upgrade/plan", "shk_operator", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "s3cret-value")
	var plan wire.UpgradePlan
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &plan))
	assert.Equal(t, wire.UpgradePlan{Name: "demo", FromVersion: "1.0.0", ToVersion: "1.1.0", Changes: []wire.SettingChange{
		{Name: "greeting", From: "old", To: "hi"}, {Name: "secret", Sensitive: true}}}, plan)
	rec = call(http.MethodPost, "/api/v1/apps/demo/upgrade/plan", "shk_operator", `{"parameters":{},"extra":1}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "unknown fields are refused as on upgrade")

	rec = call(http.MethodGet, "/api/v1/apps/demo/stats", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var stats []wire.ContainerStats
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &stats))
	require.Len(t, stats, 1)
	assert.Equal(t, wire.ContainerStats{Name: "websoft9-demo", CPUPercent: 12.5, MemoryBytes: 1 << 20, MemoryLimit: 1 << 30, PIDs: 3}, stats[0])
}

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

func TestDomainRoutes(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{fakeDomains: &fakeDomains{}},
		Gateway: func() wire.Gateway {
			return wire.Gateway{Enabled: true, Mode: "internal", RootCA: "-----BEGIN CERTIFICATE-----"}
		}}
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
	rec := call(http.MethodPost, "/api/v1/apps/demo/domains", "shk_operator", `{"domain":"Blog.Example.COM."}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var d wire.Domain
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
	assert.Equal(t, "blog.example.com", d.Domain, "normalized")
	assert.Equal(t, "pending", d.Certificate.State)

	rec = call(http.MethodPost, "/api/v1/apps/demo/domains", "shk_operator", `{"domain":"blog.example.com"}`)
	assert.Equal(t, http.StatusConflict, rec.Code, "taken: %s", rec.Body.String())
	rec = call(http.MethodPost, "/api/v1/gateway/domains", "shk_good", `{"domain":"blog.example.com"}`)
	assert.Equal(t, http.StatusConflict, rec.Code, "the console cannot take an app's domain either")
	for _, bad := range []string{`{"domain":"blog.example.com:8443"}`, `{"domain":"*.example.com"}`, `{"domain":"10.0.0.1"}`,
		`{"domain":"` + strings.Repeat("a", 64) + `.com"}`, `{"domain":""}`, `{"domain":"a.com","extra":1}`} {
		rec = call(http.MethodPost, "/api/v1/apps/demo/domains", "shk_operator", bad)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", bad, rec.Body.String())
	}
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/apps/demo/domains", "shk_read", `{"domain":"x.example.com"}`).Code)
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/gateway/domains", "shk_operator", `{"domain":"x.example.com"}`).Code,
		"the console's domain is admins'")
	assert.Equal(t, http.StatusNotFound, call(http.MethodPost, "/api/v1/apps/nope/domains", "shk_operator", `{"domain":"x.example.com"}`).Code)

	rec = call(http.MethodGet, "/api/v1/apps/demo/domains", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var list []wire.Domain
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list, 1)

	require.Equal(t, http.StatusCreated, call(http.MethodPost, "/api/v1/gateway/domains", "shk_good", `{"domain":"panel.example.com"}`).Code)
	rec = call(http.MethodGet, "/api/v1/gateway", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var gw wire.Gateway
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &gw))
	assert.True(t, gw.Enabled)
	require.Len(t, gw.Domains, 1)
	assert.Equal(t, "panel.example.com", gw.Domains[0].Domain)

	assert.Equal(t, http.StatusNoContent, call(http.MethodDelete, "/api/v1/apps/demo/domains/blog.example.com", "shk_operator", "").Code)
	assert.Equal(t, http.StatusNotFound, call(http.MethodDelete, "/api/v1/apps/demo/domains/blog.example.com", "shk_operator", "").Code)
}

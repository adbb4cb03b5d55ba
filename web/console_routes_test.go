package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func consoleGet(t *testing.T, h http.Handler, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestConsoleRoutes serves the console without credentials, with its CSP
// and revalidation headers, and nothing outside the embedded files.
func TestConsoleRoutes(t *testing.T) {
	h := (&Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Accounts: &fakeAccounts{}}).Handler()

	for _, target := range []string{"/", "/console"} {
		rec := consoleGet(t, h, target, nil)
		assert.Equal(t, http.StatusFound, rec.Code, target)
		assert.Equal(t, "/console/", rec.Header().Get("Location"), target)
	}

	rec := consoleGet(t, h, "/console/", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, consoleCSP, rec.Header().Get("Content-Security-Policy"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Body.String(), `<script type="module" src="app.js">`)
	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)

	rec = consoleGet(t, h, "/console/", map[string]string{"If-None-Match": etag})
	assert.Equal(t, http.StatusNotModified, rec.Code, "an unchanged file is revalidated, not sent again")

	for target, ctype := range map[string]string{
		"/console/app.js":         "text/javascript; charset=utf-8",
		"/console/views/apps.js":  "text/javascript; charset=utf-8",
		"/console/style.css":      "text/css; charset=utf-8",
		"/console/favicon.svg":    "image/svg+xml",
		"/console/messages-zh.js": "text/javascript; charset=utf-8",
	} {
		rec := consoleGet(t, h, target, nil)
		assert.Equal(t, http.StatusOK, rec.Code, target)
		assert.Equal(t, ctype, rec.Header().Get("Content-Type"), target)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), target)
		assert.NotEmpty(t, rec.Body.String(), target)
	}

	for _, target := range []string{"/console/nope.js", "/console/views", "/console/../web/server.go", "/console/%2e%2e/go.mod", "/console/console.go"} {
		rec := consoleGet(t, h, target, nil)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusUnauthorized}, rec.Code, target)
		assert.NotContains(t, rec.Body.String(), "package ", target)
	}

	// The API behind the console still wants credentials.
	assert.Equal(t, http.StatusUnauthorized, consoleGet(t, h, "/api/v1/apps", nil).Code)
}

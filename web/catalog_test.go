package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// catalogEngine serves one catalog app with an icon and an installed,
// older copy of it.
type catalogEngine struct {
	fakeEngine
	app orchestrator.App
}

func (e catalogEngine) Catalog(context.Context) ([]orchestrator.App, error) {
	return []orchestrator.App{e.app}, nil
}

func (e catalogEngine) CatalogApp(_ context.Context, name string) (orchestrator.App, error) {
	if name != e.app.Name {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
	}
	return e.app, nil
}

func (e catalogEngine) List(context.Context) ([]orchestrator.Installation, error) {
	return []orchestrator.Installation{{Name: "blog", App: e.app.Name, Version: "5.0.4", State: orchestrator.StateRunning}}, nil
}

func (e catalogEngine) Info(_ context.Context, name string) (orchestrator.Installation, error) {
	return orchestrator.Installation{Name: name, App: e.app.Name, Version: "5.1.3", State: orchestrator.StateRunning}, nil
}

func raw(t *testing.T, s *Server, method, target, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestCatalogMetadataAndIcon(t *testing.T) {
	dir := t.TempDir()
	svg := `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "icon.svg"), []byte(svg), 0o644))
	app := orchestrator.App{Name: "redmine", Version: "5.1.3", Title: "Redmine", Dir: dir,
		Images: []string{"docker.io/library/redmine:5.1.3"}, Generate: []string{"db_password"},
		Meta: orchestrator.AppMeta{Category: "project-management", Icon: "icon.svg", Homepage: "https://www.redmine.org",
			Login: orchestrator.Login{Path: "/login", User: "admin"}}}
	s := &Server{Auth: fakeAuth{}, Engine: catalogEngine{app: app}}

	rec := raw(t, s, http.MethodGet, "/api/v1/catalog/redmine", "shk_read")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got catalogApp
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "/api/v1/catalog/redmine/icon", got.Icon)
	assert.Equal(t, "project-management", got.Category)
	assert.Equal(t, catalogLogin{Path: "/login", User: "admin"}, got.Login)
	assert.Equal(t, []string{"docker.io/library/redmine:5.1.3"}, got.Images)
	assert.Equal(t, []string{"db_password"}, got.Generated)

	rec = raw(t, s, http.MethodGet, "/api/v1/catalog/redmine/icon", "shk_read")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/svg+xml", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "sandbox", "an SVG's script never runs")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, svg, rec.Body.String())

	rec = raw(t, s, http.MethodGet, "/api/v1/catalog/redmine/icon", "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "icons need credentials too")

	// An icon that is a link is not served, wherever it points.
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0"), 0o600))
	require.NoError(t, os.Symlink(secret, filepath.Join(dir, "link.svg")))
	require.NoError(t, os.Symlink("icon.svg", filepath.Join(dir, "inside.svg")))
	for _, icon := range []string{"link.svg", "inside.svg", "../secret"} {
		linked := app
		linked.Meta.Icon = icon
		s = &Server{Auth: fakeAuth{}, Engine: catalogEngine{app: linked}}
		rec = raw(t, s, http.MethodGet, "/api/v1/catalog/redmine/icon", "shk_read")
		assert.Equal(t, http.StatusNotFound, rec.Code, icon)
		assert.NotContains(t, rec.Body.String(), "root:x", icon)
	}

	noIcon := app
	noIcon.Meta.Icon = ""
	s = &Server{Auth: fakeAuth{}, Engine: catalogEngine{app: noIcon}}
	rec = raw(t, s, http.MethodGet, "/api/v1/catalog/redmine/icon", "shk_read")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = raw(t, s, http.MethodGet, "/api/v1/catalog/nope/icon", "shk_read")
	assert.Equal(t, http.StatusNotFound, rec.Code)

	// Installed apps say whether the catalog has a newer version.
	s = &Server{Auth: fakeAuth{}, Engine: catalogEngine{app: app}}
	rec = raw(t, s, http.MethodGet, "/api/v1/apps", "shk_read")
	require.Equal(t, http.StatusOK, rec.Code)
	var list []appInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list, 1)
	assert.Equal(t, "5.1.3", list[0].CatalogVersion)
	assert.True(t, list[0].Upgradable)
	assert.Equal(t, "/login", list[0].LoginPath)
	rec = raw(t, s, http.MethodGet, "/api/v1/apps/blog", "shk_read")
	var one appInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &one))
	assert.False(t, one.Upgradable, "same version")
}

func TestRevealCredentials(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	rec := raw(t, s, http.MethodPost, "/api/v1/apps/demo/credentials", "shk_good")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var got appSecrets
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, map[string]string{"db_password": "s3cret"}, got.Credentials)

	rec = raw(t, s, http.MethodPost, "/api/v1/apps/demo/credentials", "shk_read")
	assert.Equal(t, http.StatusForbidden, rec.Code, "a read token cannot reveal secrets")
	assert.NotContains(t, rec.Body.String(), "s3cret")
	rec = raw(t, s, http.MethodGet, "/api/v1/apps/demo/credentials", "shk_good")
	assert.NotEqual(t, http.StatusOK, rec.Code, "reading them is a POST: it changes what later reads get")
	rec = raw(t, s, http.MethodPost, "/api/v1/apps/nope/credentials", "shk_good")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.True(t, strings.Contains(rec.Body.String(), "nope"))
}

func TestCatalogPullAndImport(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	post := func(target, token, ctype string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := post("/api/v1/catalog/pull", "shk_good", "application/json", []byte(`{"reference":"127.0.0.1:5000/demo:v0.1.0"}`))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "pulled", got["appName"])
	assert.Equal(t, "127.0.0.1:5000/demo:v0.1.0@sha256:abc", got["source"])

	rec = post("/api/v1/catalog/pull", "shk_good", "application/json", []byte(`{"reference":"127.0.0.1:5000/missing:v1"}`))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, rec.Body.String(), "no such repository or tag")
	rec = post("/api/v1/catalog/pull", "shk_good", "application/json", []byte(`{}`))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "reference is required")
	rec = post("/api/v1/catalog/pull", "shk_read", "application/json", []byte(`{"reference":"127.0.0.1:5000/demo:v0.1.0"}`))
	assert.Equal(t, http.StatusForbidden, rec.Code, "adding to the catalog takes the admin scope")

	// An archive holds images: it is not bound by the 1 MiB body limit.
	big := bytes.Repeat([]byte{1}, 3<<20)
	rec = post("/api/v1/catalog/import", "shk_good", "application/gzip", big)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "archive of 3145728 bytes", got["source"])
	rec = post("/api/v1/catalog/pull", "shk_good", "application/json", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "other routes keep the limit")
}

func TestCatalogAddBundleDir(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	post := func(target, token string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/gzip")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := post("/api/v1/catalog/bundles", "shk_good", []byte("uptime-kuma"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "uptime-kuma", got["appName"])
	assert.Equal(t, "catalog add (converted from umbrel:uptime-kuma)", got["source"])
	assert.Equal(t, map[string]any{"store": "umbrel", "id": "uptime-kuma", "version": "2.0"}, got["origin"])

	for _, tc := range []struct {
		name, target, token, body string
		status                    int
		says                      string
	}{
		{"lint errors", "/api/v1/catalog/bundles", "shk_good", "bad", http.StatusBadRequest, "services.web.privileged: refused (rule privileged)"},
		{"a catalog directory's app", "/api/v1/catalog/bundles", "shk_good", "demo", http.StatusConflict, "cannot replace it"},
		{"name and version taken", "/api/v1/catalog/bundles", "shk_good", "taken", http.StatusConflict, "sha256:b"},
		{"taken, forced", "/api/v1/catalog/bundles?force=true", "shk_good", "taken", http.StatusCreated, `"appName":"taken"`},
		{"bad force", "/api/v1/catalog/bundles?force=maybe", "shk_good", "x", http.StatusBadRequest, "force must be true or false"},
		{"not an admin", "/api/v1/catalog/bundles", "shk_read", "x", http.StatusForbidden, ""},
		{"no token", "/api/v1/catalog/bundles", "", "x", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(tc.target, tc.token, []byte(tc.body))
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.says)
		})
	}

	// Above the global 1 MiB limit but within its own; then over its own.
	rec = post("/api/v1/catalog/bundles", "shk_good", bytes.Repeat([]byte{'a'}, 2<<20))
	assert.Equal(t, http.StatusCreated, rec.Code, "a bundle directory may exceed the 1 MiB body limit")
	rec = post("/api/v1/catalog/bundles", "shk_good", bytes.Repeat([]byte{'a'}, MaxBundleDirBytes+1))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "larger than")
}

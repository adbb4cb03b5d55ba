package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRoutes checks the document against the routes the
// server actually registers under /api/v1: every route documented, every
// documented operation registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI(), &doc))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		prefix := "/api/v1"
		if _, seed := seedRoutesByPath[path]; seed {
			prefix = "" // served at the root (the path item's servers)
		}
		for method := range ops {
			if method == "parameters" || method == "servers" {
				continue
			}
			documented[strings.ToUpper(method)+" "+prefix+path] = true
		}
	}
	param := regexp.MustCompile(`:([a-zA-Z]+)`)
	registered := map[string]bool{}
	for _, r := range (&Server{}).Handler().Routes() {
		_, seed := seedRoutesByPath[r.Path]
		if !strings.HasPrefix(r.Path, "/api/v1/") && !seed || r.Method == "echo_route_not_found" {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	assert.GreaterOrEqual(t, len(registered), 23+2*len(seedRoutes), "the walk found the routes")
	assert.Equal(t, keys(registered), keys(documented))
}

// TestOpenAPISeedFromTable: each seed endpoint's entry lists the keys its
// handler accepts, and says whether it changes state, as the table does.
func TestOpenAPISeedFromTable(t *testing.T) {
	var doc struct {
		Paths map[string]struct {
			Get struct {
				Mutating   bool `json:"x-mutating"`
				Parameters []struct {
					Name string `json:"name"`
				} `json:"parameters"`
			} `json:"get"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI(), &doc))
	for _, r := range seedRoutes {
		item, ok := doc.Paths[r.path]
		require.True(t, ok, r.path)
		var names []string
		for _, p := range item.Get.Parameters {
			names = append(names, p.Name)
		}
		assert.ElementsMatch(t, r.keys, names, r.path)
		assert.Equal(t, r.mutating, item.Get.Mutating, r.path)
	}
}

// TestNoSecretInQuery: a credential in the query string is no credential,
// and a secret key in a GET's query is refused, never read.
func TestNoSecretInQuery(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	e := s.Handler()
	for _, target := range []string{"/getAppInfo?appName=blog&token=shk_good", "/api/v1/apps?access_token=shk_good", "/api/v1/apps?token=shk_good"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: a token in the URL does not authenticate", target)
	}
	for _, key := range secretKeys {
		req := httptest.NewRequest(http.MethodGet, "/getAppInfo?appName=blog&"+key+"=x", nil)
		req.Header.Set("Authorization", "Bearer shk_good")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, key)
		assert.Contains(t, rec.Body.String(), "never travels in a URL", key)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIServed(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	code, _ := func() (int, string) {
		rec := callAuthed(t, s, http.MethodGet, "/api/v1/openapi.json")
		return rec.Code, rec.Body.String()
	}()
	assert.Equal(t, http.StatusOK, code)
}

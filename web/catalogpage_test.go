package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// manyCatalog is a catalog of n apps app-000… with every fifth a
// database, app-007 titled in Chinese, and app-042 a converted app.
type manyCatalog struct {
	fakeCatalog
	n int
}

func (f manyCatalog) Catalog(context.Context) ([]orchestrator.App, error) {
	out := make([]orchestrator.App, 0, f.n)
	for i := f.n - 1; i >= 0; i-- { // not in the catalog's order
		a := demoApp
		a.Name = fmt.Sprintf("app-%03d", i)
		a.Title = fmt.Sprintf("App %03d", i)
		a.Description = "Something useful"
		a.Meta.Category = "productivity"
		if i%5 == 0 {
			a.Meta.Category = "database"
		}
		if i == 7 {
			a.Texts = map[string]orchestrator.AppTexts{"zh": {Title: "七号应用", Description: "中文描述"}}
		}
		if i == 42 {
			a.Description = "Photos and VIDEOS"
			a.Origin = orchestrator.Origin{Store: "umbrel", ID: "photos"}
		}
		out = append(out, a)
	}
	return out, nil
}

func catalogServer(n int) http.Handler {
	stamp, lists, port := orchestrator.ListStamp{Catalog: 1}, 0, 9001
	s := &Server{Auth: fakeAuth{}, Apps: stampApps{stamp: &stamp, cacheable: true, lists: &lists, port: &port},
		Catalog: manyCatalog{n: n}}
	return s.Handler()
}

func getCatalog(t *testing.T, h http.Handler, query string) (*httptest.ResponseRecorder, []wire.CatalogSummary) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/catalog"+query, nil)
	req.Header.Set("Authorization", "Bearer shk_read")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out []wire.CatalogSummary
	if rec.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	}
	return rec, out
}

func names(apps []wire.CatalogSummary) []string {
	out := make([]string, 0, len(apps))
	for _, a := range apps {
		out = append(out, a.Name)
	}
	return out
}

// Following the Link headers from the first page visits every entry once,
// in the catalog's order, and X-Total-Count says how many there are.
func TestCatalogPagesFollowLinks(t *testing.T) {
	h := catalogServer(123)
	var seen []string
	next, pages := "?limit=50", 0
	for next != "" {
		rec, page := getCatalog(t, h, next)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "123", rec.Header().Get("X-Total-Count"))
		seen = append(seen, names(page)...)
		pages++
		next = ""
		if link := rec.Header().Get("Link"); link != "" {
			require.Regexp(t, `^</api/v1/catalog\?[^>]+>; rel="next"$`, link)
			u, err := url.Parse(link[1 : len(link)-len(`>; rel="next"`)])
			require.NoError(t, err)
			next = "?" + u.RawQuery
		}
	}
	assert.Equal(t, 3, pages)
	require.Len(t, seen, 123)
	for i, n := range seen {
		assert.Equal(t, fmt.Sprintf("app-%03d", i), n, "sorted by title")
	}
	// The default page is 50 entries, and the answer is a summary: no
	// parameters, form or images (GET /catalog/{name} has those).
	rec, page := getCatalog(t, h, "")
	assert.Len(t, page, defaultCatalogPage)
	assert.NotContains(t, rec.Body.String(), `"parameters"`)
	assert.NotContains(t, rec.Body.String(), `"images"`)
	// Past the end: an empty page, no next link.
	rec, page = getCatalog(t, h, "?offset=500")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, page)
	assert.Equal(t, "[]\n", rec.Body.String())
	assert.Empty(t, rec.Header().Get("Link"))
}

func TestCatalogFilters(t *testing.T) {
	h := catalogServer(100)
	for _, tc := range []struct {
		query string
		want  []string
		total int
	}{
		{"?category=database&limit=3", []string{"app-000", "app-005", "app-010"}, 20},
		{"?q=videos", []string{"app-042"}, 1},
		{"?q=" + url.QueryEscape("PHOTOS videos"), []string{"app-042"}, 1}, // every word, any case
		{"?q=" + url.QueryEscape("photos music"), []string{}, 0},
		{"?q=" + url.QueryEscape("七号"), []string{"app-007"}, 1},                           // a title in another language
		{"?q=" + url.QueryEscape("数据库") + "&limit=2", []string{"app-000", "app-005"}, 20}, // a category's name
		{"?q=app-09&category=productivity", []string{"app-091", "app-092", "app-093", "app-094", "app-096", "app-097", "app-098", "app-099"}, 8},
		{"?name=app-003&name=app-001&name=nope", []string{"app-001", "app-003"}, 2},
		{"?category=games", []string{}, 0},
	} {
		rec, page := getCatalog(t, h, tc.query)
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", tc.query, rec.Body.String())
		assert.Equal(t, tc.want, names(page), tc.query)
		assert.Equal(t, strconv.Itoa(tc.total), rec.Header().Get("X-Total-Count"), tc.query)
	}
	_, page := getCatalog(t, h, "?q=videos")
	require.Len(t, page, 1)
	assert.Equal(t, &wire.CatalogOrigin{Store: "umbrel", ID: "photos"}, page[0].Origin)
	_, page = getCatalog(t, h, "?name=app-007")
	require.Len(t, page, 1)
	assert.Equal(t, "七号应用", page[0].Texts["zh"].Title)
}

func TestCatalogQueryRefused(t *testing.T) {
	h := catalogServer(10)
	long := make([]byte, maxCatalogSearch+1)
	for i := range long {
		long[i] = 'a'
	}
	for query, reason := range map[string]string{
		"?limit=0":                            "a page holds 1 to 200 entries",
		"?limit=201":                          "a page holds 1 to 200 entries",
		"?limit=ten":                          `limit must be a whole number, not "ten"`,
		"?offset=-1":                          "the offset must be 0 or more",
		"?offset=1&offset=2":                  "offset is given more than once",
		"?category=Media":                     `category "Media" is not a category key`,
		"?name=Bad_Name":                      `"Bad_Name" is not an app name`,
		"?sort=title":                         `unknown query parameter "sort"`,
		"?q=" + string(long):                  "the search text is longer than 200 characters",
		"?q=a&q=b":                            "q is given more than once",
		"?category=" + url.QueryEscape("a b"): "is not a category key",
	} {
		rec, _ := getCatalog(t, h, query)
		assert.Equal(t, http.StatusBadRequest, rec.Code, query)
		var e wire.Error
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		assert.Equal(t, "invalid", e.Error, query)
		assert.Contains(t, e.Message, reason, query)
	}
}

// /appList pages the same way: search, category, page (from 1) and
// pageSize, with total in the envelope beside data.
func TestAppListPages(t *testing.T) {
	h := catalogServer(75)
	call := func(method, query, body string) (int, map[string]any) {
		var req *http.Request
		if method == http.MethodGet {
			req = httptest.NewRequest(method, "/appList"+query, nil)
		} else {
			req = httptest.NewRequest(method, "/appList", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer shk_read")
		req.Header.Set("Accept-Language", "en")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
		return rec.Code, out
	}
	code, out := call(http.MethodGet, "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "1", out["code"])
	assert.EqualValues(t, 75, out["total"])
	assert.EqualValues(t, 1, out["page"])
	assert.EqualValues(t, defaultCatalogPage, out["pageSize"])
	assert.Len(t, out["data"], defaultCatalogPage)
	first := out["data"].([]any)[0].(map[string]any)
	assert.Equal(t, "app-000", first["appName"])
	assert.Equal(t, []any{map[string]any{"name": "port", "min": float64(9001), "max": float64(9999)}}, first["ports"], "the ports the app needs")

	code, out = call(http.MethodGet, "?page=2&pageSize=50", "")
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, out["data"], 25)
	code, out = call(http.MethodPost, "", `{"category":"database","search":"app","page":3,"pageSize":4}`)
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 15, out["total"])
	data := out["data"].([]any)
	require.Len(t, data, 4)
	assert.Equal(t, "app-040", data[0].(map[string]any)["appName"])
	code, out = call(http.MethodGet, "?page=9223372036854775807&pageSize=200", "")
	require.Equal(t, http.StatusOK, code, "a page past the end is empty, not an overflow")
	assert.Empty(t, out["data"])

	for body, reason := range map[string]string{
		`{"page":0}`:         "page counts from 1",
		`{"pageSize":500}`:   "a page holds 1 to 200 entries",
		`{"page":"two"}`:     "page must be a whole number",
		`{"page":1.5}`:       "page must be a whole number",
		`{"sort":"name"}`:    `unknown field "sort"`,
		`{"category":"A B"}`: "is not a category key",
	} {
		code, out := call(http.MethodPost, "", body)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Equal(t, "0", out["code"], body)
		assert.Contains(t, out["message"], reason, body)
	}
}

// A page, rendered or from the cache, says its length: net/http would
// otherwise send a body over 2 KB chunked, one more write per answer.
func TestCatalogPageHasContentLength(t *testing.T) {
	h := catalogServer(120)
	for range 2 { // rendered, then cached
		rec, page := getCatalog(t, h, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Len(t, page, 50)
		assert.Greater(t, rec.Body.Len(), 2048)
		assert.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
	}
	req := httptest.NewRequest(http.MethodGet, "/appList?pageSize=80", nil)
	req.Header.Set("Authorization", "Bearer shk_read")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
}

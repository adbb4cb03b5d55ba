package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// openAPIBase is the hand-written document of /api/v1.
//
//go:embed openapi/openapi.json
var openAPIBase []byte

// openAPI is the served document: the /api/v1 routes as written, and the
// seed endpoints generated from the seed table (seedRoutes).
var openAPI = sync.OnceValue(func() []byte {
	b, err := withSeedRoutes(openAPIBase)
	if err != nil {
		panic(fmt.Sprintf("web: openapi.json: %v", err)) // an embedded file: a test catches it
	}
	return b
})

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI())
}

// withSeedRoutes adds a path item per seed endpoint to doc: served at the
// root (not under /api/v1), GET with the keys as query parameters, POST
// with them as a JSON object, answering the seed's {code, message, data}.
func withSeedRoutes(base []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return nil, fmt.Errorf("no paths")
	}
	for _, r := range seedRoutes {
		summary := r.summary
		if r.mutating {
			summary += " (changes state: an admin token, or the CSRF header with a session, even over GET)"
		}
		var query []any
		props := map[string]any{}
		for _, k := range r.keys {
			typ := "string"
			switch k {
			case "purge", "force":
				typ = "boolean"
			case "page", "pageSize":
				typ = "integer"
			}
			query = append(query, map[string]any{"name": k, "in": "query", "schema": map[string]any{"type": typ}})
			props[k] = map[string]any{"type": typ}
		}
		answer := map[string]any{
			"200":     map[string]any{"description": `{"code": "1", "message": …, "data": …}`},
			"default": map[string]any{"description": `{"code": "0", "message": the reason}, with a fitting HTTP status`},
		}
		if r.path == "/installApp" {
			answer["202"] = map[string]any{"description": `{"code": "1", "message": …, "data": the app, installing}`}
		}
		get := map[string]any{"summary": summary, "tags": []any{"seed"}, "x-mutating": r.mutating, "responses": answer}
		if len(query) > 0 {
			get["parameters"] = query
		}
		post := map[string]any{"summary": summary, "tags": []any{"seed"}, "x-mutating": r.mutating, "responses": answer,
			"requestBody": map[string]any{"required": false, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"type": "object", "additionalProperties": false, "properties": props}}}}}
		paths[r.path] = map[string]any{"servers": []any{map[string]any{"url": "/"}}, "get": get, "post": post}
	}
	return json.MarshalIndent(doc, "", "  ")
}

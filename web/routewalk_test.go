package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

// publicRoutes are the only routes answered without credentials.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true,
	"POST /api/v1/auth/login": true, "POST /api/v1/auth/setup": true, "GET /api/v1/auth/setup": true,
	"GET /": true, "GET /console": true, "GET /console/*": true, // the console's static files
}

// TestRouteWalk walks every registered route: without credentials (from a
// loopback peer, with forwarded headers) each non-public one answers 401,
// with a forged token 401, and with a read token every mutating one 403.
func TestRouteWalk(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Accounts: &fakeAccounts{}}
	e := s.Handler()
	param := regexp.MustCompile(`:[a-zA-Z]+`)
	walked := 0
	for _, r := range e.Routes() {
		if r.Method == "echo_route_not_found" || publicRoutes[r.Method+" "+r.Path] {
			continue
		}
		walked++
		target := param.ReplaceAllString(r.Path, "x")
		for _, auth := range []string{"", "Bearer shk_forged", "Bearer ", "cookie"} {
			req := httptest.NewRequest(r.Method, target, nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			req.Header.Set("X-Real-IP", "127.0.0.1")
			switch auth {
			case "":
			case "cookie":
				req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "forged-session"})
			default:
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %q", r.Method, r.Path, auth)
		}
		mut := r.Method != http.MethodGet && r.Method != http.MethodHead || seedRoutesByPath[r.Path].mutating
		if mut {
			req := httptest.NewRequest(r.Method, target, nil)
			req.Header.Set("Authorization", "Bearer shk_read")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s with a read token", r.Method, r.Path)
		}
	}
	assert.GreaterOrEqual(t, walked, 30, "the walk reached the routes")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}
